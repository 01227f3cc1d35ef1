import { and, asc, desc, eq, gte, inArray, isNotNull, isNull, lt, lte, ne, sql, type SQL, type SQLWrapper } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import type { DbOrTx } from '../../db/client.js';
import { groups, leads, memberships, users } from '../../db/schema/index.js';
import { offsetOf } from '../../lib/pagination.js';
import { groupScope, inGroup, type Actor } from '../access/policy.js';
import { cappedCount, dateRange, keysetPage, memoizedPage, nullsLastIds, ownerOrderIds, ownerWalkable, pageWithCount, SEARCH_COUNT_CAP, searchCondition, type ListOptions, type RecordColumns } from '../records/list.js';
import { groupsOf, namedScopeRevision, scopeRevision } from '../records/revisions.js';
import { OPEN_STATUSES, staleBefore, type LeadListQuery } from './leads.schemas.js';

export type Lead = typeof leads.$inferSelect;
export type NewLead = typeof leads.$inferInsert;

const owner = alias(users, 'owner');
/** From this offset on, a member's page by number merges their groups' slices (see list). */
const MERGE_FROM_OFFSET = 100;
/** A broad search's page is looked for within this many rows of the list's order (see searchPage). */
const WALK_ROWS = 10_000;

/** The scope every lead query starts from: what the actor may see (in `groupIds` alone, if given), never the trash. */
export const leadScope = (actor: Actor, groupIds?: number[]) =>
  and(groupScope(actor, { groupId: leads.groupId, ownerId: leads.ownerId, createdById: leads.createdById }, groupIds), isNull(leads.deletedAt))!;

/**
 * The list's WHERE. `since` is where "stale" begins (staleBefore): taken once by a caller that builds several
 * conditions for one page, so that a day turning in between cannot give them different boundaries.
 */
export function leadFilters(actor: Actor, q: Omit<LeadListQuery, 'page' | 'perPage' | 'sort' | 'dir'>, since = staleBefore()): SQL {
  const where: (SQL | undefined)[] = [leadScope(actor, groupsOf(q.group))];
  if (q.status.length) where.push(inArray(leads.status, q.status));
  // Converted leads live on as clients: hidden unless asked for (or filtered by status explicitly).
  else if (!q.converted) where.push(ne(leads.status, 'converted'));
  if (q.owner === 'me') where.push(eq(leads.ownerId, actor.id));
  else if (q.owner === 'none') where.push(isNull(leads.ownerId));
  else if (typeof q.owner === 'number') where.push(eq(leads.ownerId, q.owner));
  if (q.source) where.push(eq(leads.source, q.source));
  where.push(...dateRange(leads.createdAt, q.createdFrom, q.createdTo));
  if (q.valueMin !== undefined) where.push(gte(leads.value, String(q.valueMin)));
  if (q.valueMax !== undefined) where.push(lte(leads.value, String(q.valueMax)));
  if (q.q) where.push(searchCondition(leads.search, q.q));
  if (q.stale) {
    where.push(inArray(leads.status, [...OPEN_STATUSES]));
    where.push(lt(leads.lastActivityAt, since));
    // Implied (a lead's last activity is never before its creation: both start at now(), and activity only moves
    // to now()), but the planner cannot know it: the date index is then walked from that day back, instead of from
    // today past every recent lead, all of them active (an admin's page: 97 → 1.8 ms, F28).
    where.push(lt(leads.createdAt, since));
  }
  return and(...where)!;
}

// Sorting is an allow-list mapped to columns: a query string can never put text into ORDER BY.
const SORTS = {
  created: [leads.createdAt],
  updated: [leads.updatedAt],
  name: [sql`lower(${leads.lastName})`, sql`lower(${leads.firstName})`],
  status: [leads.status],
  value: [leads.value],
  // Namesakes apart, each owner's leads newest first (the order ownerOrderIds walks).
  owner: [sql`lower(${owner.name})`, owner.id, leads.createdAt],
} as const;
const LEAD_COLUMNS: RecordColumns = { table: leads, id: leads.id, ownerId: leads.ownerId, createdAt: leads.createdAt };

