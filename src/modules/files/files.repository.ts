import { desc, eq, or, type SQL } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client.js';
import { files, leads, users } from '../../db/schema/index.js';
import type { RecordHead } from '../records/records.js';

export type FileRow = typeof files.$inferSelect;
export type NewFileRow = typeof files.$inferInsert;

/**
 * The files shown on a record: a lead's by lead_id; a client's by client_id, and, for a client made from a
 * lead, the lead's too (conversion may or may not have stamped client_id on them: either way each shows once).
 */
export function filesOf(head: Pick<RecordHead, 'kind' | 'id' | 'leadId'>): SQL {
  if (head.kind === 'lead') return eq(files.leadId, head.id);
  return head.leadId ? or(eq(files.clientId, head.id), eq(files.leadId, head.leadId))! : eq(files.clientId, head.id);
}

export const filesRepository = {
  async insertMany(db: DbOrTx, rows: NewFileRow[]) {
    return rows.length ? db.insert(files).values(rows).returning() : [];
  },

  async findById(db: DbOrTx, id: number) {
    const [row] = await db.select().from(files).where(eq(files.id, id));
    return row;
  },

  /** Deletes one row and returns it, or undefined when another request deleted it first. */
  async delete(db: DbOrTx, id: number) {
    const [row] = await db.delete(files).where(eq(files.id, id)).returning();
    return row;
  },

  /** A record's files, newest first, with the uploader's name (null when the account is gone). */
  listFor(db: DbOrTx, head: Pick<RecordHead, 'kind' | 'id' | 'leadId'>) {
    return db
      .select({
        id: files.id,
        originalName: files.originalName,
        size: files.size,
        mimeType: files.mimeType,
        status: files.status,
        rejectReason: files.rejectReason,
        width: files.width,
        height: files.height,
        thumbStorageName: files.thumbStorageName,
        uploaderId: files.uploaderId,
        uploaderName: users.name,
        createdAt: files.createdAt,
      })
      .from(files)
      .leftJoin(users, eq(users.id, files.uploaderId))
      .where(filesOf(head))
      .orderBy(desc(files.createdAt), desc(files.id));
  },

  /** Storage names of a record's files, to remove from disk once deleting the record has committed. */
  async storageNamesFor(db: DbOrTx, head: Pick<RecordHead, 'kind' | 'id' | 'leadId'>) {
    const rows = await db.select({ storageName: files.storageName }).from(files).where(filesOf(head));
    return rows.map((r) => r.storageName);
  },

  /** Storage names of every file of a group's records (group deletion removes them from disk after commit). */
  async storageNamesOfGroup(db: DbOrTx, groupId: number) {
    const rows = await db.select({ storageName: files.storageName }).from(files).where(eq(files.groupId, groupId));
    return rows.map((r) => r.storageName);
  },

  /** The client a converted lead became, if any. */
  async clientOfLead(db: DbOrTx, leadId: number) {
    const [row] = await db.select({ clientId: leads.clientId }).from(leads).where(eq(leads.id, leadId));
    return row?.clientId ?? null;
  },
};
