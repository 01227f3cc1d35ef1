import { and, desc, eq, gte, inArray, isNotNull, lt, or, sql } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client.js';
import { exportsTable, groups } from '../../db/schema/index.js';

export type ExportRow = typeof exportsTable.$inferSelect;
export type NewExportRow = typeof exportsTable.$inferInsert;

// Any constant works; it only has to differ from the app's other advisory lock ids.
const RATE_LOCK_ID = 727_002;

/** Every query on the `exports` table: the export log, the rate limit and the background exports' state. */
export const exportsRepository = {
  async insert(db: DbOrTx, values: NewExportRow) {
    const [row] = await db.insert(exportsTable).values(values).returning();
    return row!;
  },

  async findById(db: DbOrTx, id: string) {
    const [row] = await db.select().from(exportsTable).where(eq(exportsTable.id, id));
    return row;
  },

  /** An export of this user; another user's (admins included) is as good as absent. */
  async findOwned(db: DbOrTx, userId: number, id: string) {
    const [row] = await db.select().from(exportsTable).where(and(eq(exportsTable.id, id), eq(exportsTable.userId, userId)));
    return row;
  },

  listForUser(db: DbOrTx, userId: number, limit = 50) {
    return db
      .select()
      .from(exportsTable)
      .where(eq(exportsTable.userId, userId))
      .orderBy(desc(exportsTable.createdAt), desc(exportsTable.id))
      .limit(limit);
  },

  /** Serialises one user's exports starting (inside a transaction), so two at once cannot both pass the limit. */
  async lockUser(tx: DbOrTx, userId: number) {
    await tx.execute(sql`select pg_advisory_xact_lock(${RATE_LOCK_ID}, ${userId})`);
  },

  /** The user's exports started since `since`: how many, and when the oldest of them started. */
  async startedSince(db: DbOrTx, userId: number, since: Date) {
    const [row] = await db
      .select({ n: sql<number>`count(*)::int`, oldest: sql<string | null>`min(${exportsTable.createdAt})` })
      .from(exportsTable)
      .where(and(eq(exportsTable.userId, userId), gte(exportsTable.createdAt, since)));
    return { count: row?.n ?? 0, oldest: row?.oldest ? new Date(row.oldest) : null };
  },

  async update(db: DbOrTx, id: string, values: Partial<NewExportRow>) {
    const [row] = await db.update(exportsTable).set(values).where(eq(exportsTable.id, id)).returning();
    return row;
  },

  /** A background run takes the export (pending, a run interrupted, or a failed one being retried). */
  async claim(db: DbOrTx, id: string) {
    const [row] = await db
      .update(exportsTable)
      .set({ status: 'running', processed: 0, error: null })
      .where(and(eq(exportsTable.id, id), inArray(exportsTable.status, ['pending', 'running', 'failed'])))
      .returning();
    return row;
  },

  /** Progress of a running export; never moves backwards and never touches a finished one. */
  async progress(db: DbOrTx, id: string, processed: number) {
    await db
      .update(exportsTable)
      .set({ processed: sql`greatest(${exportsTable.processed}, ${processed})` })
      .where(and(eq(exportsTable.id, id), eq(exportsTable.status, 'running')));
  },

  /** A failed export goes back to the queue; false when it is not the user's or not failed. */
  async requeue(db: DbOrTx, userId: number, id: string) {
    const rows = await db
      .update(exportsTable)
      .set({ status: 'pending', processed: 0, error: null, finishedAt: null })
      .where(and(eq(exportsTable.id, id), eq(exportsTable.userId, userId), eq(exportsTable.status, 'failed')))
      .returning({ id: exportsTable.id });
    return rows.length > 0;
  },

  /** Exports past their expiry, and failed ones older than `failedBefore`: their files and rows go. */
  expired(db: DbOrTx, now: Date, failedBefore: Date) {
    return db
      .select({ id: exportsTable.id, storageName: exportsTable.storageName })
      .from(exportsTable)
      .where(
        or(
          and(isNotNull(exportsTable.expiresAt), lt(exportsTable.expiresAt, now)),
          and(eq(exportsTable.status, 'failed'), lt(exportsTable.createdAt, failedBefore)),
        ),
      );
  },

  async deleteByIds(db: DbOrTx, ids: string[]) {
    if (!ids.length) return;
    await db.delete(exportsTable).where(inArray(exportsTable.id, ids));
  },

  /** Group ids by name (names are unique): which groups an export's rows came from. */
  groupIdsByName(db: DbOrTx, names: string[]) {
    if (!names.length) return Promise.resolve([] as { id: number; name: string }[]);
    return db.select({ id: groups.id, name: groups.name }).from(groups).where(inArray(groups.name, names));
  },
};