const listColumns = {
  id: leads.id,
  firstName: leads.firstName,
  lastName: leads.lastName,
  company: leads.company,
  email: leads.email,
  phone: leads.phone,
  status: leads.status,
  source: leads.source,
  value: leads.value,
  createdAt: leads.createdAt,
  updatedAt: leads.updatedAt,
  groupId: leads.groupId,
  groupName: groups.name,
  ownerId: leads.ownerId,
  ownerName: owner.name,
  clientId: leads.clientId,
};

/** The sorts whose key may be null: those rows go last either way. */
const nullsLastIn = (q: LeadListQuery) => q.sort === 'value' || q.sort === 'owner';

/** The list's ORDER BY: the sort's keys, ties broken by id. */
function listOrder(q: LeadListQuery): SQL[] {
  const dir = q.dir === 'asc' ? asc : desc;
  const nullsLast = nullsLastIn(q);
  return [...SORTS[q.sort].map((c) => (nullsLast ? sql`${c} ${sql.raw(q.dir)} nulls last` : dir(c))), dir(leads.id)];
}

/** The page's rows with their group and owner, in the list's order (the ids come first: see list). */
const pageRows = (db: DbOrTx, order: SQL[], ids: SQLWrapper | number[]) =>
  db.select(listColumns).from(leads).innerJoin(groups, eq(groups.id, leads.groupId)).leftJoin(owner, eq(owner.id, leads.ownerId))
    .where(inArray(leads.id, ids)).orderBy(...order);

/**
 * A member's groups, when their list in creation order is read as a merge of each group's slice of
 * leads_group_live_created_idx (2–20 groups, no group filter): their groups are a few slices of the date order (the
 * bench member's two are 8% of it), and walking the whole date index skips the other groups' entries, reading
 * each one from the table when a column outside the index is needed.
 */
function sliceGroups(actor: Actor, q: LeadListQuery): number[] {
  if (q.sort !== 'created' || actor.isAdmin || q.group) return [];
  const ids = actor.memberships.map((m) => m.groupId);
  return ids.length > 1 && ids.length <= 20 ? ids : [];
}

/** UNION ALL of one query per group (see sliceGroups); PostgreSQL merges them in order (Merge Append). */
const unionOf = (groupIds: number[], arm: (groupId: number) => SQLWrapper) =>
  sql`(${sql.join(groupIds.map((g) => sql`(${arm(g)})`), sql` union all `)})`;

/**
 * The ids of the list's rows [offset, offset + limit) within `where`, in the list's order, for the orders no single
 * index walk gives (value descending, and the owner's where ownerWalkable); undefined for the others.
 */
function walkedIds(actor: Actor, q: LeadListQuery, where: SQL, limit: number, offset: number): SQL | undefined {
  if (q.sort === 'value' && q.dir === 'desc') return nullsLastIds(LEAD_COLUMNS, leads.value, sql`${leads.value}`, where, limit, offset);
  if (ownerWalkable(inGroup(actor, q.group), q, ['converted'])) return ownerOrderIds(LEAD_COLUMNS, where, q.dir, limit, offset);
  return undefined;
}

