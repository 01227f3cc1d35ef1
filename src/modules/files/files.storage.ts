import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileTypeFromFile } from 'file-type';

/**
 * Where uploads live on disk, and what may be stored there.
 *
 * Layout under UPLOAD_DIR:
 *   tmp/<random uuid>          a request's upload while it is being checked (never the client's name)
 *   <2 hex>/<random uuid>      an accepted file; the uuid is the row's storage_name, the folder its first two chars
 * Nothing in any path comes from the client.
 */

export const TEMP_FOLDER = 'tmp';

/** Extensions accepted, the mime type stored (and sent back) for each, and what file-type may call the content. */
interface Kind {
  mime: string;
  /** file-type's `ext` values the content may sniff as; an empty list means "must not sniff as anything" (text). */
  sniff: string[];
}
const ZIP_OFFICE = ['docx', 'xlsx', 'pptx', 'odt', 'ods'];
export const ALLOWED: Record<string, Kind> = {
  pdf: { mime: 'application/pdf', sniff: ['pdf'] },
  png: { mime: 'image/png', sniff: ['png', 'apng'] },
  jpg: { mime: 'image/jpeg', sniff: ['jpg'] },
  jpeg: { mime: 'image/jpeg', sniff: ['jpg'] },
  gif: { mime: 'image/gif', sniff: ['gif'] },
  webp: { mime: 'image/webp', sniff: ['webp'] },
  // Office formats are zip containers: file-type names them when it can see their manifest, "zip" otherwise.
  docx: { mime: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', sniff: ['docx', 'zip'] },
  xlsx: { mime: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', sniff: ['xlsx', 'zip'] },
  pptx: { mime: 'application/vnd.openxmlformats-officedocument.presentationml.presentation', sniff: ['pptx', 'zip'] },
  odt: { mime: 'application/vnd.oasis.opendocument.text', sniff: ['odt', 'zip'] },
  ods: { mime: 'application/vnd.oasis.opendocument.spreadsheet', sniff: ['ods', 'zip'] },
  zip: { mime: 'application/zip', sniff: ['zip', ...ZIP_OFFICE] },
  txt: { mime: 'text/plain', sniff: [] },
  csv: { mime: 'text/csv', sniff: [] },
};
/** For the file input's `accept` attribute and the hint under it. */
export const ACCEPT = Object.keys(ALLOWED).map((e) => `.${e}`).join(',');

/** The lower-cased extension of a (sanitised) name, or '' when it has none. */
export function extensionOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(dot + 1).toLowerCase() : '';
}

export const isAllowedName = (name: string) => Object.hasOwn(ALLOWED, extensionOf(name));

// C0/C1 controls, and the invisible format characters used to disguise names (RTL override: "cod.exe" shown as
// "exe.doc"), zero-width characters and the BOM.
const UNSAFE_CHARS = /[\p{Cc}\u200B-\u200F\u202A-\u202E\u2060-\u2069\uFEFF]/gu;
const MAX_NAME = 255;

/**
 * The name shown and sent back on download: the last path segment only (`../../etc/passwd.txt` → `passwd.txt`),
 * without control or direction-override characters, whitespace collapsed, no leading dots, NFC, at most 255
 * characters with the extension kept. Any script (Cyrillic included) is kept as it is.
 */
export function sanitizeName(raw: string): string {
  const last = raw.normalize('NFC').split(/[/\\]/).pop() ?? '';
  let name = last.replace(UNSAFE_CHARS, '').replace(/\s+/g, ' ').trim().replace(/^[.\s]+/, '').replace(/[.\s]+$/, '');
  const chars = Array.from(name); // code points: a cut never splits a surrogate pair
  if (chars.length > MAX_NAME) {
    const dot = name.lastIndexOf('.');
    const tail = dot > 0 && name.length - dot <= 17 ? name.slice(dot) : ''; // ".ext", as typed
    name = chars.slice(0, MAX_NAME - Array.from(tail).length).join('').trimEnd() + tail;
  }
  return name;
}

/** A fresh storage name: a random uuid. Its first two characters name the folder it lives in. */
export const newStorageName = () => crypto.randomUUID();

const STORAGE_NAME = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The absolute path of a stored file. A storage name that is not ours (tampered row) never becomes a path. */
export function storedPath(uploadDir: string, storageName: string): string {
  if (!STORAGE_NAME.test(storageName)) throw new Error(`invalid storage name: ${JSON.stringify(storageName)}`);
  return path.resolve(uploadDir, storageName.slice(0, 2), storageName);
}

export const tempDir = (uploadDir: string) => path.resolve(uploadDir, TEMP_FOLDER);

/** SHA-256 (hex) and size of a file on disk, streamed. */
export async function digest(file: string): Promise<{ sha256: string; size: number }> {
  const hash = crypto.createHash('sha256');
  let size = 0;
  await pipeline(fs.createReadStream(file), async function* (source: AsyncIterable<Buffer>) {
    for await (const chunk of source) {
      size += chunk.length;
      hash.update(chunk);
    }
  });
  return { sha256: hash.digest('hex'), size };
}

/** An image's preview, made by the files.process job; it goes with its file. */
export function thumbPath(uploadDir: string, storageName: string): string {
  return path.resolve(storedPath(uploadDir, storageName) + '.thumb.webp');
}

/** Moves an accepted temp file to its place; the folder is made on first use. Same file system: a rename. */
export async function moveIntoPlace(uploadDir: string, tempPath: string, storageName: string): Promise<string> {
  const dest = storedPath(uploadDir, storageName);
  await fsp.mkdir(path.dirname(dest), { recursive: true });
  await fsp.rename(tempPath, dest);
  return dest;
}

/** Removes files, ignoring those already gone. Returns the errors of the others (to log), never throws. */
export async function removePaths(paths: string[]): Promise<unknown[]> {
  const results = await Promise.allSettled(paths.map((p) => fsp.unlink(p)));
  return results
    .filter((r): r is PromiseRejectedResult => r.status === 'rejected' && (r.reason as NodeJS.ErrnoException)?.code !== 'ENOENT')
    .map((r) => r.reason);
}

/**
 * Removes stored files by storage name, e.g. after a record's deletion has committed (the rows cascade away,
 * the bytes do not). Missing files are fine; other failures are returned to be logged, never thrown.
 */
export async function removeStoredFiles(uploadDir: string, storageNames: string[]): Promise<unknown[]> {
  const paths: string[] = [];
  for (const n of storageNames) {
    try {
      paths.push(storedPath(uploadDir, n), thumbPath(uploadDir, n));
    } catch {
      // not one of ours: nothing to remove
    }
  }
  return removePaths(paths);
}

/** Temp files left by a crash are removed when the service starts; young ones may belong to a running upload. */
export async function sweepTemp(uploadDir: string, olderThanMs = 6 * 3_600_000): Promise<number> {
  const dir = tempDir(uploadDir);
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const n of names) {
    const p = path.join(dir, n);
    const st = await fsp.stat(p).catch(() => undefined);
    if (st?.isFile() && Date.now() - st.mtimeMs > olderThanMs) {
      await fsp.unlink(p).then(() => removed++, () => undefined);
    }
  }
  return removed;
}

