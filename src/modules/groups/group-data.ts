import type { Tx } from '../../db/client.js';

/**
 * Kinds of record that belong to a group (leads, clients, …). Deleting a group asks what to do with each
 * kind, and a member who leaves stops owning any: the feature modules register here, so the group module needs
 * no knowledge of them.
 */
export interface GroupDataKind {
  /** i18n key of the plural label, e.g. "leads.plural". */
  labelKey: string;
  count(tx: Tx, groupId: number): Promise<number>;
  moveAll(tx: Tx, fromGroupId: number, toGroupId: number): Promise<void>;
  /** Deletes the group's records; returns stored file names to remove once the transaction has committed. */
  deleteAll(tx: Tx, groupId: number): Promise<string[]>;
  /**
   * Locks the records `userId` owns in the group, before the membership goes and before any kind's unassign: an
   * edit holding one of them and then waiting for the group's revision row (which the first unassign's UPDATE
   * takes), or for the membership (checkOwner), would otherwise deadlock with the removal.
   */
  lockOwned(tx: Tx, groupId: number, userId: number): Promise<void>;
  /** Unassigns the records `userId` owns in the group (they are leaving it), logged as `actorId`'s; how many. */
  unassign(tx: Tx, groupId: number, userId: number, actorId: number): Promise<number>;
}
