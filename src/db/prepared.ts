import crypto from 'node:crypto';
import pg from 'pg';

/**
 * Named prepared statements for the queries that ask for them: `runPrepared(query)`. PostgreSQL then parses
 * and plans such a query once per connection and shape (its SQL text) instead of on every request.
 *
 * Why: a list page runs one query of a few joins over a walk of an index. PostgreSQL took 0.65 ms to plan it and
 * 0.3 ms to run it; with a page costing ~4 ms of CPU between Node and PostgreSQL on a 2-core machine, planning
 * was a sixth of the work. After five executions PostgreSQL compares a generic plan (made once, blind to the
 * values) with the custom ones and keeps it when its estimate is no worse.
 *
 * Why only where asked: that estimate can be wrong. Prepared everywhere, the dashboard's "assigned to me" took
 * 4.6 ms instead of 0.6 and its recent activity 15 ms instead of 1.2 on generic plans. The queries that opt in
 * are the list pages' row reads (by ids, or a walk with its LIMIT), their LIMIT and OFFSET written in (see
 * preparable), and their generic plans checked against the custom ones for every list order and filter
 * (bench/plans.ts). A text search (`like`) is never prepared: whether the trigram index pays depends on the
 * pattern, which a generic plan cannot see.
 *
 * Each connection keeps at most `max` statements; beyond that the least recently used is deallocated, so a
 * long-lived connection's memory stays bounded whatever shapes the app builds.
 *
 * Off (DATABASE_PREPARED_STATEMENTS=false, and always on the embedded database) the same queries run unnamed.
 */

/** The name a query asks for to be prepared; the connection replaces it with one from its text. */
export const PREPARE = '\u0000prepare';

/** Runs a Drizzle query as a named prepared statement (on a pool made with statementsClient). */
export function runPrepared<T>(query: { prepare(name: string): { execute(): Promise<T> } }): Promise<T> {
  return query.prepare(PREPARE).execute();
}

/**
 * The pg Client class of the app's pool: queries named PREPARE get a name from their text (or, with `prepare`
 * false, none); everything else passes through as it is.
 */
export function statementsClient(prepare: boolean, max = 200): typeof pg.Client {
  return class StatementsClient extends pg.Client {
    /** Names prepared on this connection, least recently used first (a Map keeps insertion order). */
    private readonly statements = new Map<string, true>();

    override query(config: unknown, values?: unknown, callback?: unknown): never {
      const c = config as { text?: unknown; name?: unknown; values?: unknown } | null;
      if (c && typeof c === 'object' && c.name === PREPARE) {
        const statement = prepare ? preparable(String(c.text), (values ?? c.values ?? []) as unknown[]) : undefined;
        if (statement) {
          const name = statementName(statement.text);
          this.statements.delete(name);
          this.statements.set(name, true);
          if (this.statements.size > max) this.evictOldest();
          config = { ...c, name, text: statement.text, values: undefined };
          values = statement.values;
        } else {
          config = { ...c, name: undefined };
        }
      }
      return (super.query as (...a: unknown[]) => never)(config, values, callback);
    }

    /**
     * DEALLOCATE is queued behind whatever this connection is running; pg forgets the statement only once
     * it has run, so a query queued before it still finds the statement and one queued after prepares it anew.
     */
    private evictOldest() {
      const oldest = this.statements.keys().next().value!;
      this.statements.delete(oldest);
      super.query(`deallocate "${oldest}"`).then(
        () => {
          const conn = (this as unknown as { connection: { parsedStatements: Record<string, string> } }).connection;
          delete conn.parsedStatements[oldest];
        },
        // The connection is failing anyway; the pool will discard it.
        () => undefined,
      );
    }
  } as unknown as typeof pg.Client;
}

const TEXT_SEARCH = /\bi?like\b/i;
const LIMIT_PARAM = /\b(?:limit|offset) \$(\d+)\b/gi;
const PARAM = /\$(\d+)\b/g;

/**
 * The statement to prepare for a query, or undefined when it should not be (a text search). Its LIMIT and OFFSET
 * values are written into the text: a generic plan cannot see a parameter's value and plans a LIMIT $n for a
 * tenth of the rows, which turned the admin's first page from 0.7 ms into 228 (bench/plans.ts). The text then
 * differs by page size and offset, so each page number is a statement of its own (the first pages are what is
 * read again and again). The other parameters are renumbered in order.
 */
export function preparable(text: string, values: readonly unknown[]): { text: string; values: unknown[] } | undefined {
  if (TEXT_SEARCH.test(text)) return undefined;
  const literal = new Map<number, string>();
  for (const [, n] of text.matchAll(LIMIT_PARAM)) {
    const v = values[Number(n) - 1];
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) literal.set(Number(n), String(v));
  }
  if (!literal.size) return { text, values: [...values] };
  const renumbered = new Map<number, number>();
  const kept: unknown[] = [];
  values.forEach((v, i) => {
    if (!literal.has(i + 1)) renumbered.set(i + 1, kept.push(v));
  });
  return { text: text.replace(PARAM, (_m, n: string) => literal.get(Number(n)) ?? `$${renumbered.get(Number(n))}`), values: kept };
}

// Hashing a query's text costs a few microseconds; the names of the texts seen recently are remembered.
const names = new Map<string, string>();
const MAX_NAMES = 1000;

/** A statement's name: a digest of its text, the same on every connection. */
export function statementName(text: string): string {
  let name = names.get(text);
  if (name === undefined) {
    if (names.size >= MAX_NAMES) names.clear();
    name = `t_${crypto.createHash('sha1').update(text).digest('base64url').slice(0, 24)}`;
    names.set(text, name);
  }
  return name;
}
