import { beforeEach, describe, expect, it, vi } from 'vitest';
import { GROUPS, USERS, useFixtureSuite, type ActorName } from './helpers/fixture.js';
import type { Actor } from '../src/modules/access/policy.js';
import { leadListQuery } from '../src/modules/leads/leads.schemas.js';

const f = useFixtureSuite();
const { q, post } = f;
const leadForm = (over: Record<string, unknown> = {}) => ({ groupId: GROUPS.A.id, lastName: 'Иванов', firstName: 'Пётр', email: '', phone: '', company: '', source: '', status: 'new', value: '', description: '', ...over });
async function createLead(actor: ActorName, over: Record<string, unknown> = {}) {
  const res = await post(actor, '/leads', leadForm(over));
  expect(res.status, res.text.slice(0, 300)).toBe(303);
  return Number(res.headers.location!.split('/').pop());
}
/** Names in the order the list shows them. */
async function listNames(actor: ActorName, query: string) {
  const res = await f.agents[actor].get(`/leads?${query}`);
  expect(res.status).toBe(200);
  return [...res.text.matchAll(/href="\/leads\/\d+">([^<]+)</g)].map((m) => m[1]!.trim());
}

describe('creating and editing leads', () => {
  it('a member creates a lead in their group; they own it by default and the creation is in the timeline', async () => {
    const id = await createLead('memberA', { email: 'Petr@Romashka.ru', phone: '+7 (495) 123-45-67', value: '12 500,50', source: 'referral' });
    const [lead] = await q('select owner_id, created_by_id, email, value from leads where id = $1', [id]);
    expect(lead).toEqual({ owner_id: USERS.memberA.id, created_by_id: USERS.memberA.id, email: 'petr@romashka.ru', value: '12500.50' });
    const page = await f.agents.memberA.get(`/leads/${id}`);
    expect(page.text).toContain('Иванов Пётр');
    expect(page.text).toMatch(/Created/);
  });

  it.each([
    ['a bad email', { email: 'not-an-email' }, 'e-email', 'Enter a valid email address.'],
    ['a bad phone', { phone: 'call me' }, 'e-phone', 'Enter a phone number'],
    ['a negative value', { value: '-5' }, 'e-value', 'The value cannot be negative.'],
    ['an owner outside the group', { ownerId: USERS.memberB.id }, 'e-ownerId', 'The owner must be a member'],
    ['no last name', { lastName: '' }, 'e-lastName', 'This field is required.'],
  ])('%s → 422 beside the field, values kept, nothing written', async (_what, over, field, message) => {
    const res = await post('memberA', '/leads', leadForm({ company: 'Typed Company', source: 'event', ...over }));
    expect(res.status).toBe(422);
    expect(res.text).toContain(`id="${field}"`);
    expect(res.text).toContain(message);
    expect(res.text).toContain('value="Typed Company"');
    expect(res.text).toContain('<option value="event" selected>');
    expect(await q('select 1 from leads')).toHaveLength(0);
  });

  it('an edit records each changed field with its old and new value', async () => {
    const id = await createLead('memberA', { value: '100' });
    const res = await post('memberA', `/leads/${id}`, leadForm({ status: 'contacted', value: '250', company: 'ООО Ромашка', ownerId: USERS.memberA.id }));
    expect(res.status).toBe(303);
    // The status is an entry of its own (the pipeline's moves are found by action); the rest one 'updated'.
    const [activity] = await q("select data from activities where lead_id = $1 and action = 'updated'", [id]);
    expect(activity.data.changes).toEqual({ value: ['100.00', '250.00'], company: [null, 'ООО Ромашка'] });
    const [status] = await q("select data from activities where lead_id = $1 and action = 'status_changed'", [id]);
    expect(status.data.changes).toEqual({ status: ['new', 'contacted'] });
    const page = await f.agents.memberA.get(`/leads/${id}`);
    expect(page.text).toContain('New → Contacted');
  });

  it('mass assignment of groupId cannot move a lead into a group the actor is not in', async () => {
    const id = await createLead('managerA');
    const res = await post('managerA', `/leads/${id}`, leadForm({ groupId: GROUPS.B.id, ownerId: '' }));
    expect(res.status).toBe(422);
    expect(res.text).toContain('Choose one of your groups.');
    expect((await q('select group_id from leads where id = $1', [id]))[0].group_id).toBe(GROUPS.A.id);
    // Unknown fields in the body are ignored, never written.
    await post('memberA', `/leads/${id}`, leadForm({ createdById: USERS.memberB.id, deletedAt: '2020-01-01', clientId: 1 }));
    expect((await q('select created_by_id, deleted_at, client_id from leads where id = $1', [id]))[0]).toEqual({ created_by_id: USERS.managerA.id, deleted_at: null, client_id: null });
  });

  it('a member cannot reassign the owner; a manager can', async () => {
    const id = await createLead('memberA');
    const member = await post('memberA', `/leads/${id}`, leadForm({ ownerId: USERS.subjectA.id }));
    expect(member.status).toBe(422);
    expect(member.text).toContain('Only a manager can change the owner.');
    const manager = await post('managerA', `/leads/${id}`, leadForm({ ownerId: USERS.subjectA.id }));
    expect(manager.status).toBe(303);
    const [a] = await q("select data from activities where lead_id = $1 and action = 'updated'", [id]);
    expect(a.data.changes.ownerId).toEqual(['memberA', 'subjectA']);
  });
});

