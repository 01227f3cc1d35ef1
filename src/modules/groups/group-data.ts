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
  /** Unassigns the records `userId` owns in the group (they are leaving it), logged as `actorId`'s; how many. */
  unassign(tx: Tx, groupId: number, userId: number, actorId: number): Promise<number>;
}
