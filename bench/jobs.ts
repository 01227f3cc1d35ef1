// npx tsx bench/jobs.ts [--smoke] [--n 20000] [--db tandem_bench_jobs] [--redis-db 9]
//
// Notification jobs through the whole pipeline, as the app runs them: notify() writes each notification and its
// outbox row in a transaction (100 events per transaction, as many requests would), then the real worker process
// (src/worker.ts, the code `npm run worker` runs, with its own concurrency settings) relays the outbox to BullMQ
// and runs notifications.deliver for every one. The recipients have email off for every kind (the issue's "with
// email off": the job reads the notification and finds nothing to send). Measured: jobs/s from the first
// completion to the last, the worker's RSS, and how long the worker takes to stop on SIGTERM afterwards.
//
// Baselines in the same run: the same number of bare BullMQ no-op jobs with the same concurrency (the queue's
// ceiling on this machine), and the handler's own SQL run the same number of times through a pg pool.
//
// Needs DATABASE_URL (a database of its own is created beside the one it names, and dropped) and REDIS_URL (the
// bench uses Redis database --redis-db, 9 by default, which must be empty or one an earlier run left; it is
// flushed at the end). Prints rows shaped like the memory table of bench/RESULTS.md. --smoke: 2,000 jobs.
// --worker-root DIR runs the worker of another checkout (e.g. `git archive` of an older commit) for a before/after.
// --profile DIR writes a CPU profile of the worker there.
// From another script: `import { benchJobs } from './jobs.js'; const { rows, met } = await benchJobs({ smoke })`.
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { openDatabase, runMigrations } from '../src/db/client.js';
import { parseEnv } from '../src/config/env.js';
import { createJobs, WORKER_CONCURRENCY } from '../src/jobs/jobs.js';
import { defaultJobOptions } from '../src/jobs/queues.js';
import { createLogger } from '../src/lib/logger.js';
import { fromRoot } from '../src/lib/paths.js';
import { createNotificationsService } from '../src/modules/notifications/notifications.service.js';
import { NOTIFICATION_KINDS } from '../src/modules/notifications/notifications.messages.js';
import { registerNotificationJobs } from '../src/modules/notifications/notifications.jobs.js';
import type { Services } from '../src/services.js';
import { databaseUrl, dropDatabase, recreateDatabase, serverUrl } from './lib/pg.js';
import { sampleMemory } from './lib/proc.js';

export interface BenchJobsOptions {
  /** 2,000 jobs instead of 20,000: a few seconds. */
  smoke?: boolean;
  /** How many notification jobs. */
  n?: number;
  /** The bench database (created and dropped). */
  db?: string;
  /** The Redis database index used (must be empty, or left by an earlier run of this bench). */
  redisDb?: number;
  log?: (line: string) => void;
  /** Runs the worker of another checkout (to compare before and after a change); this one by default. */
  workerRoot?: string;
  /** Writes a CPU profile of the worker (node --cpu-prof) into this directory. */
  profileDir?: string;
}

export interface BenchJobsResult {
  n: number;
  jobsPerSecond: number;
  seconds: number;
  noopPerSecond: number;
  sqlPerSecond: number;
  stopSeconds: number;
  rss: { before: number; peak: number; added: number };
  /** Markdown rows shaped like the memory table of bench/RESULTS.md (figure | value | baseline | ratio | RSS | added | target | met). */
  rows: string[];
  /** At least 1,000 jobs/s (issue #6, "Speed"). */
  met: boolean;
}

const TARGET = 1000;
const MARKER = 'tandem:bench-jobs';
const fmt = (n: number, digits = 0) => n.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function redisBase(): string {
  const url = process.env.REDIS_URL;
  if (!url) {
    process.stderr.write('The jobs benchmark needs Redis: set REDIS_URL (e.g. redis://127.0.0.1:6379).\n');
    process.exit(2);
  }
  return url;
}