describe('access', () => {
  it("another group's lead is 404 everywhere, and never in the list", async () => {
    const id = await createLead('memberA', { lastName: 'Секретов' });
    for (const url of [`/leads/${id}`, `/leads/${id}/edit`, `/leads/${id}/convert`]) expect((await f.agents.memberB.get(url)).status).toBe(404);
    expect((await post('memberB', `/leads/${id}`, leadForm())).status).toBe(404);
    expect((await post('memberB', `/leads/${id}/comments`, { body: 'hi' })).status).toBe(404);
    expect((await post('memberB', `/leads/${id}/convert`)).status).toBe(404);
    expect(await listNames('memberB', '')).toEqual([]);
    expect(await listNames('admin', '')).toEqual(['Секретов Пётр']);
  });

  it('in an "own records" group, members see only what they own or created; managers see everything', async () => {
    await createLead('memberA', { lastName: 'Мой' });
    await createLead('managerA', { lastName: 'Чужой' });
    await q("update groups set visibility = 'own' where id = $1", [GROUPS.A.id]);
    expect(await listNames('memberA', 'sort=name&dir=asc')).toEqual(['Мой Пётр']);
    expect(await listNames('managerA', 'sort=name&dir=asc')).toEqual(['Мой Пётр', 'Чужой Пётр']);
    // Filtered to the group, the scope is the member's in that group alone (inGroup): the same rows.
    expect(await listNames('memberA', `group=${GROUPS.A.id}&sort=name&dir=asc`)).toEqual(['Мой Пётр']);
    expect(await listNames('memberB', `group=${GROUPS.A.id}`)).toEqual([]);
    await createLead('memberB', { groupId: GROUPS.B.id, lastName: 'Бэшный' });
    expect(await listNames('admin', `group=${GROUPS.A.id}&sort=name&dir=asc`)).toEqual(['Мой Пётр', 'Чужой Пётр']);
    expect(await listNames('admin', `group=${GROUPS.B.id}`)).toEqual(['Бэшный Пётр']);
    const [other] = await q("select id from leads where last_name = 'Чужой'");
    expect((await f.agents.memberA.get(`/leads/${other.id}`)).status).toBe(404);
  });

  it('members cannot delete; managers move leads to the trash, restore them, or delete them for good', async () => {
    const id = await createLead('memberA', { lastName: 'Удаляемый' });
    expect((await post('memberA', `/leads/${id}/delete`)).status).toBe(403);
    expect((await post('managerA', `/leads/${id}/delete`)).status).toBe(303);
    expect(await listNames('managerA', '')).toEqual([]);
    expect((await f.agents.managerA.get(`/leads/${id}`)).status).toBe(404);
    expect((await f.agents.managerA.get('/leads/trash')).text).toContain('Удаляемый');
    expect((await f.agents.memberA.get('/leads/trash')).status).toBe(403);
    expect((await post('managerA', `/leads/${id}/restore`)).status).toBe(303);
    expect(await listNames('managerA', '')).toEqual(['Удаляемый Пётр']);
    await post('managerA', `/leads/${id}/delete`);
    expect((await post('memberB', `/leads/${id}/purge`)).status).toBe(404);
    expect((await post('managerA', `/leads/${id}/purge`)).status).toBe(303);
    expect(await q('select 1 from leads where id = $1', [id])).toHaveLength(0);
  });
});

describe('owner choices', () => {
  it('namesakes are told apart by their email in the owner filter and the owner select; others by name alone', async () => {
    await q(`update users set name = 'Анна Смирнова' where id in (${USERS.memberA.id}, ${USERS.managerA.id})`);
    const [subject] = await q('select name from users where id = $1', [USERS.subjectA.id]);
    for (const path of ['/leads', '/leads/new', '/clients', '/clients/new']) {
      const page = await f.agents.managerA.get(path);
      expect(page.text, path).toContain(`<option value="${USERS.memberA.id}">Анна Смирнова (${USERS.memberA.email})</option>`);
      expect(page.text, path).toMatch(new RegExp(`<option value="${USERS.managerA.id}"( selected)?>Анна Смирнова \\(${USERS.managerA.email.replace(/\./g, '\\.')}\\)</option>`));
      expect(page.text, path).toContain(`<option value="${USERS.subjectA.id}">${subject.name}</option>`);
    }
    // The choices are cached until the directory changes: a new email is a change.
    await q("update users set email = 'anna.s@example.com' where id = $1", [USERS.memberA.id]);
    expect((await f.agents.managerA.get('/leads')).text).toContain(`<option value="${USERS.memberA.id}">Анна Смирнова (anna.s@example.com)</option>`);
  });
});

