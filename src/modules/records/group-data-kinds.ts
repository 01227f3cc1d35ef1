import { eq, sql } from 'drizzle-orm';
import type { Tx } from '../../db/client.js';
import { activities, clients, comments, files, leads, users } from '../../db/schema/index.js';
import type { GroupDataKind } from '../groups/group-data.js';

/** An owner who is not a member of the target group is unassigned rather than left outside it. */
const ownerInTarget = (table: typeof leads | typeof clients, toGroupId: number) =>
  sql`case when exists (select 1 from memberships m where m.group_id = ${toGroupId} and m.user_id = ${table.ownerId}) then ${table.ownerId} else null end`;

/** The records `userId` owns in the group, locked (see GroupDataKind.lockOwned). */
async function lockOwned(tx: Tx, table: typeof leads | typeof clients, groupId: number, userId: number) {
  await tx.execute(sql`select id from ${table} where group_id = ${groupId} and owner_id = ${userId} order by id for update`);
}

/**
 * Someone who leaves the group stops owning its records (they no longer see them, and an owner must be a member:
 * checkOwner): each becomes unassigned, trashed and converted ones too (a restored record must not come back
 * with an outsider as owner), with an edit in its history by whoever removed them. updated_at moves (the API's
 * ETags are made from it), not a lead's last activity: nobody worked the lead, and a neglected one stays "stale".
 * Returns how many.
 */
async function unassign(tx: Tx, table: typeof leads | typeof clients, groupId: number, userId: number, actorId: number) {
  const attach = table === leads ? sql.raw('lead_id') : sql.raw('client_id');
  const result = await tx.execute(sql`
    with released as (
      update ${table} set owner_id = null, updated_at = now()
      where group_id = ${groupId} and owner_id = ${userId} returning id, group_id)
    insert into ${activities} (group_id, ${attach}, actor_id, action, data)
    select group_id, id, ${actorId}, 'updated', jsonb_build_object('changes', jsonb_build_object('ownerId',
      jsonb_build_array((select name from ${users} where id = ${userId}), null)))
    from released`);
  return result.rowCount ?? 0;
}

const countIn = async (tx: Tx, table: typeof leads | typeof clients, groupId: number) => {
  const [row] = await tx.select({ n: sql<number>`count(*)::int` }).from(table).where(eq(table.groupId, groupId));
  return row?.n ?? 0;
};

/**
 * Leads and clients as group data, for deleting a group (trashed records count too: they still belong to it)
 * and for a member leaving it.
 * Comments, files and activity follow their records; they are moved with the leads (all of a group's
 * attachments belong to its leads and clients).
 */
export const recordGroupDataKinds: GroupDataKind[] = [
  {
    labelKey: 'leads.plural',
    count: (tx, groupId) => countIn(tx, leads, groupId),
    async moveAll(tx, from, to) {
      await tx.update(leads).set({ groupId: to, ownerId: ownerInTarget(leads, to) }).where(eq(leads.groupId, from));
      for (const table of [comments, files, activities]) await tx.update(table).set({ groupId: to }).where(eq(table.groupId, from));
    },
    async deleteAll(tx, groupId) {
      const stored = await tx.select({ name: files.storageName }).from(files).where(eq(files.groupId, groupId));
      await tx.delete(leads).where(eq(leads.groupId, groupId));
      return stored.map((f) => f.name);
    },
    lockOwned: (tx, groupId, userId) => lockOwned(tx, leads, groupId, userId),
    unassign: (tx, groupId, userId, actorId) => unassign(tx, leads, groupId, userId, actorId),
  },
  {
    labelKey: 'clients.plural',
    count: (tx, groupId) => countIn(tx, clients, groupId),
    async moveAll(tx, from, to) {
      await tx.update(clients).set({ groupId: to, ownerId: ownerInTarget(clients, to) }).where(eq(clients.groupId, from));
    },
    async deleteAll(tx, groupId) {
      await tx.delete(clients).where(eq(clients.groupId, groupId));
      return [];
    },
    lockOwned: (tx, groupId, userId) => lockOwned(tx, clients, groupId, userId),
    unassign: (tx, groupId, userId, actorId) => unassign(tx, clients, groupId, userId, actorId),
  },
];