/** The list's page when it has a text search (see list): its matches, their count, and the page's rows. */
async function searchPage(db: DbOrTx, actor: Actor, q: LeadListQuery, where: SQL, since: Date, opts: ListOptions) {
  const order = listOrder(q);
  const offset = offsetOf(q);
  const nullsLast = nullsLastIn(q);
  const withOwner = q.sort === 'owner';
  // A text search takes its matches once (the trigram index), counts and sorts only them. The LIMIT (like
  // "offset 0" before it) keeps the planner from walking the created_at index backwards testing the LIKE on
  // every row instead, which it picks whenever it overestimates the matches (333 ms against 20 ms;
  // bench/RESULTS.md, F4), and it bounds the work: "ов" matches 300,000 leads, all sorted took 720 ms.
  const keys = Object.fromEntries(SORTS[q.sort].map((c, i) => [`k${i}`, sql`${c}`.as(`k${i}`)]));
  // A new builder each time: Drizzle's builders change in place (a second join of the owner would throw).
  const matching = (condition: SQL) => {
    const keyed = db.select({ id: leads.id, search: leads.search, ...keys }).from(leads);
    return (withOwner ? keyed.leftJoin(owner, eq(owner.id, leads.ownerId)) : keyed).where(condition);
  };
  const keyOrder = sql.raw([...SORTS[q.sort].map((_, i) => `k${i} ${q.dir}${nullsLast ? ' nulls last' : ''}`), `id ${q.dir}`].join(', '));
  // One statement: the page of (at most SEARCH_COUNT_CAP + 1) matches with their window count, joined to its rows.
  const statement = () => {
    const page = db
      .select({ id: sql<number>`m.id`.as('page_id'), n: sql<number>`count(*) over ()::int`.as('n') })
      .from(sql`(${matching(where)} limit ${SEARCH_COUNT_CAP + 1}) m`)
      .orderBy(keyOrder)
      .limit(q.perPage)
      .offset(offset)
      .as('page');
    return db.select({ ...listColumns, n: page.n }).from(leads).innerJoin(page, eq(page.id, leads.id))
      .innerJoin(groups, eq(groups.id, leads.groupId)).leftJoin(owner, eq(owner.id, leads.ownerId)).orderBy(...order);
  };
  // More matches than that: a broad term, found every few hundred rows or more often. The page is then read in
  // the list's order, testing the LIKE row by row until it is full: 25 of 300,000 matches in 0.2 ms; 25 of a
  // name fragment's 9,800, 2,500 rows read (4.6 ms). The LIKE stays outside the subquery, so the planner cannot
  // swap the walk for the bitmap, and the subquery's LIMIT makes it plan for the first rows. The walk reads at
  // most the list's first WALK_ROWS rows: where the matches thin out in that order (a Cyrillic term sorted by
  // name meets the Latin names first) or the page is deep, it comes back short and the matches are sorted.
  // It needs an order served by an index of the scope's own rows: creation order (a member's groups merged
  // slice by slice, see sliceGroups), or any order over all groups. A member's name order walks the whole name
  // index, reading every group's rows from the table (the bench member's 1,613 rows were 18,716 heap visits,
  // 38 ms): their matches are sorted instead (no more than their groups hold).
  // Value descending and the owner order are the list's first rows as list() finds them (walkedIds), then read
  // with their search text: as one ORDER BY they sorted every lead ("ов" by owner: 997 ms).
  const unsearched = { ...q, q: undefined };
  const slices = sliceGroups(actor, q);
  const walkable = q.sort === 'created' || (actor.isAdmin && !q.group && (q.sort !== 'owner' || ownerWalkable(actor, unsearched, ['converted'])));
  const ordered = () => {
    if (slices.length) {
      return sql`(select * from ${unionOf(slices, (g) => matching(leadFilters(actor, { ...unsearched, group: g }, since)).orderBy(...order).limit(WALK_ROWS))} u order by ${keyOrder} limit ${WALK_ROWS})`;
    }
    const scope = leadFilters(actor, unsearched, since);
    const first = walkedIds(actor, unsearched, scope, WALK_ROWS, 0);
    return first ? sql`(${matching(inArray(leads.id, first))})` : sql`(${matching(scope).orderBy(...order)} limit ${WALK_ROWS})`;
  };
  const walk = () =>
    db.select({ id: sql<number>`w.id` })
      .from(sql`${ordered()} w`)
      .where(searchCondition(sql`w.search`, q.q!))
      .orderBy(keyOrder)
      .limit(q.perPage)
      .offset(offset);
  const sortAll = () => db.select({ id: sql<number>`m.id` }).from(sql`(${matching(where)} offset 0) m`).orderBy(keyOrder).limit(q.perPage).offset(offset);
  const matched = await statement();
  const n = matched[0]?.n;
  // All the matches were in the statement: its page is right (or empty, past the last match).
  if (n === undefined ? offset <= SEARCH_COUNT_CAP : n <= SEARCH_COUNT_CAP) {
    if (matched.length) return { items: matched.map(({ n: _, ...row }) => row), total: n!, capped: false, keyset: false };
  } else if (offset < SEARCH_COUNT_CAP || opts.deep) {
    // More. Pages past the cap are not offered (nor queried), as on every list; the API's deep pages read on.
    const walked = walkable && offset + q.perPage <= WALK_ROWS ? await pageRows(db, order, walk()) : [];
    const items = walked.length === q.perPage ? walked : await pageRows(db, order, sortAll());
    if (items.length) return { items, total: SEARCH_COUNT_CAP, capped: true, keyset: false };
  }
  // No rows: past the last match. More than the cap if the statement counted them; else, past its own 1,001
  // matches, their number is not known and is counted on its own (capped says so itself).
  if (n !== undefined && n > SEARCH_COUNT_CAP) return { items: [], total: SEARCH_COUNT_CAP, capped: true, keyset: false };
  const counted = offset ? await cappedCount(db, leads, where, scopeRevision(actor, groupsOf(q.group)), SEARCH_COUNT_CAP) : undefined;
  return { items: [], ...(counted ?? { total: 0, capped: false }), keyset: false };
}

