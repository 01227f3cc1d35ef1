import { loadEnvOrExit } from './config/env.js';
import { createLogger } from './lib/logger.js';
import { createServices } from './services.js';
import { scheduleDailyCleanup } from './jobs/maintenance.js';

/**
 * `npm run worker`: runs the background jobs as their own process. With REDIS_URL, BullMQ workers (one per
 * queue) plus the outbox dispatcher; without it, the in-process engine over the outbox (the web process runs
 * it too; rows are claimed with SKIP LOCKED, so both can run).
 */
const env = loadEnvOrExit();
const logger = createLogger(env.LOG_LEVEL, env.NODE_ENV === 'development' && process.stdout.isTTY);
const services = await createServices(env, logger, { migrate: false });
const workers = services.jobs.mode === 'bullmq' ? services.jobs.startWorkers() : [];
services.jobs.start();
await scheduleDailyCleanup(services);
const daily = setInterval(() => void scheduleDailyCleanup(services).catch(() => undefined), 3_600_000);
logger.info({ mode: services.jobs.mode }, 'worker started');

/**
 * How long the jobs in hand get on SIGTERM/SIGINT before the process exits anyway (20 s; WORKER_STOP_SECONDS
 * shortens it for tests or a platform with a shorter kill grace period).
 */
const stopLimitMs = env.WORKER_STOP_SECONDS * 1000;

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  clearInterval(daily);
  logger.info({ signal, limitSeconds: stopLimitMs / 1000 }, 'worker stopping: finishing the jobs in hand');
  // Past the limit the process just exits: the jobs in hand keep their lock until it expires, and then another
  // worker's stalled check gives them out again. (Worker.close(true) would not help here: a second close
  // returns the first, still pending, one.)
  const force = setTimeout(() => {
    logger.warn({ limitSeconds: stopLimitMs / 1000 }, 'worker: jobs did not finish in time; exiting, another worker takes them up when their lock expires');
    process.exit(1);
  }, stopLimitMs);
  // Exports in hand stop first and go back to waiting (their job runs them again): an export can outlast the
  // limit, and one cut off by process.exit would be left 'running' for good.
  await services.exports.close();
  await Promise.all(workers.map((w) => w.close()));
  await services.close();
  clearTimeout(force);
  logger.info('worker stopped');
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
