import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import request from 'supertest';
import { createTestApp, csrfFrom, resetDatabase, tokenFor, type Agent, type TestApp } from './helpers/app.js';
import { GROUPS, RECORDS, USERS, loginActors, restoreFixture, type ActorName } from './helpers/fixture.js';
import { listRoutes } from './helpers/routes.js';
import { hashToken } from '../src/modules/tokens/tokens.service.js';
import { bearer, schemaChecks, tokenOf as tokenOfActor, type Json, type OpenApi } from './helpers/api.js';

let t: TestApp;
let agents: Record<ActorName, Agent>;
let doc: OpenApi;

beforeAll(async () => {
  t = await createTestApp();
  await resetDatabase(t.services);
  await restoreFixture(t.services);
  agents = await loginActors(t.app);
  doc = (await request(t.app).get('/api/openapi.json')).body;
});
afterAll(async () => { await t.close(); });
beforeEach(async () => {
  await restoreFixture(t.services);
  await q('truncate api_tokens, idempotency_keys restart identity cascade');
  await t.services.tokens.limiter.reset();
});

const q = async (sql: string, values: unknown[] = []) => (await t.services.database.pool.query(sql, values)).rows;

/* ---------- tokens, requests and the documented schemas (test/helpers/api.ts) ---------- */

type Scope = 'read' | 'write';
const tokenOf = (actor: Exclude<ActorName, 'anonymous'>, scope: Scope = 'write', expiresIn: '7' | '30' | 'never' = '30') => tokenOfActor(t.services, actor, scope, expiresIn);
/** Requests with `Authorization: Bearer`. */
const as = (token: string) => bearer(t.app, token);
const validate = (schema: Json, value: unknown) => schemaChecks(doc).validate(schema, value);
const expectDocumented = (res: request.Response, method: string, path: string) => schemaChecks(doc).expectDocumented(res, method, path);

const leadBody = (over: Json = {}) => ({ groupId: GROUPS.A.id, lastName: 'Иванов', firstName: 'Пётр', email: 'petr@example.com', value: '1200.50', ...over });

/* ---------- tests ---------- */

describe('personal access tokens on the profile page', () => {
  it('are made with a name, scope and expiry, shown once, stored as SHA-256, and revoked at once', async () => {
    const profile = await agents.memberA.get('/profile');
    expect(profile.text).toContain('hx-get="/profile/tokens"');
    const page = await agents.memberA.get('/profile/tokens');
    expect(page.status).toBe(200);
    const _csrf = csrfFrom(page.text);

    const bad = await agents.memberA.post('/profile/tokens').type('form').send({ _csrf, tokenName: '', scope: 'admin' });
    expect(bad.status).toBe(422);
    expect(bad.text).toContain('id="e-tokenName"');
    expect(bad.text).toContain('id="e-scope"');

    const made = await agents.memberA.post('/profile/tokens').type('form').send({ _csrf, tokenName: 'Отчёты', scope: 'read', expiresIn: '7' });
    expect(made.status).toBe(201);
    const secret = /data-testid="new-token">([^<]+)</.exec(made.text)![1]!;
    expect(secret).toMatch(/^tdm_[\w-]{43}$/);
    const [row] = await q('select token_hash, prefix, scope, expires_at, last_used_at from api_tokens');
    expect(row.token_hash).toBe(hashToken(secret));
    expect(JSON.stringify(row)).not.toContain(secret);
    expect(row.scope).toBe('read');
    expect(new Date(row.expires_at).getTime() - Date.now()).toBeGreaterThan(6.9 * 86_400_000);
    // Shown once: the list shows the name and prefix, never the secret again.
    const again = await agents.memberA.get('/profile/tokens');
    expect(again.text).toContain('Отчёты');
    expect(again.text).toContain(row.prefix);
    expect(again.text).not.toContain(secret);

    const me = await as(secret).get('/api/v1/me');
    expect(me.status).toBe(200);
    expect(me.body.token).toMatchObject({ name: 'Отчёты', scope: 'read' });
    expect((await q('select last_used_at from api_tokens'))[0].last_used_at).not.toBeNull();

    // Another user cannot revoke it (404); its owner can, and it stops working at once.
    const [{ id }] = await q('select id from api_tokens');
    const other = await agents.memberB.post(`/profile/tokens/${id}/revoke`).type('form').send({ _csrf: await tokenFor(agents.memberB, '/profile') });
    expect(other.status).toBe(404);
    expect((await as(secret).get('/api/v1/me')).status).toBe(200);
    const revoked = await agents.memberA.post(`/profile/tokens/${id}/revoke`).type('form').send({ _csrf });
    expect(revoked.status).toBe(303);
    const after = await as(secret).get('/api/v1/me');
    expect(after.status).toBe(401);
    expect(after.headers['www-authenticate']).toContain('invalid_token');
    const list = (await agents.memberA.get('/profile/tokens')).text;
    expect(list.slice(list.indexOf('data-testid="token-list"'), list.indexOf('</table>'))).not.toContain('Отчёты');
  });

  it('last use is written at most once a minute', async () => {
    const secret = await tokenOf('memberA', 'read');
    await as(secret).get('/api/v1/me');
    await q("update api_tokens set last_used_at = now() - interval '30 seconds'");
    const [before] = await q('select last_used_at from api_tokens');
    await as(secret).get('/api/v1/me');
    expect((await q('select last_used_at from api_tokens'))[0].last_used_at).toEqual(before.last_used_at);
    await q("update api_tokens set last_used_at = now() - interval '2 minutes'");
    await as(secret).get('/api/v1/me');
    expect(Date.now() - new Date((await q('select last_used_at from api_tokens'))[0].last_used_at).getTime()).toBeLessThan(10_000);
  });
});

