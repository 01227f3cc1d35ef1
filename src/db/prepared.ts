import crypto from 'node:crypto';
import pg from 'pg';

/**
 * A pg Client that runs the app's parameterised SELECTs as named prepared statements, one per distinct SQL
 * text, so PostgreSQL parses and plans each shape of query once per connection instead of on every request.
 *
 * Why: a list page runs one query of a few joins and a UNION of index walks. PostgreSQL took 0.65 ms to plan
 * it and 0.3 ms to run it; with a page costing ~4 ms of CPU between Node and PostgreSQL on a 2-core machine,
 * planning was a sixth of the work. After five executions PostgreSQL compares a generic plan (planned once)
 * with the custom ones and keeps it only when it is no more expensive, so a query whose best plan depends on
 * its values keeps being planned for them.
 *
 * Not prepared:
 * - text searches (`like`/`ilike`): whether the trigram index pays depends on the pattern, which a generic
 *   plan cannot see, and a search is planned in far less time than it runs;
 * - statements without parameters, writes, and anything already named or streamed (cursors, COPY).
 *
 * Each connection keeps at most `max` statements; the least recently used is deallocated beyond that, so a
 * long-lived connection's memory stays bounded whatever queries the app builds.
 *
 * Off (DATABASE_PREPARED_STATEMENTS=false) behind a pooler that hands each transaction another server
 * connection (PgBouncer in transaction mode before 1.21), where a named statement would not be found.
 */
export function preparingClient(max = 200): typeof pg.Client {
  return class PreparingClient extends pg.Client {
    /** Names prepared on this connection, least recently used first (a Map keeps insertion order). */
    private readonly statements = new Map<string, true>();

    override query(config: unknown, values?: unknown, callback?: unknown): never {
      // query(text, values) or query({ text, values?, … }, values?); a Submittable (cursor, COPY) is left alone.
      const c = (typeof config === 'string' ? { text: config } : config) as { text?: unknown; name?: unknown; values?: unknown; submit?: unknown } | null;
      if (c && typeof c === 'object' && typeof c.text === 'string' && c.name === undefined && typeof c.submit !== 'function' && worthPreparing(c.text, values ?? c.values)) {
        const name = statementName(c.text);
        this.statements.delete(name);
        this.statements.set(name, true);
        if (this.statements.size > max) this.evictOldest();
        config = { ...c, name };
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

const SELECT = /^\s*(with|select)\b/i;
const TEXT_SEARCH = /\bi?like\b/i;

function worthPreparing(text: string, values: unknown): boolean {
  return Array.isArray(values) && values.length > 0 && SELECT.test(text) && !TEXT_SEARCH.test(text);
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
