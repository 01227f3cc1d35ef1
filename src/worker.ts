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

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  clearInterval(daily);
  logger.info({ signal }, 'worker stopping: finishing the jobs in hand');
  // Jobs in hand get 20 s; after that they are abandoned and BullMQ gives them to another worker later.
  const force = setTimeout(() => {
    logger.warn('worker: jobs did not finish in time, closing with force');
    void Promise.all(workers.map((w) => w.close(true))).finally(() => process.exit(1));
  }, 20_000);
  force.unref();
  await Promise.all(workers.map((w) => w.close()));
  await services.close();
  clearTimeout(force);
  logger.info('worker stopped');
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
