import { beforeEach, describe, expect, it } from 'vitest';
import { GROUPS, USERS, useFixtureSuite, type ActorName } from './helpers/fixture.js';

// The list orders some pages are read in by walking indexes (nulls-last keys in two walks, the owner order user by
// user; src/modules/records/list.ts) must be exactly the order a plain ORDER BY gives: here both, over data with
// empty values, ties and two owners of the same name, for a member (one group) and the admin (all), at the first,
// second and last page, either way.
const f = useFixtureSuite();
const { q, post } = f;

async function names(actor: ActorName, path: string) {
  const res = await f.agents[actor].get(path);
  expect(res.status).toBe(200);
  return [...res.text.matchAll(/href="\/(?:leads|clients)\/\d+">([^<]+)</g)].map((m) => m[1]!.trim());
}

const OWNERS = `(array[${USERS.memberA.id}, ${USERS.managerA.id}, ${USERS.subjectA.id}, null]::int[])`;
const OWNERS_B = `(array[${USERS.memberB.id}, ${USERS.subjectB.id}, null]::int[])`;

beforeEach(async () => {
  // Namesakes: two of group A's people are both "Анна Смирнова" (told apart by id, each one's rows together).
  await q(`update users set name = 'Анна Смирнова' where id in (${USERS.memberA.id}, ${USERS.managerA.id})`);
  // 130 leads and 130 clients in A, 70 in B: every 5th without a value or company, values and times with ties.
  for (const [group, owners, n] of [[GROUPS.A.id, OWNERS, 130], [GROUPS.B.id, OWNERS_B, 70]] as const) {
    await q(
      `insert into leads (group_id, last_name, status, value, owner_id, created_by_id, created_at)
       select $1::int, 'L' || $1::int || '-' || i, (array['new','contacted','qualified','lost']::lead_status[])[1 + i % 4],
              case when i % 5 = 0 then null else (i % 7) * 100 end, ${owners}[1 + i % cardinality(${owners})], $2,
              now() - make_interval(mins => i / 3)
       from generate_series(1, $3) i`,
      [group, USERS.admin.id, n],
    );
    await q(
      `insert into clients (group_id, name, company, status, owner_id, created_by_id, created_at, updated_at)
       select $1::int, 'C' || $1::int || '-' || i, case when i % 5 = 0 then null else 'Co ' || (i % 9) end,
              (array['active','inactive']::client_status[])[1 + i % 2], ${owners}[1 + i % cardinality(${owners})], $2,
              now() - make_interval(mins => i / 3), now() - make_interval(mins => i % 11)
       from generate_series(1, $3) i`,
      [group, USERS.admin.id, n],
    );
  }
});

const LEAD_ORDERS: Record<string, (dir: string) => string> = {
  status: (d) => `l.status ${d}, l.id ${d}`,
  value: (d) => `l.value ${d} nulls last, l.id ${d}`,
  owner: (d) => `lower(o.name) ${d} nulls last, o.id ${d} nulls last, l.created_at ${d}, l.id ${d}`,
  created: (d) => `l.created_at ${d}, l.id ${d}`,
};
const CLIENT_ORDERS: Record<string, (dir: string) => string> = {
  company: (d) => `lower(c.company) ${d} nulls last, c.id ${d}`,
  owner: (d) => `lower(o.name) ${d} nulls last, o.id ${d} nulls last, c.created_at ${d}, c.id ${d}`,
  status: (d) => `c.status ${d}, c.id ${d}`,
  updated: (d) => `c.updated_at ${d}, c.id ${d}`,
};
const cases = (orders: Record<string, unknown>) =>
  (['memberA', 'admin'] as const).flatMap((actor) => Object.keys(orders).flatMap((sort) => ['asc', 'desc'].map((dir) => [actor, sort, dir] as const)));

