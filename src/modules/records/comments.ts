import { and, asc, eq } from 'drizzle-orm';
import { z } from 'zod';
import type { Database, DbOrTx } from '../../db/client.js';
import { comments, users } from '../../db/schema/index.js';
import { ConflictError, NotFoundError } from '../../web/errors.js';
import { authorize, can, type Actor } from '../access/policy.js';
import { activityRepository } from './activity.repository.js';
import { attachColumn, loadRecordHead, recordPath, type RecordHead, type RecordRef } from './records.js';
import { clients, leads, memberships } from '../../db/schema/index.js';
import type { Notifier } from '../notifications/notifications.service.js';
import { leadName } from '../leads/leads.service.js';

/** Plain text, at most 10,000 characters; line breaks kept. */
export const commentInput = z.object({ body: z.string().trim().min(1, 'validation.required').max(10_000, 'validation.commentTooLong') });

const excerpt = (s: string) => (s.length > 140 ? `${s.slice(0, 139)}…` : s);

export const commentsRepository = {
  listFor(db: DbOrTx, head: Pick<RecordHead, 'kind' | 'id'>) {
    return db
      .select({ id: comments.id, body: comments.body, authorId: comments.authorId, authorName: users.name, createdAt: comments.createdAt, editedAt: comments.editedAt })
      .from(comments)
      .leftJoin(users, eq(users.id, comments.authorId))
      .where(eq(attachColumn(comments, head.kind), head.id))
      .orderBy(asc(comments.createdAt), asc(comments.id));
  },
  async find(db: DbOrTx, id: number) {
    const [row] = await db.select().from(comments).where(eq(comments.id, id));
    return row;
  },
};

/** Comments are one implementation for leads and clients: the record head says which. */
export function createCommentsService(deps: { database: Database; notifications?: Notifier }) {
  const { db } = deps.database;

  /**
   * The record's owner hears of someone else's comment, if they are still in the record's group (an owner who
   * left it must not read its comments by email).
   */
  async function notifyOwner(tx: DbOrTx, actor: Actor, head: RecordHead, commentId: number, body: string) {
    if (!deps.notifications || !head.ownerId || head.ownerId === actor.id) return;
    const [member] = await tx
      .select({ userId: memberships.userId })
      .from(memberships)
      .where(and(eq(memberships.groupId, head.groupId), eq(memberships.userId, head.ownerId)));
    if (!member) return;
    const recordName =
      head.kind === 'lead'
        ? leadName((await tx.select().from(leads).where(eq(leads.id, head.id)))[0]!)
        : (await tx.select({ name: clients.name }).from(clients).where(eq(clients.id, head.id)))[0]!.name;
    await deps.notifications.notify(tx, {
      userId: head.ownerId,
      actorId: actor.id,
      kind: 'commented',
      data: { recordKind: head.kind, recordName, excerpt: excerpt(body) },
      link: recordPath(head),
      dedupeKey: `commented:${commentId}`,
    });
  }

  /** The comment and the record it is shown on (the client once its lead is converted). */
  async function load(actor: Actor, id: number) {
    const comment = await commentsRepository.find(db, id);
    if (!comment) throw new NotFoundError();
    const ref: RecordRef = comment.clientId ? { kind: 'client', id: comment.clientId } : { kind: 'lead', id: comment.leadId! };
    const head = await loadRecordHead(db, actor, ref, 'record.view');
    authorize(actor, 'attachment.manage', { ...head, authorId: comment.authorId });
    return { comment, head };
  }

  return {
    /** The comments of a record, each with whether the actor may edit or delete it. */
    async listFor(actor: Actor, head: RecordHead) {
      const rows = await commentsRepository.listFor(db, head);
      return rows.map((c) => ({ ...c, canManage: !head.readOnly && can(actor, 'attachment.manage', { ...head, authorId: c.authorId }) }));
    },

    async add(actor: Actor, ref: RecordRef, body: string) {
      const added = await db.transaction(async (tx) => {
        const head = await loadRecordHead(tx, actor, ref, 'record.edit');
        if (head.readOnly) throw new ConflictError('leads.readOnly');
        const [row] = await tx
          .insert(comments)
          .values({ groupId: head.groupId, [head.kind === 'lead' ? 'leadId' : 'clientId']: head.id, authorId: actor.id, body })
          .returning();
        await activityRepository.add(tx, {
          groupId: head.groupId, [head.kind === 'lead' ? 'leadId' : 'clientId']: head.id, actorId: actor.id, action: 'commented', data: { excerpt: excerpt(body) },
        });
        await notifyOwner(tx, actor, head, row!.id, body);
        return row!;
      });
      deps.notifications?.kick();
      return added;
    },

    async get(actor: Actor, id: number) {
      return load(actor, id);
    },

    async edit(actor: Actor, id: number, body: string) {
      const { comment, head } = await load(actor, id);
      if (head.readOnly) throw new ConflictError('leads.readOnly');
      await db.update(comments).set({ body, editedAt: new Date() }).where(and(eq(comments.id, comment.id)));
      return head;
    },

    async remove(actor: Actor, id: number) {
      const { comment, head } = await load(actor, id);
      if (head.readOnly) throw new ConflictError('leads.readOnly');
      await db.transaction(async (tx) => {
        await tx.delete(comments).where(eq(comments.id, comment.id));
        await activityRepository.add(tx, {
          groupId: comment.groupId, leadId: comment.leadId, clientId: comment.clientId, actorId: actor.id, action: 'comment_deleted', data: { excerpt: excerpt(comment.body) },
        });
      });
      return head;
    },
  };
}
export type CommentsService = ReturnType<typeof createCommentsService>;
