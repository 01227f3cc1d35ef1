import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import { describe, expect, inject, it } from 'vitest';
import { parseEnv } from '../src/config/env.js';
import { openDatabase, runMigrations } from '../src/db/client.js';
import { createLogger } from '../src/lib/logger.js';
import { createServices } from '../src/services.js';
import { scratchDatabase } from './helpers/app.js';

const FOLDER = path.resolve('drizzle');
const journal = JSON.parse(fs.readFileSync(path.join(FOLDER, 'meta/_journal.json'), 'utf8')) as {
  entries: { idx: number; tag: string; when: number; breakpoints: boolean }[];
};
const statements = (tag: string) =>
  fs
    .readFileSync(path.join(FOLDER, `${tag}.sql`), 'utf8')
    .split('--> statement-breakpoint')
    .map((s) => s.trim())
    .filter(Boolean);

describe('migration files', () => {
  it('every SQL file is in the journal, in order, each applied after the one before', () => {
    const files = fs.readdirSync(FOLDER).filter((f) => f.endsWith('.sql')).map((f) => f.replace(/\.sql$/, '')).sort();
    expect(journal.entries.map((e) => e.tag)).toEqual(files);
    journal.entries.forEach((e, i) => {
      expect(e.idx).toBe(i);
      expect(e.breakpoints).toBe(true);
      // The migrator applies a file only when its `when` is later than the last applied one's.
      if (i > 0) expect(e.when).toBeGreaterThan(journal.entries[i - 1]!.when);
    });
  });

  // All pending migrations run in one transaction: a DROP INDEX holds its table's ACCESS EXCLUSIVE lock (no reads)
  // until that commits, so it must not come before index builds, which only block writes. From 0008 on; older
  // migrations are deployed and never edited.
  it('no DROP INDEX comes before a CREATE INDEX (from 0008 on)', () => {
    for (const { tag } of journal.entries.filter((e) => e.idx >= 8)) {
      const list = statements(tag);
      const kinds = list.map((s) => (/^CREATE (UNIQUE )?INDEX/i.test(s) ? 'create' : /^DROP INDEX/i.test(s) ? 'drop' : 'other'));
      const firstDrop = kinds.indexOf('drop');
      const lastCreate = kinds.lastIndexOf('create');
      if (firstDrop >= 0) expect({ tag, dropBeforeCreate: firstDrop < lastCreate }).toEqual({ tag, dropBeforeCreate: false });
    }
  });
});

/** A new database on the run's server, migrated up to `upTo` (a journal tag) only. */
async function databaseAt(upTo: string) {
  const db = await scratchDatabase('tandem_upgrade');
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-migrations-'));
  const entries = journal.entries.slice(0, journal.entries.findIndex((e) => e.tag === upTo) + 1);
  fs.mkdirSync(path.join(folder, 'meta'));
  fs.writeFileSync(path.join(folder, 'meta/_journal.json'), JSON.stringify({ ...journal, entries }));
  for (const e of entries) fs.copyFileSync(path.join(FOLDER, `${e.tag}.sql`), path.join(folder, `${e.tag}.sql`));
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    await migrate(drizzle(client), { migrationsFolder: folder });
  } finally {
    await client.end();
    fs.rmSync(folder, { recursive: true, force: true });
  }
  return db;
}

describe.skipIf(inject('embedded'))('upgrade migrations (skipped on embedded PGlite: they need a database of their own)', () => {
  // The version before exports became jobs ran them from memory: its pending and running exports have no outbox row.
  it('0010 gives every pending or running export of the previous version its exports.run job, which then runs', async () => {
    const at = await databaseAt('0009_group_revisions');
    const logger = createLogger('silent');
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-upgrade-'));
    try {
      const old = new pg.Client({ connectionString: at.url });
      await old.connect();
      await old.query(`insert into users (email, name, password_hash, role, active) values ('admin@example.com', 'Admin', 'x', 'admin', true)`);
      const ids: Record<string, string> = {};
      for (const status of ['pending', 'running', 'done', 'failed', 'queued']) {
        const { rows } = await old.query(
          `insert into exports (user_id, format, status, total) values (1, 'csv', $1, 0) returning id`,
          [status === 'queued' ? 'pending' : status],
        );
        ids[status] = rows[0].id;
      }
      // An export that already has its job (as the new code writes it) keeps that one job.
      await old.query(`insert into job_outbox (name, payload, job_key, max_attempts, status) values ('exports.run', $1, $2, 3, 'dispatched')`, [
        { exportId: ids.queued },
        `exports.run:${ids.queued}`,
      ]);
      await old.end();

      const database = await openDatabase({ databaseUrl: at.url, dataDir: '', poolMax: 2, logger });
      try {
        await runMigrations(database, logger);
        const { rows } = await database.pool.query('select name, payload, job_key, status, max_attempts from job_outbox order by job_key');
        expect(rows).toEqual(
          [
            { name: 'exports.run', payload: { exportId: ids.pending }, job_key: `exports.run:${ids.pending}`, status: 'pending', max_attempts: 3 },
            { name: 'exports.run', payload: { exportId: ids.running }, job_key: `exports.run:${ids.running}`, status: 'pending', max_attempts: 3 },
            { name: 'exports.run', payload: { exportId: ids.queued }, job_key: `exports.run:${ids.queued}`, status: 'dispatched', max_attempts: 3 },
          ].sort((a, b) => a.job_key.localeCompare(b.job_key)),
        );
      } finally {
        await database.close();
      }

      // The rows are the ones the code writes: the in-process engine runs them to files.
      const env = parseEnv({ NODE_ENV: 'test', DATABASE_URL: at.url, DATABASE_POOL_MAX: '2', LOG_LEVEL: 'silent', MIGRATE_ON_START: 'false', DATA_DIR: dataDir });
      const services = await createServices(env, logger);
      try {
        // Until no job waits or runs (a job the engine started meanwhile, e.g. by kick(), included).
        for (let i = 0; i < 100; i++) {
          await services.jobs.settle();
          const busy = await services.database.pool.query("select 1 from job_outbox where status in ('pending', 'dispatched') and job_key <> $1", [`exports.run:${ids.queued}`]);
          if (!busy.rowCount) break;
          await new Promise((r) => setTimeout(r, 50));
        }
        const { rows } = await services.database.pool.query('select id, status, storage_name from exports');
        const byId = Object.fromEntries(rows.map((r) => [r.id, r]));
        expect(byId[ids.pending!]).toMatchObject({ status: 'done', storage_name: `${ids.pending}.csv` });
        expect(byId[ids.running!]).toMatchObject({ status: 'done', storage_name: `${ids.running}.csv` });
        expect(byId[ids.failed!]).toMatchObject({ status: 'failed' });
      } finally {
        await services.close();
      }
    } finally {
      await at.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
