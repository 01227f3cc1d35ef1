// npm run db:migrate: applies pending migrations (safe to run while another instance starts: advisory lock).
import { loadEnvOrExit } from '../src/config/env.js';
import { createLogger } from '../src/lib/logger.js';
import { openDatabase, runMigrations } from '../src/db/client.js';

const env = loadEnvOrExit();
const logger = createLogger(env.LOG_LEVEL);
const database = await openDatabase({ databaseUrl: env.DATABASE_URL, dataDir: env.DATA_DIR, poolMax: 1, logger });
try {
  await runMigrations(database, logger);
} finally {
  await database.close();
}
