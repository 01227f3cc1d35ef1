import path from 'node:path';
import fs from 'node:fs';
import pg from 'pg';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import type { Logger } from 'pino';
import * as schema from './schema/index.js';
import { fromRoot } from '../lib/paths.js';
import { applyMigrations } from './migrator.js';

export type Db = NodePgDatabase<typeof schema>;
/** A transaction handle: repositories accept either, so services decide where transactions begin. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
export type DbOrTx = Db | Tx;

export interface Database {
  pool: pg.Pool;
  db: Db;
  /** PGlite, started here or reached by URL: one backend behind every connection. */
  embedded: boolean;
  close(): Promise<void>;
}

const MIGRATIONS_FOLDER = fromRoot('drizzle');

interface Options {
  databaseUrl?: string;
  dataDir: string;
  poolMax: number;
  logger: Logger;
}

/**
 * Connects the pg pool to DATABASE_URL, or, when it is unset, to an embedded PGlite served on a loopback
 * port by pglite-socket, so every line of the app talks to one kind of driver.
 */
export async function openDatabase(opts: Options): Promise<Database> {
  let stopEmbedded: (() => Promise<void>) | undefined;
  let connectionString = opts.databaseUrl;
  let max = opts.poolMax;
  if (!connectionString) {
    const embedded = await startEmbedded(opts.dataDir, opts.logger);
    connectionString = embedded.url;
    stopEmbedded = embedded.stop;
    // PGlite is one backend: the socket server multiplexes connections, but a transaction holds it
    // exclusively, so one pooled connection keeps the behaviour predictable.
    max = 1;
  }
  // PGlite reached by URL (the test run's shared instance when there is no DATABASE_URL) is the same kind of
  // database as the embedded one.
  // (Its pool size stays the configured one: the test run sets 1 for the app, and more where a test needs it.)
  const embedded = !!stopEmbedded || (await servedByPglite(connectionString, opts.logger));
  const pool = new pg.Pool({ connectionString, max, idleTimeoutMillis: 30_000, connectionTimeoutMillis: 10_000 });
  // An idle client that loses its server (a PostgreSQL restart) emits here; without a handler the process dies.
  // The pool drops that client and the next query opens a new connection.
  pool.on('error', (err) => opts.logger.warn({ err }, 'idle database connection lost'));
  const db = drizzle(pool, { schema });
  return {
    pool,
    db,
    embedded,
    async close() {
      await pool.end();
      if (stopEmbedded) await stopEmbedded();
    },
  };
}

/**
 * Whether the server is PGlite (one backend, whatever the connections). A server that cannot be reached now
 * counts as PostgreSQL: the app starts and reports itself not ready until it can reach it.
 */
async function servedByPglite(connectionString: string, logger: Logger): Promise<boolean> {
  const probe = new pg.Client({ connectionString, connectionTimeoutMillis: 5_000, query_timeout: 5_000 });
  // A connection that fails after connecting emits 'error': unheard, that would end the process.
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    const { rows } = await probe.query<{ v: string }>('select version() as v');
    return /\bPGlite\b/.test(rows[0]?.v ?? '');
  } catch (err) {
    logger.warn({ err }, 'database not reachable at start: taken to be PostgreSQL, not PGlite');
    return false;
  } finally {
    await probe.end().catch(() => undefined);
  }
}

async function startEmbedded(dataDir: string, logger: Logger) {
  const { PGlite } = await import('@electric-sql/pglite');
  const { pg_trgm } = await import('@electric-sql/pglite/contrib/pg_trgm');
  const { btree_gin } = await import('@electric-sql/pglite/contrib/btree_gin');
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
  const dir = path.resolve(dataDir, 'pgdata');
  fs.mkdirSync(dir, { recursive: true });
  const pglite = await PGlite.create({ dataDir: dir, extensions: { pg_trgm, btree_gin } });
  const server = new PGLiteSocketServer({ db: pglite, host: '127.0.0.1', port: 0, maxConnections: 8 });
  await server.start();
  const port = (server as unknown as { port: number }).port;
  logger.info({ dataDir: dir, port }, 'embedded PostgreSQL (PGlite) started');
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres?sslmode=disable`,
    async stop() {
      await server.stop();
      await pglite.close();
    },
  };
}

/**
 * Applies pending migrations (see applyMigrations): two instances starting together never apply one twice.
 * `folder`: the project's own unless a test brings its own.
 */
export async function runMigrations(database: Database, logger: Logger, folder = MIGRATIONS_FOLDER): Promise<void> {
  const client = await database.pool.connect();
  try {
    await applyMigrations(client, folder, logger);
    logger.info('database migrations are up to date');
  } finally {
    client.release();
  }
}
