import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import request from 'supertest';
import { createTestApp, login, resetDatabase, tokenFor, type Agent, type TestApp } from './helpers/app.js';
import { USERS, loginActors, restoreFixture, type ActorName } from './helpers/fixture.js';

let t: TestApp;
let agents: Record<ActorName, Agent>;
beforeAll(async () => {
  t = await createTestApp();
  await resetDatabase(t.services);
  await restoreFixture(t.services);
});
afterAll(async () => { await t.close(); });
beforeEach(async () => {
  await restoreFixture(t.services);
  agents = await loginActors(t.app);
});

const q = async (sql: string, values: unknown[] = []) => (await t.services.database.pool.query(sql, values)).rows;
async function post(url: string, body: Record<string, string>) {
  const _csrf = await tokenFor(agents.admin, '/profile');
  return agents.admin.post(url).type('form').send({ _csrf, ...body });
}

describe('user administration', () => {
  it('lists users with search by name or email, filters and pagination', async () => {
    const all = await agents.admin.get('/admin/users');
    expect(all.status).toBe(200);
    expect(all.text).toContain('7 users');
    const byEmail = await agents.admin.get('/admin/users?q=SUBJECT');
    expect(byEmail.text).toContain('2 users');
    expect(byEmail.text).toContain('subject.a@example.com');
    expect(byEmail.text).not.toContain('member.b@example.com');
    const admins = await agents.admin.get('/admin/users?admin=yes');
    expect(admins.text).toContain('1 user');
    // A LIKE wildcard typed by the user is matched literally.
    expect((await agents.admin.get('/admin/users?q=%25')).text).toContain('0 users');

    for (let i = 0; i < 30; i++) await q(`insert into users (email, name, password_hash) values ($1, $2, 'x')`, [`bulk${i}@example.com`, `Bulk ${String(i).padStart(2, '0')}`]);
    const first = await agents.admin.get('/admin/users?q=bulk');
    expect(first.text).toContain('30 users');
    expect(first.text).toContain('Page 1 of 2');
    expect(first.text).toContain('href="/admin/users?q=bulk&amp;page=2"');
    const second = await agents.admin.get('/admin/users?q=bulk&page=2');
    expect(second.text).toContain('Bulk 29');
    expect(second.text).not.toContain('Bulk 00');
    // htmx asks for the table only.
    const fragment = await agents.admin.get('/admin/users?q=bulk').set('HX-Request', 'true');
    expect(fragment.text).not.toContain('<html');
    expect(fragment.text).toContain('30 users');
  });

  it('deactivating a user ends their sessions at once; activating lets them log in again', async () => {
    expect((await agents.memberA.get('/dashboard')).status).toBe(200);
    expect((await post(`/admin/users/${USERS.memberA.id}/active`, { active: 'false' })).status).toBe(303);
    expect(await q("select 1 from session where (sess->>'userId')::int = $1", [USERS.memberA.id])).toHaveLength(0);
    expect((await agents.memberA.get('/dashboard')).headers.location).toMatch(/^\/login/);
    expect((await login(request.agent(t.app), USERS.memberA.email)).status).toBe(422);
    expect((await post(`/admin/users/${USERS.memberA.id}/active`, { active: 'true' })).status).toBe(303);
    expect((await login(request.agent(t.app), USERS.memberA.email)).status).toBe(303);
  });

  it('grants and removes admin rights', async () => {
    await post(`/admin/users/${USERS.noGroup.id}/admin`, { admin: 'true' });
    expect((await q('select role from users where id = $1', [USERS.noGroup.id]))[0].role).toBe('admin');
    expect((await agents.noGroup.get('/admin/users')).status).toBe(200);
    await post(`/admin/users/${USERS.noGroup.id}/admin`, { admin: 'false' });
    expect((await agents.noGroup.get('/admin/users')).status).toBe(403);
  });

  it('the last active admin cannot deactivate or demote themselves: 409 with a message, nothing changes', async () => {
    const demote = await post(`/admin/users/${USERS.admin.id}/admin`, { admin: 'false' });
    expect(demote.status).toBe(409);
    expect(demote.text).toContain('This is the last active administrator');
    const deactivate = await post(`/admin/users/${USERS.admin.id}/active`, { active: 'false' });
    expect(deactivate.status).toBe(409);
    expect((await q('select role, active from users where id = $1', [USERS.admin.id]))[0]).toEqual({ role: 'admin', active: true });
    // With a second admin, stepping down is allowed.
    await post(`/admin/users/${USERS.noGroup.id}/admin`, { admin: 'true' });
    expect((await post(`/admin/users/${USERS.admin.id}/admin`, { admin: 'false' })).status).toBe(303);
  });

  it('an unknown user id answers 404', async () => {
    expect((await agents.admin.get('/admin/users/99999')).status).toBe(404);
    expect((await agents.admin.get('/admin/users/abc')).status).toBe(404);
  });
});
