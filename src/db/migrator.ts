import { readMigrationFiles } from 'drizzle-orm/migrator';
import type pg from 'pg';
import type { Logger } from '../lib/logger.js';

/**
 * A migration whose file starts with this line runs outside a transaction, one statement at a time: for
 * `CREATE INDEX CONCURRENTLY`, which PostgreSQL refuses inside one. A plain CREATE INDEX blocks every write to its
 * table while it builds (about 2 s per index of the million-lead bench table); a concurrent build does not.
 * Each statement of such a migration must be safe to run again (`IF NOT EXISTS`; `DROP INDEX CONCURRENTLY IF
 * EXISTS` first, since an interrupted concurrent build leaves an invalid index behind): when one fails, the
 * statements before it stay applied and the migration is not recorded, so the next start runs it again.
 */
export const NO_TRANSACTION = '-- tandem: no-transaction';

/** Whether a migration (its statements, in file order) is marked NO_TRANSACTION. */
export const outsideTransaction = (statements: string[]) => !!statements[0]?.trimStart().startsWith(NO_TRANSACTION);

// Any constant works, but it must be the one every version of the app uses (Drizzle's runner before this one did).
const LOCK_ID = 727_001;
const LOCK_POLL_MS = 200;

/**
 * Applies the pending migrations of `folder` (drizzle-kit's files and journal), recorded in Drizzle's own table
 * (`drizzle.__drizzle_migrations`), as Drizzle's migrator does: a file is pending when its journal time is later
 * than the last recorded one. Migrations that follow each other run in one transaction, so a failure applies
 * none of them; a no-transaction migration (NO_TRANSACTION) commits those before it and runs on its own.
 *
 * Only one process migrates at a time: the others wait for the advisory lock, then find nothing left to do. They
 * poll for it rather than wait in a statement: a waiting statement holds a snapshot, and a concurrent index
 * build waits for every older snapshot to end, which here would be a deadlock.
 */
export async function applyMigrations(client: pg.ClientBase, folder: string, logger: Logger): Promise<void> {
  while (!(await client.query<{ ok: boolean }>('select pg_try_advisory_lock($1) as ok', [LOCK_ID])).rows[0]!.ok) {
    await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
  }
  try {
    await client.query('create schema if not exists drizzle');
    await client.query('create table if not exists drizzle.__drizzle_migrations (id serial primary key, hash text not null, created_at bigint)');
    const { rows } = await client.query<{ created_at: string }>('select created_at from drizzle.__drizzle_migrations order by created_at desc limit 1');
    const last = rows[0] ? Number(rows[0].created_at) : -Infinity;
    const pending = readMigrationFiles({ migrationsFolder: folder }).filter((m) => m.folderMillis > last);
    const apply = async (m: (typeof pending)[number]) => {
      for (const statement of m.sql.filter((s) => s.trim())) await client.query(statement);
      await client.query('insert into drizzle.__drizzle_migrations (hash, created_at) values ($1, $2)', [m.hash, m.folderMillis]);
    };

    let batch: typeof pending = [];
    const commitBatch = async () => {
      if (!batch.length) return;
      await client.query('begin');
      try {
        for (const m of batch) await apply(m);
        await client.query('commit');
      } catch (err) {
        // A rollback on a lost connection fails too; the error worth reporting is the first one.
        await client.query('rollback').catch(() => undefined);
        throw err;
      }
      batch = [];
    };
    for (const m of pending) {
      if (!outsideTransaction(m.sql)) {
        batch.push(m);
        continue;
      }
      await commitBatch();
      await apply(m);
    }
    await commitBatch();
    if (pending.length) logger.info({ applied: pending.length }, 'database migrations applied');
  } finally {
    // On a lost connection the session's lock is gone with it; the migration's own error is the one to report.
    await client.query('select pg_advisory_unlock($1)', [LOCK_ID]).catch(() => undefined);
  }
}
