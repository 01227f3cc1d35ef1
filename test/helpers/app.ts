import os from 'node:os';
import path from 'node:path';
import { inject } from 'vitest';
import crypto from 'node:crypto';
import pg from 'pg';
import request from 'supertest';
import type { Express } from 'express';
import { sql } from 'drizzle-orm';
import { parseEnv } from '../../src/config/env.js';
import { createLogger } from '../../src/lib/logger.js';
import { createServices, type Services } from '../../src/services.js';
import { createApp } from '../../src/app.js';
import type { Mailer } from '../../src/lib/mailer.js';

export interface TestApp {
  app: Express;
  services: Services;
  close(): Promise<void>;
}

/** The real app on the run's database, with fast password hashing. Overrides are environment variables. */
export async function createTestApp(
  overrides: Record<string, string> = {},
  opts: { mailer?: Mailer; extraRoutes?: (app: Express) => void } = {},
): Promise<TestApp> {
  const env = parseEnv({
    NODE_ENV: 'test',
    DATABASE_URL: inject('databaseUrl'),
    DATABASE_POOL_MAX: inject('embedded') ? '1' : '5',
    LOG_LEVEL: 'silent',
    ARGON2_MEMORY_KIB: '1024',
    ARGON2_TIME_COST: '1',
    MIGRATE_ON_START: 'false',
    // Uploads of the run go to a directory of its own, never into the working tree.
    DATA_DIR: path.join(os.tmpdir(), `tandem-test-${process.pid}`),
    // Jobs run in-process unless a test asks for Redis (REDIS_URL override): a test app has no worker.
    ...overrides,
  });
  // TEST_LOG=error (or debug, …) shows the app's log while debugging a test.
  const services = await createServices(env, createLogger((process.env.TEST_LOG ?? 'silent') as 'silent'), { mailer: opts.mailer });
  return { app: createApp(services, { extraRoutes: opts.extraRoutes }), services, close: () => services.close() };
}

/** Empties every table (migrations live in their own schema and stay). */
export async function resetDatabase(services: Services) {
  const { rows } = await services.database.pool.query<{ tablename: string }>(
    "select tablename from pg_tables where schemaname = 'public'",
  );
  if (rows.length) {
    await services.database.db.execute(sql.raw(`truncate ${rows.map((r) => `"${r.tablename}"`).join(', ')} restart identity cascade`));
  }
}

/** Reads the CSRF token the way htmx does: from the page's <meta name="csrf-token">. */
export function csrfFrom(html: string): string {
  const m = /<meta name="csrf-token" content="([^"]+)"/.exec(html);
  if (!m?.[1]) throw new Error('no csrf token in page');
  return m[1];
}

export type Agent = ReturnType<typeof request.agent>;

export async function tokenFor(agent: Agent, path = '/login'): Promise<string> {
  const res = await agent.get(path);
  return csrfFrom(res.text);
}

export const PASSWORD = 'correct horse battery staple';

export async function register(agent: Agent, fields: { name?: string; email: string; password?: string }) {
  const _csrf = await tokenFor(agent, '/register');
  const password = fields.password ?? PASSWORD;
  return agent
    .post('/register')
    .type('form')
    .send({ _csrf, name: fields.name ?? 'Test User', email: fields.email, password, passwordConfirm: password });
}

export async function login(agent: Agent, email: string, password = PASSWORD, headers: Record<string, string> = {}) {
  const _csrf = await tokenFor(agent, '/login');
  return agent.post('/login').set(headers).type('form').send({ _csrf, email, password });
}

export async function logout(agent: Agent) {
  const _csrf = await tokenFor(agent, '/profile');
  return agent.post('/logout').type('form').send({ _csrf });
}

/** The session cookie's id part, to compare across requests. */
export function sessionCookie(res: request.Response): string | undefined {
  const raw = res.headers['set-cookie'] as unknown as string[] | undefined;
  return raw?.find((c) => c.startsWith('tandem.sid='))?.split(';')[0];
}

/** A new, empty database on DATABASE_URL's server for one test (not on embedded PGlite); drop() removes it. */
export async function scratchDatabase(prefix: string): Promise<{ url: string; drop(): Promise<void> }> {
  const base = process.env.DATABASE_URL!;
  const name = `${prefix}_${crypto.randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`create database "${name}"`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      await admin.query(`drop database "${name}" with (force)`);
      await admin.end();
    },
  };
}
