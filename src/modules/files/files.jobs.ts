import fs from 'node:fs/promises';
import { eq } from 'drizzle-orm';
import { z } from 'zod';
import { files } from '../../db/schema/index.js';
import type { Services } from '../../services.js';
import { checkContent, digest, storedPath, thumbPath } from './files.storage.js';

const IMAGES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);
const THUMB_PX = 320;

/**
 * files.process: after an upload commits, checks the stored bytes again (size, SHA-256, sniffed type),
 * measures images and makes their preview, then marks the file ready — or rejected, with the reason,
 * if the bytes do not hold up. Idempotent: a file that is no longer pending is left alone.
 */
export function registerFileJobs(services: Services) {
  const { db } = services.database;
  const uploadDir = services.env.UPLOAD_DIR;
  services.jobs.define('files.process', {
    schema: z.object({ fileId: z.number().int().positive() }).strict(),
    async handler({ fileId }, { logger }) {
      const [file] = await db.select().from(files).where(eq(files.id, fileId));
      if (!file || file.status !== 'pending') return;
      const path = storedPath(uploadDir, file.storageName);
      const reject = (reason: string) =>
        db.update(files).set({ status: 'rejected', rejectReason: reason, processedAt: new Date() }).where(eq(files.id, fileId));
      try {
        await fs.access(path);
      } catch {
        await reject('missing');
        return;
      }
      const { sha256, size } = await digest(path);
      const content = await checkContent(path, file.originalName);
      if (!content.ok) {
        await reject(content.reason);
        return;
      }
      let width: number | null = null;
      let height: number | null = null;
      let thumbStorageName: string | null = null;
      if (IMAGES.has(content.mime)) {
        try {
          // Loaded on the first image (libvips is ~28 MiB of resident memory a process without images never needs).
          const { default: sharp } = await import('sharp');
          const meta = await sharp(path, { limitInputPixels: 100_000_000 }).metadata();
          width = meta.width ?? null;
          height = meta.height ?? null;
          await sharp(path, { limitInputPixels: 100_000_000 })
            .rotate()
            .resize(THUMB_PX, THUMB_PX, { fit: 'inside', withoutEnlargement: true })
            .webp({ quality: 75 })
            .toFile(thumbPath(uploadDir, file.storageName));
          // Beside the file, named after it: removing the file's storage name removes the preview too.
          thumbStorageName = file.storageName;
        } catch (err) {
          logger.warn({ err: (err as Error).message, fileId }, 'files.process: not a readable image');
          await reject('image');
          return;
        }
      }
      await db
        .update(files)
        .set({ status: 'ready', sha256, size, mimeType: content.mime, width, height, thumbStorageName, processedAt: new Date() })
        .where(eq(files.id, fileId));
    },
  });
}
