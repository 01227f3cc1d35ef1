import type { Logger } from '../../lib/logger.js';

/**
 * A small in-process job runner for background exports, until the jobs issue moves them to BullMQ: jobs are
 * ids (never rows), one runs at a time (concurrency 1), a job that fails is retried with exponential backoff,
 * and the same id is never queued twice (like BullMQ's deterministic job ids). The job function receives
 * whether this is its last attempt, so it can record the failure for the user only then.
 *
 * Moving to BullMQ: a Worker whose processor calls `job(job.data.exportId, { final: job.attemptsMade + 1 >=
 * job.opts.attempts, signal })`, the queue added with `{ jobId: exportId, attempts, backoff: exponential }`,
 * and a job that throws a PermanentJobError turned into BullMQ's UnrecoverableError.
 */

export interface JobContext {
  /** The last attempt: a failure now is final. */
  final: boolean;
  /** Aborted when the runner closes (shutdown): the job stops and its work is left for the next start. */
  signal: AbortSignal;
}
export type JobFn = (id: string, ctx: JobContext) => Promise<void>;

/** A failure no retry can fix (the user may no longer export): not retried. */
export class PermanentJobError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PermanentJobError';
  }
}

export interface RunnerOptions {
  attempts?: number;
  /** Delay before the second attempt; doubled for each one after. */
  backoffMs?: number;
}

export interface Runner {
  /** Queues a job unless the same id is queued or running. Never waits for it. */
  enqueue(id: string): void;
  /** Resolves when nothing is queued, running or waiting for a retry (tests, shutdown). */
  idle(): Promise<void>;
  /** Stops taking jobs, aborts the running one and waits for it to settle. */
  close(): Promise<void>;
}

export function createRunner(job: JobFn, logger: Logger, opts: RunnerOptions = {}): Runner {
  const attempts = opts.attempts ?? 3;
  const backoffMs = opts.backoffMs ?? 1000;
  const queue: { id: string; attempt: number }[] = [];
  const known = new Set<string>(); // queued, running or waiting for a retry
  const timers = new Set<NodeJS.Timeout>();
  let running: Promise<void> | undefined;
  let closed = false;
  const ac = new AbortController();
  let idleWaiters: (() => void)[] = [];

  const settleIdle = () => {
    if (known.size === 0 && !running) {
      const w = idleWaiters;
      idleWaiters = [];
      for (const resolve of w) resolve();
    }
  };

  const pump = () => {
    if (running || closed) return;
    const next = queue.shift();
    if (!next) return settleIdle();
    const final = next.attempt >= attempts;
    running = job(next.id, { final, signal: ac.signal })
      .then(
        () => void known.delete(next.id),
        (err: unknown) => {
          const permanent = err instanceof PermanentJobError;
          if (final || permanent || closed) {
            known.delete(next.id);
            logger.error({ err, exportId: next.id, attempt: next.attempt }, 'export job failed');
            return;
          }
          const delay = backoffMs * 2 ** (next.attempt - 1);
          logger.warn({ err, exportId: next.id, attempt: next.attempt, retryInMs: delay }, 'export job failed; retrying');
          const timer = setTimeout(() => {
            timers.delete(timer);
            queue.push({ id: next.id, attempt: next.attempt + 1 });
            pump();
          }, delay);
          timer.unref();
          timers.add(timer);
        },
      )
      .finally(() => {
        running = undefined;
        pump();
        settleIdle();
      });
  };

  return {
    enqueue(id) {
      if (closed || known.has(id)) return;
      known.add(id);
      queue.push({ id, attempt: 1 });
      pump();
    },
    idle() {
      if (known.size === 0 && !running) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
    async close() {
      closed = true;
      queue.length = 0;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      ac.abort(new Error('the export runner is shutting down'));
      await running?.catch(() => undefined);
      known.clear();
      settleIdle();
    },
  };
}
