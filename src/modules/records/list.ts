import { gte, lt, sql, type SQL } from 'drizzle-orm';
import type { AnyPgColumn } from 'drizzle-orm/pg-core';

/** Escapes LIKE wildcards so a search for "50%" means the text "50%". */
export const likeContains = (s: string) => `%${s.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** Substring search on a record's lower-cased `search` column (pg_trgm GIN index); Cyrillic and Latin alike. */
export const searchCondition = (searchCol: AnyPgColumn, text: string): SQL => sql`${searchCol} like lower(${likeContains(text)})`;

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
