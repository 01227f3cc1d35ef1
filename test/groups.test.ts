import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import request from 'supertest';
import { createTestApp, resetDatabase, tokenFor, type Agent, type TestApp } from './helpers/app.js';
import { bearer, tokenOf } from './helpers/api.js';
import { GROUPS, RECORDS, USERS, loginActors, restoreFixture, type ActorName } from './helpers/fixture.js';

let t: TestApp;
let agents: Record<ActorName, Agent>;
beforeAll(async () => {
  t = await createTestApp();
  await resetDatabase(t.services);
  await restoreFixture(t.services);
  agents = await loginActors(t.app);
});
afterAll(async () => { await t.close(); });
beforeEach(async () => {
  await t.services.database.pool.query('delete from groups where id > 2');
  await restoreFixture(t.services);
});

const q = async (sql: string, values: unknown[] = []) => (await t.services.database.pool.query(sql, values)).rows;

async function post(actor: ActorName, url: string, body: Record<string, string | number>) {
  const agent = agents[actor];
  const _csrf = await tokenFor(agent, '/profile');
  return agent.post(url).type('form').send({ _csrf, ...body });
}

describe('groups (admins)', () => {
  it('creates a group; a name that exists in other letter case is refused with the values kept', async () => {
    const ok = await post('admin', '/groups', { name: 'Продажи Москва', description: 'Отдел продаж', visibility: 'own' });
    expect(ok.status).toBe(303);
    const [g] = await q("select * from groups where name = 'Продажи Москва'");
    expect(g).toMatchObject({ description: 'Отдел продаж', visibility: 'own' });
    const dup = await post('admin', '/groups', { name: 'продажи москва', description: 'second try' });
    expect(dup.status).toBe(422);
    expect(dup.text).toContain('A group with this name already exists.');
    expect(dup.text).toContain('value="продажи москва"');
    expect(dup.text).toContain('second try');
    expect(await q("select 1 from groups where lower(name) = 'продажи москва'")).toHaveLength(1);
  });

  it('renames and describes a group; renaming onto another group\'s name is refused and nothing changes', async () => {
    expect((await post('admin', `/groups/${GROUPS.A.id}`, { name: 'Alpha', description: 'renamed', visibility: 'all' })).status).toBe(303);
    expect((await q('select name, description from groups where id = $1', [GROUPS.A.id]))[0]).toEqual({ name: 'Alpha', description: 'renamed' });
    const clash = await post('admin', `/groups/${GROUPS.A.id}`, { name: 'GROUP B', visibility: 'all' });
    expect(clash.status).toBe(422);
    expect((await q('select name from groups where id = $1', [GROUPS.A.id]))[0].name).toBe('Alpha');
  });

  it('adds a member by email with a role, refuses an unknown user and an existing member', async () => {
    const added = await post('admin', `/groups/${GROUPS.B.id}/members`, { email: 'NoGroup@example.com', role: 'manager' });
    expect(added.status).toBe(303);
    expect(await q('select role from memberships where user_id = $1 and group_id = $2', [USERS.noGroup.id, GROUPS.B.id])).toEqual([{ role: 'manager' }]);

    const unknown = await post('admin', `/groups/${GROUPS.B.id}/members`, { email: 'ghost@example.com', role: 'member' });
    expect(unknown.status).toBe(422);
    expect(unknown.text).toContain('No user has this email.');
    expect(unknown.text).toContain('value="ghost@example.com"');

    const again = await post('admin', `/groups/${GROUPS.B.id}/members`, { email: 'member.b@example.com', role: 'manager' });
    expect(again.status).toBe(422);
    expect(again.text).toContain('is already a member of this group.');
    expect(await q('select role from memberships where user_id = $1 and group_id = $2', [USERS.memberB.id, GROUPS.B.id])).toEqual([{ role: 'member' }]);
  });

  it('finds people to add by name or email, leaving out current members', async () => {
    const res = await agents.admin.get(`/groups/${GROUPS.A.id}/candidates?email=example.com`).set('HX-Request', 'true');
    expect(res.status).toBe(200);
    expect(res.text).toContain('member.b@example.com');
    expect(res.text).toContain('nogroup@example.com');
    expect(res.text).not.toContain('member.a@example.com');
    expect(res.text).not.toContain('<html');
  });

  it('sets a member\'s role and removes a member', async () => {
    expect((await post('admin', `/groups/${GROUPS.A.id}/members/${USERS.subjectA.id}/role`, { role: 'manager' })).status).toBe(303);
    expect((await q('select role from memberships where user_id = $1', [USERS.subjectA.id]))[0].role).toBe('manager');
    expect((await post('admin', `/groups/${GROUPS.A.id}/members/${USERS.subjectA.id}/remove`, {})).status).toBe(303);
    expect(await q('select 1 from memberships where user_id = $1', [USERS.subjectA.id])).toHaveLength(0);
    // Removing someone who is not a member is a 404, not a silent success.
    expect((await post('admin', `/groups/${GROUPS.A.id}/members/${USERS.memberB.id}/remove`, {})).status).toBe(404);
  });

  it('a member who is removed stops owning the group\'s records: they become unassigned, logged, and said so', async () => {
    // subjectA owns group A's lead and client (one of each trashed too); they also work in group B.
    await q(`insert into memberships (user_id, group_id, role) values ($1, $2, 'member')`, [USERS.subjectA.id, GROUPS.B.id]);
    await q(`update leads set owner_id = $1 where id = $2`, [USERS.subjectA.id, RECORDS.lead.B]);
    const owned = async () => (await q(`select 'lead' || id as r from leads where owner_id = $1 union all select 'client' || id from clients where owner_id = $1 order by 1`, [USERS.subjectA.id])).map((r) => r.r);
    expect(await owned()).toEqual(['client1', 'client3', 'lead1', 'lead2', 'lead3'].sort());
    const before = (await q(`select updated_at from leads where id = $1`, [RECORDS.lead.A]))[0].updated_at;

    const res = await post('admin', `/groups/${GROUPS.A.id}/members/${USERS.subjectA.id}/remove`, {});
    expect(res.status).toBe(303);
    expect((await agents.admin.get(res.headers.location!)).text).toContain('Member removed. 4 records they owned here are now unassigned.');
    // Group B's lead is still theirs; group A's records (the trash too) belong to no one.
    expect(await owned()).toEqual(['lead2']);
    expect(await q(`select owner_id from leads where id = any($1) and owner_id is not null`, [[RECORDS.lead.A, RECORDS.trashedLead.A]])).toEqual([]);
    // Each record's history says who was owner and who removed them; the API's version (updated_at) moved.
    const [{ name: formerOwner }] = await q('select name from users where id = $1', [USERS.subjectA.id]);
    const [entry] = await q(`select actor_id, action, data from activities where lead_id = $1 order by id desc limit 1`, [RECORDS.lead.A]);
    expect(entry).toEqual({ actor_id: USERS.admin.id, action: 'updated', data: { changes: { ownerId: [formerOwner, null] } } });
    const [clientEntry] = await q(`select data from activities where client_id = $1 and action = 'updated'`, [RECORDS.client.A]);
    expect(clientEntry.data).toEqual({ changes: { ownerId: [formerOwner, null] } });
    expect((await q(`select updated_at from leads where id = $1`, [RECORDS.lead.A]))[0].updated_at.valueOf()).toBeGreaterThan(before.valueOf());
    // The lead's page shows it unassigned, and the change in its timeline.
    const page = await agents.managerA.get(`/leads/${RECORDS.lead.A}`);
    expect(page.text).toMatch(new RegExp(`Owner</span>:\\s*${formerOwner} → —`));
    // The client's timeline too, in Russian.
    const clientPage = await agents.managerA.get(`/clients/${RECORDS.client.A}`).set('Accept-Language', 'ru');
    expect(clientPage.text).toMatch(new RegExp(`Ответственный</span>:\\s*${formerOwner} → —`));
    // Through the API, the same: the member's records there are unassigned.
    await q(`insert into memberships (user_id, group_id, role) values ($1, $2, 'member')`, [USERS.subjectA.id, GROUPS.A.id]);
    await q(`update clients set owner_id = $1 where id = $2`, [USERS.subjectA.id, RECORDS.client.A]);
    const token = await tokenOf(t.services, 'admin');
    expect((await bearer(t.app, token).delete(`/api/v1/groups/${GROUPS.A.id}/members/${USERS.subjectA.id}`)).status).toBe(204);
    expect(await q('select id from clients where owner_id = $1', [USERS.subjectA.id])).toEqual([]);
    // Someone who owns nothing there: the plain message.
    await q(`insert into memberships (user_id, group_id, role) values ($1, $2, 'member')`, [USERS.noGroup.id, GROUPS.A.id]);
    const plain = await post('admin', `/groups/${GROUPS.A.id}/members/${USERS.noGroup.id}/remove`, {});
    expect((await agents.admin.get(plain.headers.location!)).text).toContain('Member removed.</');
  });

  it('deletes a group only when its name is typed back exactly', async () => {
    const page = await agents.admin.get(`/groups/${GROUPS.B.id}/delete`);
    expect(page.text).toContain('Type the group&#39;s name, Group B, to confirm');
    const wrong = await post('admin', `/groups/${GROUPS.B.id}/delete`, { confirmName: 'group b' });
    expect(wrong.status).toBe(422);
    expect(wrong.text).toContain('The name does not match.');
    expect(await q('select 1 from groups where id = $1', [GROUPS.B.id])).toHaveLength(1);
    // The group still has leads and clients: the page counts them and asks what to do.
    expect(page.text).toContain('2 leads');
    expect(page.text).toContain('2 clients');
    const undecided = await post('admin', `/groups/${GROUPS.B.id}/delete`, { confirmName: 'Group B' });
    expect(undecided.status).toBe(422);
    expect(undecided.text).toContain('Choose whether to move or delete the records.');
    const ok = await post('admin', `/groups/${GROUPS.B.id}/delete`, { confirmName: 'Group B', records: 'delete' });
    expect(ok.status).toBe(303);
    expect(await q('select 1 from groups where id = $1', [GROUPS.B.id])).toHaveLength(0);
    expect(await q('select 1 from memberships where group_id = $1', [GROUPS.B.id])).toHaveLength(0);
    expect(await q('select 1 from leads where group_id = $1', [GROUPS.B.id])).toHaveLength(0);
    expect(await q('select 1 from files where group_id = $1', [GROUPS.B.id])).toHaveLength(0);
  });

  it('deleting a group can move its records, with their comments and files, to another group', async () => {
    const wrongTarget = await post('admin', `/groups/${GROUPS.B.id}/delete`, { confirmName: 'Group B', records: 'move', targetGroupId: GROUPS.B.id });
    expect(wrongTarget.status).toBe(422);
    expect(wrongTarget.text).toContain('Choose the group to move the records to.');
    const ok = await post('admin', `/groups/${GROUPS.B.id}/delete`, { confirmName: 'Group B', records: 'move', targetGroupId: GROUPS.A.id });
    expect(ok.status).toBe(303);
    expect(await q("select group_id, owner_id from leads where last_name = 'Lead B'")).toEqual([{ group_id: GROUPS.A.id, owner_id: null }]);
    expect(await q("select group_id from clients where name = 'Client B'")).toEqual([{ group_id: GROUPS.A.id }]);
    expect((await q('select count(*)::int as n from comments where group_id = $1', [GROUPS.A.id]))[0].n).toBe(2);
    // The moved file downloads for a member of the new group.
    const [file] = await q("select f.id from files f join leads l on l.id = f.lead_id where l.last_name = 'Lead B'");
    expect((await agents.memberA.get(`/files/${file.id}/download`)).status).toBe(200);
  });
});

