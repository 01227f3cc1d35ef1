import { execSync, spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createTestApp, resetDatabase, type TestApp } from './helpers/app.js';
import { restoreFixture } from './helpers/fixture.js';
import { bearer, tokenOf } from './helpers/api.js';
import { RATE_KEY_PREFIX } from '../src/modules/tokens/tokens.ratelimit.js';

/**
 * The per-token limit on Redis: two apps on the same Redis stand for two web processes and must share one
 * count. A redis-server of the test's own (a free port), so it can be stopped to see the fallback.
 */

function spawnable(cmd: string) {
  try {
    return !!execSync(`command -v ${cmd}`, { stdio: 'pipe' }).toString().trim();
  } catch {
    return false;
  }
}
const hasRedis = spawnable('redis-server');

async function freePort() {
  return new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function until(check: () => boolean, what: string) {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 50));
  if (!check()) throw new Error(`timed out waiting for ${what}`);
}

describe.skipIf(!hasRedis)('per-token rate limit on Redis — skipped when redis-server is not installed', () => {
  let server: ChildProcess;
  let one: TestApp;
  let two: TestApp;
  let redis: Redis;

  beforeAll(async () => {
    const port = await freePort();
    server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    redis = new Redis(`redis://127.0.0.1:${port}`, { maxRetriesPerRequest: 1, retryStrategy: () => 200 });
    redis.on('error', () => undefined); // the last test stops the server
    await until(() => redis.status === 'ready', 'redis-server');
    one = await createTestApp({ REDIS_URL: `redis://127.0.0.1:${port}` });
    two = await createTestApp({ REDIS_URL: `redis://127.0.0.1:${port}` });
    await resetDatabase(one.services);
    await restoreFixture(one.services);
    await until(() => one.services.redis?.status === 'ready' && two.services.redis?.status === 'ready', 'the apps\' Redis connections');
    for (const app of [one, two]) app.services.tokens.limiter.limits.max = 3;
  });
  afterAll(async () => {
    redis?.disconnect();
    await one?.close();
    await two?.close();
    server?.kill();
  });

  it('two web processes count against one limit: 429 problem+json with Retry-After on the fourth request', async () => {
    const token = await tokenOf(one.services, 'memberA');
    const a = bearer(one.app, token);
    const b = bearer(two.app, token);
    const seen: string[] = [];
    for (const api of [a, b, a]) {
      const res = await api.get('/api/v1/me');
      expect(res.status).toBe(200);
      seen.push(res.headers['ratelimit-remaining']!);
    }
    expect(seen).toEqual(['2', '1', '0']);

    const limited = await b.get('/api/v1/me');
    expect(limited.status).toBe(429);
    expect(limited.headers['content-type']).toContain('application/problem+json');
    expect(limited.body).toMatchObject({ status: 429, title: 'Too many requests' });
    const retryAfter = Number(limited.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);

    // The count is one Redis key with the window as its expiry.
    const { rows } = await one.services.database.pool.query<{ id: number }>('select id from api_tokens order by id desc limit 1');
    expect(await redis.get(`${RATE_KEY_PREFIX}${rows[0]!.id}`)).toBe('4');
    const ttl = await redis.pttl(`${RATE_KEY_PREFIX}${rows[0]!.id}`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);

    // Another token of the same user has its own count.
    expect((await bearer(two.app, await tokenOf(one.services, 'memberA')).get('/api/v1/me')).status).toBe(200);
  });

  it('a new window starts once the old one has expired', async () => {
    for (const app of [one, two]) app.services.tokens.limiter.limits.windowMs = 800;
    try {
      const token = await tokenOf(one.services, 'memberB');
      for (const app of [one, two, one]) expect((await bearer(app.app, token).get('/api/v1/me')).status).toBe(200);
      expect((await bearer(two.app, token).get('/api/v1/me')).status).toBe(429);
      await new Promise((r) => setTimeout(r, 900));
      const again = await bearer(two.app, token).get('/api/v1/me');
      expect(again.status).toBe(200);
      expect(again.headers['ratelimit-remaining']).toBe('2');
    } finally {
      for (const app of [one, two]) app.services.tokens.limiter.limits.windowMs = 60_000;
    }
  });

  it('while Redis is down, requests are still answered and counted in each process', async () => {
    const token = await tokenOf(one.services, 'managerA');
    server.kill();
    await until(() => one.services.redis?.status !== 'ready', 'the connection to drop');
    const a = bearer(one.app, token);
    for (let i = 0; i < 3; i++) expect((await a.get('/api/v1/me')).status).toBe(200);
    expect((await a.get('/api/v1/me')).status).toBe(429);
  });
});