/** A Redis of the bench's own: database `index` on REDIS_URL's server, refused if someone else's keys are in it. */
async function claimRedis(base: string, index: number) {
  const url = new URL(base);
  url.pathname = `/${index}`;
  const r = new Redis(url.toString(), { maxRetriesPerRequest: 1 });
  const size = await r.dbsize();
  if (size > 0 && !(await r.exists(MARKER))) {
    r.disconnect();
    throw new Error(`Redis database ${index} holds ${size} keys that are not this bench's: choose another with --redis-db`);
  }
  await r.flushdb();
  await r.set(MARKER, String(process.pid));
  return { url: url.toString(), redis: r };
}

/** Recipients (email off for every kind) and one actor, as plain rows: no argon2 needed for a jobs bench. */
async function seedUsers(pool: pg.Pool, recipients: number) {
  const { rows } = await pool.query<{ id: number }>(
    `insert into users (email, name, password_hash, email_off)
     select 'user' || i || '@bench.local', 'User ' || i, 'x', $2::jsonb from generate_series(1, $1::int) i returning id`,
    [recipients + 1, JSON.stringify(NOTIFICATION_KINDS)],
  );
  return { actor: rows[0]!.id, recipients: rows.slice(1).map((r) => r.id) };
}

/** Counts completions by polling: what is not yet done is either pending in the outbox or waiting/active in BullMQ. */
async function watch(pool: pg.Pool, queue: Queue, n: number, timeoutMs: number, onFirst: () => void) {
  let first: number | undefined;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const [{ rows }, counts] = await Promise.all([
      pool.query<{ n: number }>(`select count(*)::int as n from job_outbox where status = 'pending'`),
      queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'failed'),
    ]);
    const now = performance.now();
    const open = rows[0]!.n + counts.waiting! + counts.active! + counts.delayed! + counts.prioritized!;
    const done = n - open - counts.failed!;
    if (first === undefined && done > 0) {
      first = now;
      onFirst();
    }
    if (open === 0) {
      if (counts.failed) throw new Error(`${counts.failed} notification jobs failed`);
      return { first: first ?? now, last: now };
    }
    await sleep(10);
  }
  throw new Error('the worker did not finish the jobs in time');
}

