import { and, eq, isNull } from 'drizzle-orm';
import type { AnyPgColumn } from 'drizzle-orm/pg-core';
import type { DbOrTx } from '../../db/client.js';
import { clients, leads } from '../../db/schema/index.js';
import { NotFoundError } from '../../web/errors.js';
import { authorize, type Action, type Actor } from '../access/policy.js';

/** A lead or a client: the two kinds of record that carry comments, files and a timeline. */
export type RecordKind = 'lead' | 'client';
export interface RecordRef {
  kind: RecordKind;
  id: number;
}
export interface RecordHead {
  kind: RecordKind;
  id: number;
  groupId: number;
  ownerId: number | null;
  createdById: number | null;
  /** A converted lead is read-only: its comments and files continue on the client. */
  readOnly: boolean;
  /** For a client made from a lead: that lead, whose history the client shows too. */
  leadId: number | null;
}

export const recordPath = (ref: RecordRef) => `/${ref.kind === 'lead' ? 'leads' : 'clients'}/${ref.id}`;

/**
 * Loads the part of a live (not trashed) record the policy needs and checks the action:
 * another group's record (or one hidden by "own records" visibility) → 404, a forbidden action → 403.
 */
export async function loadRecordHead(db: DbOrTx, actor: Actor, ref: RecordRef, action: Action): Promise<RecordHead> {
  let head: RecordHead | undefined;
  if (ref.kind === 'lead') {
    const [row] = await db
      .select({ id: leads.id, groupId: leads.groupId, ownerId: leads.ownerId, createdById: leads.createdById, status: leads.status })
      .from(leads)
      .where(and(eq(leads.id, ref.id), isNull(leads.deletedAt)));
    if (row) head = leadHead(row);
  } else {
    const [row] = await db
      .select({ id: clients.id, groupId: clients.groupId, ownerId: clients.ownerId, createdById: clients.createdById, leadId: clients.leadId })
      .from(clients)
      .where(and(eq(clients.id, ref.id), isNull(clients.deletedAt)));
    if (row) head = clientHead(row);
  }
  if (!head) throw new NotFoundError();
  authorize(actor, action, head);
  return head;
}

/**
 * The head of a live lead or client already read in full (a record's page), checked for `action` as
 * loadRecordHead does: the page's comments, files and history need no second read of the record.
 */
export function recordHead(actor: Actor, record: { lead: LeadHeadFields } | { client: ClientHeadFields }, action: Action): RecordHead {
  const head = 'lead' in record ? leadHead(record.lead) : clientHead(record.client);
  authorize(actor, action, head);
  return head;
}

type LeadHeadFields = { id: number; groupId: number; ownerId: number | null; createdById: number | null; status: string };
type ClientHeadFields = { id: number; groupId: number; ownerId: number | null; createdById: number | null; leadId: number | null };
const leadHead = (r: LeadHeadFields): RecordHead =>
  ({ kind: 'lead', id: r.id, groupId: r.groupId, ownerId: r.ownerId, createdById: r.createdById, readOnly: r.status === 'converted', leadId: r.id });
const clientHead = (r: ClientHeadFields): RecordHead =>
  ({ kind: 'client', id: r.id, groupId: r.groupId, ownerId: r.ownerId, createdById: r.createdById, leadId: r.leadId, readOnly: false });

/** The column to attach comments, files and activity to: lead_id for a lead, client_id for a client. */
export function attachColumn(table: { leadId: AnyPgColumn; clientId: AnyPgColumn }, kind: RecordKind): AnyPgColumn {
  return kind === 'lead' ? table.leadId : table.clientId;
}
