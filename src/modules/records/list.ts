import { getTableName, gte, lt, sql, type SQL } from 'drizzle-orm';
import { PgDialect, type AnyPgColumn, type PgTable } from 'drizzle-orm/pg-core';
import type { DbOrTx } from '../../db/client.js';
import { users } from '../../db/schema/index.js';
import { seesWholeGroup, type Actor } from '../access/policy.js';
import { revisionMemo } from './revisions.js';

/**
 * Lists count at most this many rows and say "10,000+" beyond it (pages stop there too). An exact count of a
 * large scope reads all of it: 160–600 ms for an admin over a million leads, against a few ms for the page
 * itself (bench/RESULTS.md, F1). Nobody pages through more than 400 pages; they filter or search instead.
 */
export const COUNT_CAP = 10_000;

/**
 * A text search counts at most this many matches ("1,000+", 40 pages of 25). Unlike a list's rows, every match
 * is read from the table (the trigram index only narrows the candidates) before it can be counted or sorted:
 * counting a typical name fragment's 9,800 matches among a million leads took 30 ms, the first 1,001 of them 9 ms
 * (bench/RESULTS.md, F25). Past a thousand matches people type more letters, they do not page.
 */
export const SEARCH_COUNT_CAP = 1_000;

/** The count cap of a list: lower when it has a text search (see SEARCH_COUNT_CAP). */
export const countCapOf = (search: string | undefined) => (search ? SEARCH_COUNT_CAP : COUNT_CAP);

type Count = { total: number; capped: boolean };
const dialect = new PgDialect();
/**
 * `compute()`, or its value from an earlier call with the same `kind`, `where` (compared as rendered SQL with its
 * parameters) and `extra` while `revision` is the same. `revision` must cover everything the value depends on
 * (scopeRevision of the groups `where` can match, plus the directory's when names order or show in it). A condition
 * on the clock must be a parameter that moves in steps ("stale": staleBefore, once a day), so that `where`
 * itself changes when it does; now() in SQL would keep a value past the moment it changed. Without a revision the
 * value is computed every time. One memo per database handle: revisions are numbers of one database.
 */
function queryMemo(opts: { ttlMs: number; maxEntries: number }) {
  const memos = new WeakMap<DbOrTx, ReturnType<typeof revisionMemo<unknown>>>();
  return <T>(db: DbOrTx, kind: string, where: SQL, revision: string | undefined, compute: () => Promise<T>, extra = ''): Promise<T> => {
    if (revision === undefined) return compute();
    let memo = memos.get(db);
    if (!memo) memos.set(db, (memo = revisionMemo<unknown>(opts)));
    return memo(`${kind}|${rendered(where)}|${extra}`, revision, compute) as Promise<T>;
  };
}

/** A condition as SQL text with its parameters, rendered once: a list's page and its count key on the same one. */
const renderings = new WeakMap<SQL, string>();
function rendered(where: SQL) {
  let text = renderings.get(where);
  if (text === undefined) {
    const { sql: query, params } = dialect.sqlToQuery(where);
    renderings.set(where, (text = `${query}|${JSON.stringify(params)}`));
  }
  return text;
}

/**
 * Counts (even capped, most of a first page's database time: 1.7 ms for 10,001 index entries against 0.3 ms for
 * the page): the same lists are opened again and again between changes, and a list's count serves all its pages.
 */
export const memoizedQuery = queryMemo({ ttlMs: 60_000, maxEntries: 2_000 });

const pages = queryMemo({ ttlMs: 60_000, maxEntries: 300 });

/**
 * A list's whole page (rows, count, keyset) by memoizedQuery's rules: going back to a list, reloading it or
 * opening a colleague's link shows the same page while nothing in its groups and no name changed (within a
 * minute, in this process), without its statements (planning alone was 0.65 ms of a member's filtered page's
 * 0.95 ms in PostgreSQL). Fewer entries than memoizedQuery's: a page of 25 leads takes about 25 KiB of heap
 * (measured), so 300 pages take 7.5 MiB, 30 MiB if all held 100 rows. Not the API's deep paging (`deep`): an
 * integration reading every page would push everyone's pages out. The page is frozen, rows included: it is shared
 * between requests, and a caller that changed it would change what others see.
 */