describe('members\' view', () => {
  it('"My groups" lists only the user\'s groups and the roster shows name, email and role', async () => {
    const list = await agents.memberA.get('/groups');
    expect(list.text).toContain('Group A');
    expect(list.text).not.toContain('Group B');
    const roster = await agents.memberA.get(`/groups/${GROUPS.A.id}`);
    expect(roster.status).toBe(200);
    expect(roster.text).toContain('manager.a@example.com');
    expect(roster.text).toContain('Manager');
    expect(roster.text).toContain('subject.a@example.com');
    // Members see the roster but no management controls.
    expect(roster.text).not.toContain('/members/');
  });

  it('a user in several groups gets the group switcher', async () => {
    await q('insert into memberships (user_id, group_id, role) values ($1, $2, $3)', [USERS.memberA.id, GROUPS.B.id, 'member']);
    const page = await agents.memberA.get('/dashboard');
    expect(page.text).toContain(`href="/groups/${GROUPS.B.id}"`);
    expect(page.text).toContain('My groups');
    const single = await agents.memberB.get('/dashboard');
    expect(single.text).not.toContain('My groups ▾');
  });
});

describe('escalation attempts', () => {
  it('a member cannot add themselves to a group: 403 in their own group, 404 in another', async () => {
    expect((await post('memberA', `/groups/${GROUPS.A.id}/members`, { email: 'member.a@example.com', role: 'manager' })).status).toBe(403);
    expect((await post('memberB', `/groups/${GROUPS.A.id}/members`, { email: 'member.b@example.com', role: 'manager' })).status).toBe(404);
    expect((await post('noGroup', `/groups/${GROUPS.A.id}/members`, { userId: USERS.noGroup.id })).status).toBe(404);
    expect(await q('select user_id, role from memberships where group_id = $1 order by user_id', [GROUPS.A.id])).toEqual([
      { user_id: USERS.memberA.id, role: 'member' },
      { user_id: USERS.managerA.id, role: 'manager' },
      { user_id: USERS.subjectA.id, role: 'member' },
    ]);
  });

  it('a manager cannot change a group they do not belong to (404), nor their own group\'s settings (403)', async () => {
    expect((await post('managerA', `/groups/${GROUPS.B.id}`, { name: 'Taken over', visibility: 'all' })).status).toBe(404);
    expect((await post('managerA', `/groups/${GROUPS.A.id}`, { name: 'Renamed by manager', visibility: 'all' })).status).toBe(403);
    expect((await post('managerA', `/groups/${GROUPS.A.id}/members/${USERS.memberA.id}/role`, { role: 'manager' })).status).toBe(403);
    expect((await q('select name from groups order by id')).map((r) => r.name)).toEqual(['Group A', 'Group B']);
  });

  it('a member sending role=admin or isAdmin=true to the profile stays a user', async () => {
    const res = await post('memberA', '/profile', { name: 'memberA', email: 'member.a@example.com', locale: 'en', role: 'admin', isAdmin: 'true' });
    expect(res.status).toBe(303);
    expect((await q('select role from users where id = $1', [USERS.memberA.id]))[0].role).toBe('user');
    expect((await agents.memberA.get('/admin/users')).status).toBe(403);
  });

  it('a non-admin cannot create groups or touch users', async () => {
    expect((await post('managerA', '/groups', { name: 'Mine now' })).status).toBe(403);
    expect((await post('managerA', `/admin/users/${USERS.managerA.id}/admin`, { admin: 'true' })).status).toBe(403);
    expect(await q("select 1 from groups where name = 'Mine now'")).toHaveLength(0);
    expect((await q('select role from users where id = $1', [USERS.managerA.id]))[0].role).toBe('user');
  });
});