export type Refusal = 'files.errors.type' | 'files.errors.mismatch' | 'files.errors.empty';

// Markup a browser could render as a page or an image if it ever got the chance: refused even inside .txt/.csv.
const MARKUP = /^(?:\uFEFF)?\s*<(?:!doctype\s+html|html|head|body|script|iframe|svg|\?xml|!--)/i;

/**
 * Checks a temp file against its (sanitised) name: the extension is allowed, and the content's magic bytes
 * agree with it. Text (txt, csv) must not sniff as any binary type, hold NUL bytes, or be HTML/SVG markup.
 * Returns the mime type to store, or why the file is refused.
 */
export async function checkContent(file: string, name: string): Promise<{ ok: true; mime: string } | { ok: false; reason: Refusal }> {
  const ext = extensionOf(name);
  const kind = Object.hasOwn(ALLOWED, ext) ? ALLOWED[ext] : undefined;
  if (!kind) return { ok: false, reason: 'files.errors.type' };
  const sniffed = await fileTypeFromFile(file);
  if (kind.sniff.length === 0) {
    if (sniffed) return { ok: false, reason: 'files.errors.mismatch' };
    const head = await readHead(file, 64 * 1024);
    if (head.includes(0) || MARKUP.test(head.subarray(0, 1024).toString('utf8'))) return { ok: false, reason: 'files.errors.mismatch' };
  } else if (!sniffed || !kind.sniff.includes(sniffed.ext)) {
    return { ok: false, reason: 'files.errors.mismatch' };
  }
  return { ok: true, mime: kind.mime };
}

async function readHead(file: string, length: number): Promise<Buffer> {
  const fh = await fsp.open(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await fh.read(buf, 0, length, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}
