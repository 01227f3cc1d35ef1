import { afterAll, beforeAll, beforeEach, describe, expect, inject, it, vi } from 'vitest';
import { createTestApp, resetDatabase, tokenFor, type Agent, type TestApp } from './helpers/app.js';
import { GROUPS, USERS, loginActors, restoreFixture, type ActorName } from './helpers/fixture.js';
import { dashboardRepository } from '../src/modules/dashboard/dashboard.repository.js';
import type { Actor } from '../src/modules/access/policy.js';

let t: TestApp;
let agents: Record<ActorName, Agent>;
beforeAll(async () => {
  t = await createTestApp();
  await resetDatabase(t.services);
  await restoreFixture(t.services);
  agents = await loginActors(t.app);
});
afterAll(async () => { await t.close(); });

const q = async (sql: string, values: unknown[] = []) => (await t.services.database.pool.query(sql, values)).rows;
const DAY = 86_400_000;

/** A known fixture: leads of groups A and B with set statuses, values, owners and ages (in days). */
beforeEach(async () => {
  await restoreFixture(t.services);
  await q('truncate leads, clients, comments, files, activities, job_outbox restart identity cascade');
  const rows: [number, string, string | null, number, number | null, number][] = [
    // group, status, value, age days, owner, days since last activity (never more than the age, as in the app)
    [GROUPS.A.id, 'new', '100', 0, USERS.memberA.id, 0],
    [GROUPS.A.id, 'new', '200', 3, USERS.memberA.id, 0],
    [GROUPS.A.id, 'contacted', '300', 25, USERS.managerA.id, 20],
    [GROUPS.A.id, 'qualified', null, 40, null, 30],
    [GROUPS.A.id, 'lost', '50', 20, USERS.memberA.id, 20],
    [GROUPS.A.id, 'converted', '1000', 5, USERS.managerA.id, 1],
    [GROUPS.A.id, 'converted', '500', 60, USERS.memberA.id, 50],
    [GROUPS.B.id, 'new', '999', 1, USERS.memberB.id, 0],
    [GROUPS.B.id, 'contacted', '999', 100, USERS.memberB.id, 90],
  ];
  for (const [g, status, value, age, owner, idle] of rows) {
    await q(
      `insert into leads (group_id, last_name, status, value, owner_id, created_by_id, created_at, updated_at, last_activity_at)
       values ($1, $2, $3, $4, $5, $5, now() - make_interval(days => $6), now() - make_interval(days => $6), now() - make_interval(days => $7))`,
      [g, `L${status}${age}`, status, value, owner, age, idle],
    );
  }
  await q(`insert into clients (group_id, name, created_at) values ($1, 'C1', now()), ($1, 'C2', now() - interval '70 days'), ($2, 'CB', now())`, [GROUPS.A.id, GROUPS.B.id]);
});

/** The number on a card (data-testid) and the list total behind its link. */
async function card(actor: ActorName, testid: string, query = '') {
  const page = await agents[actor].get(`/dashboard${query}`);
  expect(page.status).toBe(200);
  const m = new RegExp(`<a href="([^"]+)"[^>]*data-testid="${testid}">[\\s\\S]*?data-figure>([^<]+)<`).exec(page.text);
  if (!m) throw new Error(`card ${testid} not found`);
  return { figure: m[2]!.trim(), href: m[1]!.replace(/&amp;/g, '&') };
}
async function listTotal(actor: ActorName, href: string) {
  const res = await agents[actor].get(href);
  const m = /data-testid="total">(\d[\d,\s\u00a0\u202f]*) (lead|client)/.exec(res.text);
  return m ? Number(m[1]!.replace(/[^\d]/g, '')) : 0;
}

/** leadCells spied on, its first call hanging until `fail` (a count that fails while other views share it). */
function hangingFirstCount() {
  const real = dashboardRepository.leadCells;
  const spy = vi.spyOn(dashboardRepository, 'leadCells');
  let started!: () => void;
  let reject!: (e: Error) => void;
  const firstCalled = new Promise<void>((resolve) => (started = resolve));
  spy.mockImplementationOnce(() => {
    started();
    return new Promise((_, no) => (reject = no));
  });
  return { real, spy, firstCalled, fail: (e: Error) => reject(e) };
}

