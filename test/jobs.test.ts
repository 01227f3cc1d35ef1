import { execSync, spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it, vi } from 'vitest';
import { z } from 'zod';
import { SMTPServer } from 'smtp-server';
import { createTestApp, resetDatabase, type Agent, type TestApp } from './helpers/app.js';
import { loginActors, restoreFixture, type ActorName } from './helpers/fixture.js';
import { createJobs } from '../src/jobs/jobs.js';
import { createLogger } from '../src/lib/logger.js';

const q = async (t: TestApp, sql: string, values: unknown[] = []) => (await t.services.database.pool.query(sql, values)).rows;

describe('jobs without Redis (in-process engine over the outbox)', () => {
  let t: TestApp;
  let agents: Record<ActorName, Agent>;
  const seen: number[] = [];
  let failuresLeft = 0;
  beforeAll(async () => {
    t = await createTestApp({ REDIS_URL: '', JOBS_BACKOFF_MS: '20' });
    await resetDatabase(t.services);
    await restoreFixture(t.services);
    agents = await loginActors(t.app);
    t.services.jobs.define('maintenance.test-flaky', {
      schema: z.object({ n: z.number().int() }),
      async handler({ n }) {
        if (failuresLeft-- > 0) throw new Error('transient trouble');
        seen.push(n);
      },
    });
  });
  afterAll(async () => { await t.close(); });
  beforeEach(async () => {
    seen.length = 0;
    failuresLeft = 0;
    await q(t, 'truncate job_outbox');
  });

  it('runs a job only after its transaction commits; a rolled-back change runs nothing', async () => {
    const { db } = t.services.database;
    await db.transaction(async (tx) => {
      await t.services.jobs.enqueue(tx, 'maintenance.test-flaky', { n: 1 }, 'one');
      tx.rollback();
    }).catch(() => undefined);
    await db.transaction((tx) => t.services.jobs.enqueue(tx, 'maintenance.test-flaky', { n: 2 }, 'two'));
    await t.services.jobs.settle();
    expect(seen).toEqual([2]);
  });

  it('the same key twice is one job', async () => {
    const { db } = t.services.database;
    await t.services.jobs.enqueue(db, 'maintenance.test-flaky', { n: 3 }, 'same');
    await t.services.jobs.enqueue(db, 'maintenance.test-flaky', { n: 3 }, 'same');
    await t.services.jobs.settle();
    expect(seen).toEqual([3]);
  });

  it('a failing handler is retried with backoff and then succeeds', async () => {
    failuresLeft = 2;
    await t.services.jobs.enqueue(t.services.database.db, 'maintenance.test-flaky', { n: 4 }, 'flaky');
    await expect.poll(async () => { await t.services.jobs.settle(); return seen; }, { timeout: 5000 }).toEqual([4]);
    expect((await q(t, 'select status, attempts from job_outbox'))[0]).toEqual({ status: 'done', attempts: 3 });
  });

  it('a job that keeps failing lands in the failed list of the admin page, and can be retried from there', async () => {
    failuresLeft = 100;
    await t.services.jobs.enqueue(t.services.database.db, 'maintenance.test-flaky', { n: 5 }, 'doomed');
    await expect.poll(async () => { await t.services.jobs.settle(); return (await q(t, 'select status from job_outbox'))[0].status; }, { timeout: 10_000 }).toBe('failed');
    const page = await agents.admin.get('/admin/jobs');
    expect(page.text).toContain('transient trouble');
    expect(page.text).toContain('maintenance.test-flaky');
    const [row] = await q(t, 'select id from job_outbox');
    failuresLeft = 0;
    const csrf = /<meta name="csrf-token" content="([^"]+)"/.exec(page.text)![1];
    const retried = await agents.admin.post(`/admin/jobs/maintenance/${row.id}/retry`).type('form').send({ _csrf: csrf });
    expect(retried.status).toBe(303);
    await expect.poll(async () => { await t.services.jobs.settle(); return seen; }, { timeout: 5000 }).toEqual([5]);
    expect((await agents.memberA.get('/admin/jobs')).status).toBe(403);
  });

  it('an invalid payload is refused when enqueued, and fails without retries if it reaches a handler', async () => {
    await expect(t.services.jobs.enqueue(t.services.database.db, 'maintenance.test-flaky', { n: 'x' }, 'bad')).rejects.toThrow(/invalid payload/);
    await q(t, `insert into job_outbox (name, payload, job_key) values ('maintenance.test-flaky', '{"n":"nope"}', 'raw')`);
    await t.services.jobs.settle();
    expect(await q(t, 'select status, attempts, last_error from job_outbox')).toEqual([
      { status: 'failed', attempts: 1, last_error: expect.stringContaining('invalid payload') },
    ]);
    // The admin page lists it with its reason and its single attempt.
    const page = await agents.admin.get('/admin/jobs');
    const maintenance = page.text.slice(page.text.indexOf('data-testid="queue-maintenance"'));
    expect(maintenance).toMatch(/maintenance\.test-flaky[\s\S]*?invalid payload for maintenance\.test-flaky: n [^<]*<\/td><td>1<\/td>/);
  });

  // One job at a time in one loop, a background export (minutes) held up every notification and file check.
  it('a long background export does not hold up other jobs: exports have a lane of their own', async () => {
    const { db } = t.services.database;
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let exportStarted = false;
    t.services.jobs.define('exports.test-slow', {
      schema: z.object({}),
      async handler() {
        exportStarted = true;
        await released;
      },
    });
    t.services.jobs.define('notifications.test-quick', {
      schema: z.object({ n: z.number().int() }),
      async handler({ n }) {
        seen.push(n);
      },
    });
    try {
      await t.services.jobs.enqueue(db, 'exports.test-slow', {}, 'slow');
      t.services.jobs.kick();
      await expect.poll(() => exportStarted).toBe(true);
      // Due after the export (a higher id), and a second export waits behind the first in its lane.
      await t.services.jobs.enqueue(db, 'exports.test-slow', {}, 'slow-2');
      await t.services.jobs.enqueue(db, 'notifications.test-quick', { n: 6 }, 'quick');
      await t.services.jobs.enqueue(db, 'maintenance.test-flaky', { n: 7 }, 'also-quick');
      t.services.jobs.kick();
      await expect.poll(() => [...seen].sort(), { timeout: 5000 }).toEqual([6, 7]);
      expect(await q(t, "select job_key, status from job_outbox where name = 'exports.test-slow' order by id")).toEqual([
        { job_key: 'exports.test-slow:slow', status: 'dispatched' },
        { job_key: 'exports.test-slow:slow-2', status: 'pending' },
      ]);
    } finally {
      release();
    }
    await t.services.jobs.settle();
    expect(await q(t, "select count(*)::int as n from job_outbox where status <> 'done'")).toEqual([{ n: 0 }]);
  });

  it('stop() waits for the job in hand in each lane, and no job starts after it', async () => {
    // An engine of its own on the same database, so the app's stays up for the other tests.
    const jobs = createJobs({ database: t.services.database, logger: createLogger('silent'), backoffMs: 20 });
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let started = false;
    jobs.define('exports.test-held', { schema: z.object({}), handler: async () => { started = true; await released; } });
    jobs.define('notifications.test-late', { schema: z.object({}), handler: async () => { seen.push(8); } });
    await jobs.enqueue(t.services.database.db, 'exports.test-held', {}, 'held');
    jobs.kick();
    await expect.poll(() => started).toBe(true);
    let stopped = false;
    const stopping = jobs.stop().then(() => (stopped = true));
    await jobs.enqueue(t.services.database.db, 'notifications.test-late', {}, 'late');
    jobs.kick();
    await new Promise((r) => setTimeout(r, 200));
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(seen).toEqual([]);
    expect(await q(t, 'select name, status from job_outbox order by id')).toEqual([
      { name: 'exports.test-held', status: 'done' },
      { name: 'notifications.test-late', status: 'pending' },
    ]);
  });

  it('the daily cleanup empties trash older than 30 days, once per day', async () => {
    await q(t, "insert into leads (group_id, last_name, deleted_at) values (1, 'Old', now() - interval '31 days'), (1, 'Recent', now() - interval '2 days')");
    const { scheduleDailyCleanup } = await import('../src/jobs/maintenance.js');
    await scheduleDailyCleanup(t.services);
    await scheduleDailyCleanup(t.services);
    await t.services.jobs.settle();
    expect((await q(t, "select last_name from leads where last_name in ('Old', 'Recent')")).map((r) => r.last_name)).toEqual(['Recent']);
    expect(await q(t, "select count(*)::int as n from job_outbox where name = 'maintenance.cleanup'")).toEqual([{ n: 1 }]);
  });
});