describe('the list', () => {
  beforeEach(async () => {
    await createLead('memberA', { lastName: 'Иванов', firstName: 'Иван', company: 'ООО Ромашка', value: '500', status: 'new', source: 'website' });
    await createLead('memberA', { lastName: 'Smith', firstName: 'Anna', email: 'anna@acme.io', value: '1500', status: 'contacted', source: 'referral' });
    await createLead('managerA', { lastName: 'Петрова', firstName: 'Ольга', phone: '+7 916 555-12-34', value: '', status: 'lost' });
    await createLead('managerA', { lastName: 'Brown', firstName: 'Bob', company: 'Ёлки-Палки', value: '50', status: 'qualified', ownerId: '' });
  });

  it('searches name, email, phone and company case-insensitively, in Cyrillic and Latin', async () => {
    expect(await listNames('memberA', 'q=ИВАН')).toEqual(['Иванов Иван']);
    expect(await listNames('memberA', 'q=ромаш')).toEqual(['Иванов Иван']);
    expect(await listNames('memberA', 'q=ACME')).toEqual(['Smith Anna']);
    expect(await listNames('memberA', 'q=555-12')).toEqual(['Петрова Ольга']);
    expect(await listNames('memberA', 'q=ёлки')).toEqual(['Brown Bob']);
    expect(await listNames('memberA', 'q=%25')).toEqual([]);
  });

  it('filters by status (several), owner (me, unassigned), source, value range and created dates', async () => {
    expect(await listNames('memberA', 'status=new&status=lost&sort=name&dir=asc')).toEqual(['Иванов Иван', 'Петрова Ольга']);
    expect(await listNames('memberA', 'owner=me&sort=name&dir=asc')).toEqual(['Smith Anna', 'Иванов Иван']);
    expect(await listNames('memberA', 'owner=none')).toEqual(['Brown Bob']);
    expect(await listNames('memberA', `owner=${USERS.managerA.id}`)).toEqual(['Петрова Ольга']);
    expect(await listNames('memberA', 'source=referral')).toEqual(['Smith Anna']);
    expect(await listNames('memberA', 'valueMin=100&valueMax=1 000&sort=value')).toEqual(['Иванов Иван']);
    await q("update leads set created_at = '2026-01-15T10:00:00Z' where last_name = 'Smith'");
    expect(await listNames('memberA', 'createdFrom=2026-01-01&createdTo=2026-01-31')).toEqual(['Smith Anna']);
  });

  it('sorts by an allow-listed column either way; anything else falls back to the default order', async () => {
    expect(await listNames('memberA', 'sort=value&dir=desc')).toEqual(['Smith Anna', 'Иванов Иван', 'Brown Bob', 'Петрова Ольга']);
    expect(await listNames('memberA', 'sort=value&dir=asc')).toEqual(['Brown Bob', 'Иванов Иван', 'Smith Anna', 'Петрова Ольга']);
    const evil = await f.agents.memberA.get('/leads?sort=value;drop table leads&dir=sideways');
    expect(evil.status).toBe(200);
    expect(await listNames('memberA', 'sort=(select 1)')).toEqual(await listNames('memberA', ''));
    expect(await q('select count(*)::int as n from leads')).toEqual([{ n: 4 }]);
  });

  it('paginates with the total shown and every filter kept in the links', async () => {
    for (let i = 0; i < 30; i++) await q(`insert into leads (group_id, last_name, status, created_by_id) values ($1, $2, 'new', $3)`, [GROUPS.A.id, `Bulk${String(i).padStart(2, '0')}`, USERS.memberA.id]);
    const res = await f.agents.memberA.get('/leads?status=new&sort=name&dir=asc');
    expect(res.text).toContain('31 leads');
    expect(res.text).toContain('href="/leads?status=new&amp;sort=name&amp;dir=asc&amp;page=2"');
    const second = await listNames('memberA', 'status=new&sort=name&dir=asc&page=2');
    expect(second).toHaveLength(6);
    // htmx gets the results fragment only.
    const fragment = await f.agents.memberA.get('/leads?status=new').set('HX-Request', 'true').set('HX-Target', 'lead-results');
    expect(fragment.text).not.toContain('<html');
    expect(fragment.text).toContain('31 leads');
  });

  it('next and prev continue from a row (keyset): the same pages as by number, unshifted by new leads, and a foreign cursor is ignored', async () => {
    await q(`insert into leads (group_id, last_name, status, created_by_id, created_at)
             select $1, 'Page' || lpad(i::text, 2, '0'), 'new', $2, '2026-03-01'::timestamptz - make_interval(mins => i) from generate_series(1, 60) i`, [GROUPS.A.id, USERS.memberA.id]);
    const nextHref = (html: string) => /<a[^>]*href="([^"]+)"[^>]*rel="next"/.exec(html)?.[1]?.replaceAll('&amp;', '&');
    const prevHref = (html: string) => /<a[^>]*href="([^"]+)"[^>]*rel="prev"/.exec(html)?.[1]?.replaceAll('&amp;', '&');
    const names = (html: string) => [...html.matchAll(/href="\/leads\/\d+">([^<]+)</g)].map((m) => m[1]!.trim());

    const first = (await f.agents.memberA.get('/leads?status=new')).text;
    const toSecond = nextHref(first)!;
    expect(toSecond).toMatch(/^\/leads\?status=new&page=2&after=\d+$/);
    // A lead added at the top after page 1 was shown: page 2 by number would repeat a row; the link does not.
    await q(`insert into leads (group_id, last_name, status, created_by_id) values ($1, 'Newest', 'new', $2)`, [GROUPS.A.id, USERS.memberA.id]);
    const second = (await f.agents.memberA.get(toSecond)).text;
    // Page 1 was the fixture's one new lead and Page01–Page24.
    expect(names(second)).toEqual(Array.from({ length: 25 }, (_, i) => `Page${i + 25}`));
    expect(second).toContain('Page 2 of 3');
    const byNumber = await listNames('memberA', 'status=new&page=2');
    expect(byNumber[0]).toBe('Page24');

    const third = (await f.agents.memberA.get(nextHref(second)!)).text;
    expect(names(third)).toEqual(Array.from({ length: 11 }, (_, i) => `Page${50 + i}`));
    expect(nextHref(third)).toBeUndefined();
    const back = prevHref(third)!;
    expect(back).toMatch(/page=2&before=\d+$/);
    expect(names((await f.agents.memberA.get(back)).text)).toEqual(names(second));
    // Back to page 1 is the plain first page.
    expect(prevHref(second)).toBe('/leads?status=new');

    // A cursor naming a lead of another group (or anything odd) is not a way to probe it: the page number counts.
    const foreign = ((await q(`insert into leads (group_id, last_name, status, created_by_id) values ($1, 'Foreign', 'new', $2) returning id`, [GROUPS.B.id, USERS.memberB.id]))[0] as { id: number }).id;
    expect(names((await f.agents.memberA.get(`/leads?status=new&page=2&after=${foreign}`)).text)).toEqual(await listNames('memberA', 'status=new&page=2'));
    expect((await f.agents.memberA.get('/leads?status=new&after=abc&before=-1')).status).toBe(200);
  });

  it('the total follows every change, by any process: counts are reused only while the groups are unchanged', async () => {
    const total = async (actor: ActorName, query = '') => /data-testid="total">([^<]*)</.exec((await f.agents[actor].get(`/leads?${query}`)).text)![1]!.trim();
    const insert = (group: number, name: string) =>
      q(`insert into leads (group_id, last_name, status, created_by_id) values ($1, $2, 'new', $3)`, [group, name, USERS.memberA.id]);
    expect(await total('memberA')).not.toBe('0 leads');
    await q('truncate leads cascade');
    expect(await total('memberA')).toBe('0 leads');
    await insert(GROUPS.A.id, 'First');
    await insert(GROUPS.A.id, 'Second');
    expect(await total('memberA')).toBe('2 leads');
    expect(await total('memberA', 'status=new')).toBe('2 leads');
    expect(await total('admin')).toBe('2 leads');

    // Written with plain SQL, as another process (or a job) would: no cache of this app is told.
    await insert(GROUPS.A.id, 'Third');
    expect(await total('memberA')).toBe('3 leads');
    expect(await total('memberA', 'status=new')).toBe('3 leads');
    await q(`update leads set status = 'lost' where last_name = 'Third'`);
    expect(await total('memberA', 'status=new')).toBe('2 leads');
    await q(`update leads set group_id = $1 where last_name = 'Second'`, [GROUPS.B.id]);
    expect(await total('memberA')).toBe('2 leads');
    expect(await total('memberB')).toBe('1 lead');
    // A change in a group the member does not see changes nothing they count, and the admin sees it.
    await insert(GROUPS.B.id, 'Elsewhere');
    expect(await total('memberA')).toBe('2 leads');
    expect(await total('admin')).toBe('4 leads');
    await q('truncate leads cascade');
    expect(await total('memberA')).toBe('0 leads');
    expect(await total('admin')).toBe('0 leads');
  });

  it('a member of two groups pages by number through both, merged in date order (ties by id), within each group\'s visibility', async () => {
    await q('insert into memberships (user_id, group_id, role) values ($1, $2, $3)', [USERS.memberA.id, GROUPS.B.id, 'member']);
    await q("update groups set visibility = 'own' where id = $1", [GROUPS.B.id]);
    await q(`insert into leads (group_id, last_name, status, created_by_id, owner_id, created_at)
             select case when i % 2 = 0 then $1::int else $2::int end, 'Mix' || i, 'new',
                    $3::int, case when i % 6 = 1 then $4::int else $3::int end,
                    -- 61 at the same instant, across pages 3 to 5: their order is the id's
                    now() - make_interval(mins => case when i between 100 and 160 then 100 else i end)
             from generate_series(1, 2000) i`, [GROUPS.A.id, GROUPS.B.id, USERS.subjectB.id, USERS.memberA.id]);
    const expected = async (dir: 'asc' | 'desc', offset: number, search = '') =>
      (await q(`select trim(last_name || ' ' || first_name) as name from leads where deleted_at is null and status <> 'converted'
                  and (group_id = $1 or (group_id = $2 and (owner_id = $3 or created_by_id = $3))) and search like $5
                order by created_at ${dir}, id ${dir} offset $4 limit 25`, [GROUPS.A.id, GROUPS.B.id, USERS.memberA.id, offset, `%${search}%`])).map((r) => r.name);
    // Some of group B's, only those memberA owns: group B is "own records" and memberA a plain member there.
    const page1 = await listNames('memberA', '');
    expect(page1.some((n) => /^Mix\d+$/.test(n) && Number(n.slice(3)) % 2 === 1)).toBe(true);
    expect(page1).toEqual(await expected('desc', 0));
    // Deep enough (offset 100 on) to be read from each group's slice and merged.
    for (const page of [4, 5, 6]) expect(await listNames('memberA', `page=${page}`)).toEqual(await expected('desc', (page - 1) * 25));
    expect(await listNames('memberA', 'page=5&dir=asc&sort=created')).toEqual(await expected('asc', 100));
    // A search matching more than a search counts (1,333 of them: "1,000+"): its page is found by walking the
    // same merged order, testing the search row by row.
    expect((await f.agents.memberA.get('/leads?q=mix')).text).toContain('1,000+ leads');
    for (const page of [1, 3, 40]) expect(await listNames('memberA', `q=mix&page=${page}`)).toEqual(await expected('desc', (page - 1) * 25, 'mix'));
    expect(await listNames('memberA', 'q=mix&dir=asc&sort=created&page=2')).toEqual(await expected('asc', 25, 'mix'));
  });

  it('a search follows every change, by any process: its matches are reused only while the groups and names are unchanged', async () => {
    const insert = (group: number, name: string, owner: number) =>
      q(`insert into leads (group_id, last_name, status, created_by_id, owner_id) values ($1, $2, 'new', $3, $3)`, [group, name, owner]);
    await insert(GROUPS.A.id, 'Zebrova', USERS.memberA.id);
    expect(await listNames('memberA', 'q=zebr')).toEqual(['Zebrova']);
    expect(await listNames('admin', 'q=zebr')).toEqual(['Zebrova']);
    // Written with plain SQL, as another process would: the same searches show it at once.
    await insert(GROUPS.A.id, 'Zebrin', USERS.managerA.id);
    expect(await listNames('memberA', 'q=zebr')).toEqual(['Zebrin', 'Zebrova']);
    await q(`update leads set last_name = 'Zubova' where last_name = 'Zebrova'`);
    expect(await listNames('memberA', 'q=zebr')).toEqual(['Zebrin']);
    await insert(GROUPS.B.id, 'Zebrowski', USERS.memberB.id);
    expect(await listNames('memberA', 'q=zebr')).toEqual(['Zebrin']);
    expect(await listNames('admin', 'q=zebr')).toEqual(['Zebrowski', 'Zebrin']);
    // Deleted for good, by SQL: gone from the next search.
    await q(`delete from leads where last_name = 'Zebrin'`);
    expect(await listNames('memberA', 'q=zebr')).toEqual([]);
    // Ordered by owner: renaming an owner moves their lead from the first page (of 25) to the second.
    await q(`insert into leads (group_id, last_name, status, created_by_id, owner_id)
             select $1, 'Zebrin' || i, 'new', $2, $2 from generate_series(1, 25) i`, [GROUPS.A.id, USERS.managerA.id]);
    await insert(GROUPS.A.id, 'Zebrovsky', USERS.memberA.id);
    await q("update users set name = 'Aaa' where id = $1", [USERS.memberA.id]);
    await q("update users set name = 'Zzz' where id = $1", [USERS.managerA.id]);
    expect((await listNames('memberA', 'q=zebr&sort=owner&dir=asc'))[0]).toBe('Zebrovsky');
    expect(await listNames('memberA', 'q=zebr&sort=owner&dir=asc&page=2')).toHaveLength(1);
    await q("update users set name = 'Zzzz' where id = $1", [USERS.memberA.id]);
    expect(await listNames('memberA', 'q=zebr&sort=owner&dir=asc')).not.toContain('Zebrovsky');
    expect(await listNames('memberA', 'q=zebr&sort=owner&dir=asc&page=2')).toEqual(['Zebrovsky']);
  });

  it('a page opened again is reused only while nothing in its groups or names changed, and never across scopes', async () => {
    // The results alone: the filter's choices above them show every name too.
    const results = async (actor: ActorName) => (await f.agents[actor].get('/leads?sort=name&dir=asc')).text.split('id="lead-results"')[1]!;
    expect(await listNames('memberA', 'sort=name&dir=asc')).toEqual(['Brown Bob', 'Smith Anna', 'Иванов Иван', 'Петрова Ольга']);
    // Written with the revision triggers off (no app does this): the page seen before is shown again, which is
    // how this test knows the page was reused and not read.
    await q(`begin; set local session_replication_role = replica; update leads set first_name = 'Unseen' where last_name = 'Smith'; commit`);
    expect(await listNames('memberA', 'sort=name&dir=asc')).toEqual(['Brown Bob', 'Smith Anna', 'Иванов Иван', 'Петрова Ольга']);
    // Any change in the group, by any process, and the page is read again (with the change made behind its back).
    await q(`update leads set status = 'qualified' where last_name = 'Петрова'`);
    expect(await listNames('memberA', 'sort=name&dir=asc')).toEqual(['Brown Bob', 'Smith Unseen', 'Иванов Иван', 'Петрова Ольга']);
    // Names shown in the rows follow the directory: the owner renamed, the group renamed.
    expect(await results('admin')).not.toContain('Renamed');
    await q("update users set name = 'Renamed Owner' where id = $1", [USERS.managerA.id]);
    expect(await results('memberA')).toContain('Renamed Owner');
    await q("update groups set name = 'Renamed Group' where id = $1", [GROUPS.A.id]);
    expect(await results('admin')).toContain('Renamed Group');
    // The same address in another scope is another page: another group, "own records" visibility.
    expect(await listNames('memberB', 'sort=name&dir=asc')).toEqual([]);
    await q("update groups set visibility = 'own' where id = $1", [GROUPS.A.id]);
    expect(await listNames('memberA', 'sort=name&dir=asc')).toEqual(['Smith Unseen', 'Иванов Иван']);
    expect(await listNames('managerA', 'sort=name&dir=asc')).toEqual(['Brown Bob', 'Smith Unseen', 'Иванов Иван', 'Петрова Ольга']);
  });

  it('a lead becomes stale when the day turns 14 days after the day of its last activity', async () => {
    // The app's clock is moved by hand, back to the last half minute of yesterday (UTC), then past midnight: 31 s,
    // within the 60 s a list page is kept, so it is the boundary that makes the page be read again. Read through the
    // service (with revisions, so pages are kept as for a signed-in user): a session saved at a clock hours behind
    // the database's would have expired there.
    const DAY = 86_400_000;
    const today = Math.floor(Date.now() / DAY) * DAY;
    const manager: Actor = {
      id: USERS.managerA.id, isAdmin: false, memberships: [{ groupId: GROUPS.A.id, groupName: GROUPS.A.name, role: 'manager', visibility: 'all' }],
      groupRevisions: `${GROUPS.A.id}:1`, directoryRevision: '1',
    };
    const stale = async () => (await f.t.services.leads.list(manager, leadListQuery.parse({ stale: '1' }))).items.map((l) => `${l.lastName} ${l.firstName}`);
    vi.useFakeTimers({ toFake: ['Date'], now: today - 30_000 });
    try {
      // Last active an hour into the day 15 days before today: within yesterday's 14 days, not within today's.
      await q(`update leads set last_activity_at = $1, created_at = $2 where last_name = 'Иванов'`, [new Date(today - 15 * DAY + 3_600_000), new Date(today - 40 * DAY)]);
      expect(await stale()).toEqual([]);
      vi.setSystemTime(today - 1_000);
      expect(await stale()).toEqual([]);
      vi.setSystemTime(today + 1_000);
      expect(await stale()).toEqual(['Иванов Иван']);
    } finally {
      vi.useRealTimers();
    }
  });

  it('counts up to 10,000 and says "10,000+" beyond; pages stop at 400; a search counts up to 1,000 and still finds the oldest match', async () => {
    await q(`insert into leads (group_id, last_name, status, created_by_id, created_at)
             select $1, 'Mass' || i, 'new', $2, now() - make_interval(mins => i) from generate_series(1, 10050) i`, [GROUPS.A.id, USERS.memberA.id]);
    const res = await f.agents.memberA.get('/leads');
    expect(res.text).toContain('10,000+ leads');
    expect(res.text).toContain('Page 1 of 400');
    const last = await listNames('memberA', 'page=400');
    expect(last).toHaveLength(25);
    const [deepest] = await q("select last_name from leads where status <> 'converted' order by created_at desc, id desc offset 9975 limit 1");
    expect(last[0]).toBe(deepest.last_name);
    // Past the cap: no page (and no query that deep), and no link further on.
    const beyond = await f.agents.memberA.get('/leads?page=401');
    expect(beyond.status).toBe(200);
    expect([...beyond.text.matchAll(/href="\/leads\/\d+">/g)]).toHaveLength(0);
    expect(beyond.text).not.toContain('rel="next"');
    // A search sorts all of its matches, so the oldest one is found first when asked for.
    expect(await listNames('memberA', 'q=mass1005&sort=created&dir=asc')).toEqual(['Mass10050', 'Mass1005']);
    const exact = await f.agents.memberA.get('/leads?q=mass1005');
    expect(exact.text).toContain('2 leads');
    // A search matching more than 1,000: "1,000+" and 40 pages, read in the list's order, the first and the
    // last offered, either way (by walking the list, not by sorting every match).
    const broad = await f.agents.memberA.get('/leads?q=mass');
    expect(broad.text).toContain('1,000+ leads');
    expect(broad.text).toContain('Page 1 of 40');
    const newest = await q("select last_name from leads where last_name like 'Mass%' order by created_at desc, id desc limit 25");
    expect(await listNames('memberA', 'q=mass')).toEqual(newest.map((r) => r.last_name));
    const oldest = await q("select last_name from leads where last_name like 'Mass%' order by created_at asc, id asc offset 975 limit 25");
    expect(await listNames('memberA', 'q=mass&sort=created&dir=asc&page=40')).toEqual(oldest.map((r) => r.last_name));
    // Other orders: sorted, for a member (the walk would read other groups' rows), or walked, for the admin.
    const byName = await q("select last_name from leads where last_name like 'Mass%' order by lower(last_name) offset 25 limit 25");
    expect(await listNames('memberA', 'q=mass&sort=name&dir=asc&page=2')).toEqual(byName.map((r) => r.last_name));
    expect(await listNames('admin', 'q=mass&sort=name&dir=asc&page=2')).toEqual(byName.map((r) => r.last_name));
    // By owner (a join of its own; all unowned here, so by creation), and past the cap: not offered, as on the list.
    const byOwner = await q("select last_name from leads where last_name like 'Mass%' order by created_at asc, id asc limit 25");
    expect(await listNames('memberA', 'q=mass&sort=owner&dir=asc')).toEqual(byOwner.map((r) => r.last_name));
    expect(await listNames('admin', 'q=mass&sort=owner&dir=asc')).toEqual(byOwner.map((r) => r.last_name));
    // By value, descending (the admin's walk takes the list's first rows from two index walks; some have a value).
    await q("update leads set value = (id % 7) * 10 where last_name like 'Mass%' and id % 3 = 0");
    const byValue = await q("select last_name from leads where last_name like 'Mass%' order by value desc nulls last, id desc offset 25 limit 25");
    expect(await listNames('admin', 'q=mass&sort=value&dir=desc&page=2')).toEqual(byValue.map((r) => r.last_name));
    const past = await f.agents.memberA.get('/leads?q=mass&page=41');
    expect(past.status).toBe(200);
    expect([...past.text.matchAll(/href="\/leads\/\d+">/g)]).toHaveLength(0);
    expect(past.text).toContain('1,000+ leads');
    expect((await f.agents.memberA.get('/leads?q=mass1005&page=41')).text).toContain('2 leads');
    // Matches that come late in the list's order (10,000 names before them that do not match): the admin's walk
    // comes back short and the matches are sorted instead.
    await q(`insert into leads (group_id, last_name, status, created_by_id) select $1, 'Aaa' || i, 'new', $2 from generate_series(1, 10000) i`, [GROUPS.A.id, USERS.memberA.id]);
    const lateByName = await q("select last_name from leads where last_name like 'Mass%' order by lower(last_name), id limit 25");
    expect(await listNames('admin', 'q=mass&sort=name&dir=asc')).toEqual(lateByName.map((r) => r.last_name));
    // Russian: the same caps, in the plural form for 10 000 and 1 000.
    const ru = await f.agents.memberA.get('/leads').set('Accept-Language', 'ru');
    expect(ru.text).toMatch(/10[\s\u00a0\u202f]000\+/);
    expect((await f.agents.memberA.get('/leads?q=mass').set('Accept-Language', 'ru')).text).toMatch(/1[\s\u00a0\u202f]000\+/);
  }, 60_000);

  it('hides converted leads unless asked for', async () => {
    const [lead] = await q("select id from leads where last_name = 'Smith'");
    await post('memberA', `/leads/${lead.id}/convert`);
    expect(await listNames('memberA', 'q=smith')).toEqual([]);
    expect(await listNames('memberA', 'q=smith&converted=1')).toEqual(['Smith Anna']);
    expect(await listNames('memberA', 'status=converted')).toEqual(['Smith Anna']);
  });
});

