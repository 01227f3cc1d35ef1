import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import { parseEnv } from '../src/config/env.js';
import { openDatabase, runMigrations } from '../src/db/client.js';
import { applyMigrations, NO_TRANSACTION, outsideTransaction } from '../src/db/migrator.js';
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

  // Pending migrations run in one transaction: a DROP INDEX holds its table's ACCESS EXCLUSIVE lock (no reads)
  // until that commits, so it must not come before index builds, which only block writes. From 0008 on; older
  // migrations are deployed and never edited. (A no-transaction migration commits each statement by itself.)
  it('no DROP INDEX comes before a CREATE INDEX (from 0008 on)', () => {
    for (const { tag } of journal.entries.filter((e) => e.idx >= 8 && !outsideTransaction(statements(e.tag)))) {
      const list = statements(tag);
      const kinds = list.map((s) => (/^CREATE (UNIQUE )?INDEX/i.test(s) ? 'create' : /^DROP INDEX/i.test(s) ? 'drop' : 'other'));
      const firstDrop = kinds.indexOf('drop');
      const lastCreate = kinds.lastIndexOf('create');
      if (firstDrop >= 0) expect({ tag, dropBeforeCreate: firstDrop < lastCreate }).toEqual({ tag, dropBeforeCreate: false });
    }
  });

  it('CONCURRENTLY only in no-transaction migrations, which build and drop indexes only, each statement safe to run again', () => {
    for (const { tag } of journal.entries) expect({ tag, problems: concurrencyProblems(statements(tag)) }).toEqual({ tag, problems: [] });
    // What it catches: each of these would fail at start, or leave an invalid index behind for good.
    expect(concurrencyProblems(['CREATE INDEX CONCURRENTLY "a" ON "leads" ("source")'])).toHaveLength(1);
    expect(concurrencyProblems([`${NO_TRANSACTION}\nCREATE INDEX CONCURRENTLY IF NOT EXISTS "a" ON "leads" ("source")`])).toHaveLength(1);
    expect(concurrencyProblems([`${NO_TRANSACTION}\nALTER TABLE "leads" ADD COLUMN "x" text`])).toHaveLength(1);
    expect(concurrencyProblems([`${NO_TRANSACTION}\nDROP INDEX CONCURRENTLY IF EXISTS "a"`, 'CREATE INDEX CONCURRENTLY IF NOT EXISTS "a" ON "leads" ("source")'])).toEqual([]);
  });
});

/**
 * What is wrong with a migration's statements as to concurrent index builds. CONCURRENTLY is refused inside a
 * transaction, so only a no-transaction migration may use it; such a migration is run again from its start after
 * a failure (src/db/migrator.ts), so each statement must be safe to repeat, and an interrupted build leaves an
 * invalid index that IF NOT EXISTS would keep: it is dropped first.
 */
function concurrencyProblems(list: string[]): string[] {
  if (!outsideTransaction(list)) return list.filter((s) => /\bCONCURRENTLY\b/i.test(s)).map((s) => `CONCURRENTLY in a transaction: ${s}`);
  const problems: string[] = [];
  const dropped = new Set<string>();
  for (const s of list.map((one) => one.replace(NO_TRANSACTION, '').replace(/^\s*--.*$/gm, '').trim())) {
    const drop = /^DROP INDEX CONCURRENTLY IF EXISTS "?(\w+)"?/i.exec(s);
    const create = /^CREATE (UNIQUE )?INDEX CONCURRENTLY IF NOT EXISTS "?(\w+)"?/i.exec(s);
    if (drop) dropped.add(drop[1]!);
    else if (!create) problems.push(`not a concurrent, repeatable index statement: ${s}`);
    else if (!dropped.has(create[2]!)) problems.push(`not dropped first: ${create[2]}`);
  }
  return problems;
}

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
    await applyMigrations(client, folder, createLogger('silent'));
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

  // Before 0014, removing a member left them owner of the group's records.
  it('0014 unassigns records whose owner left their group, with an edit in each history; members keep theirs', async () => {
    const at = await databaseAt('0013_directory_email');
    const logger = createLogger('silent');
    try {
      const old = new pg.Client({ connectionString: at.url });
      await old.connect();
      await old.query(`insert into users (id, email, name, password_hash, role) overriding system value
                       values (1, 'stays@example.com', 'Stays', 'x', 'user'), (2, 'left@example.com', 'Left Early', 'x', 'user')`);
      await old.query(`insert into groups (id, name) overriding system value values (1, 'A'), (2, 'B')`);
      // "Left Early" left group A but is still in B.
      await old.query(`insert into memberships (user_id, group_id, role) values (1, 1, 'member'), (2, 2, 'member')`);
      await old.query(`insert into leads (id, group_id, owner_id, last_name, status, deleted_at) overriding system value
                       values (1, 1, 1, 'Kept', 'new', null), (2, 1, 2, 'Orphaned', 'new', null), (3, 1, 2, 'Trashed', 'lost', now()), (4, 2, 2, 'In B', 'new', null)`);
      await old.query(`insert into clients (id, group_id, owner_id, name) overriding system value values (1, 1, 2, 'Orphaned client'), (2, 2, 2, 'Client in B')`);
      await old.end();

      const database = await openDatabase({ databaseUrl: at.url, dataDir: '', poolMax: 2, logger });
      try {
        await runMigrations(database, logger);
        const q = async (text: string) => (await database.pool.query(text)).rows;
        expect(await q('select id, owner_id from leads order by id')).toEqual([
          { id: 1, owner_id: 1 }, { id: 2, owner_id: null }, { id: 3, owner_id: null }, { id: 4, owner_id: 2 },
        ]);
        expect(await q('select id, owner_id from clients order by id')).toEqual([{ id: 1, owner_id: null }, { id: 2, owner_id: 2 }]);
        expect(await q('select lead_id, client_id, actor_id, action, data from activities order by lead_id nulls last')).toEqual([
          { lead_id: 2, client_id: null, actor_id: null, action: 'updated', data: { changes: { ownerId: ['Left Early', null] } } },
          { lead_id: 3, client_id: null, actor_id: null, action: 'updated', data: { changes: { ownerId: ['Left Early', null] } } },
          { lead_id: null, client_id: 1, actor_id: null, action: 'updated', data: { changes: { ownerId: ['Left Early', null] } } },
        ]);
      } finally {
        await database.close();
      }
    } finally {
      await at.drop();
    }
  });
});

