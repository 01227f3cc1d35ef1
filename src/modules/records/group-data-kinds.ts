import { eq, sql } from 'drizzle-orm';
import type { Tx } from '../../db/client.js';
import { activities, clients, comments, files, leads } from '../../db/schema/index.js';
import type { GroupDataKind } from '../groups/group-data.js';

/** An owner who is not a member of the target group is unassigned rather than left outside it. */
const ownerInTarget = (table: typeof leads | typeof clients, toGroupId: number) =>
  sql`case when exists (select 1 from memberships m where m.group_id = ${toGroupId} and m.user_id = ${table.ownerId}) then ${table.ownerId} else null end`;

const countIn = async (tx: Tx, table: typeof leads | typeof clients, groupId: number) => {
  const [row] = await tx.select({ n: sql<number>`count(*)::int` }).from(table).where(eq(table.groupId, groupId));
  return row?.n ?? 0;
};

/**
 * Leads and clients as group data, for deleting a group (trashed records count too: they still belong to it).
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
  },
];