describe('authentication', () => {
  it('no credentials, a malformed header, an unknown or expired token, a deactivated user → 401 problem+json', async () => {
    const none = await request(t.app).get('/api/v1/me');
    expect(none.status).toBe(401);
    expect(none.headers['content-type']).toContain('application/problem+json');
    expect(none.body).toMatchObject({ status: 401, type: 'about:blank', instance: '/api/v1/me' });
    expectDocumented(none, 'get', '/api/v1/me');

    expect((await request(t.app).get('/api/v1/me').set('Authorization', 'Basic Zm9vOmJhcg==')).status).toBe(401);
    expect((await as('tdm_' + 'x'.repeat(43)).get('/api/v1/me')).status).toBe(401);

    const expiring = await tokenOf('memberA');
    await q("update api_tokens set expires_at = now() - interval '1 second'");
    expect((await as(expiring).get('/api/v1/me')).status).toBe(401);

    const secret = await tokenOf('memberB', 'write', 'never');
    expect((await as(secret).get('/api/v1/me')).status).toBe(200);
    await q('update users set active = false where id = $1', [USERS.memberB.id]);
    expect((await as(secret).get('/api/v1/me')).status).toBe(401);
  });

  it('a read-only token reads but cannot write (403)', async () => {
    const ro = as(await tokenOf('memberA', 'read'));
    expect((await ro.get('/api/v1/leads')).status).toBe(200);
    const res = await ro.post('/api/v1/leads', leadBody());
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect((await ro.patch(`/api/v1/leads/${RECORDS.lead.A}`, { lastName: 'X' })).status).toBe(403);
    expect((await ro.delete(`/api/v1/leads/${RECORDS.lead.A}`)).status).toBe(403);
    expect(await q("select 1 from leads where last_name in ('Иванов', 'X')")).toHaveLength(0);
  });

  it('a token is rate limited: 429 with Retry-After, other tokens unaffected', async () => {
    const limits = t.services.tokens.limiter.limits;
    const max = limits.max;
    limits.max = 3;
    try {
      const a = as(await tokenOf('memberA'));
      for (let i = 0; i < 3; i++) {
        const ok = await a.get('/api/v1/me');
        expect(ok.status).toBe(200);
        expect(ok.headers['ratelimit-remaining']).toBe(String(2 - i));
      }
      const limited = await a.get('/api/v1/me');
      expect(limited.status).toBe(429);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      expect(limited.headers['content-type']).toContain('application/problem+json');
      expectDocumented(limited, 'get', '/api/v1/me');
      expect((await as(await tokenOf('memberA')).get('/api/v1/me')).status).toBe(200);
    } finally {
      limits.max = max;
    }
  });

  it('a session works for same-origin calls, writes only with the CSRF header; a token needs none', async () => {
    const me = await agents.memberA.get('/api/v1/me');
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ id: USERS.memberA.id, token: null });
    expectDocumented(me, 'get', '/api/v1/me');
    const noCsrf = await agents.memberA.post('/api/v1/leads').send(leadBody());
    expect(noCsrf.status).toBe(403);
    const csrf = await tokenFor(agents.memberA, '/profile');
    const ok = await agents.memberA.post('/api/v1/leads').set('x-csrf-token', csrf).send(leadBody());
    expect(ok.status, JSON.stringify(ok.body)).toBe(201);
    // A bearer request carries no ambient credential: no CSRF token needed (and a cookie beside it changes nothing).
    expect((await as(await tokenOf('memberA')).post('/api/v1/leads', leadBody())).status).toBe(201);
    // Bearer tokens only authenticate the API, never the pages.
    const page = await request(t.app).get('/leads').set('Authorization', `Bearer ${await tokenOf('memberA')}`);
    expect(page.status).toBe(303);
  });
});

