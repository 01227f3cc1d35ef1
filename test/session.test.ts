import { describe, expect, it } from 'vitest';
import request from 'supertest';
import type session from 'express-session';
import type { Request } from 'express';
import { login, logout, tokenFor } from './helpers/app.js';
import { GROUPS, useFixtureApp, USERS } from './helpers/fixture.js';
import { sessionStore } from '../src/web/session.js';

const f = useFixtureApp();

const { q } = f;
const sidsOf = async (userId: number) =>
  (await q(`select sid from session where (sess->>'userId')::int = $1`, [userId])).map((r) => r.sid as string);

/** The SQL texts the app sends while `fn` runs. */
async function queriesDuring(fn: () => Promise<unknown>) {
  const pool = f.t.services.database.pool;
  const texts: string[] = [];
  const original = pool.query.bind(pool);
  pool.query = ((config: unknown, ...rest: unknown[]) => {
    texts.push(typeof config === 'string' ? config : (config as { text: string }).text);
    return (original as (...a: unknown[]) => unknown)(config, ...rest);
  }) as typeof pool.query;
  try {
    await fn();
  } finally {
    pool.query = original;
  }
  return texts;
}

describe('the session store', () => {
  it('a user read without the session (the fallback when the store brought none) has their own groups and revisions', async () => {
    // Group ids and user ids differ here (memberB is user 5, in group 2): a subquery that took the group's id
    // for the user's gave everyone read this way the memberships of the user whose id is their group's.
    await q(`insert into notifications (user_id, kind, dedupe_key) values ($1, 'test', 'session-test')`, [USERS.memberB.id]);
    const [unread] = await q(`select count(*)::int as n from notifications where user_id = $1 and read_at is null`, [USERS.memberB.id]);
    const found = await f.t.services.users.findActiveActor(USERS.memberB.id);
    expect(found?.actor.memberships.map((m) => [m.groupId, m.role])).toEqual([[GROUPS.B.id, 'member']]);
    const manager = await f.t.services.users.findActiveActor(USERS.managerA.id);
    expect(manager?.actor.memberships.map((m) => [m.groupId, m.role])).toEqual([[GROUPS.A.id, 'manager']]);
    const [byGroup] = await q(`select string_agg(group_id || ':' || revision, ',' order by group_id) as r from group_revisions where group_id = $1`, [GROUPS.B.id]);
    expect(found?.actor.groupRevisions).toBe(byGroup.r ?? '');
    expect(found?.unreadCount).toBe(unread.n);
  });

  it('reads the session and its signed-in user in one query (no second query for the user)', async () => {
    const agent = request.agent(f.t.app);
    expect((await login(agent, USERS.memberA.email)).status).toBe(303);
    let status = 0;
    const texts = await queriesDuring(async () => void (status = (await agent.get('/profile')).status));
    expect(status).toBe(200);
    expect(texts.filter((s) => /from "session"/.test(s))).toHaveLength(1);
    expect(texts.filter((s) => /from "users" where "users"\."id" = \$1/.test(s))).toHaveLength(0);
  });

  it('a request still running when its user logged out cannot bring the session back', async () => {
    const agent = request.agent(f.t.app);
    expect((await login(agent, USERS.managerA.email)).status).toBe(303);
    const [sid] = await sidsOf(USERS.managerA.id);
    expect(sid).toBeDefined();

    // Another process (a second store) has read the session when the user logs out in this one...
    const store = sessionStore(f.t.services.database);
    const data = await new Promise<session.SessionData>((resolve, reject) => store.get(sid!, (err, s) => (err ? reject(err) : resolve(s!))));
    const inFlight = store.createSession({ sessionID: sid } as unknown as Request, data);
    expect((await logout(agent)).status).toBe(303);
    expect(await sidsOf(USERS.managerA.id)).toEqual([]);

    // ...and saves it afterwards (its idle deadline moved on): the row stays gone and so does the sign-in.
    inFlight.seenAt = Date.now();
    await new Promise<void>((resolve, reject) => store.set(sid!, inFlight, (err) => (err ? reject(err) : resolve())));
    expect(await sidsOf(USERS.managerA.id)).toEqual([]);
    const again = await agent.get('/profile');
    expect(again.status).toBe(303);
    expect(again.headers.location).toMatch(/\/login/);
  });

  it('a form that redirects moves the stored idle deadline forward with the cookie (no early sign-out)', async () => {
    const agent = request.agent(f.t.app);
    expect((await login(agent, USERS.memberB.email)).status).toBe(303);
    const [sid] = await sidsOf(USERS.memberB.id);
    const _csrf = await tokenFor(agent, '/profile');
    // As if the last save was long ago: five minutes left, and the keep-alive's minute has passed.
    await q(
      `update session set expire = now() + interval '5 minutes',
         sess = jsonb_set(jsonb_set(sess::jsonb, '{seenAt}', '0'), '{cookie,expires}', to_jsonb(now() + interval '5 minutes'))::json where sid = $1`,
      [sid],
    );
    expect((await agent.post('/language').type('form').send({ _csrf, locale: 'ru', back: '/profile' })).status).toBe(303);
    const [{ minutes }] = await q(`select extract(epoch from expire - now()) / 60 as minutes from session where sid = $1`, [sid]);
    expect(Number(minutes)).toBeGreaterThan(f.t.services.env.SESSION_IDLE_MINUTES - 2);
  });
});