export function memoizedPage<T extends { items: object[] }>(db: DbOrTx, kind: string, where: SQL, revision: string | undefined, compute: () => Promise<T>, extra: string, deep?: boolean): Promise<T> {
  if (deep) return compute();
  return pages(db, kind, where, revision, async () => {
    const page = await compute();
    for (const row of page.items) Object.freeze(row);
    Object.freeze(page.items);
    return Object.freeze(page);
  }, extra);
}

/**
 * The number of rows matching `where`, counted up to `cap` + 1 (capped: more than `cap`), reused under
 * `revision` (see memoizedQuery).
 */
export function cappedCount(db: DbOrTx, table: PgTable, where: SQL, revision?: string, cap = COUNT_CAP): Promise<Count> {
  return memoizedQuery(db, `count:${getTableName(table)}`, where, revision, async () => {
    const [row] = await db
      .select({ n: sql<number>`count(*)::int` })
      .from(db.select({ one: sql`1` }).from(table).where(where).limit(cap + 1).as('capped'));
    const n = row?.n ?? 0;
    return n > cap ? { total: cap, capped: true } : { total: n, capped: false };
  }, String(cap));
}

/**
 * Keyset paging, for the lists sorted by creation (a key that never changes and is never null): the rows after
 * (or before) the row `cursor` names, in the order (key, id) `dir`. The boundary's key is read from the row
 * itself, within `scope`: an id outside what the actor sees (or gone for good) matches nothing, and the caller
 * falls back to the page number. `order` is the one to read the page in: for `before`, the opposite (the rows
 * just before the boundary), and `backwards` tells the caller to show them the other way round.
 */
export function keysetPage(table: PgTable, key: AnyPgColumn, id: AnyPgColumn, dir: 'asc' | 'desc', cursor: { after?: number; before?: number }, scope: SQL) {
  const boundary = cursor.after ?? cursor.before;
  if (boundary === undefined) return undefined;
  const backwards = cursor.after === undefined;
  const op = sql.raw((dir === 'desc') !== backwards ? '<' : '>');
  const readDir = sql.raw((dir === 'desc') !== backwards ? 'desc' : 'asc');
  return {
    condition: sql`(${key}, ${id}) ${op} (select ${key}, ${id} from ${table} where ${id} = ${boundary} and ${scope})`,
    order: [sql`${key} ${readDir}`, sql`${id} ${readDir}`],
    backwards,
  };
}

/**
 * A list's page with its count (which runs alongside): from the cursor when there is one and it still names a
 * row the actor sees, else by the page number. Past the count's cap (`cap`, COUNT_CAP unless said) a page is not
 * offered, and not queried (an OFFSET that deep reads every row before it), unless `deep`.
 */
export async function pageWithCount<T>(
  count: Promise<Count>,
  page: { byCursor?: () => Promise<T[]>; byOffset: () => Promise<T[]>; offset: number; deep?: boolean; cap?: number },
): Promise<{ items: T[] } & Count> {
  const byOffset = async () => (page.offset >= (page.cap ?? COUNT_CAP) && !page.deep ? [] : page.byOffset());
  const [first, counted] = await Promise.all([(page.byCursor ?? byOffset)(), count]);
  return { items: page.byCursor && !first.length ? await byOffset() : first, ...counted };
}

/** The columns of a record table (leads, clients) the page helpers below walk. */
export interface RecordColumns {
  table: PgTable;
  id: AnyPgColumn;
  ownerId: AnyPgColumn;
  createdAt: AnyPgColumn;
}

/**
 * The ids of a page sorted by `key` (an expression of the nullable `column`) descending, rows without a value
 * last: those with one, walked backwards on an index of (key, id), merged with those without, in id order. As one
 * ORDER BY "key desc nulls last" no btree serves it (walked backwards, an index gives nulls first), and every row
 * in scope was sorted: an admin's leads by value, 149 ms (F28). (Ascending, "nulls last" is the index's own order.)
 * The rows with a value are found by `key` (an index condition: the walk skips the empty ones), the empty ones by
 * the column: the planner has no statistics for an expression of a partial index, guessed 0.5% of the clients
 * had no company against 26%, and sorted them all for page 40 (43 ms).
 */
