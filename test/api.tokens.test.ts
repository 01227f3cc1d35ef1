import { describe, expect, it } from 'vitest';
import request from 'supertest';
import { csrfFrom, register, tokenFor, PASSWORD } from './helpers/app.js';
import { useFixtureApp } from './helpers/fixture.js';
import { bearer, tokenOf } from './helpers/api.js';
import { authRepository } from '../src/modules/auth/auth.repository.js';
import { sha256 } from '../src/modules/auth/auth.service.js';

/**
 * API tokens and passwords: a reset (account recovery) revokes every token of the account, since whoever had
 * the account may have made some; a normal change (the current password known) keeps them (docs/API.md).
 * Users of their own (registered here), so the fixture's passwords stay as other test files expect them.
 */

const f = useFixtureApp();

const NEW_PASSWORD = 'a brand new passphrase';

async function userWithTokens(email: string) {
  const agent = request.agent(f.t.app);
  expect((await register(agent, { email })).status).toBe(303);
  const { rows } = await f.t.services.database.pool.query<{ id: number }>('select id from users where email = $1', [email]);
  const id = rows[0]!.id;
  const make = async (scope: 'read' | 'write') => (await f.t.services.tokens.create({ id }, { tokenName: scope, scope, expiresIn: 'never' })).secret;
  return { agent, id, tokens: [await make('read'), await make('write')] };
}

const status = async (token: string) => (await bearer(f.t.app, token).get('/api/v1/me')).status;

describe('API tokens and passwords', () => {
  it('a password reset revokes every API token of the account at once; other users\' tokens keep working', async () => {
    const { id, tokens } = await userWithTokens('recovered@example.com');
    const someoneElse = await tokenOf(f.t.services, 'memberB');
    for (const tk of tokens) expect(await status(tk)).toBe(200);

    const raw = 'reset-token-for-the-test-0123456789';
    await authRepository.insertResetToken(f.t.services.database.db, id, sha256(raw), new Date(Date.now() + 3_600_000));
    const stranger = request.agent(f.t.app);
    const form = await stranger.get(`/password/reset/${raw}`);
    expect(form.status).toBe(200);
    const done = await stranger.post(`/password/reset/${raw}`).type('form').send({ _csrf: csrfFrom(form.text), password: NEW_PASSWORD, passwordConfirm: NEW_PASSWORD });
    expect(done.status).toBe(303);

    for (const tk of tokens) {
      const res = await bearer(f.t.app, tk).get('/api/v1/me');
      expect(res.status).toBe(401);
      expect(res.headers['content-type']).toContain('application/problem+json');
    }
    expect(await status(someoneElse)).toBe(200);
    // The profile lists no live token any more.
    expect(await f.t.services.tokens.list(id)).toEqual([]);
  });

  it('a normal password change keeps the API tokens', async () => {
    const { agent, tokens } = await userWithTokens('changer@example.com');
    const csrf = await tokenFor(agent, '/profile');
    const changed = await agent.post('/profile/password').type('form').send({ _csrf: csrf, currentPassword: PASSWORD, password: NEW_PASSWORD, passwordConfirm: NEW_PASSWORD });
    expect(changed.status).toBe(303);
    expect(changed.headers.location).toBe('/profile');
    for (const tk of tokens) expect(await status(tk)).toBe(200);
  });
});
