import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import request from 'supertest';
import { SMTPServer } from 'smtp-server';
import type { AddressInfo } from 'node:net';
import { createTestApp, login, register, resetDatabase, tokenFor, PASSWORD, type TestApp } from './helpers/app.js';

/** A local SMTP server (the one thing outside the system): collects what the app sends. */
const inbox: { to: string; raw: string }[] = [];
const smtp = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  onData(stream, session, done) {
    let raw = '';
    stream.on('data', (c: Buffer) => (raw += c.toString('utf8')));
    stream.on('end', () => {
      inbox.push({ to: session.envelope.rcptTo.map((r) => r.address).join(','), raw });
      done();
    });
  },
});

let t: TestApp;
beforeAll(async () => {
  await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', () => r()));
  const { port } = smtp.server.address() as AddressInfo;
  t = await createTestApp({ SMTP_URL: `smtp://127.0.0.1:${port}`, APP_URL: 'http://127.0.0.1:3000' });
});
afterAll(async () => {
  await t.close();
  await new Promise<void>((r) => smtp.close(() => r()));
});
beforeEach(async () => {
  inbox.length = 0;
  await resetDatabase(t.services);
  await register(request.agent(t.app), { name: 'Олег', email: 'oleg@example.com' });
});

async function askForReset(email: string) {
  const agent = request.agent(t.app);
  const _csrf = await tokenFor(agent, '/password/forgot');
  return agent.post('/password/forgot').type('form').send({ _csrf, email });
}

function resetPathFromMail(raw: string): string {
  // Quoted-printable may fold long lines: unfold soft line breaks first.
  const body = raw.replace(/=\r?\n/g, '');
  const m = /http:\/\/127\.0\.0\.1:3000(\/password\/reset\/[A-Za-z0-9_-]+)/.exec(body);
  if (!m?.[1]) throw new Error(`no reset link in mail:\n${raw}`);
  return m[1];
}

async function submitReset(path: string, password: string) {
  const agent = request.agent(t.app);
  const page = await agent.get(path);
  const _csrf = /<meta name="csrf-token" content="([^"]+)"/.exec(page.text)![1];
  return { page, res: await agent.post(path).type('form').send({ _csrf, password, passwordConfirm: password }) };
}

describe('password reset by email', () => {
  it('mails a one-hour link; the new password works, the old one and the used link do not', async () => {
    const res = await askForReset('OLEG@example.com');
    expect(res.status).toBe(303);
    await expect.poll(() => inbox.length).toBe(1);
    expect(inbox[0]!.to).toBe('oleg@example.com');
    const path = resetPathFromMail(inbox[0]!.raw);

    // Only a hash of the token is stored.
    const token = path.split('/').pop()!;
    const { rows } = await t.services.database.pool.query('select token_hash, extract(epoch from expires_at - created_at)::float as ttl from password_reset_tokens');
    expect(rows).toHaveLength(1);
    expect(rows[0].token_hash).not.toContain(token);
    expect(Math.abs(rows[0].ttl - 3600)).toBeLessThan(5);

    const { page, res: done } = await submitReset(path, 'a brand new passphrase');
    expect(page.status).toBe(200);
    expect(done.status).toBe(303);
    expect((await login(request.agent(t.app), 'oleg@example.com', PASSWORD)).status).toBe(422);
    expect((await login(request.agent(t.app), 'oleg@example.com', 'a brand new passphrase')).status).toBe(303);

    const again = await request(t.app).get(path);
    expect(again.status).toBe(410);
    expect(again.text).toContain('invalid, was already used or has expired');
  });

  it('an expired link is refused', async () => {
    await askForReset('oleg@example.com');
    await expect.poll(() => inbox.length).toBe(1);
    const path = resetPathFromMail(inbox[0]!.raw);
    await t.services.database.pool.query("update password_reset_tokens set expires_at = now() - interval '1 second'");
    expect((await request(t.app).get(path)).status).toBe(410);
  });

  it('answers the same for an unknown email and sends nothing', async () => {
    const res = await askForReset('nobody@example.com');
    expect(res.status).toBe(303);
    await new Promise((r) => setTimeout(r, 200));
    expect(inbox).toHaveLength(0);
  });

  it('a weak new password re-renders the reset form with 422', async () => {
    await askForReset('oleg@example.com');
    await expect.poll(() => inbox.length).toBe(1);
    const { res } = await submitReset(resetPathFromMail(inbox[0]!.raw), 'qwertyuiop');
    expect(res.status).toBe(422);
    expect(res.text).toContain('This password is too common.');
  });

  it('a reset ends the sessions that were open', async () => {
    const agent = request.agent(t.app);
    await login(agent, 'oleg@example.com');
    await askForReset('oleg@example.com');
    await expect.poll(() => inbox.length).toBe(1);
    await submitReset(resetPathFromMail(inbox[0]!.raw), 'a brand new passphrase');
    expect((await agent.get('/dashboard')).headers.location).toMatch(/^\/login/);
  });
});

describe('profile and password change', () => {
  it('changing the password needs the current one and logs out the other sessions, not this one', async () => {
    const here = request.agent(t.app);
    const elsewhere = request.agent(t.app);
    await login(here, 'oleg@example.com');
    await login(elsewhere, 'oleg@example.com');
    let _csrf = await tokenFor(here, '/profile');
    const wrong = await here.post('/profile/password').type('form').send({ _csrf, currentPassword: 'nope nope nope', password: 'another good passphrase', passwordConfirm: 'another good passphrase' });
    expect(wrong.status).toBe(422);
    expect(wrong.text).toContain('The current password is not correct.');
    expect(wrong.text).toContain('value="Олег"');

    _csrf = await tokenFor(here, '/profile');
    const ok = await here.post('/profile/password').type('form').send({ _csrf, currentPassword: PASSWORD, password: 'another good passphrase', passwordConfirm: 'another good passphrase' });
    expect(ok.status).toBe(303);
    expect((await here.get('/dashboard')).status).toBe(200);
    expect((await elsewhere.get('/dashboard')).headers.location).toMatch(/^\/login/);
  });

  it('updates name, email and language, and ignores a role smuggled into the form', async () => {
    const agent = request.agent(t.app);
    await register(agent, { name: 'Second', email: 'second@example.com' });
    const _csrf = await tokenFor(agent, '/profile');
    const res = await agent.post('/profile').type('form').send({ _csrf, name: 'Second Renamed', email: 'Second.New@example.com', locale: 'ru', role: 'admin', isAdmin: 'true' });
    expect(res.status).toBe(303);
    const { rows } = await t.services.database.pool.query("select name, email, locale, role from users where email = 'second.new@example.com'");
    expect(rows[0]).toEqual({ name: 'Second Renamed', email: 'second.new@example.com', locale: 'ru', role: 'user' });
    const page = await agent.get('/profile');
    expect(page.text).toContain('Ваш профиль');
  });

  it('refuses an email another account uses, keeping what was typed', async () => {
    const agent = request.agent(t.app);
    await register(agent, { name: 'Second', email: 'second@example.com' });
    const _csrf = await tokenFor(agent, '/profile');
    const res = await agent.post('/profile').type('form').send({ _csrf, name: 'Typed Name', email: 'Oleg@Example.com', locale: 'en' });
    expect(res.status).toBe(422);
    expect(res.text).toContain('An account with this email already exists.');
    expect(res.text).toContain('value="Typed Name"');
  });
});