describe('/api/v1/leads', () => {
  it('create, read, update, trash; responses match the documented schemas', async () => {
    const api = as(await tokenOf('memberA'));
    const made = await api.post('/api/v1/leads', leadBody({ source: 'referral', ownerId: null }));
    expect(made.status).toBe(201);
    expectDocumented(made, 'post', '/api/v1/leads');
    expect(made.body).toMatchObject({ lastName: 'Иванов', groupId: GROUPS.A.id, groupName: GROUPS.A.name, ownerId: null, value: '1200.50', status: 'new', createdById: USERS.memberA.id });
    expect(made.headers.location).toBe(`/api/v1/leads/${made.body.id}`);
    expect(made.headers.etag).toBeTruthy();

    const read = await api.get(made.headers.location);
    expect(read.status).toBe(200);
    expectDocumented(read, 'get', '/api/v1/leads/{id}');
    expect(read.headers.etag).toBe(made.headers.etag);

    // PATCH changes only what it sends.
    const patched = await api.patch(made.headers.location, { status: 'contacted', phone: '+7 900 123-45-67' });
    expect(patched.status).toBe(200);
    expectDocumented(patched, 'patch', '/api/v1/leads/{id}');
    expect(patched.body).toMatchObject({ status: 'contacted', phone: '+7 900 123-45-67', firstName: 'Пётр', email: 'petr@example.com', value: '1200.50', source: 'referral', ownerId: null });
    expect(patched.headers.etag).not.toBe(made.headers.etag);
    // null clears an optional field.
    expect((await api.patch(made.headers.location, { email: null })).body.email).toBeNull();

    const gone = await api.delete(made.headers.location);
    expect(gone.status).toBe(403); // a member may not delete
    const manager = as(await tokenOf('managerA'));
    expect((await manager.delete(made.headers.location)).status).toBe(204);
    expect((await api.get(made.headers.location)).status).toBe(404);
    expect((await q('select deleted_at from leads where id = $1', [made.body.id]))[0].deleted_at).not.toBeNull();
  });

  it('lists with the page\'s filters, sorting and pagination: total and next/prev links', async () => {
    await q(`insert into leads (group_id, owner_id, created_by_id, last_name, status, source) select $1, $2, $2, 'Bulk ' || lpad(n::text, 2, '0'), case when n % 3 = 0 then 'qualified'::lead_status else 'new'::lead_status end, 'event' from generate_series(1, 30) n`, [GROUPS.A.id, USERS.memberA.id]);
    await q(`insert into leads (group_id, owner_id, created_by_id, last_name) values ($1, $2, $2, 'Hidden B')`, [GROUPS.B.id, USERS.memberB.id]);
    const api = as(await tokenOf('memberA', 'read'));

    const first = await api.get('/api/v1/leads?source=event&sort=name&dir=asc&perPage=25');
    expect(first.status).toBe(200);
    expectDocumented(first, 'get', '/api/v1/leads');
    expect(first.body).toMatchObject({ total: 30, capped: false, page: 1, perPage: 25, pages: 2 });
    expect(first.body.items).toHaveLength(25);
    expect(first.body.items[0].lastName).toBe('Bulk 01');
    expect(first.body.links.prev).toBeNull();
    expect(first.body.links.next).toBe('/api/v1/leads?source=event&sort=name&dir=asc&perPage=25&page=2');
    expect(first.headers.link).toContain('rel="next"');

    const second = await api.get(first.body.links.next);
    expect(second.body.items.map((l: { lastName: string }) => l.lastName)).toEqual(['Bulk 26', 'Bulk 27', 'Bulk 28', 'Bulk 29', 'Bulk 30']);
    expect(second.body.links).toMatchObject({ next: null, prev: '/api/v1/leads?source=event&sort=name&dir=asc&perPage=25' });

    const qualified = await api.get('/api/v1/leads?status=qualified&status=lost&q=bulk');
    expect(qualified.body.total).toBe(10);
    expect(qualified.body.items.every((l: { status: string }) => l.status === 'qualified')).toBe(true);
    // Another group's leads never show.
    const all = await api.get('/api/v1/leads?perPage=100');
    expect(all.body.items.map((l: { lastName: string }) => l.lastName)).not.toContain('Hidden B');
  });

  it('a list matching more rows than the lists count says its total is a lower bound (capped)', async () => {
    await q(`insert into leads (group_id, owner_id, created_by_id, last_name) select $1, $2, $2, 'Many ' || n from generate_series(1, 10001) n`, [GROUPS.A.id, USERS.memberA.id]);
    const api = as(await tokenOf('memberA', 'read'));
    const res = await api.get('/api/v1/leads?q=many');
    expectDocumented(res, 'get', '/api/v1/leads');
    // A text search counts up to 1,000; the list itself up to 10,000.
    expect(res.body).toMatchObject({ total: 1_000, capped: true, pages: 40 });
    expect((await api.get('/api/v1/leads')).body).toMatchObject({ total: 10_000, capped: true, pages: 400 });
    // 'Many 1000', 'Many 10000' and 'Many 10001'.
    expect((await api.get('/api/v1/leads?q=many 1000')).body).toMatchObject({ total: 3, capped: false });
    // Unlike the pages, the API goes on past the cap: `next` leads to the very last row, then stops.
    const deep = await api.get('/api/v1/leads?q=many&perPage=100&page=100');
    expect(deep.body.items).toHaveLength(100);
    expect(deep.body.links.next).toBe('/api/v1/leads?q=many&perPage=100&page=101');
    const last = await api.get(deep.body.links.next);
    expect(last.body.items.map((l: { lastName: string }) => l.lastName)).toEqual(['Many 1']);
    expect(last.body.links.next).toBeNull();
    const plain = await api.get('/api/v1/leads?perPage=100&page=101');
    expect(plain.body.items.length).toBeGreaterThan(0);
  });

  it('following links.next reads every lead exactly once, past the cap, each page continuing from a row (keyset)', async () => {
    await q(`insert into leads (group_id, owner_id, created_by_id, last_name, created_at)
             select $1, $2, $2, 'Walk ' || n, now() - make_interval(secs => n / 3) from generate_series(1, 10150) n`, [GROUPS.A.id, USERS.memberA.id]);
    const api = as(await tokenOf('memberA', 'read'));
    const seen = new Set<number>();
    let url: string | null = '/api/v1/leads?perPage=100';
    let pages = 0;
    while (url) {
      const res = await api.get(url);
      expect(res.status).toBe(200);
      for (const l of res.body.items as { id: number }[]) seen.add(l.id);
      if (res.body.links.next) expect(res.body.links.next).toMatch(/&page=\d+&after=\d+$/);
      url = res.body.links.next;
      pages++;
    }
    const { n } = (await q(`select count(*)::int as n from leads where group_id = $1 and deleted_at is null and status <> 'converted'`, [GROUPS.A.id]))[0] as { n: number };
    expect(seen.size).toBe(n);
    expect(pages).toBe(Math.ceil(n / 100));
  });

  // A search's pages stop counting at 40 (of 25), but the API goes on: a page past that links back to the page before it.
  it('past the counted pages (capped), prev is the page before, not the last counted page', async () => {
    await q(`insert into leads (group_id, owner_id, created_by_id, last_name) select $1, $2, $2, 'Deepfind ' || n from generate_series(1, 10050) n`, [GROUPS.A.id, USERS.memberA.id]);
    try {
      const api = as(await tokenOf('memberA', 'read'));
      // 10,050 rows: page 402 of 25 is the last, full one.
      const res = await api.get('/api/v1/leads?q=deepfind&page=402');
      expectDocumented(res, 'get', '/api/v1/leads');
      expect(res.body).toMatchObject({ capped: true, pages: 40, page: 402 });
      expect(res.body.items).toHaveLength(25);
      expect(res.body.links.prev).toBe('/api/v1/leads?q=deepfind&page=401');
      expect(res.headers.link).toContain('</api/v1/leads?q=deepfind&page=401>; rel="prev"');
      const before = await api.get(res.body.links.prev);
      expect(before.body.items).toHaveLength(25);
      expect(before.body.links).toMatchObject({ prev: '/api/v1/leads?q=deepfind&page=400', next: '/api/v1/leads?q=deepfind&page=402' });
      // Further on, past the rows too: still the page before.
      expect((await api.get('/api/v1/leads?page=450')).body).toMatchObject({ capped: true, links: { prev: '/api/v1/leads?page=449' } });
      // A list that is not capped: a page past its end leads back to its last page.
      expect((await api.get('/api/v1/leads?q=deepfind 1005&page=3')).body).toMatchObject({ capped: false, pages: 1, links: { prev: '/api/v1/leads?q=deepfind+1005' } });
      // Past a search's counted pages too: its real number, not "1,000+".
      expect((await api.get('/api/v1/leads?q=deepfind 1005&page=42')).body).toMatchObject({ items: [], total: 2, capped: false, pages: 1 });
    } finally {
      await q("delete from leads where last_name like 'Deepfind %'");
    }
  });

  it('another group\'s lead answers 404 to every verb', async () => {
    const b = as(await tokenOf('memberB'));
    const id = RECORDS.lead.A;
    for (const res of [
      await b.get(`/api/v1/leads/${id}`),
      await b.patch(`/api/v1/leads/${id}`, { lastName: 'Stolen' }),
      await b.delete(`/api/v1/leads/${id}`),
      await b.post(`/api/v1/leads/${id}/convert`),
      await b.get(`/api/v1/leads/${id}/comments`),
      await b.post(`/api/v1/leads/${id}/comments`, { body: 'hi' }),
      await b.get(`/api/v1/leads/${id}/files`),
      await b.get(`/api/v1/leads/${id}/activity`),
      await b.get(`/api/v1/files/${RECORDS.file.A}`),
      await b.get(`/api/v1/files/${RECORDS.file.A}/content`),
      await b.get(`/api/v1/clients/${RECORDS.client.A}`),
    ]) {
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toContain('application/problem+json');
    }
    expect((await q('select last_name from leads where id = $1', [id]))[0].last_name).toBe('Lead A');
  });

  it('bad input: 422 with per-field errors, unknown fields refused, malformed JSON 400, too large 413; nothing written', async () => {
    const api = as(await tokenOf('memberA'));
    const bad = await api.post('/api/v1/leads', { groupId: GROUPS.A.id, lastName: '', email: 'nope', value: '-5' });
    expect(bad.status).toBe(422);
    expect(bad.headers['content-type']).toContain('application/problem+json');
    expectDocumented(bad, 'post', '/api/v1/leads');
    const fields = bad.body.errors.map((e: { field: string }) => e.field).sort();
    expect(fields).toEqual(['email', 'lastName', 'value']);
    expect(bad.body.errors.every((e: { message: string }) => e.message.length > 0)).toBe(true);

    const unknown = await api.post('/api/v1/leads', leadBody({ deletedAt: '2020-01-01', createdById: 1 }));
    expect(unknown.status).toBe(422);
    expect(unknown.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['createdById', 'deletedAt']);
    const unknownPatch = await api.patch(`/api/v1/leads/${RECORDS.lead.A}`, { clientId: 2 });
    expect(unknownPatch.status).toBe(422);
    expect(unknownPatch.body.errors).toEqual([{ field: 'clientId', message: expect.any(String) }]);

    const malformed = await api.post('/api/v1/leads').set('Content-Type', 'application/json').send('{"lastName": "x",');
    expect(malformed.status).toBe(400);
    expect(malformed.headers['content-type']).toContain('application/problem+json');
    expectDocumented(malformed, 'post', '/api/v1/leads');

    const huge = await api.post('/api/v1/leads', leadBody({ description: 'x'.repeat(200_000) }));
    expect(huge.status).toBe(413);
    expect(huge.headers['content-type']).toContain('application/problem+json');

    const notObject = await api.post('/api/v1/leads', [leadBody()]);
    expect(notObject.status).toBe(422);
    // A body the API does not read is refused, not taken for an empty one.
    const mergePatch = await api.patch(`/api/v1/leads/${RECORDS.lead.A}`, {}).set('Content-Type', 'application/merge-patch+json').send('{"lastName":"X"}');
    expect(mergePatch.status).toBe(415);
    expectDocumented(mergePatch, 'patch', '/api/v1/leads/{id}');

    // Russian problem details for a Russian-speaking user.
    await q("update users set locale = 'ru' where id = $1", [USERS.memberA.id]);
    const ru = await api.post('/api/v1/leads', { groupId: GROUPS.A.id });
    expect(ru.body.errors[0].message).toMatch(/[а-я]/);
    await q('update users set locale = null where id = $1', [USERS.memberA.id]);

    expect(await q('select 1 from leads where id > 100')).toHaveLength(0);
  });

  it('If-Match: the current ETag updates, a stale one is a lost update (409), none means last write wins', async () => {
    const api = as(await tokenOf('memberA'));
    const url = `/api/v1/leads/${RECORDS.lead.A}`;
    const { headers: { etag } } = await api.get(url);
    const first = await api.patch(url, { company: 'Первая' }, { 'If-Match': etag! });
    expect(first.status).toBe(200);
    const stale = await api.patch(url, { company: 'Вторая' }, { 'If-Match': etag! });
    expect(stale.status).toBe(409);
    expect(stale.headers['content-type']).toContain('application/problem+json');
    expectDocumented(stale, 'patch', '/api/v1/leads/{id}');
    expect((await q('select company from leads where id = $1', [RECORDS.lead.A]))[0].company).toBe('Первая');
    expect((await api.patch(url, { company: 'Третья' }, { 'If-Match': first.headers.etag! })).status).toBe(200);
    expect((await api.patch(url, { company: 'Четвёртая' })).status).toBe(200);
    // A conditional GET with the current ETag is a 304.
    const { headers: { etag: now } } = await api.get(url);
    expect((await api.get(url).set('If-None-Match', now!)).status).toBe(304);
  });

  it('Idempotency-Key: a retried POST returns the same record and makes one', async () => {
    const api = as(await tokenOf('memberA'));
    const send = (body: object) => api.post('/api/v1/leads', body).set('Idempotency-Key', 'retry-1');
    const first = await send(leadBody());
    const second = await send(leadBody());
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.body.id).toBe(first.body.id);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(second.headers.location).toBe(first.headers.location);
    expect(await q("select id from leads where last_name = 'Иванов'")).toHaveLength(1);
    // The same key with another body is refused; another key makes another record.
    expect((await send(leadBody({ lastName: 'Другой' }))).status).toBe(422);
    expect((await api.post('/api/v1/leads', leadBody()).set('Idempotency-Key', 'retry-2')).body.id).not.toBe(first.body.id);
    // A failed create releases its key: fixing the body and retrying with it works.
    const failed = await api.post('/api/v1/leads', { groupId: GROUPS.A.id }).set('Idempotency-Key', 'retry-3');
    expect(failed.status).toBe(422);
    expect(await q("select 1 from idempotency_keys where key = 'retry-3'")).toHaveLength(0);
    // Keys are per user: another user's same key is their own.
    const other = await as(await tokenOf('managerA')).post('/api/v1/leads', leadBody()).set('Idempotency-Key', 'retry-1');
    expect(other.body.id).not.toBe(first.body.id);
  });

  it('converts a lead once: 201 with the client, then 409', async () => {
    const api = as(await tokenOf('memberA'));
    const url = `/api/v1/leads/${RECORDS.lead.A}/convert`;
    const made = await api.post(url, { name: 'ООО Лид' });
    expect(made.status).toBe(201);
    expectDocumented(made, 'post', '/api/v1/leads/{id}/convert');
    expect(made.body).toMatchObject({ name: 'ООО Лид', leadId: RECORDS.lead.A, groupId: GROUPS.A.id });
    expect(made.headers.location).toBe(`/api/v1/clients/${made.body.id}`);
    const again = await api.post(url);
    expect(again.status).toBe(409);
    expectDocumented(again, 'post', '/api/v1/leads/{id}/convert');
    // The converted lead is read-only, and its comment shows on the client.
    expect((await api.patch(`/api/v1/leads/${RECORDS.lead.A}`, { company: 'x' })).status).toBe(409);
    const comments = await api.get(`/api/v1/clients/${made.body.id}/comments`);
    expect(comments.body.items.map((c: { body: string }) => c.body)).toEqual(['fixture comment']);
    expect(await q('select 1 from clients where lead_id = $1', [RECORDS.lead.A])).toHaveLength(1);
  });
});

