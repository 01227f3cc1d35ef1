import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import request from 'supertest';
import { createTestApp, login, resetDatabase, scratchDatabase, type TestApp } from './helpers/app.js';
import { openDatabase, runMigrations } from '../src/db/client.js';
import { createLogger } from '../src/lib/logger.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
  await resetDatabase(t.services);
});
afterAll(async () => { await t.close(); });

describe('probes', () => {
  it('/healthz answers while the process is alive', async () => {
    const res = await request(t.app).get('/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  it('/readyz checks the database, and Redis when it is configured', async () => {
    const res = await request(t.app).get('/readyz');
    expect(res.status).toBe(200);
    expect(res.body.checks).toEqual({ database: 'ok' });
    if (process.env.REDIS_URL) {
      const withRedis = await createTestApp({ REDIS_URL: process.env.REDIS_URL });
      try {
        expect((await request(withRedis.app).get('/readyz')).body.checks).toEqual({ database: 'ok', redis: 'ok' });
      } finally {
        await withRedis.close();
      }
    }
  });

  it('/readyz answers 503 when Redis is configured but unreachable', async () => {
    const down = await createTestApp({ REDIS_URL: 'redis://127.0.0.1:1' });
    try {
      const res = await request(down.app).get('/readyz');
      expect(res.status).toBe(503);
      expect(res.body.checks).toEqual({ database: 'ok', redis: 'error' });
    } finally {
      await down.close();
    }
  });
});

// Two app instances starting together on a new database: the advisory lock lets one migrate, the other waits.
describe.skipIf(inject('embedded'))('migrations (skipped on embedded PGlite: one process owns its data directory)', () => {
  it('two processes migrating at once apply each migration exactly once', async () => {
    const scratch = await scratchDatabase('tandem_migrate');
    const logger = createLogger('silent');
    const a = await openDatabase({ databaseUrl: scratch.url, dataDir: '', poolMax: 2, logger });
    const b = await openDatabase({ databaseUrl: scratch.url, dataDir: '', poolMax: 2, logger });
    try {
      await Promise.all([runMigrations(a, logger), runMigrations(b, logger)]);
      const { rows } = await a.pool.query('select hash, count(*)::int as n from drizzle.__drizzle_migrations group by hash');
      expect(rows.length).toBeGreaterThan(0);
      expect(rows.every((r) => r.n === 1)).toBe(true);
      const users = await a.pool.query("select to_regclass('public.users') as t");
      expect(users.rows[0].t).toBe('users');
    } finally {
      await a.close();
      await b.close();
      await scratch.drop();
    }
  });
});

describe.skipIf(inject('embedded'))('npm run admin:create (skipped on embedded PGlite: the test run owns the data directory)', () => {
  it('makes an admin from the shell who can then log in', async () => {
    const res = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/admin-create.ts', '--email', 'Root@Example.com', '--name', 'Root Admin'], {
      env: { ...process.env, DATABASE_URL: inject('databaseUrl'), ADMIN_PASSWORD: 'a shell-made passphrase', ARGON2_MEMORY_KIB: '1024', LOG_LEVEL: 'silent', MIGRATE_ON_START: 'false' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(res.stderr).toBe('');
    expect(res.stdout).toContain('admin ready: root@example.com');
    const { rows } = await t.services.database.pool.query("select role, active from users where email = 'root@example.com'");
    expect(rows[0]).toEqual({ role: 'admin', active: true });
    expect((await login(request.agent(t.app), 'root@example.com', 'a shell-made passphrase')).status).toBe(303);
  });

  it('refuses a common password with a clear message', () => {
    const res = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/admin-create.ts', '--email', 'x@example.com', '--password', 'password1'], {
      env: { ...process.env, DATABASE_URL: inject('databaseUrl') },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(res.status).toBe(1);
    expect(res.stderr).toContain('password: This password is too common.');
  });
});