describe('an owner filter too long for one select', () => {
  /** The owner select's options as value:label. */
  const optionsOf = (html: string) =>
    [.../<select[^>]*name="owner"[\s\S]*?<\/select>/.exec(html)![0].matchAll(/<option value="([^"]*)"[^>]*>([^<]*)</g)].map((m) => `${m[1]}:${m[2]}`);
  const find = async (actor: ActorName, text: string, owner = '') => {
    const res = await f.agents[actor].get(`/leads/owner-options?find=${encodeURIComponent(text)}&owner=${owner}`);
    expect(res.status).toBe(200);
    const body = res.body as { html: string; status: string };
    return { people: [...body.html.matchAll(/<option value="(\d+)"[^>]*>([^<]*)</g)].map((m) => m[2]), html: body.html, status: body.status };
  };

  beforeEach(async () => {
    // 60 more people in group A (Ёлкина 1…3 among them), 5 in group B.
    await q(`insert into users (email, name, password_hash, role, active)
             select 'p' || i || '@example.com', case when i <= 3 then 'Ёлкина ' || i else 'Person ' || lpad(i::text, 2, '0') end, 'x', 'user', true
             from generate_series(1, 60) i`);
    await q(`insert into memberships (group_id, user_id, role) select $1, id, 'member' from users where email like 'p%@example.com'`, [GROUPS.A.id]);
    await q(`insert into users (email, name, password_hash, role, active) select 'b' || i || '@example.com', 'Outsider ' || i, 'x', 'user', true from generate_series(1, 5) i`);
    await q(`insert into memberships (group_id, user_id, role) select $1, id, 'member' from users where email like 'b%@example.com'`, [GROUPS.B.id]);
  });

  it('sends the chosen owner only, with a box to find the others; a short one stays a whole select', async () => {
    const page = (await f.agents.memberA.get('/leads')).text;
    expect(optionsOf(page)).toEqual([':Any', 'me:Me', 'none:Unassigned']);
    expect(page).toContain('id="f-owner-find"');
    expect(page).toMatch(/6\d people: type a name or email/);
    const [chosen] = await q(`select id from users where email = 'p42@example.com'`);
    expect(optionsOf((await f.agents.memberA.get(`/leads?owner=${chosen.id}`)).text)).toEqual([':Any', 'me:Me', 'none:Unassigned', `${chosen.id}:Person 42`]);
    // The client list has the same filter.
    expect(optionsOf((await f.agents.memberA.get(`/clients?owner=${chosen.id}`)).text)).toEqual([':Any', 'me:Me', 'none:Unassigned', `${chosen.id}:Person 42`]);
    // Group B's 7 people fit in one select, and no box.
    const b = (await f.agents.memberB.get('/leads')).text;
    expect(optionsOf(b)).toHaveLength(3 + 7);
    expect(b).not.toContain('f-owner-find');
  });

  it('finds people by name or email, ignoring case and ё, within the actor\'s groups only, 30 at a time', async () => {
    expect((await find('memberA', 'елкина')).people).toEqual(['Ёлкина 1', 'Ёлкина 2', 'Ёлкина 3']);
    expect((await find('memberA', 'P17@EXAMPLE')).people).toEqual(['Person 17']);
    expect((await find('memberA', 'outsider')).people).toEqual([]);
    expect((await find('memberA', 'outsider')).status).toBe('0 people found.');
    expect((await find('admin', 'outsider')).people).toHaveLength(5);
    const broad = await find('memberA', 'person');
    expect(broad.people).toHaveLength(30);
    expect(broad.status).toBe('57 people found.');
    expect(broad.html).toContain('27 more: type more letters');
    // The chosen owner stays among the options (and chosen), whatever is typed.
    const [chosen] = await q(`select id from users where email = 'p59@example.com'`);
    const kept = await find('memberA', 'ёлкина', String(chosen.id));
    expect(kept.people).toEqual(['Ёлкина 1', 'Ёлкина 2', 'Ёлкина 3', 'Person 59']);
    expect(kept.html).toContain(`<option value="${chosen.id}" selected>`);
    // Russian.
    const ru = await f.agents.memberA.get('/leads/owner-options?find=person').set('Accept-Language', 'ru');
    expect(ru.body.status).toBe('Найдено 57 человек.');
  });

  it('names one person to pick (the first found, never the chosen one that does not match), escaped', async () => {
    const [p5] = await q(`update users set name = 'Person <b>05</b>' where email = 'p5@example.com' returning id`);
    const found = await f.agents.memberA.get('/leads/owner-options?find=<b>');
    expect(found.body.first).toBe(p5.id);
    expect(found.body.html).toContain('>Person &lt;b&gt;05&lt;/b&gt;</option>');
    expect(found.body.html).not.toContain('<b>');
    const [chosen] = await q(`select id from users where email = 'p42@example.com'`);
    const none = await f.agents.memberA.get(`/leads/owner-options?find=nobody&owner=${chosen.id}`);
    expect(none.body.first).toBeNull();
    expect(none.body.html).toContain(`<option value="${chosen.id}" selected>Person 42</option>`);
    // A very long text is cut, not taken as nothing (which would list everyone).
    expect((await f.agents.memberA.get(`/leads/owner-options?find=${'z'.repeat(500)}`)).body.first).toBeNull();
  });
});

