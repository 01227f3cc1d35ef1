import type { AddressInfo } from 'node:net';
import { loadEnvOrExit } from './config/env.js';
import { createLogger } from './lib/logger.js';
import { createServices } from './services.js';
import { createApp } from './app.js';
import { scheduleDailyCleanup } from './jobs/maintenance.js';

const env = loadEnvOrExit();
const logger = createLogger(env.LOG_LEVEL, env.NODE_ENV === 'development' && process.stdout.isTTY);
const services = await createServices(env, logger);
const app = createApp(services);

// The web process dispatches jobs (Redis) or runs them (no Redis) and asks for the daily cleanup.
services.jobs.start();
await scheduleDailyCleanup(services);
const daily = setInterval(() => void scheduleDailyCleanup(services).catch(() => undefined), 3_600_000);
daily.unref();

const server = app.listen(env.PORT, env.HOST, () => {
  const { port } = server.address() as AddressInfo;
  logger.info({ port, embeddedDatabase: services.database.embedded }, `Tandem CRM listening on http://localhost:${port}`);
});
// Slow clients cannot hold a connection open forever.
server.headersTimeout = 20_000;
server.requestTimeout = 60_000;

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'shutting down: no new connections, finishing requests');
  // Requests in flight get 10 s to finish; then open connections are closed.
  const force = setTimeout(() => server.closeAllConnections(), 10_000).unref();
  server.closeIdleConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  clearTimeout(force);
  await services.close();
  logger.info('stopped');
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