export async function benchJobs(opts: BenchJobsOptions = {}): Promise<BenchJobsResult> {
  const log = opts.log ?? ((s: string) => process.stdout.write(`${s}\n`));
  const n = opts.n ?? (opts.smoke ? 2000 : 20_000);
  const dbName = opts.db ?? (opts.smoke ? 'tandem_bench_jobs_smoke' : 'tandem_bench_jobs');
  const base = serverUrl();
  const dbUrl = databaseUrl(base, dbName);
  const { url: redisUrl, redis } = await claimRedis(redisBase(), opts.redisDb ?? 9);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-bench-jobs-'));
  const logger = createLogger('warn');
  let child: ChildProcess | undefined;
  await recreateDatabase(base, dbName);
  const database = await openDatabase({ databaseUrl: dbUrl, dataDir: tmp, poolMax: 10, logger });
  try {
    await runMigrations(database, logger);
    const users = await seedUsers(database.pool, 50);

    // --- enqueue the way the app does: notify() in the change's transaction writes the row and its outbox job.
    const env = parseEnv({ NODE_ENV: 'development', DATABASE_URL: dbUrl, REDIS_URL: redisUrl, LOG_LEVEL: 'warn' });
    const producer = createJobs({ database, logger, redisUrl });
    const mailer = { async send() { throw new Error('no mail in this bench'); }, close() {} };
    const notifications = createNotificationsService({ database, jobs: producer, mailer, env, logger });
    // The real job definition (its schema checks every payload enqueued); this process never runs the handler.
    registerNotificationJobs({ jobs: producer, notifications } as unknown as Services);
    const t0 = performance.now();
    for (let i = 0; i < n; i += 100) {
      await database.db.transaction(async (tx) => {
        for (let j = i; j < Math.min(n, i + 100); j++) {
          await notifications.notify(tx, {
            userId: users.recipients[j % users.recipients.length], actorId: users.actor, kind: 'assigned',
            data: { recordKind: 'lead', recordName: `Lead ${j}` }, link: `/leads/${j + 1}`, dedupeKey: `bench:${j}`,
          });
        }
      });
    }
    log(`enqueued ${fmt(n)} notifications (rows + outbox jobs) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    // --- the worker process, as `npm run worker` runs it (TypeScript through tsx's loader; the code is the same).
    const logFile = path.join(tmp, 'worker.log');
    const fd = fs.openSync(logFile, 'a');
    const root = opts.workerRoot ?? fromRoot();
    const profile = opts.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(opts.profileDir)}`] : [];
    child = spawn(process.execPath, [...profile, '--import', 'tsx', path.join(root, 'src/worker.ts')], {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmp, NODE_ENV: 'production', SESSION_SECRET: crypto.randomBytes(36).toString('base64url'),
        DATABASE_URL: dbUrl, REDIS_URL: redisUrl, DATA_DIR: tmp, LOG_LEVEL: 'warn', APP_URL: 'http://127.0.0.1:3000',
      },
      stdio: ['ignore', fd, fd],
    });
    fs.closeSync(fd);
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    // Sampled from the first completion: before is the worker started and connected, the peak is while it works.
    let memory: ReturnType<typeof sampleMemory> | undefined;
    const queue = new Queue('notifications', { connection: new Redis(redisUrl, { maxRetriesPerRequest: null }) });
    let span: { first: number; last: number };
    try {
      span = await Promise.race([
        watch(database.pool, queue, n, 60_000 + n * 10, () => (memory = sampleMemory(child!.pid!))),
        exited.then((code) => { throw new Error(`the worker exited (${code}): ${fs.readFileSync(logFile, 'utf8').slice(-2000)}`); }),
      ]);
    } finally {
      await queue.close();
    }
    const rss = memory!.stop();
    const seconds = (span.last - span.first) / 1000;
    // The first completion is the start of the window, so it does not count in the rate.
    const jobsPerSecond = (n - 1) / seconds;
    const stopAt = performance.now();
    child.kill('SIGTERM');
    const code = await exited;
    const stopSeconds = (performance.now() - stopAt) / 1000;
    child = undefined;
    if (code !== 0) throw new Error(`the worker stopped with code ${code}: ${fs.readFileSync(logFile, 'utf8').slice(-2000)}`);
    await producer.stop();
    log(`worker: ${fmt(n)} jobs in ${seconds.toFixed(2)} s = ${fmt(jobsPerSecond)} jobs/s; stopped on SIGTERM in ${stopSeconds.toFixed(2)} s`);

    // --- baseline 1: bare BullMQ, the same number of no-op jobs, the same concurrency and retention.
    const noopPerSecond = await bareBullmq(redisUrl, n, WORKER_CONCURRENCY.notifications);
    log(`baseline: ${fmt(n)} bare BullMQ no-op jobs = ${fmt(noopPerSecond)} jobs/s`);

    // --- baseline 2: the handler's SQL (email off: one read of the notification and its recipient), as many times.
    const sqlPerSecond = await handlerSql(dbUrl, n, WORKER_CONCURRENCY.notifications);
    log(`baseline: the handler's SELECT ${fmt(n)} times = ${fmt(sqlPerSecond)} queries/s`);

    const conc = WORKER_CONCURRENCY.notifications;
    const met = jobsPerSecond >= TARGET;
    const rows = [
      `| baseline: ${fmt(n)} bare BullMQ no-op jobs (1 worker, concurrency ${conc}, same retention) | ${fmt(noopPerSecond)} jobs/s |  |  |  |  |  |  |`,
      `| baseline: the handler's SQL (notification + recipient, by id) ${fmt(n)} times via pg, ${conc} at a time | ${fmt(sqlPerSecond)} queries/s |  |  |  |  |  |  |`,
      `| jobs: ${fmt(n)} notifications.deliver (email off), outbox → BullMQ → \`npm run worker\` | ${fmt(jobsPerSecond)} jobs/s (${seconds.toFixed(2)} s; SIGTERM stop ${stopSeconds.toFixed(1)} s) | ` +
        `bare BullMQ: ${fmt(noopPerSecond)} jobs/s | ${((jobsPerSecond / noopPerSecond) * 100).toFixed(0)}% | ${fmt(rss.before)} → ${fmt(rss.peak)} | +${fmt(rss.added)} | ≥ ${fmt(TARGET)} jobs/s | ${met ? 'yes' : '**no**'} |`,
    ];
    return { n, jobsPerSecond, seconds, noopPerSecond, sqlPerSecond, stopSeconds, rss, rows, met };
  } finally {
    if (child) child.kill('SIGKILL');
    await database.close();
    await dropDatabase(base, dbName);
    await redis.flushdb();
    redis.disconnect();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

async function bareBullmq(redisUrl: string, n: number, concurrency: number): Promise<number> {
  const name = 'bench-noop';
  const queue = new Queue(name, { connection: new Redis(redisUrl, { maxRetriesPerRequest: null }), defaultJobOptions });
  for (let i = 0; i < n; i += 1000) {
    await queue.addBulk(Array.from({ length: Math.min(1000, n - i) }, (_, k) => ({ name: 'noop', data: { notificationId: i + k + 1 }, opts: { jobId: `noop|${i + k}` } })));
  }
  let first = 0;
  let last = 0;
  let done = 0;
  const finished = new Promise<void>((resolve) => {
    const worker = new Worker(name, async () => undefined, { connection: new Redis(redisUrl, { maxRetriesPerRequest: null }), concurrency });
    worker.on('completed', (_job: Job) => {
      last = performance.now();
      if (++done === 1) first = last;
      if (done === n) void worker.close().then(() => resolve());
    });
  });
  await finished;
  await queue.obliterate({ force: true });
  await queue.close();
  return (n - 1) / ((last - first) / 1000);
}

async function handlerSql(dbUrl: string, n: number, concurrency: number): Promise<number> {
  const pool = new pg.Pool({ connectionString: dbUrl, max: concurrency });
  // pool.end() resolves before its sockets have closed; the database dropped right after (with force) ends
  // them from the server side, which must not crash the run as an unheard 'error'.
  pool.on('error', () => undefined);
  const ids = (await pool.query<{ id: number }>('select id from notifications order by id')).rows.map((r) => r.id);
  const text = `select n.id, n.kind, n.data, n.link, n.emailed_at, u.id, u.email, u.name, u.locale, u.active, u.email_off
                from notifications n join users u on u.id = n.user_id where n.id = $1`;
  let next = 0;
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < n) await pool.query(text, [ids[next++ % ids.length]]);
  }));
  const rate = n / ((performance.now() - start) / 1000);
  await pool.end();
  return rate;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { smoke: { type: 'boolean', default: false }, n: { type: 'string' }, db: { type: 'string' }, 'redis-db': { type: 'string' }, 'worker-root': { type: 'string' }, profile: { type: 'string' } } });
  benchJobs({ smoke: values.smoke, n: values.n ? Number(values.n) : undefined, db: values.db, redisDb: values['redis-db'] ? Number(values['redis-db']) : undefined, workerRoot: values['worker-root'], profileDir: values.profile })
    .then((r) => {
      process.stdout.write(`\n| figure | value | baseline | ratio | RSS before → peak (MiB) | RSS added | target | met |\n|---|---|---|---:|---|---:|---|:-:|\n${r.rows.join('\n')}\n`);
      // A target not met is a figure, not a failure (as in bench/run.ts); errors exit 1.
      process.exit(0);
    })
    .catch((err) => {
      process.stderr.write(`${(err as Error).stack ?? err}\n`);
      process.exit(1);
    });
}
