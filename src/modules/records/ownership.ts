import { eq } from 'drizzle-orm';
import type { Tx } from '../../db/client.js';
import { groups, users } from '../../db/schema/index.js';
import { ValidationError } from '../../web/errors.js';
import { can, type Actor } from '../access/policy.js';
import { leadsRepository } from '../leads/leads.repository.js';

/**
 * Rules that leads and clients share when a record is created or edited: the group must be one of the
 * actor's, the owner a member of it, and the timeline shows names rather than ids.
 */

/** A group the actor may create records in; otherwise the form says so (never a silent move). */
export function checkGroup(actor: Actor, groupId: number) {
  if (!can(actor, 'record.create', { groupId })) throw new ValidationError({ groupId: { key: 'leads.groupNotYours' } });
}

/** The owner must belong to the record's group; none means unassigned. */
export async function checkOwner(tx: Tx, groupId: number, ownerId: number | null | undefined) {
  if (ownerId && !(await leadsRepository.isMember(tx, groupId, ownerId))) throw new ValidationError({ ownerId: { key: 'leads.ownerNotMember' } });
}

async function nameOf(tx: Tx, table: typeof users | typeof groups, id: number | null) {
  if (!id) return null;
  const [row] = await tx.select({ name: table.name }).from(table).where(eq(table.id, id));
  return row?.name ?? null;
}

/** Ids mean nothing to a reader of the timeline: an owner or group change is stored with the names. */
export async function nameOwnerAndGroup(
  tx: Tx,
  changes: Record<string, [unknown, unknown]>,
  before: { ownerId: number | null; groupId: number },
  after: { ownerId: number | null; groupId: number },
) {
  if (changes.ownerId) changes.ownerId = [await nameOf(tx, users, before.ownerId), await nameOf(tx, users, after.ownerId)];
  if (changes.groupId) changes.groupId = [await nameOf(tx, groups, before.groupId), await nameOf(tx, groups, after.groupId)];
}
