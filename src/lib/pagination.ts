import { z } from 'zod';

export const PAGE_SIZES = [25, 50, 100] as const;

const rowId = z.coerce.number().int().positive().max(2 ** 31 - 1).optional().catch(undefined);

/** page and perPage from a query string; anything odd falls back to the first page of 25. */
export const pageQuery = z.object({
  page: z.coerce.number().int().min(1).max(100_000).catch(1),
  perPage: z.coerce.number().int().refine((n) => (PAGE_SIZES as readonly number[]).includes(n)).catch(25),
});
export type PageQuery = z.infer<typeof pageQuery>;

/**
 * The keyset links' parameters, for the lists that read them (leads, clients): the id of the row the page
 * follows or precedes (see toPage). Where they cannot be used, the page number counts.
 */
export const cursorQuery = { after: rowId, before: rowId };

export interface Page<T> {
  items: T[];
  page: number;
  perPage: number;
  total: number;
  /** The total is a lower bound: more rows match than lists count (records/list.ts, COUNT_CAP, SEARCH_COUNT_CAP). */
  capped: boolean;
  pages: number;
  prevHref?: string;
  nextHref?: string;
}

/** A link to the same list with some parameters changed (undefined removes one); back to the first page. */
export function queryHref(basePath: string, query: Record<string, unknown>, changes: Record<string, unknown> = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...query, page: undefined, after: undefined, before: undefined, ...changes })) {
    if (v === undefined || v === null || v === '') continue;
    for (const one of Array.isArray(v) ? v : [v]) params.append(k, String(one));
  }
  const s = params.toString();
  return s ? `${basePath}?${s}` : basePath;
}

/**
 * Builds the page object with links that keep every other query parameter (filters stay in the URL).
 * `deep`: the list serves pages past a capped total (the API, records/list.ts): there `prev` is simply the page
 * before and `next` goes on while pages are full. Otherwise a page past the last one leads back to the last.
 * `keyset`: the list reads `after`/`before` (records/list.ts, keysetPage), so next and prev name the row
 * they continue from: page 400 costs what page 2 does, and rows added meanwhile do not shift what comes next.
 * The page number travels along, for the "page N of M" line and as the fallback.
 */
export function toPage<T>(
  items: T[],
  total: number,
  q: PageQuery,
  basePath: string,
  query: Record<string, unknown>,
  capped = false,
  opts: { deep?: boolean; keyset?: boolean } = {},
): Page<T> {
  const pages = Math.max(1, Math.ceil(total / q.perPage));
  const deep = capped && opts.deep === true;
  const href = (page: number, cursor: { after?: unknown; before?: unknown } = {}) => queryHref(basePath, query, { page: page > 1 ? page : undefined, ...cursor });
  const idOf = (item: T | undefined) => (item as { id?: unknown } | undefined)?.id;
  const keyset = opts.keyset === true && items.length > 0;
  const prev = deep ? q.page - 1 : Math.min(q.page - 1, pages);
  return {
    items,
    page: q.page,
    perPage: q.perPage,
    total,
    capped,
    pages,
    prevHref: q.page > 1 ? href(prev, keyset && prev > 1 && prev === q.page - 1 ? { before: idOf(items[0]) } : {}) : undefined,
    nextHref: q.page < pages || (deep && items.length === q.perPage) ? href(q.page + 1, keyset ? { after: idOf(items.at(-1)) } : {}) : undefined,
  };
}

export const offsetOf = (q: PageQuery) => (q.page - 1) * q.perPage;
