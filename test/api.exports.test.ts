import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import request from 'supertest';
import { createTestApp, resetDatabase, type TestApp } from './helpers/app.js';
import { GROUPS, USERS, restoreFixture } from './helpers/fixture.js';
import { bearer, schemaChecks, tokenOf, type OpenApi } from './helpers/api.js';

let t: TestApp;
let checks: ReturnType<typeof schemaChecks>;

beforeAll(async () => {
  t = await createTestApp({ EXPORT_RATE_LIMIT: '3' });
  await resetDatabase(t.services);
  checks = schemaChecks((await request(t.app).get('/api/openapi.json')).body as OpenApi);
});
afterAll(async () => { await t.close(); });
beforeEach(async () => {
  await restoreFixture(t.services);
  await q('truncate api_tokens, idempotency_keys, exports, notifications restart identity cascade');
  // Beside the fixture's "Client A" (active): two more in group A, one inactive.
  await q(`insert into clients (group_id, owner_id, created_by_id, name, status, created_at) values
    ($1, $2, $2, 'Alpha', 'active', now() - interval '2 days'), ($1, $2, $2, 'Beta', 'inactive', now() - interval '1 day')`, [GROUPS.A.id, USERS.subjectA.id]);
});

const q = async (sql: string, values: unknown[] = []) => (await t.services.database.pool.query(sql, values)).rows;

/** Polls the export until it is no longer pending or running. */
async function settled(api: ReturnType<typeof bearer>, url: string | undefined) {
  if (!url) throw new Error('no Location');
  for (let i = 0; i < 150; i++) {
    const res = await api.get(url);
    if (res.status !== 200 || !['pending', 'running'].includes(res.body.status)) return res;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`export ${url} did not finish`);
}