describe('dashboard', () => {
  it('shows the figures of a known fixture', async () => {
    expect((await card('memberA', 'open-leads')).figure).toBe('4');
    expect((await card('memberA', 'clients')).figure).toBe('2');
    expect((await card('memberA', 'stale')).figure).toBe('2');
    // Of the leads created in the last 30 days (5), one is converted.
    expect((await card('memberA', 'conversion-30')).figure).toBe('20 %');
    const page = await agents.memberA.get('/dashboard');
    expect(page.text).toMatch(/data-status="new">2</);
    expect(page.text).toMatch(/data-status="converted">2</);
    expect(page.text).toContain('Lnew0');
    // The stale panel names the day its boundary starts: 14 days before today (UTC).
    const since = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeZone: 'UTC' }).format(new Date(Math.floor(Date.now() / DAY) * DAY - 14 * DAY));
    expect(page.text).toContain(`No activity since ${since}`);
  });

  it('every card equals the count of the list page its link opens (same filters)', async () => {
    for (const actor of ['memberA', 'managerA', 'memberB', 'admin'] as const) {
      for (const id of ['open-leads', 'new-week', 'new-month', 'clients', 'stale']) {
        const c = await card(actor, id);
        expect(await listTotal(actor, c.href), `${actor} ${id} ${c.href}`).toBe(Number(c.figure.replace(/[^\d]/g, '')));
      }
      const conv = await card(actor, 'conversion-30');
      const page = await agents[actor].get('/dashboard');
      const of = /(\d+) of (\d+) leads created/.exec(page.text)!;
      expect(await listTotal(actor, conv.href)).toBe(Number(of[1]));
    }
  });

  it('the stale figure and the list it links to take the same boundary, and move together when the day turns', async () => {
    // The app's clock moved by hand: back to the last half minute of yesterday (UTC), then past midnight (an hour's
    // jump ahead would end the sessions). The activity 16 days old written below is stale by both days' boundaries:
    // it is the day turning, not the 60 s reuse, that makes the kept figures be counted again.
    const today = Math.floor(Date.now() / DAY) * DAY;
    vi.useFakeTimers({ toFake: ['Date'], now: today - 30_000 });
    try {
      const stale = await card('memberA', 'stale');
      expect(stale.figure).toBe('2');
      expect(await listTotal('memberA', stale.href)).toBe(2);
      // Made stale behind the memos' backs (revision triggers off): neither the figure nor the list sees it yet.
      await q(`begin; set local session_replication_role = replica;
        update leads set last_activity_at = now() - interval '16 days', created_at = now() - interval '20 days' where last_name = 'Lnew3'; commit`);
      expect((await card('memberA', 'stale')).figure).toBe('2');
      expect(await listTotal('memberA', stale.href)).toBe(2);
      vi.setSystemTime(today + 5_000);
      expect((await card('memberA', 'stale')).figure).toBe('3');
      expect(await listTotal('memberA', stale.href)).toBe(3);
      expect(/data-testid="stale-list">[\s\S]*?<\/ul>/.exec((await agents.memberA.get('/dashboard')).text)?.[0]).toContain('Lnew3');
    } finally {
      vi.useRealTimers();
    }
  });

  it('the funnel (count and value per status) and the owner table add up as SQL counts them, cents exact', async () => {
    // Values whose sum is not exact in floating point (0.1 + 0.2), over owners and statuses.
    for (const [status, value, owner] of [['new', '0.10', USERS.memberA.id], ['new', '0.20', USERS.managerA.id], ['lost', '12345678.99', null], ['new', '0.01', null]] as const) {
      await q(`insert into leads (group_id, last_name, status, value, owner_id) values ($1, 'F', $2, $3, $4)`, [GROUPS.A.id, status, value, owner]);
    }
    const res = await agents.managerA.get(`/api/v1/dashboard?group=${GROUPS.A.id}`);
    expect(res.status).toBe(200);
    const scope = `group_id = ${GROUPS.A.id} and deleted_at is null`;
    const byStatus = await q(`select status::text, count(*)::int as count, coalesce(sum(value), 0)::text as value from leads where ${scope} group by 1`);
    for (const f of res.body.funnel as { status: string; count: number; value: number }[]) {
      const row = byStatus.find((r) => r.status === f.status);
      expect([f.count, f.value.toFixed(2)], f.status).toEqual([row?.count ?? 0, Number(row?.value ?? 0).toFixed(2)]);
      if (row) expect(String(f.value)).toBe(String(Number(row.value)));
    }
    const byOwner = await q(`select owner_id as "ownerId", count(*) filter (where status in ('new', 'contacted', 'qualified'))::int as open,
      count(*) filter (where status = 'converted')::int as converted, count(*) filter (where status = 'lost')::int as lost from leads where ${scope} group by 1`);
    const owners = res.body.owners as { ownerId: number | null; open: number; converted: number; lost: number }[];
    expect(owners.map(({ ownerId, open, converted, lost }) => ({ ownerId, open, converted, lost })).sort((a, b) => (a.ownerId ?? 0) - (b.ownerId ?? 0)))
      .toEqual(byOwner.sort((a, b) => (a.ownerId ?? 0) - (b.ownerId ?? 0)));
  });

  it("the chart's twelve weeks count the leads and clients created in each, as SQL counts them", async () => {
    // Spread over the chart: one lead and one client a few days apart, back 100 days; and at its edges: one
    // created in the future, one in the trash, one at the very start of a week (which is that week's).
    for (let d = 1; d <= 100; d += 9) {
      await q(`insert into leads (group_id, last_name, status, created_at) values ($1, 'W', 'new', now() - make_interval(days => $2))`, [GROUPS.A.id, d]);
      await q(`insert into clients (group_id, name, created_at) values ($1, 'W', now() - make_interval(days => $2))`, [GROUPS.A.id, d + 2]);
    }
    await q(`insert into leads (group_id, last_name, status, created_at) values ($1, 'Future', 'new', now() + interval '8 days')`, [GROUPS.A.id]);
    await q(`insert into leads (group_id, last_name, status, created_at, deleted_at) values ($1, 'Trashed', 'new', now() - interval '2 days', now())`, [GROUPS.A.id]);
    await q(`insert into leads (group_id, last_name, status, created_at)
      values ($1, 'Monday', 'new', date_trunc('week', now() at time zone 'UTC') at time zone 'UTC' - interval '7 days')`, [GROUPS.A.id]);
    const res = await agents.memberA.get('/api/v1/dashboard');
    expect(res.status).toBe(200);
    const weeks = res.body.weeks as { start: string; leads: number; clients: number }[];
    expect(weeks).toHaveLength(12);
    const counted = async (table: string, start: string) => Number((await q(
      `select count(*) from ${table} where group_id = $1 and deleted_at is null
         and created_at >= $2::date::timestamp at time zone 'UTC' and created_at < ($2::date + 7)::timestamp at time zone 'UTC'`, [GROUPS.A.id, start]))[0].count);
    for (const w of weeks) expect([w.leads, w.clients], w.start).toEqual([await counted('leads', w.start), await counted('clients', w.start)]);
    expect(weeks.reduce((n, w) => n + w.leads, 0)).toBeGreaterThan(8);
  });

  it("a member never sees another group's numbers; a group they are not in is 404", async () => {
    expect((await card('memberB', 'open-leads')).figure).toBe('2');
    expect((await card('memberB', 'clients')).figure).toBe('1');
    const page = await agents.memberB.get('/dashboard');
    expect(page.text).not.toContain('Lnew0');
    expect((await agents.memberB.get(`/dashboard?group=${GROUPS.A.id}`)).status).toBe(404);
  });

  it("admin's all groups adds up the groups", async () => {
    for (const id of ['open-leads', 'clients', 'stale']) {
      const all = Number((await card('admin', id)).figure);
      const a = Number((await card('admin', id, `?group=${GROUPS.A.id}`)).figure);
      const b = Number((await card('admin', id, `?group=${GROUPS.B.id}`)).figure);
      expect(all).toBe(a + b);
    }
  });

  it('lists what is assigned to me and the latest activity, linked', async () => {
    const page = await agents.memberA.get('/dashboard');
    const assigned = /data-testid="assigned">([\s\S]*?)<\/ul>/.exec(page.text)![1]!;
    expect(assigned).toContain('Lnew0');
    expect(assigned).not.toContain('Lcontacted10');
    await t.services.leads.setStatus({ id: USERS.memberA.id, isAdmin: false, memberships: [{ groupId: GROUPS.A.id, groupName: 'A', role: 'member', visibility: 'all' }] },
      (await q("select id from leads where last_name = 'Lnew0'"))[0].id, 'contacted');
    const again = await agents.memberA.get('/dashboard');
    expect(/data-testid="recent">[\s\S]*?href="\/leads\/\d+">Lnew0<\/a> — status changed/.test(again.text)).toBe(true);
    expect((await agents.memberB.get('/dashboard')).text).not.toContain('Lnew0');
  });

  it('figures are reused between views but follow any change at once, whichever way it is written', async () => {
    const open = async (actor: ActorName = 'memberA', query = '') => Number((await card(actor, 'open-leads', query)).figure);
    expect(await open()).toBe(4);
    expect(await open('admin')).toBe(6);
    // Written behind the app's back (a script, another process): the group's revision still moves.
    await q(`insert into leads (group_id, last_name, status) values ($1, 'Raw', 'new')`, [GROUPS.A.id]);
    expect(await open()).toBe(5);
    await q(`update leads set status = 'lost' where last_name = 'Raw'`);
    expect(await open()).toBe(4);
    // Moved to another group: both groups' figures change, also in the admin's "all groups" and per group.
    await q(`update leads set group_id = $1 where last_name = 'Lnew0'`, [GROUPS.B.id]);
    expect(await open()).toBe(3);
    expect(await open('admin', `?group=${GROUPS.B.id}`)).toBe(3);
    expect(await open('admin')).toBe(6);
    await q(`delete from leads where last_name = 'Lnew0'`);
    expect(await open('admin')).toBe(5);
    // Through the app: a lead moved to the trash stops counting.
    const [lead] = await q(`select id from leads where last_name = 'Lnew3'`);
    const _csrf = await tokenFor(agents.managerA, '/profile');
    expect((await agents.managerA.post(`/leads/${lead.id}/delete`).type('form').send({ _csrf })).status).toBe(303);
    expect(await open()).toBe(2);
  });

  // Holds a connection open while the app answers: needs a PostgreSQL server (the embedded one has one connection).
  it.skipIf(inject('embedded'))('a view with nothing changed reuses the figures; changes in two groups committed out of order are both seen', async () => {
    const spy = vi.spyOn(dashboardRepository, 'leadCells');
    try {
      const open = async () => Number((await card('admin', 'open-leads')).figure);
      expect(await open()).toBe(6);
      spy.mockClear();
      expect(await open()).toBe(6);
      expect(spy).not.toHaveBeenCalled();
      // Group A's change takes its revision first but commits last; group B's commits in between.
      const a = await t.services.database.pool.connect();
      try {
        await a.query('begin');
        await a.query(`update leads set status = 'lost' where last_name = 'Lnew0'`);
        await q(`update leads set value = 1 where group_id = $1`, [GROUPS.B.id]);
        expect(await open()).toBe(6);
        await a.query('commit');
      } finally {
        a.release();
      }
      expect(await open()).toBe(5);
      // Each change recounted its own group alone.
      expect(spy.mock.calls.map((c) => c[2])).toEqual([[GROUPS.B.id], [GROUPS.A.id]]);
    } finally {
      spy.mockRestore();
    }
  });

  it('a change in one group recounts that group alone, for every dashboard that shows it; the figures stay exact', async () => {
    const spy = vi.spyOn(dashboardRepository, 'leadCells');
    const open = async (actor: ActorName, query = '') => Number((await card(actor, 'open-leads', query)).figure);
    try {
      expect(await open('admin')).toBe(6);
      // The manager sees the whole group A, as the admin does: the group's figures the admin's view counted serve.
      spy.mockClear();
      expect(await open('managerA')).toBe(4);
      expect(await open('admin', `?group=${GROUPS.A.id}`)).toBe(4);
      expect(spy).not.toHaveBeenCalled();
      await q(`insert into leads (group_id, last_name, status, value) values ($1, 'Late', 'qualified', 7)`, [GROUPS.B.id]);
      expect(await open('admin')).toBe(7);
      expect(await open('memberB')).toBe(3);
      expect(spy.mock.calls.map((c) => c[2])).toEqual([[GROUPS.B.id]]);
      // The sums still equal the SQL's over both groups: the kept group A and the recounted group B.
      const page = await agents.admin.get('/api/v1/dashboard');
      const [sums] = await q(`select count(*)::int as n, sum(value)::text as value from leads where deleted_at is null and status = 'qualified'`);
      const qualified = (page.body.funnel as { status: string; count: number; value: number }[]).find((f) => f.status === 'qualified')!;
      expect([qualified.count, qualified.value]).toEqual([sums.n, Number(sums.value)]);
    } finally {
      spy.mockRestore();
    }
  });

  it('two members of an "own records" group each count their own leads, whoever counted first', async () => {
    await q(`update groups set visibility = 'own' where id = $1`, [GROUPS.A.id]);
    await q(`insert into leads (group_id, last_name, status, owner_id, created_by_id) values ($1, 'Subj', 'new', $2, $2)`, [GROUPS.A.id, USERS.subjectA.id]);
    const own = (id: number): Actor => ({ id, isAdmin: false, memberships: [{ groupId: GROUPS.A.id, groupName: GROUPS.A.name, role: 'member', visibility: 'own' }] });
    const open = async (actor: Actor) => (await t.services.dashboard.get(actor, undefined)).cards.open.n;
    expect(await open(own(USERS.memberA.id))).toBe(2);
    expect(await open(own(USERS.subjectA.id))).toBe(1);
    expect(await open(own(USERS.memberA.id))).toBe(2);
  });

  // Two views counting at once: needs a PostgreSQL server (the embedded one has one connection).
  it.skipIf(inject('embedded'))('a count that fails fails its own view only: another view sharing it counts that group itself', async () => {
    // The manager's count of group A hangs until the admin's view, which shares it, starts its own count (group B).
    const { real, spy, firstCalled, fail } = hangingFirstCount();
    spy.mockImplementationOnce((...args) => {
      fail(new Error('boom in group A'));
      return real(...args);
    });
    try {
      const first = agents.managerA.get(`/dashboard?group=${GROUPS.A.id}`).then((r) => r);
      await firstCalled;
      expect((await card('admin', 'open-leads')).figure).toBe('6');
      expect((await first).status).toBe(500);
      expect((await card('managerA', 'open-leads')).figure).toBe('4');
    } finally {
      spy.mockRestore();
    }
  });

  // Several views counting at once: needs a PostgreSQL server (the embedded one has one connection).
  it.skipIf(inject('embedded'))('a view that counts a group again after a shared count failed takes a count another view started meanwhile', async () => {
    const admin: Actor = { id: USERS.admin.id, isAdmin: true, memberships: [] };
    const manager: Actor = { id: USERS.managerA.id, isAdmin: false, memberships: [{ groupId: GROUPS.A.id, groupName: GROUPS.A.name, role: 'manager', visibility: 'all' }] };
    // 1: the manager's count of group A hangs. 2: the admin's view of all groups counts B, failing the first, and
    // takes 300 ms. 3: the admin's view of group A, which shared the first, counts A again. A fourth count (the
    // view of all groups counting A once more, beside the third) would fail, with nothing waiting for it.
    const { real, spy, firstCalled, fail } = hangingFirstCount();
    spy.mockImplementationOnce(async (...args) => {
      fail(new Error('boom in group A'));
      await new Promise((r) => setTimeout(r, 300));
      return real(...args);
    }).mockImplementationOnce((...args) => real(...args))
      .mockImplementationOnce(() => Promise.reject(new Error('a count nothing waits for')));
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const open = (actor: Actor, group?: number) => t.services.dashboard.get(actor, group).then((d) => d.cards.open.n);
      const first = open(manager, GROUPS.A.id).catch((e: Error) => e.message);
      await firstCalled;
      const adminA = open(admin, GROUPS.A.id);
      await new Promise((r) => setTimeout(r, 100));
      const adminAll = open(admin);
      expect(await Promise.all([first, adminA, adminAll])).toEqual(['boom in group A', 4, 6]);
      await new Promise((r) => setTimeout(r, 100));
      expect(spy).toHaveBeenCalledTimes(3);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      spy.mockRestore();
    }
  });

  it('"own records" visibility: the member\'s figures of the group are their own, not the group\'s kept ones', async () => {
    expect(Number((await card('admin', 'open-leads', `?group=${GROUPS.A.id}`)).figure)).toBe(4);
    await q(`update groups set visibility = 'own' where id = $1`, [GROUPS.A.id]);
    // memberA owns (and created) the two new leads of group A; the manager still sees the whole group.
    expect((await card('memberA', 'open-leads')).figure).toBe('2');
    expect((await card('managerA', 'open-leads')).figure).toBe('4');
  });
});

