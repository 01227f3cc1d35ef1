import crypto from 'node:crypto';
import fs from 'node:fs';
import type { Request, Response } from 'express';
import multer from 'multer';
import { AppError } from '../../web/errors.js';
import { UploadError, type UploadedTemp } from './files.service.js';
import { isAllowedName, sanitizeName } from './files.storage.js';

interface UploadLimits {
  tempDir: string;
  maxFileBytes: number;
  maxFileMb: number;
  maxFiles: number;
}

/** The multipart field the files come in. */
export const FILES_FIELD = 'files';

/** multer's and busboy's errors, as the statuses and messages the user should see. */
function toAppError(err: unknown, limits: UploadLimits): unknown {
  if (err instanceof AppError) return err;
  if (err instanceof multer.MulterError) {
    // multer 2 names the file in the error; its typings do not say so yet.
    const name = sanitizeName((err as { filename?: string }).filename ?? '') || '?';
    switch (err.code) {
      case 'LIMIT_FILE_SIZE':
        return new UploadError(413, 'files.errors.tooLarge', { name, max: limits.maxFileMb });
      case 'LIMIT_FILE_COUNT':
        return new UploadError(413, 'files.errors.tooMany', { max: limits.maxFiles });
      case 'LIMIT_PART_COUNT':
      case 'LIMIT_FIELD_COUNT':
      case 'LIMIT_FIELD_VALUE':
        return new AppError(413, 'errors.tooLarge');
      default:
        return new AppError(400, 'errors.badRequest');
    }
  }
  // A file system error (disk full, permissions) is ours: a 500, logged. Anything else is a malformed body.
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.code === 'string' && typeof e.syscall === 'string') return err;
  return new AppError(400, 'errors.badRequest');
}

/**
 * Receives the multipart body of an upload into UPLOAD_DIR/tmp under server-made random names. Limits: the
 * file size (413, the file named), the number of files (413); a name whose extension is not allowed stops the
 * request before its bytes are written (422). On any error multer removes what it wrote.
 * Filenames are read as UTF-8, as browsers send them (Cyrillic names survive).
 */
export function createUploadReceiver(limits: UploadLimits) {
  const storage = multer.diskStorage({
    destination: (_req, _file, cb) => fs.mkdir(limits.tempDir, { recursive: true }, (err) => cb(err ?? null, limits.tempDir)),
    filename: (_req, _file, cb) => cb(null, crypto.randomUUID()),
  });
  const middleware = multer({
    storage,
    defParamCharset: 'utf8',
    limits: {
      fileSize: limits.maxFileBytes,
      files: limits.maxFiles,
      fields: 20,
      fieldSize: 16 * 1024,
      parts: limits.maxFiles + 20,
      headerPairs: 100,
    },
    fileFilter: (_req, file, cb) => {
      const name = sanitizeName(file.originalname);
      if (!name || !isAllowedName(name)) return cb(new UploadError(422, 'files.errors.type', { name: name || '?' }));
      cb(null, true);
    },
  }).array(FILES_FIELD);

  /** Resolves with the received temp files (none for a body that is not multipart). */
  return (req: Request, res: Response): Promise<UploadedTemp[]> =>
    new Promise((resolve, reject) => {
      middleware(req, res, (err?: unknown) => {
        if (err) return reject(toAppError(err, limits));
        const received = (Array.isArray(req.files) ? req.files : []) as Express.Multer.File[];
        resolve(received.map((f) => ({ path: f.path, originalname: f.originalname })));
      });
    });
}
