import path from 'node:path';
import type { Env } from '../../config/env.js';
import type { Database, DbOrTx } from '../../db/client.js';
import type { Logger } from '../../lib/logger.js';
import { AppError, ConflictError, NotFoundError } from '../../web/errors.js';
import { authorize, can, type Actor } from '../access/policy.js';
import { activityRepository } from '../records/activity.repository.js';
import type { Jobs } from '../../jobs/jobs.js';
import { loadRecordHead, recordPath, type RecordHead, type RecordRef } from '../records/records.js';
import { filesRepository as repo, type FileRow, type NewFileRow } from './files.repository.js';
import {
  ACCEPT, thumbPath, checkContent, digest, extensionOf, isAllowedName, moveIntoPlace, newStorageName, removePaths, removeStoredFiles,
  sanitizeName, storedPath, sweepTemp, tempDir,
} from './files.storage.js';

/** A file as the upload route hands it over: where multer put it, and the name the client sent. */
export interface UploadedTemp {
  path: string;
  originalname: string;
}

/** One file in a record's list, as the record pages show it. */
export interface FileItem {
  id: number;
  originalName: string;
  size: number;
  mimeType: string;
  uploaderId: number | null;
  uploaderName: string | null;
  createdAt: Date;
  /** The name's extension, lower-case, for the "type" column. */
  ext: string;
  /** The actor may delete it (uploader, the group's managers, admins) and the record is not read-only. */
  canDelete: boolean;
  /** pending until files.process has checked it; rejected with its reason. */
  status: 'pending' | 'ready' | 'rejected';
  rejectReason: string | null;
  width: number | null;
  height: number | null;
  thumbStorageName: string | null;
}

/** A refused upload: the status (413 size/count, 422 type/content), the message key, the file it is about. */
export class UploadError extends AppError {}

const fileSubject = (head: RecordHead, uploaderId: number | null) => ({
  groupId: head.groupId,
  ownerId: head.ownerId,
  createdById: head.createdById,
  authorId: uploaderId,
});

/** Where a new row or activity attaches: lead_id for a lead, client_id for a client. */
const attachTo = (head: RecordHead) => ({
  groupId: head.groupId,
  leadId: head.kind === 'lead' ? head.id : null,
  clientId: head.kind === 'client' ? head.id : null,
});

