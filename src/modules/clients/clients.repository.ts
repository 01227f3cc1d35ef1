import { and, asc, desc, eq, gte, inArray, isNotNull, isNull, sql, type SQL } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import type { DbOrTx } from '../../db/client.js';
import { clients, groups, users } from '../../db/schema/index.js';
import { offsetOf } from '../../lib/pagination.js';
import { groupScope, inGroup, type Actor } from '../access/policy.js';
import { cappedCount, countCapOf, dateRange, keysetPage, memoizedPage, nullsLastIds, ownerOrderIds, ownerWalkable, pageWithCount, searchCondition, type ListOptions, type RecordColumns } from '../records/list.js';
import { groupsOf, namedScopeRevision, scopeRevision } from '../records/revisions.js';
import type { ClientFilters, ClientListQuery } from './clients.schemas.js';

export type Client = typeof clients.$inferSelect;
export type NewClient = typeof clients.$inferInsert;

const owner = alias(users, 'owner');

/** The scope every client query starts from: what the actor may see (in `groupIds` alone, if given), never the trash. */
export const clientScope = (actor: Actor, groupIds?: number[]) =>
  and(groupScope(actor, { groupId: clients.groupId, ownerId: clients.ownerId, createdById: clients.createdById }, groupIds), isNull(clients.deletedAt))!;

export function clientWhere(actor: Actor, f: ClientFilters): SQL {
  const where: (SQL | undefined)[] = [clientScope(actor, groupsOf(f.group))];
  if (f.status) where.push(eq(clients.status, f.status));
  if (f.owner === 'me') where.push(eq(clients.ownerId, actor.id));
  else if (f.owner === 'none') where.push(isNull(clients.ownerId));
  else if (typeof f.owner === 'number') where.push(eq(clients.ownerId, f.owner));
  if (f.fromLead === 'yes') where.push(isNotNull(clients.leadId));
  if (f.fromLead === 'no') where.push(isNull(clients.leadId));
  where.push(...dateRange(clients.createdAt, f.createdFrom, f.createdTo));
  if (f.q) where.push(searchCondition(clients.search, f.q));
  return and(...where)!;
}

// Sorting is an allow-list mapped to columns: a query string can never put text into ORDER BY.
const SORTS = {
  created: [clients.createdAt],
  updated: [clients.updatedAt],
  name: [sql`lower(${clients.name})`],
  company: [sql`lower(${clients.company})`],
  status: [clients.status],
  // Namesakes apart, each owner's clients newest first (the order ownerOrderIds walks).
  owner: [sql`lower(${owner.name})`, owner.id, clients.createdAt],
} as const;
const CLIENT_COLUMNS: RecordColumns = { table: clients, id: clients.id, ownerId: clients.ownerId, createdAt: clients.createdAt };

/** ORDER BY of the list and of the export: the same order, ties broken by id. */
export function clientOrder(f: Pick<ClientFilters, 'sort' | 'dir'>): SQL[] {
  const dir = f.dir === 'asc' ? asc : desc;
  // Empty companies and unowned clients go last either way. Only those keys may be null: "nulls last" on a
  // NOT NULL key would stop the btree from serving the order (the admin's first page sorted all 250k rows).
  const nullable = f.sort === 'company' || f.sort === 'owner';
  return [...SORTS[f.sort].map((key) => (nullable ? sql`${key} ${sql.raw(f.dir)} nulls last` : sql`${key} ${sql.raw(f.dir)}`)), dir(clients.id)];
}

/** Every column the export has, in the list's order and scope (the export streams this query). */
export function clientExportQuery(db: DbOrTx, actor: Actor, f: ClientFilters) {
  return db
    .select({
      id: clients.id,
      name: clients.name,
      company: clients.company,
      email: clients.email,
      phone: clients.phone,
      address: clients.address,
      website: clients.website,
      status: clients.status,
      notes: clients.notes,
      group: groups.name,
      ownerName: owner.name,
      ownerEmail: owner.email,
      createdAt: clients.createdAt,
      updatedAt: clients.updatedAt,
      leadId: clients.leadId,
    })
    .from(clients)
    .innerJoin(groups, eq(groups.id, clients.groupId))
    .leftJoin(owner, eq(owner.id, clients.ownerId))
    .where(clientWhere(actor, f))
    .orderBy(...clientOrder(f));
}

/**
 * (group name, rows) of what clientExportQuery exports, same scope and filters: the export's per-group counts
 * for the activity log when the export does not read its rows one by one (CSV by COPY).
 */
export function clientExportGroupCounts(db: DbOrTx, actor: Actor, f: ClientFilters) {
  return db
    .select({ group: groups.name, rows: sql<number>`count(*)::int` })
    .from(clients)
    .innerJoin(groups, eq(groups.id, clients.groupId))
    .where(clientWhere(actor, f))
    .groupBy(groups.name);
}

