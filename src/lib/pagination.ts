import { z } from 'zod';

export const PAGE_SIZES = [25, 50, 100] as const;

/** page and perPage from a query string; anything odd falls back to the first page of 25. */
export const pageQuery = z.object({
  page: z.coerce.number().int().min(1).max(100_000).catch(1),
  perPage: z.coerce.number().int().refine((n) => (PAGE_SIZES as readonly number[]).includes(n)).catch(25),
});
export type PageQuery = z.infer<typeof pageQuery>;

export interface Page<T> {
  items: T[];
  page: number;
  perPage: number;
  total: number;
  /** The total is a lower bound: more rows match than lists count (records/list.ts, COUNT_CAP). */
  capped: boolean;
  pages: number;
  prevHref?: string;
  nextHref?: string;
}

/** A link to the same list with some parameters changed (undefined removes one); page resets to 1. */
export function queryHref(basePath: string, query: Record<string, unknown>, changes: Record<string, unknown> = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...query, page: undefined, ...changes })) {
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
 */
export function toPage<T>(
  items: T[],
  total: number,
  q: PageQuery,
  basePath: string,
  query: Record<string, unknown>,
  capped = false,
  opts: { deep?: boolean } = {},
): Page<T> {
  const pages = Math.max(1, Math.ceil(total / q.perPage));
  const deep = capped && opts.deep === true;
  const href = (page: number) => queryHref(basePath, query, { page: page > 1 ? page : undefined });
  return {
    items,
    page: q.page,
    perPage: q.perPage,
    total,
    capped,
    pages,
    prevHref: q.page > 1 ? href(deep ? q.page - 1 : Math.min(q.page - 1, pages)) : undefined,
    nextHref: q.page < pages || (deep && items.length === q.perPage) ? href(q.page + 1) : undefined,
  };
}

export const offsetOf = (q: PageQuery) => (q.page - 1) * q.perPage;
