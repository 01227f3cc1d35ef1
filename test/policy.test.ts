import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { integer, pgTable, serial } from 'drizzle-orm/pg-core';
import { asc } from 'drizzle-orm';
import { createTestApp, type TestApp } from './helpers/app.js';
import { authorize, can, groupScope, type Actor } from '../src/modules/access/policy.js';
import { ForbiddenError, NotFoundError } from '../src/web/errors.js';

// A stand-in table with the columns every group record has; the scoping SQL runs on the real database.
const records = pgTable('policy_test_records', {
  id: serial('id').primaryKey(),
  groupId: integer('group_id').notNull(),
  ownerId: integer('owner_id'),
  createdById: integer('created_by_id'),
});

const admin: Actor = { id: 1, isAdmin: true, memberships: [] };
const memberA: Actor = { id: 3, isAdmin: false, memberships: [{ groupId: 1, groupName: 'A', role: 'member', visibility: 'all' }] };
const managerA: Actor = { id: 4, isAdmin: false, memberships: [{ groupId: 1, groupName: 'A', role: 'manager', visibility: 'all' }] };
const memberB: Actor = { id: 5, isAdmin: false, memberships: [{ groupId: 2, groupName: 'B', role: 'member', visibility: 'all' }] };
const ownOnly = (a: Actor): Actor => ({ ...a, memberships: a.memberships.map((m) => ({ ...m, visibility: 'own' as const })) });
const noGroup: Actor = { id: 2, isAdmin: false, memberships: [] };

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
  await t.services.database.pool.query(`
    drop table if exists policy_test_records;
    create table policy_test_records (id serial primary key, group_id int not null, owner_id int, created_by_id int);
    insert into policy_test_records (group_id, owner_id, created_by_id) values
      (1, 3, 3), (1, 4, 4), (1, null, 3), (1, 6, 4), (2, 5, 5), (2, null, 5);`);
});
afterAll(async () => {
  await t.services.database.pool.query('drop table if exists policy_test_records');
  await t.close();
});

async function visibleIds(actor: Actor, groupIds?: number[]) {
  const rows = await t.services.database.db
    .select({ id: records.id })
    .from(records)
    .where(groupScope(actor, { groupId: records.groupId, ownerId: records.ownerId, createdById: records.createdById }, groupIds))
    .orderBy(asc(records.id));
  return rows.map((r) => r.id);
}

describe('scoping helper (SQL)', () => {
  it('admins see every group; members and managers see their groups only; no group sees nothing', async () => {
    expect(await visibleIds(admin)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(await visibleIds(memberA)).toEqual([1, 2, 3, 4]);
    expect(await visibleIds(managerA)).toEqual([1, 2, 3, 4]);
    expect(await visibleIds(memberB)).toEqual([5, 6]);
    expect(await visibleIds(noGroup)).toEqual([]);
  });

  it('in an "own records" group, members see what they own or created; managers still see it all', async () => {
    expect(await visibleIds(ownOnly(memberA))).toEqual([1, 3]);
    expect(await visibleIds(ownOnly(managerA))).toEqual([1, 2, 3, 4]);
  });

  it('narrowed to groups (a filtered list or dashboard): what the actor sees in those groups, nothing beyond', async () => {
    const both: Actor = { id: 3, isAdmin: false, memberships: [...memberA.memberships, { groupId: 2, groupName: 'B', role: 'member', visibility: 'own' }] };
    expect(await visibleIds(admin, [2])).toEqual([5, 6]);
    expect(await visibleIds(admin, [])).toEqual([]);
    expect(await visibleIds(both, [1])).toEqual([1, 2, 3, 4]);
    // Own records in group 2: none of its rows is user 3's.
    expect(await visibleIds(both, [2])).toEqual([]);
    expect(await visibleIds(memberB, [1])).toEqual([]);
    expect(await visibleIds(ownOnly(memberA), [1, 2])).toEqual([1, 3]);
  });
});

describe('can / authorize', () => {
  const recA = { groupId: 1, ownerId: 4, createdById: 4 };
  it('another group\'s record is 404, a forbidden action inside the group is 403', () => {
    expect(() => authorize(memberB, 'record.view', recA)).toThrow(NotFoundError);
    expect(() => authorize(memberA, 'record.delete', recA)).toThrow(ForbiddenError);
    expect(() => authorize(ownOnly(memberA), 'record.edit', recA)).toThrow(NotFoundError);
    expect(() => authorize(managerA, 'record.delete', recA)).not.toThrow();
  });

  it('follows the table in DESIGN.md', () => {
    expect(can(memberA, 'record.create', { groupId: 1 })).toBe(true);
    expect(can(memberA, 'record.create', { groupId: 2 })).toBe(false);
    expect(can(memberA, 'clients.export', { groupId: 1 })).toBe(false);
    expect(can(managerA, 'clients.export', { groupId: 1 })).toBe(true);
    expect(can(managerA, 'record.reassign', { groupId: 2 })).toBe(false);
    expect(can(memberA, 'attachment.manage', { groupId: 1, authorId: 3 })).toBe(true);
    expect(can(memberA, 'attachment.manage', { groupId: 1, authorId: 4 })).toBe(false);
    expect(can(managerA, 'attachment.manage', { groupId: 1, authorId: 3 })).toBe(true);
    expect(can(managerA, 'groups.manage')).toBe(false);
    expect(can(admin, 'groups.manage')).toBe(true);
    expect(can(undefined, 'record.view', recA)).toBe(false);
  });
});