/** The list's page without a text search (see leadsRepository.list). */
async function listPage(db: DbOrTx, actor: Actor, q: LeadListQuery, where: SQL, since: Date, opts: ListOptions) {
  const order = listOrder(q);
  const offset = offsetOf(q);
  // Deferred join: the page's ids first (for the default order an index-only walk of leads_live_by_created_idx,
  // even 10,000 rows deep), then the 25 rows with their group and owner. Reading whole rows while skipping
  // the offset took 294 ms at page 400; the ids alone a fraction of that.
  const withOwner = q.sort === 'owner';
  const rows = (ids: SQLWrapper | number[]) => pageRows(db, order, ids);
  const ids = (condition: SQL, by: SQL[], skip: number): SQLWrapper => {
    const walked = walkedIds(actor, q, condition, q.perPage, skip);
    if (walked) return walked;
    const idsOnly = db.select({ id: leads.id }).from(leads);
    return (withOwner ? idsOnly.leftJoin(owner, eq(owner.id, leads.ownerId)) : idsOnly).where(condition).orderBy(...by).limit(q.perPage).offset(skip);
  };
  // A member's page by number takes each group's newest (offset + page) rows from its slice and merges them
  // (see sliceGroups), instead of skipping ~12 times as many entries of the whole date index (page 400: 63 →
  // 3.7 ms). Not for the first pages: there the plain walk is cheaper than planning the union (11,600 against
  // 7,400 per second at offset 0; 3,600 against 7,100 at offset 250). Except filtered by owner: each group's slice
  // is then a walk of leads_live_owner_idx, where the plain query sorts all of the owner's rows in the member's
  // groups ("owner = me": 2.4 → 1.3 ms).
  const memberGroups = sliceGroups(actor, q);
  const mergeFrom = q.owner !== undefined && q.owner !== 'none' ? 0 : MERGE_FROM_OFFSET;
  const merged = (skip: number) => {
    const slice = (g: number) =>
      db.select({ id: leads.id, k: sql`${leads.createdAt}`.as('k') }).from(leads).where(leadFilters(actor, { ...q, group: g }, since)).orderBy(...order).limit(skip + q.perPage);
    return db.select({ id: sql<number>`u.id` }).from(sql`${unionOf(memberGroups, slice)} u`)
      .orderBy(sql.raw(`u.k ${q.dir}, u.id ${q.dir}`)).limit(q.perPage).offset(skip);
  };
  const count = cappedCount(db, leads, where, scopeRevision(actor, groupsOf(q.group)));
  // Next/prev links name the row to continue from (keyset): no OFFSET, however deep. (rows() puts a page read
  // backwards into the list's order.)
  const keyset = q.sort === 'created' ? keysetPage(leads, leads.createdAt, leads.id, q.dir, q, leadScope(actor)) : undefined;
  const page = await pageWithCount(count, {
    byCursor: keyset && (() => rows(ids(and(where, keyset.condition)!, keyset.order, 0))),
    byOffset: () => rows(offset >= mergeFrom && memberGroups.length ? merged(offset) : ids(where, order, offset)),
    offset,
    deep: opts.deep,
  });
  return { ...page, keyset: q.sort === 'created' };
}

