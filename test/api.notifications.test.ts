import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import request from 'supertest';
import { createTestApp, resetDatabase, type TestApp } from './helpers/app.js';
import { USERS, restoreFixture } from './helpers/fixture.js';
import { bearer, schemaChecks, tokenOf, type OpenApi } from './helpers/api.js';

let t: TestApp;
let checks: ReturnType<typeof schemaChecks>;

beforeAll(async () => {
  t = await createTestApp();
  await resetDatabase(t.services);
  await restoreFixture(t.services);
  checks = schemaChecks((await request(t.app).get('/api/openapi.json')).body as OpenApi);
});
afterAll(async () => { await t.close(); });
beforeEach(async () => {
  await q('truncate notifications, api_tokens restart identity cascade');
});

const q = async (sql: string, values: unknown[] = []) => (await t.services.database.pool.query(sql, values)).rows;

/** A notification as the producers write it; returns its id. */
async function notify(userId: number, name: string, read = false, minutesAgo = 0) {
  const [row] = await q(
    `insert into notifications (user_id, kind, data, link, dedupe_key, read_at, created_at)
     values ($1, 'assigned', $2, '/leads/1', $3, case when $4 then now() end, now() - make_interval(mins => $5)) returning id`,
    [userId, JSON.stringify({ actorName: 'Subject', recordName: name, recordKind: 'lead' }), `test:${name}`, read, minutesAgo],
  );
  return Number(row!.id);
}

describe('/api/v1/notifications', () => {
  it('lists only your own, newest first, with the unread filter, the total and the text in your language', async () => {
    await notify(USERS.memberA.id, 'Oldest', true, 30);
    await notify(USERS.memberA.id, 'Middle', false, 20);
    await notify(USERS.memberA.id, 'Newest', false, 10);
    await notify(USERS.memberB.id, 'Not yours', false, 5);
    const api = bearer(t.app, await tokenOf(t.services, 'memberA'));

    const all = await api.get('/api/v1/notifications');
    expect(all.status).toBe(200);
    checks.expectDocumented(all, 'get', '/api/v1/notifications');
    expect(all.body.total).toBe(3);
    expect(all.body.items.map((n: { data: { recordName: string } }) => n.data.recordName)).toEqual(['Newest', 'Middle', 'Oldest']);
    expect(all.body.items[0]).toMatchObject({ kind: 'assigned', read: false, readAt: null, link: '/leads/1', message: 'Subject assigned the lead “Newest” to you' });
    expect(all.body.items[2].read).toBe(true);

    const unread = await api.get('/api/v1/notifications?unread=1');
    expect(unread.body.total).toBe(2);
    expect(unread.body.items.map((n: { data: { recordName: string } }) => n.data.recordName)).toEqual(['Newest', 'Middle']);

    // In the reader's language, from the same row: their saved language, else Accept-Language.
    const ru = await api.get('/api/v1/notifications').set('Accept-Language', 'ru');
    expect(ru.body.items[0].message).toBe('Subject назначает вам лид «Newest»');
    await q(`update users set locale = 'ru' where id = $1`, [USERS.memberA.id]);
    expect((await api.get('/api/v1/notifications').set('Accept-Language', 'en')).body.items[0].message).toBe('Subject назначает вам лид «Newest»');
    await q(`update users set locale = null where id = $1`, [USERS.memberA.id]);
  });

  it('pages like the other lists: perPage, total, next/prev links that keep the filter', async () => {
    for (let i = 0; i < 27; i++) await notify(USERS.memberA.id, `N${i}`, false, 100 - i);
    const api = bearer(t.app, await tokenOf(t.services, 'memberA'));
    const first = await api.get('/api/v1/notifications?unread=1');
    expect(first.body).toMatchObject({ page: 1, perPage: 25, total: 27, pages: 2 });
    expect(first.body.items).toHaveLength(25);
    expect(first.body.links.next).toBe('/api/v1/notifications?unread=1&page=2');
    const second = await api.get(first.body.links.next);
    expect(second.body.items.map((n: { data: { recordName: string } }) => n.data.recordName)).toEqual(['N1', 'N0']);
    expect(second.body.links.prev).toBe('/api/v1/notifications?unread=1');
  });

  it('unread count, mark one read, mark all read; another user\'s id is 404 and stays unread', async () => {
    const mine = await notify(USERS.memberA.id, 'Mine');
    await notify(USERS.memberA.id, 'Also mine');
    const theirs = await notify(USERS.memberB.id, 'Theirs');
    const api = bearer(t.app, await tokenOf(t.services, 'memberA'));

    const count = await api.get('/api/v1/notifications/unread-count');
    checks.expectDocumented(count, 'get', '/api/v1/notifications/unread-count');
    expect(count.body).toEqual({ unread: 2 });

    const other = await api.post(`/api/v1/notifications/${theirs}/read`);
    expect(other.status).toBe(404);
    checks.expectDocumented(other, 'post', '/api/v1/notifications/{id}/read');
    expect((await q('select read_at from notifications where id = $1', [theirs]))[0]!.read_at).toBeNull();

    expect((await api.post(`/api/v1/notifications/${mine}/read`)).status).toBe(204);
    const readAt = (await q('select read_at from notifications where id = $1', [mine]))[0]!.read_at as Date;
    expect(readAt).not.toBeNull();
    // Again: still 204, and the first read time is kept.
    expect((await api.post(`/api/v1/notifications/${mine}/read`)).status).toBe(204);
    expect((await q('select read_at from notifications where id = $1', [mine]))[0]!.read_at).toEqual(readAt);
    expect((await api.get('/api/v1/notifications/unread-count')).body).toEqual({ unread: 1 });

    const all = await api.post('/api/v1/notifications/read-all');
    checks.expectDocumented(all, 'post', '/api/v1/notifications/read-all');
    expect(all.body).toEqual({ marked: 1 });
    expect((await api.get('/api/v1/notifications/unread-count')).body).toEqual({ unread: 0 });
    // memberB's notification was not touched by memberA's "all".
    expect((await bearer(t.app, await tokenOf(t.services, 'memberB')).get('/api/v1/notifications/unread-count')).body).toEqual({ unread: 1 });
  });

  it('a read-only token lists but cannot mark read (403)', async () => {
    const id = await notify(USERS.memberA.id, 'Stay unread');
    const api = bearer(t.app, await tokenOf(t.services, 'memberA', 'read'));
    expect((await api.get('/api/v1/notifications')).status).toBe(200);
    expect((await api.post(`/api/v1/notifications/${id}/read`)).status).toBe(403);
    expect((await api.post('/api/v1/notifications/read-all')).status).toBe(403);
    expect((await q('select read_at from notifications where id = $1', [id]))[0]!.read_at).toBeNull();
  });
});
