import { and, eq, sql } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client.js';
import { directoryRevision, groupRevisions, groups, memberships, notifications, sessions, users } from '../../db/schema/index.js';
import { UNREAD_CAP } from '../notifications/notifications.repository.js';

export type User = typeof users.$inferSelect;
export type NewUser = typeof users.$inferInsert;

/**
 * The user's id and role as the subqueries below refer to them, qualified: selected from `users` alone, Drizzle
 * writes a column without its table, and a bare "id" inside a subquery is that subquery's own (the groups' id in
 * the memberships one: every user read that way got the memberships whose user id equalled their group's id).
 */
const userId = sql.raw('"users"."id"');
const userRole = sql.raw('"users"."role"');

/** A user's row with what every signed-in request needs of them; the subqueries follow `users.id`. */
const withMemberships = {
  user: users,
  memberships: sql<{ groupId: number; groupName: string; role: 'manager' | 'member'; visibility: 'all' | 'own' }[]>`coalesce((
    select json_agg(json_build_object('groupId', g.id, 'groupName', g.name, 'role', m.role, 'visibility', g.visibility) order by g.name)
    from ${memberships} m join ${groups} g on g.id = m.group_id where m.user_id = ${userId}), '[]'::json)`,
  unreadCount: sql<number>`(select count(*)::int from (select 1 from ${notifications} n where n.user_id = ${userId} and n.read_at is null limit ${sql.raw(String(UNREAD_CAP + 1))}) u)`,
  directoryRevision: sql<string | null>`(select ${directoryRevision.revision}::text from ${directoryRevision})`,
  // The revisions of the groups the user sees (every group for an admin), as "group:revision,…".
  groupRevisions: sql<string>`coalesce((select string_agg(r.group_id || ':' || r.revision, ',' order by r.group_id) from ${groupRevisions} r
    where ${userRole} = 'admin' or r.group_id in (select m.group_id from ${memberships} m where m.user_id = ${userId})), '')`,
};
export type UserWithMemberships = Omit<NonNullable<Awaited<ReturnType<typeof usersRepository.findWithMemberships>>>, 'user'> & { user: User | null };

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
    const [row] = await db.select(withMemberships).from(users).where(eq(users.id, id));
    return row;
  },
  /**
   * A live session's data and its user as findWithMemberships() gives them (user null: signed out, or the user
   * is gone), in one round trip: the session store's read (src/web/session-store.ts). The SQL is built once
   * (it runs on every request), and on PostgreSQL it is a named statement (`named`), parsed and planned once per
   * connection: planning it took 0.6 of its 0.75 ms (pgbench, one connection: 1,200–1,400 reads a second
   * unnamed, 7,900 prepared). Unnamed on PGlite, whose one backend serves every connection (a second process,
   * or a pool client reconnecting, finds the name taken).
   */
  sessionWithUser(db: DbOrTx, named: boolean) {
    return db
      .select({ sess: sessions.sess, ...withMemberships })
      .from(sessions)
      .leftJoin(users, eq(users.id, sql`(${sessions.sess}->>'userId')::int`))
      .where(and(eq(sessions.sid, sql.placeholder('sid')), sql`${sessions.expire} >= now()`))
      .prepare(named ? 'session_with_user' : '');
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