export function nullsLastIds(r: RecordColumns, column: AnyPgColumn, key: SQL, where: SQL, limit: number, offset: number): SQL {
  const n = offset + limit;
  const valued = sql`(select ${r.id} as id, ${key} as k from ${r.table} where ${where} and ${key} is not null order by ${key} desc, ${r.id} desc limit ${n})`;
  const empty = sql`(select ${r.id} as id, null as k from ${r.table} where ${where} and ${column} is null order by ${r.id} desc limit ${n})`;
  return sql`(select u.id from (${valued} union all ${empty}) u order by u.k desc nulls last, u.id desc limit ${limit} offset ${offset})`;
}

/**
 * The ids of a page sorted by owner (name, then the owner's id: namesakes apart, then creation, all in `dir`): the
 * users in name order, each one's rows from an index of (owner, group, creation), until the page is full; the
 * unowned rows last. A join sorted by the owner's name sorted every row in scope (an admin's leads: 242 ms, F28;
 * a member's, 40–55 ms, F31): here an owner with no rows in the scope's groups costs one probe. Only where that
 * index narrows `where` (see ownerWalkable): other filters would make each probe read all of the owner's rows.
 */
export function ownerOrderIds(r: RecordColumns, where: SQL, dir: 'asc' | 'desc', limit: number, offset: number): SQL {
  const d = sql.raw(dir);
  const n = offset + limit;
  const rowsOf = (owner: SQL) => sql`${owner} and ${where} order by ${r.createdAt} ${d}, ${r.id} ${d} limit ${n}`;
  const owned = sql`(select x.id, o.k, o.id as oid, x.created_at from
      (select ${users.id} as id, lower(${users.name}) as k from ${users} order by 2 ${d}, 1 ${d}) o
      cross join lateral (select ${r.id} as id, ${r.createdAt} as created_at from ${r.table} where ${rowsOf(sql`${r.ownerId} = o.id`)}) x
      order by o.k ${d}, o.id ${d}, x.created_at ${d}, x.id ${d} limit ${n})`;
  const unowned = sql`(select ${r.id} as id, null::text as k, null::integer as oid, ${r.createdAt} as created_at from ${r.table}
      where ${rowsOf(sql`${r.ownerId} is null`)})`;
  return sql`(select u.id from (${owned} union all ${unowned}) u
    order by u.k ${d} nulls last, u.oid ${d} nulls last, u.created_at ${d}, u.id ${d} limit ${limit} offset ${offset})`;
}

/**
 * Whether a list's owner order is read by ownerOrderIds: filtered by status and group at most (besides `allowed`),
 * and for a member only when they see their groups whole (an "own" group's scope is an OR with the owner, which
 * the index cannot narrow by group: every probe would read all of the owner's rows).
 */
export function ownerWalkable(actor: Actor, query: { sort: string } & Record<string, unknown>, allowed: string[]): boolean {
  return query.sort === 'owner' && filteredOnlyBy(query, ['status', 'group', ...allowed])
    && (actor.isAdmin || actor.memberships.every(seesWholeGroup));
}

/** Whether a list query filters by nothing but the `allowed` keys (paging and order never count as filters). */
function filteredOnlyBy(query: Record<string, unknown>, allowed: string[]): boolean {
  const free = new Set([...allowed, 'page', 'perPage', 'sort', 'dir', 'after', 'before']);
  return Object.entries(query).every(([key, value]) => free.has(key) || value === undefined || (Array.isArray(value) && !value.length));
}

export interface ListOptions {
  /** Serve pages past the cap too (the API: an integration reading everything follows `next` to the end). */
  deep?: boolean;
}

/** Escapes LIKE wildcards so a search for "50%" means the text "50%". */
export const likeContains = (s: string) => `%${s.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** Substring search on a record's lower-cased `search` column (pg_trgm GIN index); Cyrillic and Latin alike. */
export const searchCondition = (searchCol: AnyPgColumn | SQL, text: string): SQL => sql`${searchCol} like lower(${likeContains(text)})`;

/** A created-date range from YYYY-MM-DD strings, both ends inclusive, in UTC days. */
export function dateRange(col: AnyPgColumn, from?: string, to?: string): SQL[] {
  const out: SQL[] = [];
  if (from) out.push(gte(col, new Date(`${from}T00:00:00Z`)));
  if (to) {
    const end = new Date(`${to}T00:00:00Z`);
    end.setUTCDate(end.getUTCDate() + 1);
    out.push(lt(col, end));
  }
  return out;
}
