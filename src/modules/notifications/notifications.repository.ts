import { and, desc, eq, isNull, sql } from 'drizzle-orm';
import type { Db, DbOrTx } from '../../db/client.js';
import { notifications, users } from '../../db/schema/index.js';

export type Notification = typeof notifications.$inferSelect;
export type NewNotification = typeof notifications.$inferInsert;

/** The bell counts up to this many and then shows "99+": the count stays cheap however much piles up. */
export const UNREAD_CAP = 99;

/** A notification with what its email needs to know about the recipient (see forDelivery). */
const deliverySelect = (db: DbOrTx) =>
  db
    .select({
      id: notifications.id,
      kind: notifications.kind,
      data: notifications.data,
      link: notifications.link,
      emailedAt: notifications.emailedAt,
      user: { id: users.id, email: users.email, name: users.name, locale: users.locale, active: users.active, emailOff: users.emailOff },
    })
    .from(notifications)
    .innerJoin(users, eq(users.id, notifications.userId))
    .$dynamic();
const preparedDelivery = new WeakMap<Db, ReturnType<ReturnType<typeof deliverySelect>['prepare']>>();

/** Every query on notifications; each one is scoped to its user except the delivery job's (by id). */
export const notificationsRepository = {
  /** One row per (user, dedupe key): the same event twice is one notification. Returns the id, or none if it existed. */
  async insert(db: DbOrTx, values: NewNotification): Promise<number | undefined> {
    const [row] = await db
      .insert(notifications)
      .values(values)
      .onConflictDoNothing({ target: [notifications.userId, notifications.dedupeKey] })
      .returning({ id: notifications.id });
    return row?.id;
  },

  /** Unread notifications of a user, counted to UNREAD_CAP + 1 at most; answered by the partial index notifications_unread_idx. */
  async unreadCount(db: DbOrTx, userId: number): Promise<number> {
    const { rows } = await db.execute<{ n: number }>(
      sql`select count(*)::int as n from (select 1 from ${notifications} where ${notifications.userId} = ${userId} and ${notifications.readAt} is null limit ${UNREAD_CAP + 1}) s`,
    );
    return rows[0]?.n ?? 0;
  },

  async total(db: DbOrTx, userId: number): Promise<number> {
    const [row] = await db.select({ n: sql<number>`count(*)::int` }).from(notifications).where(eq(notifications.userId, userId));
    return row?.n ?? 0;
  },

  /** A page of the user's notifications, newest first (notifications_user_idx). */
  page(db: DbOrTx, userId: number, limit: number, offset: number) {
    return db
      .select()
      .from(notifications)
      .where(eq(notifications.userId, userId))
      .orderBy(desc(notifications.createdAt), desc(notifications.id))
      .limit(limit)
      .offset(offset);
  },

  /** The API's list: a page of the user's notifications, newest first; `unread` keeps only the unread ones. */
  pageWhere(db: DbOrTx, userId: number, filter: { unread: boolean }, limit: number, offset: number) {
    return db
      .select()
      .from(notifications)
      .where(and(eq(notifications.userId, userId), filter.unread ? isNull(notifications.readAt) : undefined))
      .orderBy(desc(notifications.createdAt), desc(notifications.id))
      .limit(limit)
      .offset(offset);
  },

  /** The exact count for the API (the bell's unreadCount stops at UNREAD_CAP + 1). */
  async totalWhere(db: DbOrTx, userId: number, filter: { unread: boolean }): Promise<number> {
    const [row] = await db
      .select({ n: sql<number>`count(*)::int` })
      .from(notifications)
      .where(and(eq(notifications.userId, userId), filter.unread ? isNull(notifications.readAt) : undefined));
    return row?.n ?? 0;
  },

  /** Marks one of the user's notifications read (keeping the first time); undefined if it is not theirs. */
  async markRead(db: DbOrTx, userId: number, id: number) {
    const [row] = await db
      .update(notifications)
      .set({ readAt: sql`coalesce(${notifications.readAt}, now())` })
      .where(and(eq(notifications.id, id), eq(notifications.userId, userId)))
      .returning({ id: notifications.id, link: notifications.link });
    return row;
  },

  async markAllRead(db: DbOrTx, userId: number): Promise<number> {
    const rows = await db
      .update(notifications)
      .set({ readAt: sql`now()` })
      .where(and(eq(notifications.userId, userId), isNull(notifications.readAt)))
      .returning({ id: notifications.id });
    return rows.length;
  },

  /** The notification with what its email needs to know about the recipient; `lock` holds the row (FOR UPDATE). */
  async forDelivery(db: DbOrTx, id: number, lock = false) {
    const q = deliverySelect(db).where(eq(notifications.id, id));
    const [row] = lock ? await q.for('update', { of: notifications }) : await q;
    return row;
  },

  /**
   * forDelivery without the lock, built once per database handle: the delivery job's first read, made once per
   * notification, where building the query each time showed in the profile. Unnamed: a named server-side
   * statement clashes on PGlite, whose one backend serves every connection (a pool client reconnecting after
   * its idle timeout found "notifications_for_delivery" already there).
   */
  forDeliveryPrepared(db: Db) {
    let prepared = preparedDelivery.get(db);
    if (!prepared) {
      prepared = deliverySelect(db).where(eq(notifications.id, sql.placeholder('id'))).prepare('');
      preparedDelivery.set(db, prepared);
    }
    return prepared;
  },

  async markEmailed(db: DbOrTx, id: number) {
    await db.update(notifications).set({ emailedAt: sql`now()` }).where(eq(notifications.id, id));
  },

  async setEmailOff(db: DbOrTx, userId: number, kinds: string[]) {
    await db.update(users).set({ emailOff: kinds }).where(eq(users.id, userId));
  },
};