/** The list's page (see clientsRepository.list). */
async function listPage(db: DbOrTx, actor: Actor, q: ClientListQuery, where: SQL, opts: ListOptions) {
  const offset = offsetOf(q);
  const page = (condition: SQL, order: SQL[], skip: number) =>
    db
      .select({
        id: clients.id, name: clients.name, company: clients.company, email: clients.email, phone: clients.phone, status: clients.status,
        createdAt: clients.createdAt, groupName: groups.name, ownerName: owner.name, leadId: clients.leadId,
      })
      .from(clients)
      .innerJoin(groups, eq(groups.id, clients.groupId))
      .leftJoin(owner, eq(owner.id, clients.ownerId))
      .where(condition)
      .orderBy(...order)
      .limit(q.perPage)
      .offset(skip);
  // Orders no single index walk gives, as on the lead list (see nullsLastIds, ownerOrderIds): company descending
  // (not with a text search: its matches are few, sorting them is cheaper than walking an index testing each
  // row), and the owner's (see ownerWalkable).
  const byIds = (ids: SQL) => page(inArray(clients.id, ids), clientOrder(q), 0);
  const ownerWalk = !q.q && ownerWalkable(inGroup(actor, q.group), q, []);
  const byOffset = () =>
    q.sort === 'company' && q.dir === 'desc' && !q.q ? byIds(nullsLastIds(CLIENT_COLUMNS, clients.company, sql`lower(${clients.company})`, where, q.perPage, offset))
    : ownerWalk ? byIds(ownerOrderIds(CLIENT_COLUMNS, where, q.dir, q.perPage, offset))
    : page(where, clientOrder(q), offset);
  // Next/prev links name the row to continue from (keyset), as on the lead list.
  const cursorable = q.sort === 'created' && !q.q;
  const keyset = cursorable ? keysetPage(clients, clients.createdAt, clients.id, q.dir, q, clientScope(actor)) : undefined;
  const cap = countCapOf(q.q);
  const result = await pageWithCount(cappedCount(db, clients, where, scopeRevision(actor, groupsOf(q.group)), cap), {
    byCursor: keyset && (async () => {
      const items = await page(and(where, keyset.condition)!, keyset.order, 0);
      return keyset.backwards ? items.reverse() : items;
    }),
    byOffset,
    offset,
    deep: opts.deep,
    cap,
  });
  return { ...result, keyset: cursorable };
}

export const clientsRepository = {
  /**
   * One page and the (capped) total; no query at all when this process read the same page within a minute and
   * nothing in its groups and no name changed since (memoizedPage).
   */
  async list(db: DbOrTx, actor: Actor, q: ClientListQuery, opts: ListOptions = {}) {
    const where = clientWhere(actor, q);
    // Keyed by the whole query too (its paging and order are not in `where`).
    return memoizedPage(db, 'clients', where, namedScopeRevision(actor, groupsOf(q.group)), () => listPage(db, actor, q, where, opts), JSON.stringify(q), opts.deep);
  },
  async count(db: DbOrTx, actor: Actor, f: ClientFilters) {
    const [row] = await db.select({ n: sql<number>`count(*)::int` }).from(clients).where(clientWhere(actor, f));
    return row?.n ?? 0;
  },
  async insert(db: DbOrTx, values: NewClient) {
    const [row] = await db.insert(clients).values(values).returning();
    return row!;
  },
  async update(db: DbOrTx, id: number, values: Partial<NewClient>) {
    const [row] = await db.update(clients).set(values).where(eq(clients.id, id)).returning();
    return row!;
  },
  async lockById(db: DbOrTx, id: number) {
    const [row] = await db.select().from(clients).where(and(eq(clients.id, id), isNull(clients.deletedAt))).for('update');
    return row;
  },
  /** The trash of the given groups (all for undefined), newest first, within the retention period. */
  trash(db: DbOrTx, groupIds: number[] | undefined, since: Date) {
    return db
      .select({ id: clients.id, name: clients.name, company: clients.company, groupName: groups.name, deletedAt: clients.deletedAt })
      .from(clients)
      .innerJoin(groups, eq(groups.id, clients.groupId))
      // The range alone, not "is not null" too (see leadsRepository.trash).
      .where(and(groupIds ? inArray(clients.groupId, groupIds.length ? groupIds : [0]) : undefined, gte(clients.deletedAt, since)))
      .orderBy(desc(clients.deletedAt))
      .limit(200);
  },
  async findVisible(db: DbOrTx, actor: Actor, id: number) {
    const [row] = await db
      .select({ client: clients, groupName: groups.name, ownerName: owner.name })
      .from(clients)
      .innerJoin(groups, eq(groups.id, clients.groupId))
      .leftJoin(owner, eq(owner.id, clients.ownerId))
      .where(and(eq(clients.id, id), clientScope(actor)));
    return row;
  },
};
