import { and, asc, eq, ilike, ne, or, sql, type SQL } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client.js';
import { groups, memberships, users } from '../../db/schema/index.js';
import { offsetOf } from '../../lib/pagination.js';
import type { UserListQuery } from './admin.schemas.js';
import { likeContains } from '../records/list.js';


const userColumns = { id: users.id, name: users.name, email: users.email, role: users.role, active: users.active, lastLoginAt: users.lastLoginAt, createdAt: users.createdAt };

export const adminRepository = {
  async listUsers(db: DbOrTx, q: UserListQuery) {
    const where: SQL[] = [];
    if (q.q) where.push(or(ilike(users.name, likeContains(q.q)), ilike(users.email, likeContains(q.q)))!);
    if (q.active) where.push(eq(users.active, q.active === 'yes'));
    if (q.admin) where.push(q.admin === 'yes' ? eq(users.role, 'admin') : ne(users.role, 'admin'));
    const cond = where.length ? and(...where) : undefined;
    const [items, [count]] = await Promise.all([
      db.select(userColumns).from(users).where(cond).orderBy(asc(sql`lower(${users.name})`), asc(users.id)).limit(q.perPage).offset(offsetOf(q)),
      db.select({ n: sql<number>`count(*)::int` }).from(users).where(cond),
    ]);
    return { items, total: count?.n ?? 0 };
  },
  userGroups(db: DbOrTx, userId: number) {
    return db
      .select({ id: groups.id, name: groups.name, role: memberships.role })
      .from(memberships)
      .innerJoin(groups, eq(groups.id, memberships.groupId))
      .where(eq(memberships.userId, userId))
      .orderBy(groups.name);
  },
  /** Locks the admin rows so two admins demoting each other at once cannot leave none. */
  async activeAdminIds(db: DbOrTx) {
    const rows = await db.select({ id: users.id }).from(users).where(and(eq(users.role, 'admin'), eq(users.active, true))).for('update');
    return rows.map((r) => r.id);
  },
};
