import { eq, sql } from 'drizzle-orm';
import type { Env } from '../../config/env.js';
import type { Database, DbOrTx } from '../../db/client.js';
import { users } from '../../db/schema/index.js';
import { DEFAULT_LOCALE, isLocale, translator } from '../../lib/i18n.js';
import type { Logger } from '../../lib/logger.js';
import type { Mailer } from '../../lib/mailer.js';
import { offsetOf, toPage, type PageQuery } from '../../lib/pagination.js';
import type { Jobs } from '../../jobs/jobs.js';
import { NotFoundError } from '../../web/errors.js';
import { NOTIFICATION_KINDS, mailOf, messageOf, type NotificationKind } from './notifications.messages.js';
import { notificationsRepository as repo } from './notifications.repository.js';

export const DELIVER_JOB = 'notifications.deliver';

export interface NotifyInput {
  /** The recipient; none (an unassigned record) means nobody to tell. */
  userId: number | null | undefined;
  /** Who caused it: nobody is told about their own actions. Their name is stored with the notification. */
  actorId?: number | null;
  kind: NotificationKind;
  /** Names and details as they are now; the words are chosen in the reader's language later. */
  data?: Record<string, unknown>;
  /** A local path (the record, the group, the export). */
  link: string;
  /** Identifies the event: (user, key) is unique, so the same event is one notification whatever retries. */
  dedupeKey: string;
}

/** What producers (leads, clients, comments, groups, exports) need: notify inside their transaction, kick after commit. */
export interface Notifier {
  notify(tx: DbOrTx, input: NotifyInput): Promise<number | undefined>;
  kick(): void;
}

interface Deps {
  database: Database;
  jobs: Jobs;
  mailer: Mailer;
  env: Env;
  logger: Logger;
}

type Delivery = NonNullable<Awaited<ReturnType<typeof repo.forDelivery>>>;

/** Email goes to an active user who has not turned this kind off, once. */
const wantsEmail = (n: Delivery | undefined): n is Delivery =>
  !!n && !n.emailedAt && n.user.active && !(n.user.emailOff ?? []).includes(n.kind);

/**
 * Notifications in the app and by email.
 *
 * notify() writes the row and its delivery job in the caller's transaction (a rolled-back change tells nobody);
 * the producer calls kick() after the commit. The job `notifications.deliver` sends the email.
 *
 * Delivery guarantee: the in-app notification is exactly one per event (unique (user, dedupe key); the job
 * only reads it). The email is at-least-once: the job locks the row (FOR UPDATE), sends, sets emailed_at and
 * commits, so a retry or a second worker that took over a stalled job waits for the first and then finds
 * emailed_at set. Only a crash in the tiny window after the SMTP server accepted the mail and before that
 * commit sends it a second time; a failed send rolls back and is retried with backoff.
 */
export function createNotificationsService(deps: Deps) {
  const { db } = deps.database;
  const { jobs, mailer, env } = deps;

  const service = {
    kinds: NOTIFICATION_KINDS,

    async notify(tx: DbOrTx, input: NotifyInput): Promise<number | undefined> {
      if (!input.userId || input.userId === input.actorId) return undefined;
      const data: Record<string, unknown> = { ...input.data };
      if (input.actorId) {
        const [actor] = await tx.select({ name: users.name }).from(users).where(eq(users.id, input.actorId));
        data.actorName = actor?.name ?? '';
      }
      const id = await repo.insert(tx, { userId: input.userId, kind: input.kind, data, link: input.link, dedupeKey: input.dedupeKey.slice(0, 200) });
      // By id, with a deterministic key: the job reads the row, so a retried request cannot enqueue twice.
      if (id) await jobs.enqueue(tx, DELIVER_JOB, { notificationId: id }, String(id));
      return id;
    },

    /** After the producer's commit: start delivery now rather than at the next poll. */
    kick() {
      jobs.kick();
    },

    /**
     * The job's work: see the delivery guarantee above. Safe to run any number of times. `throttle` wraps the
     * locked send (the job limits the mails in flight), after the unlocked first read.
     */
    async deliver(notificationId: number, throttle: <T>(send: () => Promise<T>) => Promise<T> = (send) => send()) {
      // Most runs end here without a lock (email off, already sent, a deleted user).
      const [first] = await repo.forDeliveryPrepared(db).execute({ id: notificationId });
      if (!wantsEmail(first)) return;
      await throttle(() =>
        db.transaction(async (tx) => {
          // A sender that hangs must not hold the others forever: they fail this attempt and retry later.
          await tx.execute(sql`set local lock_timeout = '30s'`);
          const n = await repo.forDelivery(tx, notificationId, true);
          if (!wantsEmail(n)) return;
          const t = translator(isLocale(n.user.locale) ? n.user.locale : DEFAULT_LOCALE);
          const mail = mailOf(t, n, n.user, env.APP_URL);
          await mailer.send({ to: n.user.email, ...mail });
          await repo.markEmailed(tx, n.id);
        }),
      );
    },

    /** For the bell: one bounded query on a partial index. */
    unreadCount: (userId: number) => repo.unreadCount(db, userId),

    async list(userId: number, q: PageQuery) {
      const [items, total] = await Promise.all([repo.page(db, userId, q.perPage, offsetOf(q)), repo.total(db, userId)]);
      const rows = items.map((n) => ({ ...n, message: messageOf(n), excerpt: typeof n.data?.excerpt === 'string' ? n.data.excerpt : '' }));
      return toPage(rows, total, q, '/notifications', {});
    },

    /** Marks the user's notification read and returns its link; someone else's is a 404. */
    async open(userId: number, id: number): Promise<string | null> {
      const row = await repo.markRead(db, userId, id);
      if (!row) throw new NotFoundError();
      return row.link;
    },

    markAllRead: (userId: number) => repo.markAllRead(db, userId),

    /** The API's list: the user's own notifications (only the unread ones if asked), with the exact total. */
    async listFiltered(userId: number, q: PageQuery, filter: { unread: boolean }) {
      const [rows, total] = await Promise.all([repo.pageWhere(db, userId, filter, q.perPage, offsetOf(q)), repo.totalWhere(db, userId, filter)]);
      return { items: rows.map((n) => ({ ...n, message: messageOf(n) })), total };
    },

    /** Exact unread count (the API's; the bell uses the capped unreadCount). */
    unreadTotal: (userId: number) => repo.totalWhere(db, userId, { unread: true }),

    /** Email on for the kinds given, off for the rest. */
    async setEmailKinds(userId: number, on: NotificationKind[]) {
      await repo.setEmailOff(db, userId, NOTIFICATION_KINDS.filter((k) => !on.includes(k)));
    },
  };
  return service;
}

export type NotificationsService = ReturnType<typeof createNotificationsService>;