/** A redis-server of the test's own on a free port, so it can be stopped and started again. */
async function freePort() {
  return new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
function startRedis(port: number): Promise<ChildProcess> {
  const p = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  return new Promise((resolve) => setTimeout(() => resolve(p), 300));
}
const hasRedis = spawnable('redis-server');
function spawnable(cmd: string) {
  try {
    return !!execSync(`command -v ${cmd}`, { stdio: 'pipe' }).toString().trim();
  } catch {
    return false;
  }
}

describe.skipIf(!hasRedis)('jobs on Redis (BullMQ) — skipped when redis-server is not installed', () => {
  let t: TestApp;
  let redis: ChildProcess;
  let port: number;
  const seen: number[] = [];
  beforeAll(async () => {
    port = await freePort();
    redis = await startRedis(port);
    t = await createTestApp({ REDIS_URL: `redis://127.0.0.1:${port}` });
    await resetDatabase(t.services);
    t.services.jobs.define('maintenance.test-seen', { schema: z.object({ n: z.number() }), async handler({ n }) { seen.push(n); } });
  });
  afterAll(async () => {
    await t.close();
    redis.kill('SIGKILL');
  });

  it('a job goes from the outbox to BullMQ and a worker runs the same handler', async () => {
    const workers = t.services.jobs.startWorkers(1);
    try {
      await t.services.jobs.enqueue(t.services.database.db, 'maintenance.test-seen', { n: 1 }, 'r1');
      await t.services.jobs.settle();
      await expect.poll(() => seen, { timeout: 10_000 }).toEqual([1]);
      expect((await q(t, "select status from job_outbox where job_key = 'maintenance.test-seen:r1'"))[0].status).toBe('dispatched');
    } finally {
      await Promise.all(workers.map((w) => w.close()));
    }
  });

  it('while Redis is down the work waits in PostgreSQL, and goes once Redis is back', async () => {
    redis.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    await t.services.jobs.enqueue(t.services.database.db, 'maintenance.test-seen', { n: 2 }, 'r2');
    await t.services.jobs.settle().catch(() => undefined);
    expect((await q(t, "select status from job_outbox where job_key = 'maintenance.test-seen:r2'"))[0].status).toBe('pending');
    // The rest of the app keeps working meanwhile.
    expect((await (await import('supertest')).default(t.app).get('/login')).status).toBe(200);

    redis = await startRedis(port);
    const workers = t.services.jobs.startWorkers(1);
    try {
      await expect.poll(async () => { await t.services.jobs.settle(); return seen; }, { timeout: 15_000, interval: 500 }).toEqual([1, 2]);
    } finally {
      await Promise.all(workers.map((w) => w.close()));
    }
  });
});

describe.skipIf(!hasRedis)('BullMQ workers: errors and stopping (npm run worker)', () => {
  let t: TestApp;
  let redis: ChildProcess;
  let redisUrl: string;
  // A mail server that takes `delayMs` to accept a message, or never answers (a job that hangs).
  let smtpMode: { delayMs: number } | 'hang' = { delayMs: 0 };
  const received: string[] = [];
  let inFlight = 0;
  let mostAtOnce = 0;
  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    onData(stream, session, done) {
      mostAtOnce = Math.max(mostAtOnce, ++inFlight);
      stream.resume();
      stream.on('end', () => {
        received.push(session.envelope.rcptTo.map((r) => r.address).join(','));
        if (smtpMode !== 'hang') {
          setTimeout(() => {
            inFlight--;
            done();
          }, smtpMode.delayMs);
        }
      });
    },
  });
  let userId: number;
  let admin: Agent;
  beforeAll(async () => {
    const port = await freePort();
    redis = await startRedis(port);
    redisUrl = `redis://127.0.0.1:${port}`;
    await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', () => r()));
    t = await createTestApp({ REDIS_URL: redisUrl, SMTP_URL: `smtp://127.0.0.1:${(smtp.server.address() as net.AddressInfo).port}` });
    await resetDatabase(t.services);
    await restoreFixture(t.services);
    ({ admin } = await loginActors(t.app));
    [{ id: userId }] = await q(t, `insert into users (email, name, password_hash) values ('stop@example.test', 'Stop', 'x') returning id`);
  });
  afterAll(async () => {
    await t.close();
    redis.kill('SIGKILL');
    await new Promise<void>((r) => smtp.close(() => r()));
  });

  it("a worker's 'error' event goes to the log with its queue (unheard, it would throw or end on the console)", async () => {
    const warn = vi.spyOn(t.services.logger, 'warn');
    const workers = t.services.jobs.startWorkers(1);
    try {
      for (const w of workers) expect(() => w.emit('error', new Error('connection lost'))).not.toThrow();
      expect(warn.mock.calls.filter(([obj]) => (obj as { err?: string }).err === 'connection lost').map(([obj]) => (obj as { queue: string }).queue).sort()).toEqual(
        ['exports', 'files', 'maintenance', 'notifications'],
      );
    } finally {
      warn.mockRestore();
      await Promise.all(workers.map((w) => w.close()));
    }
  });

  it('an invalid payload fails on the worker without retries, and the admin page shows it with its reason', async () => {
    const workers = t.services.jobs.startWorkers(1);
    const failedOf = async () => (await t.services.jobs.overview()).find((x) => x.name === 'notifications')!.failed;
    try {
      // Written behind enqueue's back (enqueue refuses it): a row of an older release, or a hand-made one.
      await q(t, `insert into job_outbox (name, payload, job_key) values ('notifications.deliver', '{"notificationId":"seven"}', 'notifications.deliver:bad')`);
      await t.services.jobs.settle();
      // With retries it would only fail for good after the backoff (2 s + 4 s + …), far beyond this wait.
      await expect.poll(async () => (await failedOf()).length, { timeout: 5_000 }).toBe(1);
      expect(await failedOf()).toEqual([expect.objectContaining({ name: 'notifications.deliver', attempts: 1, error: expect.stringContaining('invalid payload for notifications.deliver: notificationId') })]);
      const page = await admin.get('/admin/jobs');
      const section = page.text.slice(page.text.indexOf('data-testid="queue-notifications"'));
      expect(section).toMatch(/notifications\.deliver[\s\S]*?invalid payload for notifications\.deliver: notificationId [^<]*<\/td><td>1<\/td>/);
    } finally {
      await Promise.all(workers.map((w) => w.close()));
    }
  });

  // PGlite is one backend: a transaction holds it, so its deliveries go one at a time whatever the limit.
  it.skipIf(inject('embedded'))('32 notification jobs run at once, but at most 4 of them send mail at a time (each holds a database connection)', async () => {
    smtpMode = { delayMs: 300 };
    received.length = 0;
    mostAtOnce = 0;
    const workers = t.services.jobs.startWorkers();
    try {
      expect(workers.find((w) => w.name === 'notifications')!.concurrency).toBe(32);
      for (let i = 0; i < 10; i++) await notify(`at-once-${i}`);
      await t.services.jobs.settle();
      await expect.poll(() => received.length, { timeout: 15_000 }).toBe(10);
      expect(mostAtOnce).toBe(4);
    } finally {
      await Promise.all(workers.map((w) => w.close()));
    }
  });

  /** `npm run worker`'s code (src/worker.ts) as a process of its own; resolves once it says it started. */
  async function startWorkerProcess(extraEnv: Record<string, string>) {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/worker.ts'], {
      env: {
        PATH: process.env.PATH ?? '', NODE_ENV: 'test', LOG_LEVEL: 'info', DATABASE_URL: t.services.env.DATABASE_URL!, REDIS_URL: redisUrl,
        DATA_DIR: t.services.env.DATA_DIR, SMTP_URL: `smtp://127.0.0.1:${(smtp.server.address() as net.AddressInfo).port}`, ...extraEnv,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await expect.poll(() => output, { timeout: 30_000, interval: 100 }).toContain('"msg":"worker started"');
    return { child, exited, output: () => output };
  }
  const notify = async (key: string) => {
    const id = await t.services.notifications.notify(t.services.database.db, { userId, kind: 'assigned', data: { recordKind: 'lead', recordName: key }, link: '/leads/1', dedupeKey: key });
    t.services.jobs.kick();
    return id!;
  };

  it('on SIGTERM it lets the job in hand finish, then exits 0', async () => {
    smtpMode = { delayMs: 1500 };
    received.length = 0;
    const w = await startWorkerProcess({ WORKER_STOP_SECONDS: '15' });
    try {
      const id = await notify('graceful');
      await expect.poll(() => received.length, { timeout: 15_000 }).toBe(1); // the mail is being accepted: the job is in hand
      const signalled = Date.now();
      w.child.kill('SIGTERM');
      expect(await w.exited).toBe(0);
      expect(Date.now() - signalled).toBeLessThan(10_000);
      expect(w.output()).toContain('"msg":"worker stopped"');
      // It finished its job: the mail went and the notification says so.
      expect((await q(t, 'select emailed_at from notifications where id = $1', [id]))[0].emailed_at).toBeInstanceOf(Date);
    } finally {
      w.child.kill('SIGKILL');
    }
  }, 60_000);

  it('on SIGTERM with a job that hangs, it exits within its time limit (code 1) instead of waiting forever', async () => {
    smtpMode = 'hang';
    received.length = 0;
    const w = await startWorkerProcess({ WORKER_STOP_SECONDS: '1' });
    try {
      const id = await notify('hangs');
      await expect.poll(() => received.length, { timeout: 15_000 }).toBe(1);
      const signalled = Date.now();
      w.child.kill('SIGTERM');
      expect(await w.exited).toBe(1);
      expect(Date.now() - signalled).toBeLessThan(6_000);
      expect(w.output()).toContain('jobs did not finish in time');
      expect((await q(t, 'select emailed_at from notifications where id = $1', [id]))[0].emailed_at).toBeNull();
    } finally {
      w.child.kill('SIGKILL');
    }
  }, 60_000);
});