export const leadsRepository = {
  /**
   * One page and the (capped) total, in two queries whatever the page size (no query per row); none when this
   * process read the same page within a minute and nothing in its groups and no name changed since
   * (memoizedPage; "stale" too: its boundary is a parameter that moves once a day, see staleBefore).
   */
  async list(db: DbOrTx, actor: Actor, q: LeadListQuery, opts: ListOptions = {}) {
    const since = staleBefore();
    const where = leadFilters(actor, q, since);
    // Filtered to a group, the page depends on that group alone (its WHERE can match nothing else): members whose
    // other groups differ share it.
    const revision = namedScopeRevision(actor, groupsOf(q.group));
    // Keyed by the whole query too (its paging and order are not in `where`).
    const page = () => (q.q ? searchPage(db, actor, q, where, since, opts) : listPage(db, actor, q, where, since, opts));
    return memoizedPage(db, 'leads', where, revision, page, JSON.stringify(q), opts.deep);
  },

  /** A lead with its group and owner names, if the actor's scope includes it (else undefined → 404). */
  async findVisible(db: DbOrTx, actor: Actor, id: number) {
    const creator = alias(users, 'creator');
    const [row] = await db
      .select({ lead: leads, groupName: groups.name, ownerName: owner.name, creatorName: creator.name })
      .from(leads)
      .innerJoin(groups, eq(groups.id, leads.groupId))
      .leftJoin(owner, eq(owner.id, leads.ownerId))
      .leftJoin(creator, eq(creator.id, leads.createdById))
      .where(and(eq(leads.id, id), leadScope(actor)));
    return row;
  },

  /** For updates and conversion: the row locked until the transaction ends. */
  async lockById(db: DbOrTx, id: number) {
    const [row] = await db.select().from(leads).where(and(eq(leads.id, id), isNull(leads.deletedAt))).for('update');
    return row;
  },

  async insert(db: DbOrTx, values: NewLead) {
    const [row] = await db.insert(leads).values(values).returning();
    return row!;
  },
  async update(db: DbOrTx, id: number, values: Partial<NewLead>) {
    const [row] = await db.update(leads).set(values).where(eq(leads.id, id)).returning();
    return row!;
  },

  /**
   * Is the user a member of the group (owners must be)? The membership stays locked (key share) until the
   * transaction ends: removing the member waits for this edit, then unassigns what it gave them.
   */
  async isMember(db: DbOrTx, groupId: number, userId: number) {
    const rows = await db.select({ userId: memberships.userId }).from(memberships)
      .where(and(eq(memberships.groupId, groupId), eq(memberships.userId, userId))).for('key share');
    return rows.length > 0;
  },

  /** Members of the given groups, for owner selects and the owner filter. */
  owners(db: DbOrTx, groupIds: number[] | undefined) {
    const q = db
      .selectDistinct({ id: users.id, name: users.name, email: users.email, groupId: memberships.groupId })
      .from(memberships)
      .innerJoin(users, eq(users.id, memberships.userId))
      .where(and(eq(users.active, true), groupIds ? inArray(memberships.groupId, groupIds.length ? groupIds : [0]) : undefined));
    return q.orderBy(asc(users.name));
  },

  /** The trash of the given groups (all for undefined), newest first, within the retention period. */
  trash(db: DbOrTx, groupIds: number[] | undefined, since: Date) {
    return db
      .select({ id: leads.id, firstName: leads.firstName, lastName: leads.lastName, company: leads.company, groupName: groups.name, deletedAt: leads.deletedAt })
      .from(leads)
      .innerJoin(groups, eq(groups.id, leads.groupId))
      // No "deleted_at is not null" beside the range (which implies it): the planner multiplied the two, expected
      // 31 of 5,026 trashed leads, and sorted them all instead of walking the index backwards (22 → 2.4 ms).
      .where(and(groupIds ? inArray(leads.groupId, groupIds.length ? groupIds : [0]) : undefined, gte(leads.deletedAt, since)))
      .orderBy(desc(leads.deletedAt))
      .limit(200);
  },
  async findTrashed(db: DbOrTx, id: number) {
    const [row] = await db.select().from(leads).where(and(eq(leads.id, id), isNotNull(leads.deletedAt))).for('update');
    return row;
  },
  async hardDelete(db: DbOrTx, id: number) {
    await db.delete(leads).where(eq(leads.id, id));
  },
};