describe('owner choices follow the directory', () => {
  /** The owner filter's people, as the list page shows them. */
  async function ownerOptions(actor: ActorName) {
    const res = await f.agents[actor].get('/leads');
    const select = /<select[^>]*name="owner"[\s\S]*?<\/select>/.exec(res.text)![0];
    return [...select.matchAll(/<option value="(\d+)"[^>]*>([^<]*)</g)].map((m) => `${m[1]}:${m[2]}`);
  }
  const nameOf = async (id: number) => (await q('select name from users where id = $1', [id]))[0]!.name as string;

  it('a long owner filter marks the chosen owner on every page, whichever was chosen before, and follows a rename', async () => {
    // 25 more members: the choices are long enough for their rendered options to be remembered.
    await q(`insert into users (email, name, password_hash, role, active) select 'many' || i || '@example.com', 'Many ' || i, 'x', 'user', true from generate_series(1, 25) i`);
    await q(`insert into memberships (group_id, user_id, role) select $1, id, 'member' from users where email like 'many%'`, [GROUPS.A.id]);
    const ids = (await q(`select id from users where email like 'many%' order by id`)).map((r) => r.id as number);
    const selected = async (query: string) => {
      const select = /<select[^>]*name="owner"[\s\S]*?<\/select>/.exec((await f.agents.memberA.get(`/leads?${query}`)).text)![0];
      return [...select.matchAll(/<option value="([^"]*)" selected>/g)].map((m) => m[1]);
    };
    for (let round = 0; round < 2; round++) {
      expect(await selected(`owner=${ids[0]}`)).toEqual([String(ids[0])]);
      expect(await selected(`owner=${ids[7]}`)).toEqual([String(ids[7])]);
      expect(await selected('')).toEqual([]);
    }
    await q(`update users set name = 'Renamed <Many>' where id = $1`, [ids[7]]);
    const res = await f.agents.memberA.get(`/leads?owner=${ids[7]}`);
    expect(res.text).toContain(`<option value="${ids[7]}" selected>Renamed &lt;Many&gt;</option>`);
  });

  it('changes written by another process (plain SQL) show on the next page: joined, renamed, deactivated, left', async () => {
    const before = await ownerOptions('memberA');
    expect(before).toContain(`${USERS.subjectA.id}:${await nameOf(USERS.subjectA.id)}`);
    expect(before.some((o) => o.startsWith(`${USERS.memberB.id}:`))).toBe(false);

    await q('insert into memberships (group_id, user_id, role) values ($1, $2, $3)', [GROUPS.A.id, USERS.memberB.id, 'member']);
    expect(await ownerOptions('memberA')).toContain(`${USERS.memberB.id}:${await nameOf(USERS.memberB.id)}`);

    await q('update users set name = $2 where id = $1', [USERS.memberB.id, 'Борис <b>"Новиков" & Co</b>']);
    expect(await ownerOptions('memberA')).toContain(`${USERS.memberB.id}:Борис &lt;b&gt;&quot;Новиков&quot; &amp; Co&lt;/b&gt;`);
    // The chosen owner stays selected.
    const filtered = await f.agents.memberA.get(`/leads?owner=${USERS.memberB.id}`);
    expect(filtered.text).toContain(`<option value="${USERS.memberB.id}" selected>`);

    await q('update users set active = false where id = $1', [USERS.subjectA.id]);
    expect((await ownerOptions('memberA')).some((o) => o.startsWith(`${USERS.subjectA.id}:`))).toBe(false);

    await q('delete from memberships where group_id = $1 and user_id = $2', [GROUPS.A.id, USERS.memberB.id]);
    expect((await ownerOptions('memberA')).some((o) => o.startsWith(`${USERS.memberB.id}:`))).toBe(false);
    // The admin's choices span every group: the new group's member appears with it.
    await q("insert into groups (name) values ('Group C')");
    const groupC = ((await q("select id from groups where name = 'Group C'"))[0] as { id: number }).id;
    await q('insert into memberships (group_id, user_id, role) values ($1, $2, $3)', [groupC, USERS.noGroup.id, 'member']);
    expect(await ownerOptions('admin')).toContain(`${USERS.noGroup.id}:${await nameOf(USERS.noGroup.id)}`);
  });
});

