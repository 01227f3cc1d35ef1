import { describe, expect, it } from 'vitest';
import { GROUPS, USERS, useFixtureSuite, type ActorName } from './helpers/fixture.js';

const f = useFixtureSuite();
const { q, post } = f;
const clientForm = (over: Record<string, unknown> = {}) => ({ groupId: GROUPS.A.id, name: 'ООО Ромашка', company: '', email: '', phone: '', website: '', address: '', notes: '', status: 'active', ...over });
async function listNames(actor: ActorName, query: string) {
  const res = await f.agents[actor].get(`/clients?${query}`);
  expect(res.status).toBe(200);
  return [...res.text.matchAll(/href="\/clients\/\d+">([^<]+)</g)].map((m) => m[1]!.trim());
}

describe('clients', () => {
  it('creates a client directly; bad email, phone or website → 422 with the values kept', async () => {
    const bad = await post('memberA', '/clients', clientForm({ email: 'x@', phone: 'abc', website: 'javascript:alert(1)', address: 'Москва, Тверская 1' }));
    expect(bad.status).toBe(422);
    expect(bad.text).toContain('id="e-email"');
    expect(bad.text).toContain('id="e-phone"');
    expect(bad.text).toContain('id="e-website"');
    expect(bad.text).toContain('Москва, Тверская 1');
    expect(await q('select 1 from clients')).toHaveLength(0);
    const ok = await post('memberA', '/clients', clientForm({ email: 'Info@Romashka.ru', website: 'https://romashka.ru' }));
    expect(ok.status).toBe(303);
    expect((await q('select name, email, owner_id, lead_id from clients'))[0]).toEqual({ name: 'ООО Ромашка', email: 'info@romashka.ru', owner_id: USERS.memberA.id, lead_id: null });
  });

  it('edits record the old and new values; a client of another group is 404', async () => {
    await post('memberA', '/clients', clientForm());
    const [c] = await q('select id from clients');
    expect((await post('memberA', `/clients/${c.id}`, clientForm({ status: 'inactive', address: 'Тверская, 1', ownerId: USERS.memberA.id }))).status).toBe(303);
    // The status is an entry of its own, as for leads; the other fields one 'updated'.
    const [a] = await q("select data from activities where client_id = $1 and action = 'updated'", [c.id]);
    expect(a.data.changes).toEqual({ address: ['', 'Тверская, 1'] });
    const [s] = await q("select data from activities where client_id = $1 and action = 'status_changed'", [c.id]);
    expect(s.data.changes).toEqual({ status: ['active', 'inactive'] });
    // The timeline names the client's own fields and statuses, in both languages (never a raw key).
    const page = await f.agents.memberA.get(`/clients/${c.id}`);
    expect(page.text).toMatch(/Address<\/span>:\s*— → Тверская, 1/);
    expect(page.text).toMatch(/Status<\/span>:\s*Active → Inactive/);
    expect(page.text).not.toMatch(/(leads|clients)\.(fields|status)\./);
    const ru = await f.agents.memberA.get(`/clients/${c.id}`).set('Accept-Language', 'ru');
    expect(ru.text).toMatch(/Активный → Неактивный/);
    expect(ru.text).not.toMatch(/(leads|clients)\.(fields|status)\./);
    expect((await f.agents.memberB.get(`/clients/${c.id}`)).status).toBe(404);
    expect((await post('memberB', `/clients/${c.id}`, clientForm({ groupId: GROUPS.B.id }))).status).toBe(404);
  });

  it('next and prev continue from a row (keyset), in both directions of the creation order', async () => {
    await q(`insert into clients (group_id, created_by_id, name, created_at) select $1, $2, 'Keyset ' || lpad(i::text, 2, '0'), '2026-02-01'::timestamptz + make_interval(hours => i / 2) from generate_series(1, 55) i`, [GROUPS.A.id, USERS.memberA.id]);
    const link = (html: string, rel: string) => new RegExp(`<a[^>]*href="([^"]+)"[^>]*rel="${rel}"`).exec(html)?.[1]?.replaceAll('&amp;', '&');
    for (const dir of ['asc', 'desc']) {
      const byNumber = [1, 2, 3].map((page) => listNames('memberA', `q=keyset&sort=created&dir=${dir}&page=${page}`));
      const expected = await Promise.all(byNumber);
      // No search: keyset links (the search above pages by number).
      let html = (await f.agents.memberA.get(`/clients?sort=created&dir=${dir}`)).text;
      const walked: string[][] = [];
      for (let page = 1; page <= 3; page++) {
        walked.push([...html.matchAll(/href="\/clients\/\d+">([^<]+)</g)].map((m) => m[1]!.trim()).filter((n) => n.startsWith('Keyset')));
        const next = link(html, 'next');
        if (page < 3) expect(next).toMatch(/after=\d+/);
        if (next) html = (await f.agents.memberA.get(next)).text;
      }
      expect(walked.flat()).toEqual(expected.flat());
      const prev = link(html, 'prev')!;
      expect(prev).toMatch(/before=\d+/);
      const back = (await f.agents.memberA.get(prev)).text;
      expect([...back.matchAll(/href="\/clients\/\d+">([^<]+)</g)].map((m) => m[1]!.trim()).filter((n) => n.startsWith('Keyset'))).toEqual(walked[1]);
      // The export form of a page reached by a link carries the filters and order, not the cursor.
      const managers = (await f.agents.managerA.get(prev)).text;
      expect(managers).toContain('name="format"');
      expect(managers).not.toMatch(/name="(after|before)"/);
    }
    // An export URL that has a cursor anyway (an old link) still works.
    const exported = await f.agents.managerA.get('/clients/export?format=csv&page=2&after=1&before=2');
    expect(exported.status).toBe(200);
    expect(exported.headers['content-type']).toMatch(/text\/csv/);
  });

  it('lists with search, status, "came from a lead" and sorting; only the actor\'s groups', async () => {
    await post('memberA', '/clients', clientForm({ name: 'Альфа', status: 'active' }));
    await post('memberA', '/clients', clientForm({ name: 'Бета', status: 'inactive', email: 'beta@example.com' }));
    await post('memberB', '/clients', clientForm({ groupId: GROUPS.B.id, name: 'Чужой' }));
    const lead = await post('memberA', '/leads', { groupId: GROUPS.A.id, lastName: 'Гамма', status: 'new' });
    await post('memberA', `${lead.headers.location}/convert`);

    expect(await listNames('memberA', 'sort=name&dir=asc')).toEqual(['Альфа', 'Бета', 'Гамма']);
    expect(await listNames('memberA', 'status=inactive')).toEqual(['Бета']);
    expect(await listNames('memberA', 'q=BETA@')).toEqual(['Бета']);
    expect(await listNames('memberA', 'fromLead=yes')).toEqual(['Гамма']);
    expect(await listNames('memberA', 'fromLead=no&sort=name&dir=desc')).toEqual(['Бета', 'Альфа']);
    expect(await listNames('memberB', '')).toEqual(['Чужой']);
    expect(await listNames('admin', 'sort=name&dir=asc')).toEqual(['Альфа', 'Бета', 'Гамма', 'Чужой']);
  });

  it('a search counts up to 1,000 matches ("1,000+", 40 pages); the list itself counts on', async () => {
    await q(`insert into clients (group_id, name, status, created_by_id, created_at)
             select $1, 'Сеть ' || i, 'active', $2, now() - make_interval(mins => i) from generate_series(1, 1001) i`, [GROUPS.A.id, USERS.memberA.id]);
    const search = await f.agents.memberA.get('/clients?q=сеть');
    expect(search.text).toContain('1,000+ clients');
    expect(search.text).toContain('Page 1 of 40');
    expect(await listNames('memberA', 'q=сеть&page=40')).toHaveLength(25);
    expect(await listNames('memberA', 'q=сеть&page=41')).toEqual([]);
    expect((await f.agents.memberA.get('/clients')).text).toContain('1,001 clients');
  });

  it('a page opened again follows every change to its clients and names, by any process', async () => {
    await post('memberA', '/clients', clientForm({ name: 'Alpha' }));
    await post('managerA', '/clients', clientForm({ name: 'Beta' }));
    const results = async () => (await f.agents.memberA.get('/clients?sort=name&dir=asc')).text.split('id="client-results"')[1]!;
    expect(await listNames('memberA', 'sort=name&dir=asc')).toEqual(['Alpha', 'Beta']);
    await q(`update clients set name = 'Gamma' where name = 'Alpha'`);
    expect(await listNames('memberA', 'sort=name&dir=asc')).toEqual(['Beta', 'Gamma']);
    await q("update users set name = 'Renamed Owner' where id = $1", [USERS.managerA.id]);
    expect(await results()).toContain('Renamed Owner');
    expect(await listNames('memberB', 'sort=name&dir=asc')).toEqual([]);
  });

  it('shows the export form to managers only', async () => {
    await post('memberA', '/clients', clientForm());
    expect((await f.agents.managerA.get('/clients')).text).toContain('data-testid="export-form"');
    expect((await f.agents.memberA.get('/clients')).text).not.toContain('data-testid="export-form"');
  });

  it('managers move clients to the trash and restore them; members cannot', async () => {
    await post('memberA', '/clients', clientForm({ name: 'Удаляемый' }));
    const [c] = await q('select id from clients');
    expect((await post('memberA', `/clients/${c.id}/delete`)).status).toBe(403);
    expect((await post('managerA', `/clients/${c.id}/delete`)).status).toBe(303);
    expect(await listNames('managerA', '')).toEqual([]);
    expect((await f.agents.managerA.get('/clients/trash')).text).toContain('Удаляемый');
    expect((await post('managerA', `/clients/${c.id}/restore`)).status).toBe(303);
    expect(await listNames('managerA', '')).toEqual(['Удаляемый']);
  });
});
