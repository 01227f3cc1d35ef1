import { and, eq, sql } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client.js';
import { directoryRevision, groups, memberships, notifications, sessions, users } from '../../db/schema/index.js';
import { UNREAD_CAP } from '../notifications/notifications.repository.js';

export type User = typeof users.$inferSelect;
export type NewUser = typeof users.$inferInsert;

export const usersRepository = {
  findById(db: DbOrTx, id: number) {
    return db.query.users.findFirst({ where: eq(users.id, id) });
  },
  findByEmail(db: DbOrTx, email: string) {
    return db.query.users.findFirst({ where: sql`lower(${users.email}) = ${email.toLowerCase()}` });
  },
  async count(db: DbOrTx) {
    const [row] = await db.select({ n: sql<number>`count(*)::int` }).from(users);
    return row?.n ?? 0;
  },
  async insert(db: DbOrTx, values: NewUser) {
    const [row] = await db.insert(users).values(values).returning();
    return row!;
  },
  async update(db: DbOrTx, id: number, values: Partial<Pick<User, 'name' | 'email' | 'locale' | 'passwordHash' | 'role' | 'active' | 'lastLoginAt'>>) {
    const [row] = await db.update(users).set(values).where(eq(users.id, id)).returning();
    return row;
  },
  /** Invalidates every session started before now: they carry the old version. */
  async bumpSessionVersion(db: DbOrTx, id: number) {
    const [row] = await db
      .update(users)
      .set({ sessionVersion: sql`${users.sessionVersion} + 1` })
      .where(eq(users.id, id))
      .returning({ sessionVersion: users.sessionVersion });
    return row?.sessionVersion ?? 0;
  },
  /** Removes the stored sessions of a user (all, or all but one). */
  async deleteSessions(db: DbOrTx, userId: number, exceptSid?: string) {
    const owner = sql`(${sessions.sess}->>'userId')::int = ${userId}`;
    await db.delete(sessions).where(exceptSid ? and(owner, sql`${sessions.sid} <> ${exceptSid}`) : owner);
  },
  /**
   * The user, their memberships (as memberships() gives them) and their unread notifications (counted as far
   * as the bell shows, on the partial index) in one round trip: read on every signed-in request, where each
   * query is a socket round trip the page waits for.
   */
  async findWithMemberships(db: DbOrTx, id: number) {
    const [row] = await db
      .select({
        user: users,
        memberships: sql<{ groupId: number; groupName: string; role: 'manager' | 'member'; visibility: 'all' | 'own' }[]>`coalesce((
          select json_agg(json_build_object('groupId', g.id, 'groupName', g.name, 'role', m.role, 'visibility', g.visibility) order by g.name)
          from ${memberships} m join ${groups} g on g.id = m.group_id where m.user_id = ${id}), '[]'::json)`,
        unreadCount: sql<number>`(select count(*)::int from (select 1 from ${notifications} n where n.user_id = ${id} and n.read_at is null limit ${UNREAD_CAP + 1}) u)`,
        directoryRevision: sql<string | null>`(select ${directoryRevision.revision}::text from ${directoryRevision})`,
      })
      .from(users)
      .where(eq(users.id, id));
    return row;
  },
  /** The user's groups with their role and each group's visibility rule, for the access policy. */
  memberships(db: DbOrTx, userId: number) {
    return db
      .select({ groupId: groups.id, groupName: groups.name, role: memberships.role, visibility: groups.visibility })
      .from(memberships)
      .innerJoin(groups, eq(groups.id, memberships.groupId))
      .where(eq(memberships.userId, userId))
      .orderBy(groups.name);
  },
};