describe('lead board', () => {
  it('shows a column per status with counts equal to the list, and a page of cards at most', async () => {
    for (let i = 0; i < 25; i++) await q(`insert into leads (group_id, last_name, status) values ($1, $2, 'new')`, [GROUPS.A.id, `Bulk${i}`]);
    const page = await agents.memberA.get('/leads/board');
    expect(page.status).toBe(200);
    expect(page.text).toMatch(/data-testid="count-new">27</);
    expect(await listTotal('memberA', '/leads?status=new')).toBe(27);
    const newColumn = /id="cards-new"[\s\S]*?<\/ul>/.exec(page.text)![0];
    expect(newColumn.match(/data-testid="card"/g)).toHaveLength(20);
    const more = await agents.memberA.get('/leads/board/column?status=new&offset=20').set('HX-Request', 'true');
    expect(more.text.match(/data-testid="card"/g)).toHaveLength(7);
    expect(more.text).not.toContain('Load more');
    expect((await agents.memberA.get('/leads/board/column?status=weird')).status).toBe(400);
  });

  it('a column past 10,000 leads says "10,000+", as the list does; its cards are the most recently active', async () => {
    await q(`insert into leads (group_id, last_name, status, created_by_id, last_activity_at)
             select $1, 'Mass' || i, 'contacted', $2, now() - make_interval(mins => i) from generate_series(1, 10050) i`, [GROUPS.A.id, USERS.memberA.id]);
    const page = await agents.memberA.get('/leads/board');
    expect(page.text).toMatch(/data-count="10000" data-capped data-testid="count-contacted">10,000\+</);
    expect((await agents.memberA.get('/leads?status=contacted')).text).toContain('10,000+ leads');
    expect(page.text).toMatch(/data-testid="count-new">2</);
    const column = /id="cards-contacted"[\s\S]*?<\/ul>/.exec(page.text)![0];
    const shown = [...column.matchAll(/href="\/leads\/\d+"[^>]*>([^<]+)</g)].map((m) => m[1]!.trim()).filter((n) => n.startsWith('Mass'));
    expect(shown.slice(0, 3)).toEqual(['Mass1', 'Mass2', 'Mass3']);
  });

  it('a move goes through the same policy and lands in the activity log', async () => {
    const [lead] = await q("select id from leads where last_name = 'Lnew0'");
    const token = await tokenFor(agents.memberA, '/leads/board');
    const res = await agents.memberA.post(`/leads/${lead.id}/status`).set('HX-Request', 'true').set('x-csrf-token', token).type('form').send({ status: 'qualified' });
    expect(res.status).toBe(204);
    expect((await q('select status from leads where id = $1', [lead.id]))[0].status).toBe('qualified');
    const [a] = await q("select data, actor_id from activities where lead_id = $1 and action = 'status_changed'", [lead.id]);
    expect(a).toEqual({ data: { changes: { status: ['new', 'qualified'] } }, actor_id: USERS.memberA.id });
    const tokenB = await tokenFor(agents.memberB, '/leads/board');
    expect((await agents.memberB.post(`/leads/${lead.id}/status`).set('HX-Request', 'true').set('x-csrf-token', tokenB).type('form').send({ status: 'lost' })).status).toBe(404);
    expect((await agents.memberA.post(`/leads/${lead.id}/status`).set('x-csrf-token', token).type('form').send({ status: 'converted' })).status).toBe(422);
    // The keyboard path: the card's form posts and comes back to the board.
    const back = await agents.memberA.post(`/leads/${lead.id}/status`).type('form').send({ _csrf: token, status: 'contacted', next: '/leads/board' });
    expect(back.headers.location).toBe('/leads/board');
  });
});