describe('/api/v1/clients', () => {
  it('list, create, read, update, trash', async () => {
    const api = as(await tokenOf('managerA'));
    const made = await api.post('/api/v1/clients', { groupId: GROUPS.A.id, name: 'ООО Ромашка', website: 'https://romashka.ru', email: 'Info@Romashka.ru' });
    expect(made.status).toBe(201);
    expectDocumented(made, 'post', '/api/v1/clients');
    expect(made.body).toMatchObject({ email: 'info@romashka.ru', ownerId: USERS.managerA.id, status: 'active' });
    const list = await api.get('/api/v1/clients?q=ромаш');
    expectDocumented(list, 'get', '/api/v1/clients');
    expect(list.body.items.map((c: { name: string }) => c.name)).toEqual(['ООО Ромашка']);
    const read = await api.get(made.headers.location);
    expectDocumented(read, 'get', '/api/v1/clients/{id}');
    const patched = await api.patch(made.headers.location, { status: 'inactive' }, { 'If-Match': read.headers.etag! });
    expect(patched.status).toBe(200);
    expectDocumented(patched, 'patch', '/api/v1/clients/{id}');
    expect(patched.body).toMatchObject({ status: 'inactive', name: 'ООО Ромашка', website: 'https://romashka.ru' });
    expect((await api.patch(made.headers.location, { website: 'javascript:alert(1)' })).status).toBe(422);
    expect((await api.delete(made.headers.location)).status).toBe(204);
    expect((await api.get(made.headers.location)).status).toBe(404);
  });
});

