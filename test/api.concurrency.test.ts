import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { createTestApp, resetDatabase, type TestApp } from './helpers/app.js';
import { RECORDS, restoreFixture } from './helpers/fixture.js';
import { bearer, tokenOf } from './helpers/api.js';

/**
 * Lost updates under real concurrency: two PATCHes with the same If-Match ETag, both read before either
 * writes. The If-Match check must run under the row lock of the update's transaction, so exactly one wins.
 * The test holds the row lock itself until both requests wait for it, so the race happens every time.
 */

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
  await resetDatabase(t.services);
});
afterAll(async () => { await t.close(); });
beforeEach(async () => {
  await restoreFixture(t.services);
  await t.services.database.pool.query('truncate api_tokens, idempotency_keys restart identity cascade');
});

/** Runs `race` while the row is locked, and lets go once `waiters` sessions are waiting for a lock. */
async function withRowLocked<T>(table: 'leads' | 'clients', id: number, waiters: number, race: () => Promise<T>): Promise<T> {
  const conn = await t.services.database.pool.connect();
  try {
    await conn.query('begin');
    await conn.query(`select 1 from ${table} where id = $1 for update`, [id]);
    const running = race();
    let waiting = 0;
    for (let i = 0; i < 200 && waiting < waiters; i++) {
      // Inside a transaction the activity view is a snapshot taken once: drop it to see the waiters come.
      await conn.query('select pg_stat_clear_snapshot()');
      const { rows } = await conn.query(`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`);
      waiting = rows[0].n;
      if (waiting < waiters) await new Promise((r) => setTimeout(r, 25));
    }
    // Both requests must have been held at the lock, or the race this test is about did not happen.
    expect(waiting).toBe(waiters);
    await conn.query('commit');
    return await running;
  } finally {
    conn.release();
  }
}

describe.skipIf(inject('embedded'))('If-Match under concurrency (needs a PostgreSQL server: the embedded one has one connection)', () => {
  for (const [kind, field, table] of [['leads', 'company', 'leads'], ['clients', 'company', 'clients']] as const) {
    it(`two PATCHes of a ${kind.slice(0, -1)} with the same ETag: one 200, one 409, and the winner's value is stored`, async () => {
      const id = RECORDS[kind === 'leads' ? 'lead' : 'client'].A;
      const url = `/api/v1/${kind}/${id}`;
      const alice = bearer(t.app, await tokenOf(t.services, 'memberA'));
      const bob = bearer(t.app, await tokenOf(t.services, 'managerA'));
      const etag = (await alice.get(url)).headers.etag!;

      const [a, b] = await withRowLocked(table, id, 2, () =>
        Promise.all([alice.patch(url, { [field]: 'From Alice' }, { 'If-Match': etag }), bob.patch(url, { [field]: 'From Bob' }, { 'If-Match': etag })]),
      );
      expect([a.status, b.status].sort()).toEqual([200, 409]);
      const loser = a.status === 409 ? a : b;
      expect(loser.headers['content-type']).toContain('application/problem+json');
      const winner = a.status === 200 ? 'From Alice' : 'From Bob';
      expect((await alice.get(url)).body[field]).toBe(winner);
      // The winner's change is in the history once; the loser left nothing.
      const { rows } = await t.services.database.pool.query(`select count(*)::int as n from activities where ${kind === 'leads' ? 'lead_id' : 'client_id'} = $1 and action = 'updated'`, [id]);
      expect(rows[0].n).toBe(1);
    });
  }

  it('without If-Match, two PATCHes of different fields both land: each merges over the row it locked', async () => {
    const url = `/api/v1/leads/${RECORDS.lead.A}`;
    const alice = bearer(t.app, await tokenOf(t.services, 'memberA'));
    const bob = bearer(t.app, await tokenOf(t.services, 'managerA'));
    const [a, b] = await withRowLocked('leads', RECORDS.lead.A, 2, () =>
      Promise.all([alice.patch(url, { company: 'Merged Co' }), bob.patch(url, { phone: '+7 900 000-00-00' })]),
    );
    expect([a.status, b.status]).toEqual([200, 200]);
    expect((await alice.get(url)).body).toMatchObject({ company: 'Merged Co', phone: '+7 900 000-00-00' });
  });
});