export function createFilesService(deps: { database: Database; env: Env; logger: Logger; jobs: Jobs }) {
  const { db } = deps.database;
  const { logger } = deps;
  const uploadDir = path.resolve(deps.env.UPLOAD_DIR);
  const limits = {
    maxFileMb: deps.env.UPLOAD_MAX_FILE_MB,
    maxFileBytes: Math.floor(deps.env.UPLOAD_MAX_FILE_MB * 1024 * 1024),
    maxFiles: deps.env.UPLOAD_MAX_FILES,
  };

  // Temp files a crash left behind; best effort, in the background.
  void sweepTemp(uploadDir).then(
    (n) => n && logger.info({ removed: n }, 'stale upload temp files removed'),
    (err) => logger.warn({ err }, 'upload temp sweep failed'),
  );

  async function logRemovalErrors(errors: unknown[], what: string) {
    for (const err of errors) logger.error({ err }, `could not remove ${what}`);
  }

  /**
   * The record a file belongs to, as the actor may see it: its client when it has one (a converted lead's
   * files show on the client), else its lead. Another group's file answers 404.
   */
  async function headOf(actor: Actor, file: FileRow): Promise<RecordHead> {
    const ref: RecordRef | undefined = file.clientId ? { kind: 'client', id: file.clientId } : file.leadId ? { kind: 'lead', id: file.leadId } : undefined;
    if (!ref) throw new NotFoundError();
    return loadRecordHead(db, actor, ref, 'record.view');
  }

  async function findFile(id: number) {
    const file = await repo.findById(db, id);
    if (!file) throw new NotFoundError();
    return file;
  }

  const service = {
    uploadDir,
    tempDir: tempDir(uploadDir),
    limits,
    accept: ACCEPT,

    /** The record an upload goes to: 404 when not visible, 403 when not editable, 409 when converted (read-only). */
    async headForUpload(actor: Actor, ref: RecordRef): Promise<RecordHead> {
      const head = await loadRecordHead(db, actor, ref, 'record.edit');
      if (head.readOnly) throw new ConflictError('files.errors.readOnly');
      return head;
    },

    headForView(actor: Actor, ref: RecordRef): Promise<RecordHead> {
      return loadRecordHead(db, actor, ref, 'record.view');
    },

    /**
     * Accepts a batch of uploaded temp files for a record, all or nothing: every file is checked (name,
     * size, magic bytes) before any is kept; one refusal refuses the batch. Accepted files move to their
     * storage place and their rows and 'file_added' activities are written in one transaction; if it fails,
     * the moved files are removed. Temp files never outlive the call.
     */
    async upload(actor: Actor, head: RecordHead, temps: UploadedTemp[]): Promise<{ count: number; names: string[] }> {
      const moved: string[] = [];
      try {
        if (temps.length === 0) throw new UploadError(422, 'files.errors.none');
        if (temps.length > limits.maxFiles) throw new UploadError(413, 'files.errors.tooMany', { max: limits.maxFiles });

        const accepted: (NewFileRow & { tempPath: string })[] = [];
        for (const t of temps) {
          const name = sanitizeName(t.originalname);
          const shown = name || '?';
          if (!name || !isAllowedName(name)) throw new UploadError(422, 'files.errors.type', { name: shown });
          const { sha256, size } = await digest(t.path);
          if (size === 0) throw new UploadError(422, 'files.errors.empty', { name: shown });
          if (size > limits.maxFileBytes) throw new UploadError(413, 'files.errors.tooLarge', { name: shown, max: limits.maxFileMb });
          const content = await checkContent(t.path, name);
          if (!content.ok) throw new UploadError(422, content.reason, { name: shown });
          accepted.push({
            ...attachTo(head),
            uploaderId: actor.id,
            originalName: name,
            storageName: newStorageName(),
            mimeType: content.mime,
            size,
            sha256,
            status: 'pending',
            tempPath: t.path,
          });
        }

        try {
          for (const a of accepted) moved.push(await moveIntoPlace(uploadDir, a.tempPath, a.storageName));
          await db.transaction(async (tx) => {
            // Checked again here: the record may have been converted or trashed while the bytes arrived.
            const fresh = await loadRecordHead(tx, actor, head, 'record.edit');
            if (fresh.readOnly) throw new ConflictError('files.errors.readOnly');
            const rows = await repo.insertMany(tx, accepted.map(({ tempPath: _t, ...row }) => row));
            for (const a of accepted) {
              await activityRepository.add(tx, { ...attachTo(head), actorId: actor.id, action: 'file_added', data: { name: a.originalName } });
            }
            // Checked again and measured by the files.process job, once this transaction has committed.
            for (const r of rows) await deps.jobs.enqueue(tx, 'files.process', { fileId: r.id }, String(r.id));
          });
          deps.jobs.kick();
        } catch (err) {
          await logRemovalErrors(await removePaths(moved), 'uploaded file after a failed upload');
          throw err;
        }
        return { count: accepted.length, names: accepted.map((a) => a.originalName) };
      } finally {
        // Whatever happened, nothing stays in the temp area (moved files are already gone from it).
        await logRemovalErrors(await removePaths(temps.map((t) => t.path)), 'upload temp file');
      }
    },

    /** A record's files, newest first; each says whether the actor may delete it. */
    async listFor(head: RecordHead, actor?: Actor): Promise<FileItem[]> {
      const rows = await repo.listFor(db, head);
      return rows.map((r) => ({
          ...r,
          ext: extensionOf(r.originalName),
          canDelete: !head.readOnly && !!actor && can(actor, 'attachment.manage', fileSubject(head, r.uploaderId)),
        }));
    },

    /** What views/records/_files.njk needs: spread it into the record page's locals. */
    async section(actor: Actor, head: RecordHead, fileError?: { key: string; params?: Record<string, unknown> }) {
      const list = await service.listFor(head, actor);
      return {
        record: { path: recordPath(head), kind: head.kind, id: head.id, readOnly: head.readOnly },
        files: list,
        filesPending: list.some((f) => f.status === 'pending'),
        fileUpload: {
          accept: ACCEPT,
          maxFileMb: limits.maxFileMb,
          maxFiles: limits.maxFiles,
          canUpload: !head.readOnly && can(actor, 'record.edit', head),
        },
        fileError,
      };
    },

    /** A file to send: 404 unless the actor may see its record (and the bytes are there). */
    async download(actor: Actor, id: number) {
      const file = await findFile(id);
      const head = await headOf(actor, file);
      if (file.status !== 'ready') throw new NotFoundError();
      return { head, path: storedPath(uploadDir, file.storageName), name: file.originalName, mimeType: file.mimeType, size: file.size };
    },

    /** An image's preview (made by files.process): the same access rule as the download. */
    async thumbnail(actor: Actor, id: number) {
      const file = await findFile(id);
      await headOf(actor, file);
      if (file.status !== 'ready' || !file.thumbStorageName) throw new NotFoundError();
      return thumbPath(uploadDir, file.thumbStorageName);
    },

    /**
     * Deletes a file: its uploader, the group's managers and admins may (others 403; another group's file
     * 404). The row and a 'file_deleted' activity go in one transaction; the bytes are removed after commit.
     * A file still attached only to a converted lead is deleted on the client the lead became.
     */
    async remove(actor: Actor, id: number): Promise<{ head: RecordHead; name: string }> {
      const file = await findFile(id);
      let head = await headOf(actor, file);
      if (head.readOnly) {
        const clientId = await repo.clientOfLead(db, head.id);
        if (!clientId) throw new ConflictError('files.errors.readOnly');
        head = await loadRecordHead(db, actor, { kind: 'client', id: clientId }, 'record.view');
      }
      authorize(actor, 'attachment.manage', fileSubject(head, file.uploaderId));
      const deleted = await db.transaction(async (tx) => {
        const row = await repo.delete(tx, id);
        if (!row) throw new NotFoundError();
        await activityRepository.add(tx, { ...attachTo(head), actorId: actor.id, action: 'file_deleted', data: { name: row.originalName } });
        return row;
      });
      await service.removeStoredFiles([deleted.storageName]);
      return { head, name: deleted.originalName };
    },

    /**
     * Removes stored files from disk by storage name. Call it after the transaction that deleted their rows
     * has committed (record or group deletion: the rows cascade, the bytes do not). Never throws; failures
     * are logged.
     */
    async removeStoredFiles(storageNames: string[]): Promise<void> {
      await logRemovalErrors(await removeStoredFiles(uploadDir, storageNames), 'stored file');
    },

    /** Storage names of a record's files: read them in the deleting transaction, remove them after commit. */
    storageNamesFor(dbOrTx: DbOrTx, head: RecordHead) {
      return repo.storageNamesFor(dbOrTx, head);
    },

    /** Storage names of every file of a group (group deletion). */
    storageNamesOfGroup(dbOrTx: DbOrTx, groupId: number) {
      return repo.storageNamesOfGroup(dbOrTx, groupId);
    },
  };
  return service;
}

export type FilesService = ReturnType<typeof createFilesService>;