describe('comments, files and history', () => {
  it('comments: list and add on a lead and a client; edit with If-Match; delete', async () => {
    const api = as(await tokenOf('memberA'));
    const list = await api.get(`/api/v1/leads/${RECORDS.lead.A}/comments`);
    expect(list.status).toBe(200);
    expectDocumented(list, 'get', '/api/v1/leads/{id}/comments');
    const added = await api.post(`/api/v1/clients/${RECORDS.client.A}/comments`, { body: 'Позвонить в среду' });
    expect(added.status).toBe(201);
    expectDocumented(added, 'post', '/api/v1/clients/{id}/comments');
    expect(added.body).toMatchObject({ body: 'Позвонить в среду', authorId: USERS.memberA.id, authorName: 'memberA', editedAt: null });
    expect((await api.post(`/api/v1/leads/${RECORDS.lead.A}/comments`, { body: '' })).status).toBe(422);

    const url = `/api/v1/comments/${added.body.id}`;
    const edited = await api.patch(url, { body: 'Позвонить в четверг' }, { 'If-Match': added.headers.etag! });
    expect(edited.status).toBe(200);
    expectDocumented(edited, 'patch', '/api/v1/comments/{id}');
    expect(edited.body.editedAt).not.toBeNull();
    expect((await api.patch(url, { body: 'stale' }, { 'If-Match': added.headers.etag! })).status).toBe(409);
    // Someone else's comment: a plain member may not edit it.
    expect((await api.patch(`/api/v1/comments/${RECORDS.comment.A}`, { body: 'x' })).status).toBe(403);
    expect((await api.delete(url)).status).toBe(204);
    expect((await api.get(`/api/v1/clients/${RECORDS.client.A}/comments`)).body.items).toEqual([]);

    const history = await api.get(`/api/v1/clients/${RECORDS.client.A}/activity`);
    expect(history.status).toBe(200);
    expectDocumented(history, 'get', '/api/v1/clients/{id}/activity');
    expect(history.body.items.map((a: { action: string }) => a.action)).toEqual(['comment_deleted', 'commented']);
  });

  it('files: multipart upload, metadata, download, delete', async () => {
    const api = as(await tokenOf('memberA'));
    const up = await api.upload(`/api/v1/leads/${RECORDS.lead.A}/files`).attach('files', Buffer.from('name,phone\nИван,123\n'), 'контакты.csv');
    expect(up.status).toBe(201);
    expectDocumented(up, 'post', '/api/v1/leads/{id}/files');
    expect(up.body.items).toHaveLength(1);
    const file = up.body.items[0];
    expect(file).toMatchObject({ name: 'контакты.csv', uploaderId: USERS.memberA.id, downloadUrl: `/api/v1/files/${file.id}/content` });

    expect(['pending', 'ready']).toContain(file.status);
    // A new upload is checked by a background job (in-process here); its content is served once ready.
    let meta = await api.get(`/api/v1/files/${file.id}`);
    for (let i = 0; i < 50 && meta.body.status === 'pending'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      meta = await api.get(`/api/v1/files/${file.id}`);
    }
    expect(meta.status).toBe(200);
    expect(meta.body.status).toBe('ready');
    expectDocumented(meta, 'get', '/api/v1/files/{id}');
    const list = await api.get(`/api/v1/leads/${RECORDS.lead.A}/files`);
    expectDocumented(list, 'get', '/api/v1/leads/{id}/files');
    expect(list.body.items.map((f: { name: string }) => f.name)).toEqual(['контакты.csv', 'fixture.txt']);

    const content = await api.get(file.downloadUrl).buffer(true).parse((res, cb) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => cb(null, Buffer.concat(chunks)));
    });
    expect(content.status).toBe(200);
    expect(content.headers['content-disposition']).toMatch(/^attachment/);
    expect(content.headers['x-content-type-options']).toBe('nosniff');
    expect((content.body as Buffer).toString()).toBe('name,phone\nИван,123\n');

    const refused = await api.upload(`/api/v1/leads/${RECORDS.lead.A}/files`).attach('files', Buffer.from('MZ\x90\x00'), 'run.exe');
    expect(refused.status).toBe(422);
    expect(refused.headers['content-type']).toContain('application/problem+json');
    expect((await api.post(`/api/v1/leads/${RECORDS.lead.A}/files`)).status).toBe(422);

    expect((await api.delete(`/api/v1/files/${file.id}`)).status).toBe(204);
    expect((await api.get(`/api/v1/files/${file.id}`)).status).toBe(404);
  });
});

