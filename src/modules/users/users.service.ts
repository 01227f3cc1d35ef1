import type { Database } from '../../db/client.js';
import type { PasswordHasher } from '../../lib/passwords.js';
import type { Locale } from '../../lib/i18n.js';
import { ValidationError } from '../../web/errors.js';
import type { Actor } from '../access/policy.js';
import { usersRepository as repo, type User, type UserWithMemberships } from './users.repository.js';

/** The signed-in user, their actor and unread count, from findWithMemberships() or the session's read; if still active. */
function activeActorOf(row: UserWithMemberships | undefined): { user: User; actor: Actor; unreadCount: number } | undefined {
  if (!row?.user?.active) return undefined;
  const actor: Actor = { id: row.user.id, isAdmin: row.user.role === 'admin', memberships: row.memberships, directoryRevision: row.directoryRevision ?? undefined, groupRevisions: row.groupRevisions };
  return { user: row.user, actor, unreadCount: row.unreadCount };
}

export function createUsersService(deps: { database: Database; hasher: PasswordHasher }) {
  const { db } = deps.database;
  return {
    findActive: async (id: number) => {
      const user = await repo.findById(db, id);
      return user?.active ? user : undefined;
    },
    /** The signed-in user, their actor and unread count, if still active (one query). */
    findActiveActor: async (id: number) => activeActorOf(await repo.findWithMemberships(db, id)),
    activeActorOf,
    actorFor: async (user: User): Promise<Actor> => ({
      id: user.id,
      isAdmin: user.role === 'admin',
      memberships: await repo.memberships(db, user.id),
    }),

    async updateProfile(user: User, input: { name: string; email: string; locale: Locale }): Promise<User> {
      return db.transaction(async (tx) => {
        const other = await repo.findByEmail(tx, input.email);
        if (other && other.id !== user.id) throw new ValidationError({ email: { key: 'validation.emailTaken' } });
        return (await repo.update(tx, user.id, input))!;
      });
    },

    /** For `npm run admin:create`: makes the account if new, else sets its password and makes it an active admin. */
    async createOrPromoteAdmin(input: { email: string; name: string; password: string }): Promise<User> {
      const passwordHash = await deps.hasher.hash(input.password);
      return db.transaction(async (tx) => {
        const existing = await repo.findByEmail(tx, input.email);
        if (!existing) return repo.insert(tx, { email: input.email, name: input.name, passwordHash, role: 'admin' });
        await repo.bumpSessionVersion(tx, existing.id);
        return (await repo.update(tx, existing.id, { passwordHash, role: 'admin', active: true }))!;
      });
    },

    async setLocale(userId: number, locale: Locale) {
      await repo.update(db, userId, { locale });
    },

    /** Ends every other session of the user; returns the new session version for the current one. */
    async changePassword(user: User, input: { currentPassword: string; password: string }, keepSid: string): Promise<number> {
      if (!(await deps.hasher.verify(user.passwordHash, input.currentPassword))) {
        throw new ValidationError({ currentPassword: { key: 'validation.currentPasswordWrong' } });
      }
      const passwordHash = await deps.hasher.hash(input.password);
      return db.transaction(async (tx) => {
        await repo.update(tx, user.id, { passwordHash });
        await repo.deleteSessions(tx, user.id, keepSid);
        return repo.bumpSessionVersion(tx, user.id);
      });
    },
  };
}
export type UsersService = ReturnType<typeof createUsersService>;