describe('sorted lists', () => {
  it.each(cases(LEAD_ORDERS))('leads, %s, by %s %s: pages 1, 2 and the last in the order of plain SQL', async (actor, sort, dir) => {
    const scope = actor === 'admin' ? '' : `and l.group_id = ${GROUPS.A.id}`;
    const expected = (await q(`select l.last_name from leads l left join users o on o.id = l.owner_id
      where l.deleted_at is null and l.status <> 'converted' and l.last_name like 'L%' ${scope} order by ${LEAD_ORDERS[sort]!(dir)}`)).map((r) => r.last_name);
    const last = Math.ceil(expected.length / 25);
    for (const page of [1, 2, last]) {
      const shown = (await names(actor, `/leads?sort=${sort}&dir=${dir}&page=${page}`)).filter((n) => n.startsWith('L'));
      expect(shown, `page ${page}`).toEqual(expected.slice((page - 1) * 25, page * 25));
    }
  });

  it.each(cases(CLIENT_ORDERS))('clients, %s, by %s %s: pages 1, 2 and the last in the order of plain SQL', async (actor, sort, dir) => {
    const scope = actor === 'admin' ? '' : `and c.group_id = ${GROUPS.A.id}`;
    const expected = (await q(`select c.name from clients c left join users o on o.id = c.owner_id
      where c.deleted_at is null ${scope} order by ${CLIENT_ORDERS[sort]!(dir)}`)).map((r) => r.name);
    const last = Math.ceil(expected.length / 25);
    for (const page of [1, 2, last]) {
      const all = await names(actor, `/clients?sort=${sort}&dir=${dir}&page=${page}`);
      expect(all, `page ${page}`).toEqual(expected.slice((page - 1) * 25, page * 25));
    }
  });

  it('an owner sort with a status filter (leads, clients), and the owner filter, still match plain SQL', async () => {
    const expected = (await q(`select l.last_name from leads l left join users o on o.id = l.owner_id
      where l.deleted_at is null and l.status = 'qualified' and l.last_name like 'L%' order by lower(o.name) desc nulls last, o.id desc nulls last, l.created_at desc, l.id desc limit 25`)).map((r) => r.last_name);
    expect(await names('admin', '/leads?sort=owner&dir=desc&status=qualified')).toEqual(expected);
    const clients = (await q(`select c.name from clients c left join users o on o.id = c.owner_id
      where c.deleted_at is null and c.status = 'inactive' order by lower(o.name) asc nulls last, o.id asc nulls last, c.created_at asc, c.id asc offset 25 limit 25`)).map((r) => r.name);
    expect(await names('admin', '/clients?sort=owner&dir=asc&status=inactive&page=2')).toEqual(clients);
    const own = (await q(`select last_name from leads where deleted_at is null and status <> 'converted' and owner_id = $1 order by created_at desc, id desc limit 25`, [USERS.managerA.id])).map((r) => r.last_name);
    expect(await names('admin', `/leads?owner=${USERS.managerA.id}`)).toEqual(own);
  });
});

describe('a member of two groups', () => {
  it('their owner filters (the groups\' slices merged) and owner order (owner by owner) match plain SQL', async () => {
    await q(`insert into memberships (user_id, group_id, role) values ($1, $2, 'member')`, [USERS.memberA.id, GROUPS.B.id]);
    // Both owners with rows in both groups, interleaved in time.
    await q(`insert into leads (group_id, last_name, owner_id, created_by_id, created_at)
             select (array[$1, $2]::int[])[1 + i % 2], 'LM-' || i, (array[$3, $4]::int[])[1 + (i / 2) % 2], $3, now() - make_interval(secs => i * 7)
             from generate_series(1, 60) i`, [GROUPS.A.id, GROUPS.B.id, USERS.memberA.id, USERS.memberB.id]);
    const scope = `l.deleted_at is null and l.status <> 'converted' and l.last_name like 'L%'`;
    for (const [owner, id] of [['me', USERS.memberA.id], [String(USERS.memberB.id), USERS.memberB.id]] as const) {
      const expected = (await q(`select l.last_name from leads l where ${scope} and l.owner_id = $1 order by l.created_at desc, l.id desc`, [id])).map((r) => r.last_name);
      expect(expected.length).toBeGreaterThan(25);
      for (const page of [1, 2]) expect(await names('memberA', `/leads?owner=${owner}&page=${page}`), `owner=${owner} page ${page}`).toEqual(expected.slice((page - 1) * 25, page * 25));
    }
    const byOwner = (await q(`select l.last_name from leads l left join users o on o.id = l.owner_id where ${scope}
      order by lower(o.name) desc nulls last, o.id desc nulls last, l.created_at desc, l.id desc`)).map((r) => r.last_name);
    const last = Math.ceil(byOwner.length / 25);
    for (const page of [1, 2, last]) expect(await names('memberA', `/leads?sort=owner&dir=desc&page=${page}`), `page ${page}`).toEqual(byOwner.slice((page - 1) * 25, page * 25));
  });
});

describe('stale leads', () => {
  it('are the open ones with no activity for 14 days, however recent or old the lead itself', async () => {
    await q('delete from leads');
    await q(
      `insert into leads (group_id, last_name, status, created_by_id, created_at, last_activity_at) values
       ($1, 'Old and quiet', 'new', $2, now() - interval '60 days', now() - interval '20 days'),
       ($1, 'Old but busy', 'contacted', $2, now() - interval '60 days', now() - interval '1 day'),
       ($1, 'Quiet, just over', 'qualified', $2, now() - interval '15 days', now() - interval '15 days'),
       ($1, 'New', 'new', $2, now() - interval '2 days', now() - interval '2 days'),
       ($1, 'Old and lost', 'lost', $2, now() - interval '60 days', now() - interval '30 days')`,
      [GROUPS.A.id, USERS.admin.id],
    );
    expect(await names('memberA', '/leads?stale=1')).toEqual(['Quiet, just over', 'Old and quiet']);
    // A comment is activity: the lead leaves the list, and the count (reused while nothing changes) goes with it.
    const [quiet] = await q("select id from leads where last_name = 'Old and quiet'");
    expect((await post('memberA', `/leads/${quiet.id}/comments`, { body: 'Called back' })).status).toBe(303);
    const after = await f.agents.memberA.get('/leads?stale=1');
    expect(after.text).toContain('1 lead');
    expect(await names('memberA', '/leads?stale=1')).toEqual(['Quiet, just over']);
  });
});