describe('groups, users, me, dashboard', () => {
  it('groups: mine or all; read with roster; admin create, update, members, delete', async () => {
    const member = as(await tokenOf('memberA'));
    const admin = as(await tokenOf('admin'));
    const mine = await member.get('/api/v1/groups');
    expectDocumented(mine, 'get', '/api/v1/groups');
    expect(mine.body.items.map((g: { name: string }) => g.name)).toEqual([GROUPS.A.name]);
    expect((await admin.get('/api/v1/groups')).body.items).toHaveLength(2);

    const a = await member.get(`/api/v1/groups/${GROUPS.A.id}`);
    expectDocumented(a, 'get', '/api/v1/groups/{id}');
    expect(a.body.roster.map((m: { userId: number }) => m.userId).sort()).toEqual([USERS.memberA.id, USERS.managerA.id, USERS.subjectA.id].sort());
    expect((await member.get(`/api/v1/groups/${GROUPS.B.id}`)).status).toBe(404);
    expect((await member.post('/api/v1/groups', { name: 'Нет' })).status).toBe(403);
    expect((await member.patch(`/api/v1/groups/${GROUPS.A.id}`, { name: 'Нет' })).status).toBe(403);

    const made = await admin.post('/api/v1/groups', { name: 'Продажи', description: 'Отдел' });
    expect(made.status).toBe(201);
    expectDocumented(made, 'post', '/api/v1/groups');
    expect((await admin.post('/api/v1/groups', { name: 'продажи' })).status).toBe(422);
    const url = made.headers.location;
    const renamed = await admin.patch(url, { name: 'Продажи-2' }, { 'If-Match': made.headers.etag! });
    expect(renamed.status).toBe(200);
    expectDocumented(renamed, 'patch', '/api/v1/groups/{id}');
    expect(renamed.body).toMatchObject({ name: 'Продажи-2', description: 'Отдел', visibility: 'all' });

    const added = await admin.post(`${url}/members`, { email: USERS.noGroup.email, role: 'member' });
    expect(added.status).toBe(201);
    expectDocumented(added, 'post', '/api/v1/groups/{id}/members');
    const role = await admin.patch(`${url}/members/${USERS.noGroup.id}`, { role: 'manager' });
    expect(role.body).toMatchObject({ userId: USERS.noGroup.id, role: 'manager' });
    expectDocumented(role, 'patch', '/api/v1/groups/{id}/members/{userId}');
    expect((await as(await tokenOf('noGroup')).get(url)).status).toBe(200);
    expect((await admin.delete(`${url}/members/${USERS.noGroup.id}`)).status).toBe(204);
    expect((await admin.delete(url)).status).toBe(204);
    expect((await admin.get(url)).status).toBe(404);
    // A group with records needs to be told what happens to them.
    const withRecords = await admin.delete(`/api/v1/groups/${GROUPS.B.id}`);
    expect(withRecords.status).toBe(422);
    expectDocumented(withRecords, 'delete', '/api/v1/groups/{id}');
    expect(withRecords.body.errors[0].field).toBe('records');
    expect((await admin.delete(`/api/v1/groups/${GROUPS.B.id}?records=shred`)).status).toBe(422);
    expect(await q('select 1 from groups where id = $1', [GROUPS.B.id])).toHaveLength(1);
  });

  it('users (admins), me, dashboard', async () => {
    const admin = as(await tokenOf('admin', 'read'));
    const users = await admin.get('/api/v1/users?q=example&perPage=25');
    expect(users.status).toBe(200);
    expectDocumented(users, 'get', '/api/v1/users');
    expect(users.body.total).toBe(Object.keys(USERS).length);
    const one = await admin.get(`/api/v1/users/${USERS.memberA.id}`);
    expectDocumented(one, 'get', '/api/v1/users/{id}');
    expect(one.body.groups).toEqual([{ id: GROUPS.A.id, name: GROUPS.A.name, role: 'member' }]);
    expect((await as(await tokenOf('managerA')).get('/api/v1/users')).status).toBe(403);

    const member = as(await tokenOf('memberA'));
    const me = await member.get('/api/v1/me');
    expectDocumented(me, 'get', '/api/v1/me');
    expect(me.body.memberships).toEqual([{ groupId: GROUPS.A.id, groupName: GROUPS.A.name, role: 'member', visibility: 'all' }]);

    const dash = await member.get(`/api/v1/dashboard?group=${GROUPS.A.id}`);
    expect(dash.status).toBe(200);
    expectDocumented(dash, 'get', '/api/v1/dashboard');
    expect(dash.body.figures.openLeads).toBe(1);
    expect(dash.body.weeks).toHaveLength(12);
    expect((await member.get(`/api/v1/dashboard?group=${GROUPS.B.id}`)).status).toBe(404);
  });
});

