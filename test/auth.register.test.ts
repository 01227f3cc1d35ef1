import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import request from 'supertest';
import { createTestApp, register, resetDatabase, tokenFor, type TestApp } from './helpers/app.js';
import { usersRepository } from '../src/modules/users/users.repository.js';

let t: TestApp;
beforeAll(async () => { t = await createTestApp(); });
afterAll(async () => { await t.close(); });
beforeEach(async () => { await resetDatabase(t.services); });

async function postRegister(body: Record<string, string>) {
  const agent = request.agent(t.app);
  const _csrf = await tokenFor(agent, '/register');
  return agent.post('/register').type('form').send({ _csrf, ...body });
}

describe('registration', () => {
  it('the first account becomes admin and the second does not', async () => {
    const first = await register(request.agent(t.app), { email: 'first@example.com' });
    expect(first.status).toBe(303);
    expect(first.headers.location).toBe('/dashboard');
    await register(request.agent(t.app), { email: 'second@example.com' });
    const a = await usersRepository.findByEmail(t.services.database.db, 'first@example.com');
    const b = await usersRepository.findByEmail(t.services.database.db, 'second@example.com');
    expect(a?.role).toBe('admin');
    expect(b?.role).toBe('user');
  });

  it('a bad email answers 422 with the message beside the field and the values kept, never the password', async () => {
    const res = await postRegister({ name: 'Анна Петрова', email: 'not-an-email', password: 'a long enough secret', passwordConfirm: 'a long enough secret' });
    expect(res.status).toBe(422);
    expect(res.text).toContain('id="e-email"');
    expect(res.text).toContain('Enter a valid email address.');
    expect(res.text).toContain('value="Анна Петрова"');
    expect(res.text).toContain('value="not-an-email"');
    expect(res.text).not.toContain('a long enough secret');
  });

  it.each([
    ['too short', 'short1', 'Use at least 8 characters.'],
    ['common', 'password123', 'This password is too common.'],
    ['over 128 characters', 'x'.repeat(129), 'Use at most 128 characters.'],
  ])('a %s password is refused', async (_what, password, message) => {
    const res = await postRegister({ name: 'Ann', email: 'ann@example.com', password, passwordConfirm: password });
    expect(res.status).toBe(422);
    expect(res.text).toContain('id="e-password"');
    expect(res.text).toContain(message);
    expect(await usersRepository.count(t.services.database.db)).toBe(0);
  });

  it('a mismatched confirmation is refused', async () => {
    const res = await postRegister({ name: 'Ann', email: 'ann@example.com', password: 'a long enough secret', passwordConfirm: 'a long enough secreT' });
    expect(res.status).toBe(422);
    expect(res.text).toContain('id="e-passwordConfirm"');
    expect(res.text).toContain('The passwords do not match.');
  });

  it('an email that exists in other letter case is refused and nothing is written', async () => {
    await register(request.agent(t.app), { email: 'Boris@Example.com' });
    const res = await postRegister({ name: 'Boris 2', email: 'boris@EXAMPLE.com', password: 'a long enough secret', passwordConfirm: 'a long enough secret' });
    expect(res.status).toBe(422);
    expect(res.text).toContain('An account with this email already exists.');
    expect(res.text).toContain('value="boris@EXAMPLE.com"');
    expect(await usersRepository.count(t.services.database.db)).toBe(1);
  });

  it('two simultaneous first registrations make exactly one admin', async () => {
    const results = await Promise.all(['x1@example.com', 'x2@example.com', 'x3@example.com'].map((email) => register(request.agent(t.app), { email })));
    expect(results.every((r) => r.status === 303)).toBe(true);
    const { rows } = await t.services.database.pool.query("select count(*)::int as n from users where role = 'admin'");
    expect(rows[0].n).toBe(1);
  });
});
