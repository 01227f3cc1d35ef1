import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import request from 'supertest';
import { createTestApp, login, logout, register, resetDatabase, sessionCookie, tokenFor, type TestApp } from './helpers/app.js';

let t: TestApp;
// Trust one proxy hop so tests can act from several client addresses via X-Forwarded-For.
beforeAll(async () => { t = await createTestApp({ TRUST_PROXY: '1' }); });
afterAll(async () => { await t.close(); });
beforeEach(async () => {
  await resetDatabase(t.services);
  await register(request.agent(t.app), { name: 'Vera', email: 'vera@example.com' });
});

const from = (ip: string) => ({ 'X-Forwarded-For': ip });

describe('log in and out', () => {
  it('logs in with the right password and lands on the dashboard', async () => {
    const agent = request.agent(t.app);
    const res = await login(agent, 'VERA@example.com');
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/dashboard');
    const page = await agent.get('/dashboard');
    expect(page.status).toBe(200);
    expect(page.text).toContain('Welcome, Vera.');
  });

  it('returns to the page asked for, but never to another site', async () => {
    const agent = request.agent(t.app);
    expect((await agent.get('/profile')).headers.location).toBe('/login?next=%2Fprofile');
    const _csrf = await tokenFor(agent);
    const ok = await agent.post('/login').type('form').send({ _csrf, email: 'vera@example.com', password: 'correct horse battery staple', next: '/profile' });
    expect(ok.headers.location).toBe('/profile');
    const evil = request.agent(t.app);
    const token = await tokenFor(evil);
    const res = await evil.post('/login').type('form').send({ _csrf: token, email: 'vera@example.com', password: 'correct horse battery staple', next: '//evil.example/' });
    expect(res.headers.location).toBe('/dashboard');
  });

  it('a wrong password answers 422 with a message and keeps the email', async () => {
    const res = await login(request.agent(t.app), 'vera@example.com', 'not the password');
    expect(res.status).toBe(422);
    expect(res.text).toContain('The email or password is not correct.');
    expect(res.text).toContain('value="vera@example.com"');
    expect(res.text).not.toContain('not the password');
  });

  it('gives a new session id at login (no fixation)', async () => {
    const agent = request.agent(t.app);
    const before = sessionCookie(await agent.get('/login'));
    expect(before).toBeDefined();
    const res = await login(agent, 'vera@example.com');
    const after = sessionCookie(res);
    expect(after).toBeDefined();
    expect(after).not.toBe(before);
  });

  it('logout is a POST that destroys the session; GET /logout does nothing', async () => {
    const agent = request.agent(t.app);
    await login(agent, 'vera@example.com');
    expect((await agent.get('/logout')).status).toBe(404);
    expect((await agent.get('/dashboard')).status).toBe(200);
    const signedIn = "select count(*)::int as n from session where (sess->>'userId') is not null";
    const before = (await t.services.database.pool.query(signedIn)).rows[0].n;
    const res = await logout(agent);
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/login');
    const after = await agent.get('/dashboard');
    expect(after.status).toBe(303);
    expect(after.headers.location).toMatch(/^\/login/);
    expect((await t.services.database.pool.query(signedIn)).rows[0].n).toBe(before - 1);
  });
});

describe('throttling', () => {
  it('after 5 failures in 15 minutes the account+IP gets 429 with Retry-After, even with the right password', async () => {
    const agent = request.agent(t.app);
    for (let i = 0; i < 5; i++) expect((await login(agent, 'vera@example.com', 'wrong password!', from('10.0.0.1'))).status).toBe(422);
    const blocked = await login(agent, 'vera@example.com', undefined, from('10.0.0.1'));
    expect(blocked.status).toBe(429);
    const retryAfter = Number(blocked.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(14 * 60);
    expect(retryAfter).toBeLessThanOrEqual(15 * 60);
    expect(blocked.text).toContain('Too many failed attempts');
    // The real user on another address is not locked out by someone guessing elsewhere.
    expect((await login(request.agent(t.app), 'vera@example.com', undefined, from('10.0.0.2'))).status).toBe(303);
  });

  it('the limit expires: once the failures are older than the window, the user can log in again', async () => {
    const agent = request.agent(t.app);
    for (let i = 0; i < 5; i++) await login(agent, 'vera@example.com', 'wrong password!', from('10.0.0.3'));
    expect((await login(agent, 'vera@example.com', undefined, from('10.0.0.3'))).status).toBe(429);
    await t.services.database.pool.query("update login_failures set created_at = created_at - interval '16 minutes'");
    expect((await login(agent, 'vera@example.com', undefined, from('10.0.0.3'))).status).toBe(303);
  });

  it('parallel guesses cannot slip past the limit', async () => {
    const results = await Promise.all(Array.from({ length: 12 }, () => login(request.agent(t.app), 'vera@example.com', 'wrong password!', from('10.0.0.9'))));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 422).length).toBeLessThanOrEqual(5);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(7);
  });

  it('one address guessing many accounts is stopped by the per-IP limit', async () => {
    for (let i = 0; i < 30; i++) await login(request.agent(t.app), `nobody${i}@example.com`, 'wrong password!', from('10.0.0.4'));
    const res = await login(request.agent(t.app), 'vera@example.com', undefined, from('10.0.0.4'));
    expect(res.status).toBe(429);
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
  });
});

