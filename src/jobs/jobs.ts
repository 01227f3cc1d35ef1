import { Queue, UnrecoverableError, Worker, type Job, type WorkerOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { TransactionRollbackError, and, desc, eq, inArray, lte, sql } from 'drizzle-orm';
import type { z } from 'zod';
import type { Database, DbOrTx } from '../db/client.js';
import { jobOutbox } from '../db/schema/index.js';
import type { Logger } from '../lib/logger.js';
import { BACKOFF_MS, DEFAULT_ATTEMPTS, QUEUES, defaultJobOptions, queueOf, type QueueName } from './queues.js';

/** Outbox rows relayed to Redis per transaction. */
const DISPATCH_BATCH = 500;

/**
 * Jobs each BullMQ worker runs at once, per queue (npm run worker). A notification job mostly waits on
 * PostgreSQL and Redis (or SMTP), so many run at once: at 4 the worker sat idle a third of the time and
 * managed ~800 jobs/s (bench/jobs.ts). Files (sharp) and exports use CPU and memory: a few at a time.
 */
export const WORKER_CONCURRENCY: Record<QueueName, number> = { files: 4, notifications: 32, exports: 4, maintenance: 4 };

export interface JobDefinition<S extends z.ZodType = z.ZodType> {
  schema: S;
  handler: (payload: z.output<S>, ctx: { attempt: number; logger: Logger }) => Promise<void>;
  attempts?: number;
}

/**
 * The in-process engine's lanes: each has a drain loop of its own that runs one job at a time, claiming only its
 * jobs. Background exports run for minutes; in a lane of their own they no longer hold up notifications, file
 * checks and the cleanup, which share the other lane.
 */
const INLINE_LANES = [
  { name: 'exports', claims: sql`name like 'exports.%'` },
  { name: 'main', claims: sql`name not like 'exports.%'` },
] as const;

/** A payload that fails its schema: never retried, shown on the admin page with its reason. */
export class InvalidPayloadError extends Error {}

export interface JobsOptions {
  database: Database;
  logger: Logger;
  redisUrl?: string;
  /** How often the dispatcher looks at the outbox (ms). */
  pollMs?: number;
  /** First retry delay in inline mode (doubles each attempt); tests shorten it. */
  backoffMs?: number;
}

/**
 * Background jobs with one API and two engines:
 * - with REDIS_URL: BullMQ. The web process moves committed outbox rows to the queues; `npm run worker` runs them.
 * - without: the same handlers run in this process from the outbox, with the same retries and backoff, one job at
 *   a time per lane (INLINE_LANES: background exports beside everything else).
 * Either way a job is written in the transaction of the change it follows (enqueue(tx, …)): nothing is sent
 * for a rolled-back change, and nothing is lost while Redis is down — the row waits and goes when it is back.
 */
export function createJobs(opts: JobsOptions) {
  const { database, logger } = opts;
  const { db } = database;
  const defs = new Map<string, JobDefinition>();
  const mode: 'bullmq' | 'inline' = opts.redisUrl ? 'bullmq' : 'inline';
  let producer: Redis | undefined;
  const queues = new Map<QueueName, Queue>();
  let timer: NodeJS.Timeout | undefined;
  /** Redis mode: the relay pass under way. */
  let draining: Promise<void> | undefined;
  /** Inline mode: each lane's drain loop under way. */
  const lanes = INLINE_LANES.map((lane) => ({ ...lane, draining: undefined as Promise<void> | undefined }));
  /** Everything this process has under way (relay pass, drain loops). */
  const inFlight = () => Promise.all([draining, ...lanes.map((l) => l.draining)]);
  let stopped = false;

  function queue(name: QueueName) {
    let q = queues.get(name);
    if (!q) {
      // Producers fail fast while Redis is away (no offline queue): the outbox keeps the work meanwhile. A Redis
      // that accepts but does not answer fails too (commandTimeout): the relay holds its batch's row locks meanwhile.
      producer ??= new Redis(opts.redisUrl!, { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2000, commandTimeout: 10_000, lazyConnect: false });
      producer.on('error', (err) => logger.debug({ err }, 'jobs: redis producer error'));
      q = new Queue(name, { connection: producer, defaultJobOptions });
      // While Redis is away every queue reports it; the producer connection already logged why, and the outbox keeps the work.
      q.on('error', (err) => logger.debug({ queue: name, err: err.message }, 'jobs: queue error'));
      queues.set(name, q);
    }
    return q;
  }

  function validate(name: string, payload: unknown) {
    const def = defs.get(name);
    if (!def) throw new InvalidPayloadError(`no handler for job ${name}`);
    const parsed = def.schema.safeParse(payload);
    if (!parsed.success) throw new InvalidPayloadError(`invalid payload for ${name}: ${parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
    return { def, payload: parsed.data };
  }

  function workerConnection() {
    const conn = new Redis(opts.redisUrl!, { maxRetriesPerRequest: null });
    conn.on('error', (err) => logger.debug({ err: err.message }, 'jobs: worker redis connection error'));
    return conn;
  }

  /** Runs one job's handler (both engines). */
  async function run(name: string, payload: unknown, attempt: number) {
    const { def, payload: valid } = validate(name, payload);
    await def.handler(valid, { attempt, logger: logger.child({ job: name }) });
  }

  /** Is the producer connection up (waiting a moment for it)? Without an offline queue, commands fail otherwise. */
  async function producerReady(timeoutMs = 2000) {
    queue(QUEUES[0]);
    if (producer!.status === 'ready') return true;
    return new Promise<boolean>((resolve) => {
      const done = (ok: boolean) => { clearTimeout(timer); producer!.off('ready', onReady); resolve(ok); };
      const onReady = () => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      producer!.once('ready', onReady);
    });
  }

  /**
   * Outbox rows due now → BullMQ (Redis mode), in batches until none is due. Each batch is claimed with
   * FOR UPDATE SKIP LOCKED, so the web processes and the worker, all relaying, never hand the same row twice;
   * it goes to Redis in one pipeline per queue (addBulk) and is marked dispatched in one UPDATE. If Redis fails
   * the transaction rolls back and the rows stay pending; rows re-sent after a crash between the two are
   * recognised by their job ids. One job per row and one round trip each capped the relay near 500 jobs/s.
   */
  async function dispatch() {
    if (!(await producerReady())) {
      logger.warn('jobs: Redis unavailable, work stays in the outbox');
      return;
    }
    while (!stopped && (await dispatchBatch()) === DISPATCH_BATCH);
  }

  async function dispatchBatch(): Promise<number> {
    return db.transaction(async (tx) => {
      const rows = await tx
        .select({ id: jobOutbox.id, name: jobOutbox.name, payload: jobOutbox.payload, jobKey: jobOutbox.jobKey, maxAttempts: jobOutbox.maxAttempts })
        .from(jobOutbox)
        .where(and(eq(jobOutbox.status, 'pending'), lte(jobOutbox.runAt, new Date())))
        .orderBy(jobOutbox.id)
        .limit(DISPATCH_BATCH)
        .for('update', { skipLocked: true });
      if (!rows.length) return 0;
      const byQueue = new Map<QueueName, typeof rows>();
      for (const row of rows) {
        const name = queueOf(row.name);
        byQueue.set(name, [...(byQueue.get(name) ?? []), row]);
      }
      try {
        await Promise.all(
          [...byQueue].map(([name, list]) =>
            // BullMQ refuses ':' in custom ids (its key separator).
            queue(name).addBulk(list.map((r) => ({ name: r.name, data: r.payload, opts: { jobId: r.jobKey.replaceAll(':', '|'), attempts: r.maxAttempts } }))),
          ),
        );
      } catch (err) {
        logger.warn({ err: (err as Error).message, pending: rows.length }, 'jobs: could not hand work to Redis; it stays in the outbox');
        tx.rollback();
      }
      await tx.update(jobOutbox).set({ status: 'dispatched', updatedAt: new Date() }).where(inArray(jobOutbox.id, rows.map((r) => r.id)));
      return rows.length;
    }).catch((err) => {
      if (err instanceof TransactionRollbackError) return 0;
      throw err;
    });
  }

  /** Claims one due row of the lane and runs it here (inline mode); returns false when nothing is due. */
  async function runOneInline(lane: (typeof lanes)[number]): Promise<boolean> {
    const claimed = await db.execute<{ id: number; name: string; payload: unknown; attempts: number; max_attempts: number }>(sql`
      update ${jobOutbox} set status = 'dispatched', attempts = attempts + 1, updated_at = now()
      where id = (select id from ${jobOutbox} where status = 'pending' and run_at <= now() and ${lane.claims} order by id for update skip locked limit 1)
      returning id, name, payload, attempts, max_attempts`);
    const row = claimed.rows[0];
    if (!row) return false;
    try {
      await run(row.name, row.payload, row.attempts);
      await db.update(jobOutbox).set({ status: 'done', lastError: null, updatedAt: new Date() }).where(eq(jobOutbox.id, row.id));
    } catch (err) {
      const final = err instanceof InvalidPayloadError || err instanceof UnrecoverableError || row.attempts >= row.max_attempts;
      const delay = (opts.backoffMs ?? BACKOFF_MS) * 2 ** (row.attempts - 1);
      logger.warn({ err: (err as Error).message, job: row.name, attempt: row.attempts, final }, 'jobs: job failed');
      await db
        .update(jobOutbox)
        .set({ status: final ? 'failed' : 'pending', lastError: String((err as Error).message ?? err).slice(0, 2000), runAt: new Date(Date.now() + delay), updatedAt: new Date() })
        .where(eq(jobOutbox.id, row.id));
    }
    return true;
  }

  async function drainLane(lane: (typeof lanes)[number]) {
    while (!stopped && (await runOneInline(lane)));
  }

  const api = {
    mode,

    define<S extends z.ZodType>(name: string, def: JobDefinition<S>) {
      queueOf(name);
      defs.set(name, def as unknown as JobDefinition);
    },

    /**
     * Writes a job into the outbox within the caller's transaction. The key makes it idempotent: the same
     * key twice is one job. Call kick() after the transaction commits to start it without waiting for the poll.
     */
    async enqueue(tx: DbOrTx, name: string, payload: Record<string, unknown>, key: string) {
      validate(name, payload);
      const attempts = defs.get(name)?.attempts ?? DEFAULT_ATTEMPTS;
      await tx.insert(jobOutbox).values({ name, payload, jobKey: `${name}:${key}`, maxAttempts: attempts }).onConflictDoNothing();
    },

    /**
     * Starts on the outbox now (after a commit): the relay (Redis), or each lane's drain loop not yet under way
     * (inline). Never throws: the poll picks up whatever this misses.
     */
    kick() {
      if (stopped) return;
      if (mode === 'bullmq') {
        draining ??= dispatch()
          .catch((err) => logger.error({ err }, 'jobs: dispatch failed'))
          .finally(() => (draining = undefined));
        return;
      }
      for (const lane of lanes) {
        lane.draining ??= drainLane(lane)
          .catch((err) => logger.error({ err, lane: lane.name }, 'jobs: dispatch failed'))
          .finally(() => (lane.draining = undefined));
      }
    },

    /**
     * Inline: waits until the outbox has nothing due and no lane of this process runs a job (a job that a job
     * started, e.g. the notification of a finished export, included). Redis: one dispatch pass (the workers run
     * the jobs).
     */
    async settle() {
      await inFlight();
      if (mode === 'bullmq') return dispatch();
      for (let i = 0; i < 200 && !stopped; i++) {
        api.kick();
        await inFlight();
        const [row] = await db.select({ n: sql<number>`count(*)::int` }).from(jobOutbox).where(and(eq(jobOutbox.status, 'pending'), lte(jobOutbox.runAt, new Date())));
        if (!row?.n && lanes.every((l) => !l.draining)) return;
      }
    },

    start() {
      stopped = false;
      // A process that died mid-job (inline mode) left its claim behind: give such rows back after a while.
      if (mode === 'inline') {
        void db.execute(sql`update ${jobOutbox} set status = 'pending' where status = 'dispatched' and updated_at < now() - interval '10 minutes'`).catch(() => undefined);
      }
      timer = setInterval(() => api.kick(), opts.pollMs ?? 2000);
      timer.unref();
      api.kick();
    },

    /** No new job starts; waits for the jobs in hand (the relay pass, or each lane's current job). */
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      await inFlight();
      await Promise.all([...queues.values()].map((q) => q.close()));
      producer?.disconnect();
    },

    /**
     * The BullMQ workers (npm run worker): one per queue, same handlers, payload validated first; `concurrency`
     * overrides WORKER_CONCURRENCY for every queue (tests use 1). `options`
     * overrides BullMQ's lock and stall settings (tests shorten lockDuration and stalledInterval); defaults otherwise.
     */
    startWorkers(concurrency?: number, options: Pick<WorkerOptions, 'lockDuration' | 'stalledInterval' | 'maxStalledCount'> = {}) {
      const workers = QUEUES.map(
        (name) =>
          new Worker(
            name,
            async (job: Job) => {
              try {
                await run(job.name, job.data, job.attemptsMade + 1);
              } catch (err) {
                if (err instanceof InvalidPayloadError) throw new UnrecoverableError(err.message);
                throw err;
              }
            },
            // Workers wait for Redis as long as it takes (maxRetriesPerRequest: null, as BullMQ requires).
            { connection: workerConnection(), concurrency: concurrency ?? WORKER_CONCURRENCY[name], ...options },
          ),
      );
      for (const w of workers) {
        w.on('failed', (job, err) => logger.warn({ job: job?.name, id: job?.id, err: err.message }, 'jobs: job failed'));
        // BullMQ emits 'error' for lost connections, lost locks and failures of its own scripts, and recovers by
        // itself. Unheard, an EventEmitter 'error' throws (this BullMQ catches it and prints it with
        // console.error, outside the structured log): the log should have it, with the queue.
        w.on('error', (err) => logger.warn({ queue: w.name, err: err.message }, 'jobs: worker error'));
      }
      return workers;
    },

    /** For the admin page: counts and failed jobs per queue, from BullMQ or the outbox. */
    async overview() {
      if (mode === 'bullmq') {
        return Promise.all(
          QUEUES.map(async (name) => {
            try {
              const q = queue(name);
              const counts = await q.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed');
              const failed = (await q.getFailed(0, 49)).map((j) => ({ id: String(j.id), name: j.name, error: j.failedReason, attempts: j.attemptsMade, at: new Date(j.finishedOn ?? j.timestamp) }));
              return { name, counts, failed, available: true };
            } catch {
              return { name, counts: {}, failed: [], available: false };
            }
          }),
        );
      }
      const rows = await db.select({ name: jobOutbox.name, status: jobOutbox.status, n: sql<number>`count(*)::int` }).from(jobOutbox).groupBy(jobOutbox.name, jobOutbox.status);
      const failed = await db.select().from(jobOutbox).where(eq(jobOutbox.status, 'failed')).orderBy(desc(jobOutbox.updatedAt)).limit(100);
      return QUEUES.map((name) => {
        const mine = rows.filter((r) => queueOf(r.name) === name);
        const sum = (s: string) => mine.filter((r) => r.status === s).reduce((a, r) => a + r.n, 0);
        return {
          name,
          counts: { waiting: sum('pending'), active: sum('dispatched'), completed: sum('done'), failed: sum('failed') },
          failed: failed.filter((f) => queueOf(f.name) === name).map((f) => ({ id: String(f.id), name: f.name, error: f.lastError, attempts: f.attempts, at: f.updatedAt })),
          available: true,
        };
      });
    },

    /** Retries a failed job (admin page). Returns false if it is not (or no longer) failed. */
    async retry(queueName: QueueName, id: string) {
      if (mode === 'bullmq') {
        const job = await queue(queueName).getJob(id);
        if (!job || !(await job.isFailed())) return false;
        await job.retry();
        return true;
      }
      if (!/^\d+$/.test(id)) return false;
      const updated = await db
        .update(jobOutbox)
        .set({ status: 'pending', attempts: 0, runAt: new Date(), updatedAt: new Date() })
        .where(and(eq(jobOutbox.id, Number(id)), eq(jobOutbox.status, 'failed')))
        .returning({ id: jobOutbox.id });
      api.kick();
      return updated.length > 0;
    },
  };
  return api;
}
export type Jobs = ReturnType<typeof createJobs>;