// An index built CONCURRENTLY (a migration marked NO_TRANSACTION) leaves writes to its table going while it builds.
describe.skipIf(inject('embedded'))('no-transaction migrations (skipped on embedded PGlite: they need a database of their own)', () => {
  /** The project's migrations plus one more that builds an index concurrently. */
  function foldersWithConcurrentIndex() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-migrations-'));
    fs.cpSync(FOLDER, dir, { recursive: true });
    const last = journal.entries.at(-1)!;
    const tag = `${String(last.idx + 1).padStart(4, '0')}_concurrent_test`;
    fs.writeFileSync(path.join(dir, `${tag}.sql`), [
      `${NO_TRANSACTION}\nDROP INDEX CONCURRENTLY IF EXISTS "leads_test_source_idx";`,
      `CREATE INDEX CONCURRENTLY IF NOT EXISTS "leads_test_source_idx" ON "leads" ("source");`,
    ].join('\n--> statement-breakpoint\n'));
    const entries = [...journal.entries, { ...last, idx: last.idx + 1, tag, when: last.when + 1 }];
    fs.writeFileSync(path.join(dir, 'meta/_journal.json'), JSON.stringify({ ...journal, entries }));
    return dir;
  }
  const logger = createLogger('silent');

  it('writes go on while the index is built, and it is built once, valid, however many processes migrate', async () => {
    const scratch = await scratchDatabase('tandem_concurrent');
    const folder = foldersWithConcurrentIndex();
    const a = await openDatabase({ databaseUrl: scratch.url, dataDir: '', poolMax: 2, logger });
    const b = await openDatabase({ databaseUrl: scratch.url, dataDir: '', poolMax: 2, logger });
    let writer: pg.PoolClient | undefined;
    try {
      await runMigrations(a, logger);
      // Two groups: writers of one group queue on its revision row (records/revisions.ts), whatever the migration.
      const [first, second] = (await a.pool.query("insert into groups (name) values ('G1'), ('G2') returning id")).rows.map((r) => r.id as number);
      const insertLead = (client: pg.ClientBase, groupId: number, name: string) =>
        client.query("insert into leads (group_id, last_name, status) values ($1, $2, 'new')", [groupId, name]);
      // A writer in the middle of a transaction: the build waits for it to end...
      writer = await a.pool.connect();
      await writer.query('begin');
      await insertLead(writer, first!, 'Open');
      // ...while two processes migrate at once (one builds; the other waits its turn without a snapshot the build
      // would wait for: a deadlock otherwise).
      const migrating = Promise.all([runMigrations(a, logger, folder), runMigrations(b, logger, folder)]);
      const building = "select count(*)::int as n from pg_stat_activity where query ilike '%create index concurrently%' and pid <> pg_backend_pid()";
      await expect.poll(async () => (await b.pool.query(building)).rows[0].n, { timeout: 5_000 }).toBe(1);
      // Meanwhile other writes are not held up (a plain CREATE INDEX queues every later write behind it).
      const other = new pg.Client({ connectionString: scratch.url, statement_timeout: 3_000 });
      await other.connect();
      try {
        expect((await insertLead(other, second!, 'During')).rowCount).toBe(1);
      } finally {
        await other.end();
      }
      await writer.query('commit');
      writer.release();
      writer = undefined;
      await migrating;
      const { rows: [index] } = await a.pool.query(
        "select i.indisvalid as valid from pg_index i join pg_class c on c.oid = i.indexrelid where c.relname = 'leads_test_source_idx'");
      expect(index).toEqual({ valid: true });
      const { rows } = await a.pool.query('select hash, count(*)::int as n from drizzle.__drizzle_migrations group by hash');
      expect(rows).toHaveLength(journal.entries.length + 1);
      expect(rows.every((r) => r.n === 1)).toBe(true);
      expect((await a.pool.query("select last_name from leads order by last_name")).rows.map((r) => r.last_name)).toEqual(['During', 'Open']);
    } finally {
      writer?.release(true);
      await a.close();
      await b.close();
      await scratch.drop();
      fs.rmSync(folder, { recursive: true, force: true });
    }
  }, 30_000);
});