describe('/api/v1/clients/exports', () => {
  it('202 with the export and its Location; it finishes with a file of exactly the filtered list, in its order', async () => {
    const api = bearer(t.app, await tokenOf(t.services, 'managerA'));
    const made = await api.post('/api/v1/clients/exports', { format: 'json', status: 'active', sort: 'name', dir: 'asc' });
    expect(made.status).toBe(202);
    checks.expectDocumented(made, 'post', '/api/v1/clients/exports');
    expect(made.headers.location).toBe(`/api/v1/exports/${made.body.id}`);
    expect(made.body).toMatchObject({ status: 'pending', format: 'json', filters: { status: 'active', sort: 'name', dir: 'asc' }, total: 2, downloadUrl: null });
    // However small, an API export is the background job of the pages' large exports.
    expect(await q(`select name, job_key from job_outbox where name = 'exports.run'`)).toEqual([{ name: 'exports.run', job_key: `exports.run:${made.body.id}` }]);

    const done = await settled(api, made.headers.location);
    checks.expectDocumented(done, 'get', '/api/v1/exports/{id}');
    expect(done.body).toMatchObject({ status: 'done', total: 2, processed: 2, error: null, downloadUrl: `/api/v1/exports/${made.body.id}/content` });
    expect(Date.parse(done.body.expiresAt) - Date.now()).toBeGreaterThan(23 * 3_600_000);

    const file = await api.get(done.body.downloadUrl).buffer(true).parse((res, cb) => {
      let data = '';
      res.on('data', (c: Buffer) => (data += c.toString('utf8')));
      res.on('end', () => cb(null, data));
    });
    expect(file.status).toBe(200);
    expect(file.headers['content-disposition']).toMatch(/^attachment; filename="?clients-\d{4}-\d{2}-\d{2}\.json"?$/);
    expect(file.headers['x-content-type-options']).toBe('nosniff');
    const rows = JSON.parse(file.body as string) as { name: string }[];
    // The list's own answer for the same filters, in the same order; group B's client and the inactive one are absent.
    const list = await api.get('/api/v1/clients?status=active&sort=name&dir=asc');
    expect(rows.map((r) => r.name)).toEqual(list.body.items.map((c: { name: string }) => c.name));
    expect(rows.map((r) => r.name)).toEqual(['Alpha', 'Client A']);

    // In the user's export log, like the page's exports; the owner is told it is ready.
    const mine = await api.get('/api/v1/exports');
    checks.expectDocumented(mine, 'get', '/api/v1/exports');
    expect(mine.body.items.map((e: { id: string }) => e.id)).toEqual([made.body.id]);
    expect(await q(`select kind from notifications where user_id = $1`, [USERS.managerA.id])).toEqual([{ kind: 'export_ready' }]);
  });

  it('members who manage no group get 403; a group they only belong to 403; unknown format or filter 400 with the allowed values', async () => {
    const member = bearer(t.app, await tokenOf(t.services, 'memberA'));
    const refused = await member.post('/api/v1/clients/exports', { format: 'csv' });
    expect(refused.status).toBe(403);
    checks.expectDocumented(refused, 'post', '/api/v1/clients/exports');
    expect(refused.body.detail).toBe('Only group managers and administrators can export clients.');

    const manager = bearer(t.app, await tokenOf(t.services, 'managerA'));
    expect((await manager.post('/api/v1/clients/exports', { group: GROUPS.B.id })).status).toBe(404);

    const format = await manager.post('/api/v1/clients/exports', { format: 'pdf' });
    expect(format.status).toBe(400);
    expect(format.headers['content-type']).toContain('application/problem+json');
    expect(format.body.detail).toContain('csv, csv_excel, xlsx, json');
    const filter = await manager.post('/api/v1/clients/exports', { colour: 'red' });
    expect(filter.status).toBe(400);
    expect(filter.body.detail).toContain('colour');
    expect(filter.body.detail).toContain('createdFrom');
    const status = await manager.post('/api/v1/clients/exports', { status: 'gone' });
    expect(status.body.detail).toContain('active, inactive');
    // Nothing was started by a refused request.
    expect(await q('select count(*)::int as n from exports')).toEqual([{ n: 0 }]);
  });

  it('the rate limit answers 429 problem+json with Retry-After', async () => {
    const api = bearer(t.app, await tokenOf(t.services, 'managerA'));
    for (let i = 0; i < 3; i++) expect((await api.post('/api/v1/clients/exports', { format: 'csv' })).status).toBe(202);
    const limited = await api.post('/api/v1/clients/exports', { format: 'csv' });
    expect(limited.status).toBe(429);
    checks.expectDocumented(limited, 'post', '/api/v1/clients/exports');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(500);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(600);
    for (const e of (await api.get('/api/v1/exports')).body.items) await settled(api, `/api/v1/exports/${e.id}`);
  });

  it('an export is its owner\'s only: anyone else, an admin included, gets 404 for it and its file', async () => {
    const owner = bearer(t.app, await tokenOf(t.services, 'managerA'));
    const made = await owner.post('/api/v1/clients/exports', { format: 'csv' });
    await settled(owner, made.headers.location);
    for (const other of ['admin', 'memberA', 'memberB'] as const) {
      const api = bearer(t.app, await tokenOf(t.services, other));
      expect((await api.get(made.headers.location)).status).toBe(404);
      expect((await api.get(`${made.headers.location}/content`)).status).toBe(404);
    }
    expect((await owner.get('/api/v1/exports/not-a-uuid')).status).toBe(404);
    // A read-only token reads its exports but cannot start one.
    const reader = bearer(t.app, await tokenOf(t.services, 'managerA', 'read'));
    expect((await reader.get(made.headers.location)).status).toBe(200);
    expect((await reader.post('/api/v1/clients/exports', { format: 'csv' })).status).toBe(403);
  });

  it('a file not ready is 409, an expired one 410; a failure says why in the user\'s language', async () => {
    const api = bearer(t.app, await tokenOf(t.services, 'managerA'));
    const [failed] = await q(`insert into exports (user_id, format, status, error) values ($1, 'csv', 'failed', 'exports.failure.storage') returning id`, [USERS.managerA.id]);
    const res = await api.get(`/api/v1/exports/${failed!.id}`);
    expect(res.body.status).toBe('failed');
    expect(res.body.error).not.toBe('exports.failure.storage');
    expect(res.body.error.length).toBeGreaterThan(10);
    const notReady = await api.get(`/api/v1/exports/${failed!.id}/content`);
    expect(notReady.status).toBe(409);
    checks.expectDocumented(notReady, 'get', '/api/v1/exports/{id}/content');

    const [old] = await q(`insert into exports (user_id, format, status, finished_at, expires_at) values ($1, 'csv', 'done', now() - interval '25 hours', now() - interval '1 hour') returning id`, [USERS.managerA.id]);
    const gone = await api.get(`/api/v1/exports/${old!.id}/content`);
    expect(gone.status).toBe(410);
    checks.expectDocumented(gone, 'get', '/api/v1/exports/{id}/content');
  });

  it('Idempotency-Key: a retried POST starts one export', async () => {
    const token = await tokenOf(t.services, 'managerA');
    const send = () => request(t.app).post('/api/v1/clients/exports').set('Authorization', `Bearer ${token}`).set('Idempotency-Key', 'export-1').send({ format: 'csv' });
    const first = await send();
    const again = await send();
    expect(first.status).toBe(202);
    expect(again.status).toBe(202);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body.id).toBe(first.body.id);
    expect(await q('select count(*)::int as n from exports')).toEqual([{ n: 1 }]);
    await settled(bearer(t.app, token), first.headers.location);
  });
});

describe('exports over the page\'s streaming limit', () => {
  let bg: TestApp;
  beforeAll(async () => { bg = await createTestApp({ EXPORT_SYNC_LIMIT: '1', EXPORT_RATE_LIMIT: '100' }); });
  afterAll(async () => { await bg.close(); });

  it('are the same resource, with the same progress and file', async () => {
    const api = bearer(bg.app, await tokenOf(bg.services, 'admin'));
    const made = await api.post('/api/v1/clients/exports', { format: 'csv', sort: 'name', dir: 'asc' });
    expect(made.status).toBe(202);
    expect(made.body.status).toBe('pending');
    const done = await settled(api, made.headers.location);
    expect(done.body).toMatchObject({ status: 'done', total: 4, processed: 4 });
    const file = await api.get(done.body.downloadUrl);
    expect(file.status).toBe(200);
    expect(file.text.trim().split(/\r?\n/).slice(1).map((l) => l.split(',')[1])).toEqual(['Alpha', 'Beta', 'Client A', 'Client B']);
  });
});
