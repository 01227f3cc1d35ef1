import { desc, eq, sql } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client.js';
import { activities, leads, users } from '../../db/schema/index.js';
import { attachColumn, type RecordHead } from './records.js';

export type ActivityAction =
  | 'created' | 'updated' | 'status_changed' | 'owner_changed' | 'commented' | 'comment_edited' | 'comment_deleted'
  | 'file_added' | 'file_deleted' | 'converted' | 'deleted' | 'restored' | 'exported';

export interface NewActivity {
  groupId: number;
  leadId?: number | null;
  clientId?: number | null;
  actorId: number | null;
  action: ActivityAction;
  data?: Record<string, unknown>;
}

export const activityRepository = {
  async add(db: DbOrTx, a: NewActivity) {
    await db.insert(activities).values({ ...a, data: a.data ?? {} });
    // Raw SQL on purpose: Drizzle's update() would also bump updated_at, which means "the lead was edited".
    if (a.leadId) await db.execute(sql`update ${leads} set last_activity_at = now() where id = ${a.leadId}`);
  },

  /**
   * An edit in the history: a status change as its own entry (status_changed, old → new; from the board or the
   * edit form alike, so the pipeline's moves can be found by action), the other fields changed with it as one
   * 'updated'.
   */
  async logChanges(db: DbOrTx, entry: Omit<NewActivity, 'action' | 'data'>, changes: Record<string, [unknown, unknown]>) {
    const { status, ...rest } = changes;
    if (Object.keys(rest).length) await activityRepository.add(db, { ...entry, action: 'updated', data: { changes: rest } });
    if (status) await activityRepository.add(db, { ...entry, action: 'status_changed', data: { changes: { status } } });
  },

  /**
   * A record's timeline, newest first, with who did it. A client's includes its lead's history: conversion
   * set client_id on those rows.
   */
  timeline(db: DbOrTx, head: Pick<RecordHead, 'kind' | 'id'>, limit = 200) {
    return db
      .select({ id: activities.id, action: activities.action, data: activities.data, createdAt: activities.createdAt, actorName: users.name, leadId: activities.leadId, clientId: activities.clientId })
      .from(activities)
      .leftJoin(users, eq(users.id, activities.actorId))
      .where(eq(attachColumn(activities, head.kind), head.id))
      .orderBy(desc(activities.createdAt), desc(activities.id))
      .limit(limit);
  },
};

/** Field-by-field differences between two versions of a record: { field: [old, new] }. */
export function diff<T extends Record<string, unknown>>(before: T, after: Partial<T>, fields: (keyof T)[]): Record<string, [unknown, unknown]> {
  const out: Record<string, [unknown, unknown]> = {};
  for (const f of fields) {
    if (!(f in after)) continue;
    const a = before[f] ?? null;
    const b = after[f] ?? null;
    if (String(a) !== String(b)) out[f as string] = [a, b];
  }
  return out;
}