describe('comments', () => {
  it('renders markup and javascript: links inert, makes http links clickable, keeps line breaks', async () => {
    const id = await createLead('memberA');
    const body = 'Line one <script>alert(1)</script>\n<img src=x onerror=alert(2)> javascript:alert(3) https://example.com/a?b=1&c=2.';
    expect((await post('memberA', `/leads/${id}/comments`, { body })).status).toBe(303);
    const page = await f.agents.memberA.get(`/leads/${id}`);
    expect(page.text).not.toContain('<script>alert(1)');
    expect(page.text).not.toContain('<img src=x');
    expect(page.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page.text).not.toMatch(/href="javascript:/i);
    expect(page.text).toContain('<a href="https://example.com/a?b=1&amp;c=2" class="btn-link break-all" rel="noopener noreferrer nofollow" target="_blank">');
    expect(page.text).toContain('whitespace-pre-line');
  });

  it('a comment over 10,000 characters is refused with the text kept', async () => {
    const id = await createLead('memberA');
    const res = await post('memberA', `/leads/${id}/comments`, { body: `Начало ${'я'.repeat(10_000)}` });
    expect(res.status).toBe(422);
    expect(res.text).toContain('at most 10,000 characters');
    expect(res.text).toContain('Начало ');
    expect(await q('select 1 from comments')).toHaveLength(0);
  });

  it('the author edits (marked "edited"), another member may not, a manager may delete', async () => {
    const id = await createLead('memberA');
    await post('memberA', `/leads/${id}/comments`, { body: 'first version' });
    const [c] = await q('select id from comments');
    expect((await post('managerA', `/comments/${c.id}`, { body: 'manager edit' })).status).toBe(303);
    expect((await post('memberA', `/comments/${c.id}`, { body: 'second version' })).status).toBe(303);
    const page = await f.agents.memberA.get(`/leads/${id}`);
    expect(page.text).toContain('second version');
    expect(page.text).toContain('edited');
    expect((await post('memberB', `/comments/${c.id}/delete`)).status).toBe(404);
    expect((await post('managerA', `/comments/${c.id}/delete`)).status).toBe(303);
    expect(await q('select 1 from comments')).toHaveLength(0);
  });

  it("a member cannot edit another member's comment (403)", async () => {
    const id = await createLead('managerA');
    await post('managerA', `/leads/${id}/comments`, { body: 'by the manager' });
    const [c] = await q('select id from comments');
    expect((await post('memberA', `/comments/${c.id}`, { body: 'hijack' })).status).toBe(403);
    expect((await post('memberA', `/comments/${c.id}/delete`)).status).toBe(403);
    expect((await q('select body from comments'))[0].body).toBe('by the manager');
  });
});

describe('conversion', () => {
  it('creates one client in the same group with every comment and activity of the lead; the lead becomes read-only', async () => {
    const id = await createLead('memberA', { company: 'ООО Ромашка', email: 'petr@romashka.ru', description: 'Хочет 10 лицензий' });
    await post('memberA', `/leads/${id}/comments`, { body: 'Позвонил, ждёт КП' });
    await post('memberA', `/leads/${id}`, leadForm({ status: 'qualified', company: 'ООО Ромашка', email: 'petr@romashka.ru', description: 'Хочет 10 лицензий', ownerId: USERS.memberA.id }));
    const before = await q('select count(*)::int as n from activities where lead_id = $1', [id]);

    const res = await post('memberA', `/leads/${id}/convert`);
    expect(res.status).toBe(303);
    const clientId = Number(res.headers.location!.split('/').pop());
    const [client] = await q('select group_id, name, company, email, lead_id, owner_id, notes from clients where id = $1', [clientId]);
    expect(client).toEqual({ group_id: GROUPS.A.id, name: 'Пётр Иванов', company: 'ООО Ромашка', email: 'petr@romashka.ru', lead_id: id, owner_id: USERS.memberA.id, notes: 'Хочет 10 лицензий' });
    expect(await q('select status, client_id from leads where id = $1', [id])).toEqual([{ status: 'converted', client_id: clientId }]);
    // Attached, not copied: one comment row, shown on both.
    expect(await q('select count(*)::int as n, count(client_id)::int as on_client from comments')).toEqual([{ n: 1, on_client: 1 }]);
    expect((await q('select count(*)::int as n from activities where client_id = $1', [clientId]))[0].n).toBe(before[0].n + 1);

    const clientPage = await f.agents.memberA.get(`/clients/${clientId}`);
    expect(clientPage.text).toContain('Позвонил, ждёт КП');
    expect(clientPage.text).toContain('Converted into the client Пётр Иванов');
    expect(clientPage.text).toContain('New → Qualified');

    // Read-only: no edits, no comments; the page links to the client.
    expect((await post('memberA', `/leads/${id}`, leadForm())).status).toBe(409);
    expect((await post('memberA', `/leads/${id}/comments`, { body: 'late' })).status).toBe(409);
    const leadPage = await f.agents.memberA.get(`/leads/${id}`);
    expect(leadPage.text).toContain(`href="/clients/${clientId}"`);
  });

  it('converting again answers 409 with a link to the client; two concurrent conversions give one client', async () => {
    const id = await createLead('memberA');
    const results = await Promise.all([post('memberA', `/leads/${id}/convert`), post('managerA', `/leads/${id}/convert`), post('admin', `/leads/${id}/convert`)]);
    expect(results.map((r) => r.status).sort()).toEqual([303, 409, 409]);
    expect(await q('select count(*)::int as n from clients')).toEqual([{ n: 1 }]);
    const again = await post('memberA', `/leads/${id}/convert`);
    expect(again.status).toBe(409);
    expect(again.text).toContain('already been converted');
    const [client] = await q('select id from clients');
    expect(again.text).toContain(`href="/clients/${client.id}"`);
  });

  it('the "create client from this lead" form is prefilled, editable, and validated', async () => {
    const id = await createLead('memberA', { company: 'ООО Ромашка' });
    const form = await f.agents.memberA.get(`/leads/${id}/convert`);
    expect(form.text).toContain('value="Пётр Иванов"');
    const bad = await post('memberA', `/leads/${id}/convert`, { name: 'Ромашка', email: 'nope', address: 'Москва' });
    expect(bad.status).toBe(422);
    expect(bad.text).toContain('Москва');
    expect(await q('select 1 from clients')).toHaveLength(0);
    const ok = await post('memberA', `/leads/${id}/convert`, { name: 'ООО «Ромашка»', email: 'info@romashka.ru', address: 'Москва', website: 'https://romashka.ru' });
    expect(ok.status).toBe(303);
    expect((await q('select name, website from clients'))[0]).toEqual({ name: 'ООО «Ромашка»', website: 'https://romashka.ru' });
  });

  it('deleting a converted lead for good keeps its comments and history on the client', async () => {
    const id = await createLead('memberA');
    await post('memberA', `/leads/${id}/comments`, { body: 'stays with the client' });
    const res = await post('memberA', `/leads/${id}/convert`);
    const clientId = Number(res.headers.location!.split('/').pop());
    await post('managerA', `/leads/${id}/delete`);
    expect((await post('managerA', `/leads/${id}/purge`)).status).toBe(303);
    expect(await q('select 1 from leads where id = $1', [id])).toHaveLength(0);
    const page = await f.agents.memberA.get(`/clients/${clientId}`);
    expect(page.text).toContain('stays with the client');
    expect(page.text).toContain('Converted into the client');
  });

  it("converting another group's lead is 404", async () => {
    const id = await createLead('memberA');
    expect((await post('memberB', `/leads/${id}/convert`)).status).toBe(404);
    expect(await q('select 1 from clients')).toHaveLength(0);
  });
});