describe('OpenAPI document and docs page', () => {
  it('every /api route is documented and every documented operation exists', () => {
    expect(doc.openapi).toBe('3.1.0');
    const routes = listRoutes(t.app)
      .filter((r) => r.path.startsWith('/api/v1/'))
      .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, '{$1}')}`)
      .sort();
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`)).sort();
    expect(documented).toEqual(routes);
    expect(routes.length).toBeGreaterThan(35);
    // Every $ref resolves, and every operation has an id and a success response.
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/(schemas|responses)\/(\w+)"/g)];
    for (const [, kind, name] of refs) expect((doc.components as unknown as Record<string, Record<string, unknown>>)[kind!]![name!], `${kind}/${name}`).toBeTruthy();
    for (const ops of Object.values(doc.paths)) for (const op of Object.values(ops)) expect(op.operationId).toBeTruthy();
  });

  it('request bodies are the forms\' schemas, strict; the validator catches a wrong response', () => {
    const leadInput = doc.components.schemas.LeadInput!;
    expect(leadInput.additionalProperties).toBe(false);
    expect(leadInput.required).toEqual(['groupId', 'lastName']);
    expect(Object.keys(leadInput.properties as object)).toEqual(expect.arrayContaining(['email', 'phone', 'value', 'status', 'ownerId']));
    expect(doc.components.schemas.LeadPatch!.required ?? []).toEqual([]);
    expect(validate({ $ref: '#/components/schemas/Lead' }, { id: 'x' }).length).toBeGreaterThan(3);
    expect(validate({ $ref: '#/components/schemas/Comment' }, { id: 1, body: 'b', authorId: null, authorName: null, createdAt: new Date().toISOString(), editedAt: null, extra: 1 })).toEqual(['$.extra: not in the schema']);
  });

  it('the docs page is served by the app: no CDN, no inline script, every operation listed', async () => {
    const res = await request(t.app).get('/api/docs');
    expect(res.status).toBe(200);
    expect(res.headers['content-security-policy']).toContain("script-src 'self'");
    for (const m of res.text.matchAll(/<script\b([^>]*)>/g)) expect(m[1]).toMatch(/src="\/static\//);
    expect(res.text).not.toMatch(/(src|href)="https?:\/\//);
    expect(res.text).not.toMatch(/style="/);
    for (const [p, ops] of Object.entries(doc.paths)) for (const m of Object.keys(ops)) expect(res.text).toContain(`data-operation="${m.toUpperCase()} ${p}"`);
  });
});
