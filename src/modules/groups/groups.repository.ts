import { and, asc, eq, ilike, inArray, notExists, or, sql } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client.js';
import { groups, memberships, users } from '../../db/schema/index.js';
import { likeContains } from '../records/list.js';

export type Group = typeof groups.$inferSelect;

const memberCount = sql<number>`(select count(*)::int from ${memberships} where ${memberships.groupId} = ${groups.id})`;

export const groupsRepository = {
  /** Groups with their member counts; `ids` limits the list to those groups (a user's own). */
  list(db: DbOrTx, ids?: number[]) {
    const q = db.select({ id: groups.id, name: groups.name, description: groups.description, visibility: groups.visibility, memberCount }).from(groups);
    return (ids ? q.where(inArray(groups.id, ids.length ? ids : [0])) : q).orderBy(asc(sql`lower(${groups.name})`));
  },
  findById(db: DbOrTx, id: number) {
    return db.query.groups.findFirst({ where: eq(groups.id, id) });
  },
  async nameTaken(db: DbOrTx, name: string, exceptId?: number) {
    const row = await db.query.groups.findFirst({
      where: and(sql`lower(${groups.name}) = lower(${name})`, exceptId ? sql`${groups.id} <> ${exceptId}` : undefined),
      columns: { id: true },
    });
    return !!row;
  },
  async insert(db: DbOrTx, values: Pick<Group, 'name' | 'description' | 'visibility'>) {
    const [row] = await db.insert(groups).values(values).returning();
    return row!;
  },
  async update(db: DbOrTx, id: number, values: Pick<Group, 'name' | 'description' | 'visibility'>) {
    await db.update(groups).set(values).where(eq(groups.id, id));
  },
  async delete(db: DbOrTx, id: number) {
    await db.delete(groups).where(eq(groups.id, id));
  },

  roster(db: DbOrTx, groupId: number) {
    return db
      .select({ userId: users.id, name: users.name, email: users.email, active: users.active, role: memberships.role })
      .from(memberships)
      .innerJoin(users, eq(users.id, memberships.userId))
      .where(eq(memberships.groupId, groupId))
      .orderBy(sql`${memberships.role} = 'member'`, asc(sql`lower(${users.name})`));
  },
  membership(db: DbOrTx, groupId: number, userId: number) {
    return db.query.memberships.findFirst({ where: and(eq(memberships.groupId, groupId), eq(memberships.userId, userId)) });
  },
  async addMember(db: DbOrTx, groupId: number, userId: number, role: 'manager' | 'member') {
    const rows = await db.insert(memberships).values({ groupId, userId, role }).onConflictDoNothing().returning();
    return rows.length > 0;
  },
  async setRole(db: DbOrTx, groupId: number, userId: number, role: 'manager' | 'member') {
    const rows = await db.update(memberships).set({ role }).where(and(eq(memberships.groupId, groupId), eq(memberships.userId, userId))).returning();
    return rows.length > 0;
  },
  async removeMember(db: DbOrTx, groupId: number, userId: number) {
    const rows = await db.delete(memberships).where(and(eq(memberships.groupId, groupId), eq(memberships.userId, userId))).returning();
    return rows.length > 0;
  },
  /** Active users not yet in the group whose name or email contains the text: the "add member" search. */
  candidates(db: DbOrTx, groupId: number, text: string) {
    return db
      .select({ id: users.id, name: users.name, email: users.email })
      .from(users)
      .where(
        and(
          eq(users.active, true),
          text ? or(ilike(users.name, likeContains(text)), ilike(users.email, likeContains(text))) : undefined,
          notExists(db.select({ one: sql`1` }).from(memberships).where(and(eq(memberships.groupId, groupId), eq(memberships.userId, users.id)))),
        ),
      )
      .orderBy(asc(sql`lower(${users.name})`))
      .limit(10);
  },
};