describe('deactivation', () => {
  it('a deactivated user cannot log in and loses the sessions already open', async () => {
    const agent = request.agent(t.app);
    await login(agent, 'vera@example.com');
    expect((await agent.get('/dashboard')).status).toBe(200);
    await t.services.database.pool.query("update users set active = false where email = 'vera@example.com'");
    const res = await agent.get('/dashboard');
    expect(res.status).toBe(303);
    expect(res.headers.location).toMatch(/^\/login/);
    const again = await login(request.agent(t.app), 'vera@example.com');
    expect(again.status).toBe(422);
    expect(again.text).toContain('This account has been deactivated.');
  });
});

describe('session timeouts', () => {
  it('a session older than the absolute timeout ends even when it was used all along', async () => {
    const agent = request.agent(t.app);
    await login(agent, 'vera@example.com');
    // Move the login 25 hours back (the default absolute timeout is 24 hours).
    await t.services.database.pool.query(
      `update session set sess = jsonb_set(sess::jsonb, '{loginAt}', to_jsonb((extract(epoch from now()) * 1000 - 25 * 3600 * 1000)::bigint))::json where sess->>'userId' is not null`,
    );
    const res = await agent.get('/dashboard');
    expect(res.headers.location).toMatch(/^\/login/);
  });

  it('an idle session expires in the store (the cookie and row carry the idle deadline)', async () => {
    const agent = request.agent(t.app);
    const res = await login(agent, 'vera@example.com');
    const cookie = (res.headers['set-cookie'] as unknown as string[]).find((c) => c.startsWith('tandem.sid='))!;
    const expires = new Date(/Expires=([^;]+)/.exec(cookie)![1]!).getTime();
    expect(expires - Date.now()).toBeGreaterThan(119 * 60_000);
    expect(expires - Date.now()).toBeLessThanOrEqual(120 * 60_000 + 1000);
    await t.services.database.pool.query("update session set expire = now() - interval '1 minute'");
    expect((await agent.get('/dashboard')).headers.location).toMatch(/^\/login/);
  });

  it('using the session pushes its idle deadline forward, but writes the store at most once a minute', async () => {
    const agent = request.agent(t.app);
    await login(agent, 'vera@example.com');
    await agent.get('/profile'); // the first page after login makes the session's CSRF token (a write)
    const expire = async () => (await t.services.database.pool.query<{ e: Date }>("select max(expire) as e from session where sess->>'userId' is not null")).rows[0]!.e;
    // Pretend the deadline was set 10 minutes ago and the session was last seen 30 s ago: no write yet.
    await t.services.database.pool.query(`update session set expire = expire - interval '10 minutes',
      sess = jsonb_set(sess::jsonb, '{seenAt}', to_jsonb((extract(epoch from now()) * 1000 - 30000)::bigint))::json where sess->>'userId' is not null`);
    const before = await expire();
    const quiet = await agent.get('/profile');
    expect(quiet.status).toBe(200);
    expect(quiet.headers['set-cookie']).toBeUndefined();
    expect(await expire()).toEqual(before);
    // Last seen two minutes ago: this request moves the deadline to a full idle period from now, cookie too.
    await t.services.database.pool.query(`update session set sess = jsonb_set(sess::jsonb, '{seenAt}', to_jsonb((extract(epoch from now()) * 1000 - 120000)::bigint))::json where sess->>'userId' is not null`);
    const used = await agent.get('/profile');
    expect(used.headers['set-cookie']?.[0]).toMatch(/^tandem\.sid=.*Expires=/);
    expect((await expire()).getTime() - Date.now()).toBeGreaterThan(119 * 60_000);
  });
});
