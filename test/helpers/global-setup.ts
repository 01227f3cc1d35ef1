import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { openDatabase, runMigrations } from '../../src/db/client.js';
import { createLogger } from '../../src/lib/logger.js';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    embedded: boolean;
  }
}

/**
 * One fresh database per run. With DATABASE_URL set (CI), a new database is created on that server and dropped
 * afterwards; without it, an embedded PGlite is started here and served to the test workers over a socket.
 */
export default async function setup(project: TestProject) {
  const logger = createLogger('warn');
  const base = process.env.DATABASE_URL;
  if (base) {
    const name = `tandem_test_${Date.now()}_${crypto.randomBytes(3).toString('hex')}`;
    const admin = new pg.Client({ connectionString: base });
    await admin.connect();
    await admin.query(`create database "${name}"`);
    await admin.end();
    const url = new URL(base);
    url.pathname = `/${name}`;
    const database = await openDatabase({ databaseUrl: url.toString(), dataDir: '', poolMax: 2, logger });
    await runMigrations(database, logger);
    await database.close();
    project.provide('databaseUrl', url.toString());
    project.provide('embedded', false);
    return async () => {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`drop database if exists "${name}" with (force)`);
      await c.end();
    };
  }
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-test-'));
  const database = await openDatabase({ dataDir, poolMax: 1, logger });
  await runMigrations(database, logger);
  // The pool's connection string points at the socket server that stays up for the whole run.
  const { connectionString } = database.pool.options as { connectionString: string };
  project.provide('databaseUrl', connectionString);
  project.provide('embedded', true);
  return async () => {
    await database.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
}
