import type { Database } from '../../db/client.js';
import { ConflictError, NotFoundError } from '../../web/errors.js';
import { authorize, type Actor } from '../access/policy.js';
import { usersRepository } from '../users/users.repository.js';
import { adminRepository as repo } from './admin.repository.js';
import type { UserListQuery } from './admin.schemas.js';

export function createAdminService(deps: { database: Database }) {
  const { db } = deps.database;

  async function getTarget(tx: Parameters<typeof usersRepository.findById>[0], id: number) {
    const user = await usersRepository.findById(tx, id);
    if (!user) throw new NotFoundError();
    return user;
  }

  /** Refuses a change that would leave no active administrator (409), checked under a row lock. */
  async function keepOneAdmin(tx: Parameters<typeof repo.activeAdminIds>[0], targetId: number) {
    const admins = await repo.activeAdminIds(tx);
    if (admins.length === 1 && admins[0] === targetId) throw new ConflictError('admin.lastAdmin');
  }

  return {
    async listUsers(actor: Actor, q: UserListQuery) {
      authorize(actor, 'users.manage');
      return repo.listUsers(db, q);
    },

    async getUser(actor: Actor, id: number) {
      authorize(actor, 'users.manage');
      const user = await getTarget(db, id);
      return { user, groups: await repo.userGroups(db, id) };
    },

    /** Deactivation ends the user's sessions at once (rows deleted, and the session version moves on). */
    async setActive(actor: Actor, id: number, active: boolean) {
      authorize(actor, 'users.manage');
      await db.transaction(async (tx) => {
        const user = await getTarget(tx, id);
        if (user.active === active) return;
        if (!active) {
          await keepOneAdmin(tx, id);
          await usersRepository.bumpSessionVersion(tx, id);
          await usersRepository.deleteSessions(tx, id);
        }
        await usersRepository.update(tx, id, { active });
      });
    },

    async setAdmin(actor: Actor, id: number, admin: boolean) {
      authorize(actor, 'users.manage');
      await db.transaction(async (tx) => {
        const user = await getTarget(tx, id);
        if ((user.role === 'admin') === admin) return;
        if (!admin) await keepOneAdmin(tx, id);
        await usersRepository.update(tx, id, { role: admin ? 'admin' : 'user' });
      });
    },
  };
}
export type AdminService = ReturnType<typeof createAdminService>;
