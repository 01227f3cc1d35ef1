import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parse as parseDisposition } from 'content-disposition';
import { createTestApp, resetDatabase, tokenFor, type Agent, type TestApp } from './helpers/app.js';
import { GROUPS, USERS, loginActors, restoreFixture, type ActorName } from './helpers/fixture.js';
import { sanitizeName } from '../src/modules/files/files.storage.js';
import type { Actor } from '../src/modules/access/policy.js';

/* ---------- Real, small files made here ---------- */

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A valid 1×1 RGB PNG: signature, IHDR, IDAT, IEND. */
function png(): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(1, 0);
  ihdr.writeUInt32BE(1, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(Buffer.from([0, 255, 0, 0]))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const pdf = (text = 'hello') =>
  Buffer.from(`%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n% ${text}\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n`);

/** A zip archive with stored (uncompressed) entries. */
function zip(entries: { name: string; data: Buffer }[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const crc = crc32(e.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(e.data.length, 18);
    local.writeUInt32LE(e.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(e.data.length, 20);
    central.writeUInt32LE(e.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, e.data);
    centrals.push(central, name);
    offset += local.length + name.length + e.data.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

const docx = () =>
  zip([
    {
      name: '[Content_Types].xml',
      data: Buffer.from(
        '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">' +
          '<Default Extension="xml" ContentType="application/xml"/>' +
          '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
      ),
    },
    { name: 'word/document.xml', data: Buffer.from('<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"/>') },
  ]);

// Headers file-type recognises (enough for the magic-byte check; not full images).
const jpeg = () => Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10]), Buffer.from('JFIF\0'), Buffer.alloc(20), Buffer.from([0xff, 0xd9])]);
const gif = () => Buffer.concat([Buffer.from('GIF89a'), Buffer.from([1, 0, 1, 0, 0, 0, 0, 0x3b])]);
const webp = () => Buffer.concat([Buffer.from('RIFF'), Buffer.from([26, 0, 0, 0]), Buffer.from('WEBPVP8 '), Buffer.alloc(18)]);

const exe = () => Buffer.concat([Buffer.from('MZ'), Buffer.alloc(62), Buffer.from('PE\0\0'), crypto.randomBytes(64)]);
const svg = () => Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(1)</script></svg>');
const html = () => Buffer.from('<!doctype html><html><body><script>alert(document.cookie)</script></body></html>');
const csv = () => Buffer.from('name;amount\nИванов;100\nPetrov;200\n');

const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

/* ---------- App, records, helpers ---------- */

const MAX_FILES = 3;
let t: TestApp;
let agents: Record<ActorName, Agent>;
let root: string;
let uploadDir: string;
const tokens = new Map<ActorName, string>();

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-files-'));
  uploadDir = path.join(root, 'data', 'uploads');
  t = await createTestApp({ UPLOAD_MAX_FILE_MB: '1', UPLOAD_MAX_FILES: String(MAX_FILES), UPLOAD_DIR: uploadDir });
  await resetDatabase(t.services);
  await restoreFixture(t.services);
  agents = await loginActors(t.app);
  for (const a of ['memberA', 'managerA', 'memberB', 'admin'] as const) tokens.set(a, await tokenFor(agents[a], '/profile'));
});
afterAll(async () => {
  await t.close();
  fs.rmSync(root, { recursive: true, force: true });
});
beforeEach(async () => {
  await t.services.database.pool.query('truncate files, activities, comments, clients, leads, job_outbox restart identity cascade');
  fs.rmSync(uploadDir, { recursive: true, force: true });
});

const q = async <T = Record<string, unknown>>(text: string, values: unknown[] = []) => (await t.services.database.pool.query(text, values)).rows as T[];

async function lead(groupId: number = GROUPS.A.id, opts: { status?: string; owner?: number } = {}) {
  const owner = opts.owner ?? (groupId === GROUPS.A.id ? USERS.memberA.id : USERS.memberB.id);
  const [row] = await q<{ id: number }>(
    'insert into leads (group_id, last_name, owner_id, created_by_id, status) values ($1, $2, $3, $3, $4) returning id',
    [groupId, 'Lead', owner, opts.status ?? 'new'],
  );
  return row!.id;
}
async function client(groupId: number = GROUPS.B.id, leadId: number | null = null) {
  const owner = groupId === GROUPS.A.id ? USERS.memberA.id : USERS.memberB.id;
  const [row] = await q<{ id: number }>(
    'insert into clients (group_id, name, owner_id, created_by_id, lead_id) values ($1, $2, $3, $3, $4) returning id',
    [groupId, 'Client', owner, leadId],
  );
  return row!.id;
}

type Upload = { name: string; data: Buffer };

/** Uploads as a browser's plain form does: multipart, the CSRF token in the query. */
async function upload(actor: ActorName, url: string, files: Upload[], opts: { htmx?: boolean; lang?: string } = {}) {
  const token = tokens.get(actor)!;
  let req = agents[actor].post(opts.htmx ? url : `${url}?_csrf=${encodeURIComponent(token)}`);
  if (opts.htmx) req = req.set('HX-Request', 'true').set('x-csrf-token', token);
  if (opts.lang) req = req.set('Accept-Language', opts.lang);
  for (const f of files) req = req.attach('files', f.data, { filename: f.name, contentType: 'application/octet-stream' });
  const res = await req;
  // Accepted files are checked by the files.process job after the upload commits: let it finish.
  await t.services.jobs.settle();
  return res;
}

/** A hand-made multipart body, for names a client library would rewrite (paths, raw bytes). */
async function rawUpload(actor: ActorName, url: string, files: Upload[]) {
  const boundary = `----tandem${crypto.randomBytes(8).toString('hex')}`;
  const parts = files.flatMap((f) => [
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="files"; filename="${f.name}"\r\nContent-Type: application/octet-stream\r\n\r\n`, 'utf8'),
    f.data,
    Buffer.from('\r\n'),
  ]);
  const body = Buffer.concat([...parts, Buffer.from(`--${boundary}--\r\n`)]);
  const res = await agents[actor]
    .post(`${url}?_csrf=${encodeURIComponent(tokens.get(actor)!)}`)
    .set('Content-Type', `multipart/form-data; boundary=${boundary}`)
    .send(body);
  await t.services.jobs.settle();
  return res;
}

/** Every regular file under a folder, relative to it. */
function walk(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((p) => fs.statSync(path.join(dir, p)).isFile()).sort();
}
const tempFiles = () => walk(path.join(uploadDir, 'tmp'));
const storedFiles = () => walk(uploadDir).filter((p) => !p.startsWith(`tmp${path.sep}`));

async function fileRows() {
  return q<{ id: number; group_id: number; lead_id: number | null; client_id: number | null; uploader_id: number; original_name: string; storage_name: string; mime_type: string; size: string; sha256: string; status: string }>(
    'select * from files order by id',
  );
}

/** Nothing written anywhere: no row, no activity, no stored file, an empty temp area. */
async function expectNothingWritten() {
  expect(await fileRows()).toEqual([]);
  expect(await q("select * from activities where action = 'file_added'")).toEqual([]);
  expect(storedFiles()).toEqual([]);
  expect(tempFiles()).toEqual([]);
}

const actorOf = (id: number, groupId: number, role: 'member' | 'manager' = 'member'): Actor => ({
  id,
  isAdmin: false,
  memberships: [{ groupId, groupName: 'g', role, visibility: 'all' }],
});

/* ---------- Tests ---------- */

describe('uploading', () => {
  it('several files at once land with their rows, activities and bytes on disk', async () => {
    const leadId = await lead();
    const files = [
      { name: 'offer.pdf', data: pdf() },
      { name: 'photo.png', data: png() },
      { name: 'contract.docx', data: docx() },
    ];
    const res = await upload('memberA', `/leads/${leadId}/files`, files);
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe(`/leads/${leadId}#files`);

    const rows = await fileRows();
    expect(rows.map((r) => r.original_name).sort()).toEqual(['contract.docx', 'offer.pdf', 'photo.png']);
    for (const f of files) {
      const row = rows.find((r) => r.original_name === f.name)!;
      expect(row).toMatchObject({ group_id: GROUPS.A.id, lead_id: leadId, client_id: null, uploader_id: USERS.memberA.id, status: 'ready' });
      expect(Number(row.size)).toBe(f.data.length);
      expect(row.sha256).toBe(sha256(f.data));
      expect(row.storage_name).toMatch(/^[0-9a-f-]{36}$/);
      const onDisk = path.join(uploadDir, row.storage_name.slice(0, 2), row.storage_name);
      expect(fs.readFileSync(onDisk).equals(f.data)).toBe(true);
    }
    expect(rows.find((r) => r.original_name === 'offer.pdf')!.mime_type).toBe('application/pdf');
    expect(rows.find((r) => r.original_name === 'photo.png')!.mime_type).toBe('image/png');
    expect(rows.find((r) => r.original_name === 'contract.docx')!.mime_type).toBe('application/vnd.openxmlformats-officedocument.wordprocessingml.document');
    // Three files, and the preview the files.process job made of the image.
    expect(storedFiles()).toHaveLength(4);
    expect(storedFiles().filter((f) => f.endsWith('.thumb.webp'))).toHaveLength(1);
    const photo = rows.find((r) => r.original_name === 'photo.png')!;
    expect((await agents.memberA.get(`/files/${photo.id}/thumbnail`)).headers['content-type']).toBe('image/webp');
    expect((await agents.memberB.get(`/files/${photo.id}/thumbnail`)).status).toBe(404);
    expect(tempFiles()).toEqual([]);

    const acts = await q<{ action: string; data: { name: string }; lead_id: number; actor_id: number; group_id: number }>(
      "select * from activities where action = 'file_added' order by id",
    );
    expect(acts.map((a) => a.data.name).sort()).toEqual(['contract.docx', 'offer.pdf', 'photo.png']);
    expect(acts.every((a) => a.lead_id === leadId && a.actor_id === USERS.memberA.id && a.group_id === GROUPS.A.id)).toBe(true);
  });

  it('accepts text, csv, a plain zip, jpeg, gif and webp, each stored with its own mime type', async () => {
    const leadId = await lead();
    const res = await upload('memberA', `/leads/${leadId}/files`, [
      { name: 'notes.txt', data: Buffer.from('Просто текст.\nPlain text.\n') },
      { name: 'report.csv', data: csv() },
      { name: 'bundle.zip', data: zip([{ name: 'a.txt', data: Buffer.from('a') }]) },
    ]);
    expect(res.status).toBe(303);
    const images = await upload('memberA', `/leads/${leadId}/files`, [
      { name: 'photo.JPEG', data: jpeg() },
      { name: 'anim.gif', data: gif() },
      { name: 'modern.webp', data: webp() },
    ]);
    expect(images.status).toBe(303);
    const rows = await fileRows();
    expect(Object.fromEntries(rows.map((r) => [r.original_name, r.mime_type]))).toEqual({
      'notes.txt': 'text/plain',
      'report.csv': 'text/csv',
      'bundle.zip': 'application/zip',
      'photo.JPEG': 'image/jpeg',
      'anim.gif': 'image/gif',
      'modern.webp': 'image/webp',
    });
  });

  it('a client gets files on client_id; an htmx upload answers with the re-rendered section', async () => {
    const clientId = await client(GROUPS.B.id);
    const res = await upload('memberB', `/clients/${clientId}/files`, [{ name: 'scan.pdf', data: pdf() }], { htmx: true });
    expect(res.status).toBe(200);
    expect(res.text).toContain('id="files"');
    expect(res.text).toContain('scan.pdf');
    expect(res.text).toContain('1 file uploaded.');
    expect(res.text).not.toContain('<html');
    expect(res.text).not.toMatch(/<script|\sstyle="/);
    const [row] = await fileRows();
    expect(row).toMatchObject({ group_id: GROUPS.B.id, lead_id: null, client_id: clientId, uploader_id: USERS.memberB.id });
  });

  it('a name with markup is stored as typed and always shown escaped', async () => {
    const leadId = await lead();
    const name = '<img src=x onerror=alert(1)>.pdf';
    const res = await upload('memberA', `/leads/${leadId}/files`, [{ name, data: pdf() }], { htmx: true });
    expect(res.status).toBe(200);
    expect(res.text).not.toContain('<img');
    expect(res.text).toContain('&lt;img src=x onerror=alert(1)&gt;.pdf');
    expect((await fileRows())[0]!.original_name).toBe(name);
    const bad = await upload('memberA', `/leads/${leadId}/files`, [{ name: '<script>alert(1)</script>.exe', data: exe() }]);
    expect(bad.status).toBe(422);
    expect(bad.text).not.toContain('<script>alert(1)');
  });

  it('a file over the size limit is refused with 413 naming it, and nothing stays on disk', async () => {
    const leadId = await lead();
    const big = Buffer.concat([pdf(), Buffer.alloc(1024 * 1024)]);
    const res = await upload('memberA', `/leads/${leadId}/files`, [{ name: 'small.pdf', data: pdf() }, { name: 'huge.pdf', data: big }]);
    expect(res.status).toBe(413);
    expect(res.text).toContain('“huge.pdf” is larger than 1 MB');
    await expectNothingWritten();

    // Exactly at the limit is fine.
    const exact = Buffer.concat([pdf(), Buffer.alloc(1024 * 1024 - pdf().length)]);
    expect((await upload('memberA', `/leads/${leadId}/files`, [{ name: 'exact.pdf', data: exact }])).status).toBe(303);
  });

  it('the size refusal is shown inside the section for htmx, in Russian too', async () => {
    const leadId = await lead();
    const big = Buffer.concat([pdf(), Buffer.alloc(1024 * 1024)]);
    const res = await upload('memberA', `/leads/${leadId}/files`, [{ name: 'большой.pdf', data: big }], { htmx: true, lang: 'ru' });
    expect(res.status).toBe(413);
    expect(res.text).toContain('id="files"');
    expect(res.text).toContain('data-testid="file-error"');
    expect(res.text).toContain('Файл «большой.pdf» больше 1 МБ');
    await expectNothingWritten();
  });

  it('too many files in one request → 413', async () => {
    const leadId = await lead();
    const files = Array.from({ length: MAX_FILES + 1 }, (_, i) => ({ name: `f${i}.pdf`, data: pdf(String(i)) }));
    const res = await upload('memberA', `/leads/${leadId}/files`, files);
    expect(res.status).toBe(413);
    expect(res.text).toContain(`at most ${MAX_FILES} can be uploaded at once`);
    await expectNothingWritten();
  });

  it('no file at all → 422', async () => {
    const leadId = await lead();
    const res = await agents.memberA.post(`/leads/${leadId}/files?_csrf=${tokens.get('memberA')}`).field('note', 'x');
    expect(res.status).toBe(422);
    expect(res.text).toContain('Choose at least one file');
  });

  it.each([
    ['setup.exe', exe],
    ['drawing.svg', svg],
    ['page.html', html],
    ['page.htm', html],
    ['no-extension', pdf],
  ])('a disallowed type (%s) → 422 naming the file', async (name, make) => {
    const leadId = await lead();
    const res = await upload('memberA', `/leads/${leadId}/files`, [{ name, data: make() }]);
    expect(res.status).toBe(422);
    expect(res.text).toContain(`“${name}” is not a type of file that can be uploaded`);
    await expectNothingWritten();
  });

  it.each([
    ['a .png whose content is a PDF', 'image.png', pdf],
    ['a .pdf that is really a PNG', 'document.pdf', png],
    ['an .exe renamed .png', 'cat.png', exe],
    ['an .exe renamed .docx', 'letter.docx', exe],
    ['an SVG named .txt', 'notes.txt', svg],
    ['HTML named .csv', 'table.csv', html],
    ['a PNG named .txt', 'notes.txt', png],
    ['a PDF named .csv', 'table.csv', pdf],
    ['a zip named .pdf', 'doc.pdf', () => zip([{ name: 'x', data: Buffer.from('x') }])],
    ['a text file named .jpg', 'photo.jpg', () => Buffer.from('just text')],
  ])('%s → 422', async (_label, name, make) => {
    const leadId = await lead();
    const res = await upload('memberA', `/leads/${leadId}/files`, [{ name, data: make() }]);
    expect(res.status).toBe(422);
    expect(res.text).toContain(`The content of “${name}” does not match its extension`);
    await expectNothingWritten();
  });

  it('an empty file → 422', async () => {
    const leadId = await lead();
    const res = await upload('memberA', `/leads/${leadId}/files`, [{ name: 'empty.txt', data: Buffer.alloc(0) }]);
    expect(res.status).toBe(422);
    await expectNothingWritten();
  });

  it('a batch with one bad file writes nothing, whichever check refuses it', async () => {
    const leadId = await lead();
    // Refused by content, after every file was received.
    let res = await upload('memberA', `/leads/${leadId}/files`, [
      { name: 'good.pdf', data: pdf() },
      { name: 'good.png', data: png() },
      { name: 'bad.png', data: pdf() },
    ]);
    expect(res.status).toBe(422);
    expect(res.text).toContain('bad.png');
    await expectNothingWritten();
    // Refused by name while the body streams in, after a good file was already written to the temp area.
    res = await upload('memberA', `/leads/${leadId}/files`, [{ name: 'good.pdf', data: pdf() }, { name: 'evil.exe', data: exe() }]);
    expect(res.status).toBe(422);
    expect(res.text).toContain('evil.exe');
    await expectNothingWritten();
    // htmx: the refusal is in the section, with status 422.
    res = await upload('memberA', `/leads/${leadId}/files`, [{ name: 'good.pdf', data: pdf() }, { name: 'x.svg', data: svg() }], { htmx: true });
    expect(res.status).toBe(422);
    expect(res.text).toContain('data-testid="file-error"');
    expect(res.text).toContain('x.svg');
    await expectNothingWritten();
  });

  it('a name with ../ is stored safely: nothing outside UPLOAD_DIR, the name reduced to its last segment', async () => {
    const leadId = await lead();
    const res = await rawUpload('memberA', `/leads/${leadId}/files`, [
      { name: '../../etc/passwd.txt', data: Buffer.from('root:x:0:0\n') },
      { name: '..\\..\\windows\\win.ini.txt', data: Buffer.from('[fonts]\n') },
    ]);
    expect(res.status).toBe(303);
    expect((await fileRows()).map((r) => r.original_name).sort()).toEqual(['passwd.txt', 'win.ini.txt']);
    // Only the two stored files exist anywhere under the test's root, and both are inside UPLOAD_DIR.
    const everything = walk(root).map((p) => path.join(root, p));
    expect(everything).toHaveLength(2);
    for (const p of everything) expect(p.startsWith(uploadDir + path.sep)).toBe(true);
    expect(fs.existsSync(path.join(root, 'data', 'etc'))).toBe(false);
    expect(fs.existsSync(path.join(uploadDir, 'etc'))).toBe(false);
  });

  it('the files.process job refuses an image that does not decode: the page says so, it never downloads', async () => {
    const leadId = await lead();
    // A real PNG cut after its header: it sniffs as PNG (the upload accepts it), but has no pixels to decode.
    const broken = png().subarray(0, 33);
    expect((await upload('memberA', `/leads/${leadId}/files`, [{ name: 'broken.png', data: broken }])).status).toBe(303);
    const [row] = await fileRows();
    expect(row!.status).toBe('rejected');
    const page = await agents.memberA.get(`/leads/${leadId}`);
    expect(page.text).toContain('data-file-status="rejected"');
    expect((await agents.memberA.get(`/files/${row!.id}/download`)).status).toBe(404);
  });

  it('a Cyrillic name round-trips through the download Content-Disposition; download is a nosniff attachment', async () => {
    const leadId = await lead();
    const name = 'Договор №5.pdf';
    const data = pdf('договор');
    expect((await upload('memberA', `/leads/${leadId}/files`, [{ name, data }])).status).toBe(303);
    const [row] = await fileRows();
    expect(row!.original_name).toBe(name);

    const res = await agents.managerA.get(`/files/${row!.id}/download`).buffer(true).parse((r, cb) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => cb(null, Buffer.concat(chunks)));
    });
    expect(res.status).toBe(200);
    const disposition = parseDisposition(res.headers['content-disposition'] as string);
    expect(disposition.type).toBe('attachment');
    expect(disposition.parameters.filename).toBe(name);
    expect(res.headers['content-disposition']).toContain("filename*=UTF-8''");
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-type']).toBe('application/pdf');
    expect(res.headers['cache-control']).toBe('private, no-store');
    expect((res.body as Buffer).equals(data)).toBe(true);
  });

  it('a converted lead refuses uploads with 409 (shown in the section for htmx)', async () => {
    const leadId = await lead(GROUPS.A.id, { status: 'converted' });
    let res = await upload('memberA', `/leads/${leadId}/files`, [{ name: 'late.pdf', data: pdf() }]);
    expect(res.status).toBe(409);
    res = await upload('memberA', `/leads/${leadId}/files`, [{ name: 'late.pdf', data: pdf() }], { htmx: true });
    expect(res.status).toBe(409);
    expect(res.text).toContain('add files on the client');
    await expectNothingWritten();
  });

  it("another group's record answers 404; without the CSRF token 403 (anonymous too) — nothing written", async () => {
    const leadA = await lead(GROUPS.A.id);
    const clientB = await client(GROUPS.B.id);
    expect((await upload('memberB', `/leads/${leadA}/files`, [{ name: 'x.pdf', data: pdf() }])).status).toBe(404);
    expect((await upload('memberA', `/clients/${clientB}/files`, [{ name: 'x.pdf', data: pdf() }])).status).toBe(404);
    expect((await upload('memberA', '/leads/999999/files', [{ name: 'x.pdf', data: pdf() }])).status).toBe(404);
    const noToken = await agents.memberA.post(`/leads/${leadA}/files`).attach('files', pdf(), 'x.pdf');
    expect(noToken.status).toBe(403);
    const anon = await agents.anonymous.post(`/leads/${leadA}/files`).attach('files', pdf(), 'x.pdf');
    expect(anon.status).toBe(403); // CSRF comes first: an anonymous visitor has no token either
    await expectNothingWritten();
    // The admin may upload anywhere.
    expect((await upload('admin', `/clients/${clientB}/files`, [{ name: 'x.pdf', data: pdf() }])).status).toBe(303);
  });
});

describe('downloading and deleting', () => {
  async function fileOn(kind: 'lead' | 'client', id: number, actor: ActorName, name = 'file.pdf', data = pdf()) {
    const res = await upload(actor, `/${kind === 'lead' ? 'leads' : 'clients'}/${id}/files`, [{ name, data }]);
    expect(res.status).toBe(303);
    const rows = await q<{ id: number; storage_name: string }>('select id, storage_name from files where original_name = $1 order by id desc limit 1', [name]);
    return rows[0]!;
  }

  it("another group's file → 404 on download and on delete", async () => {
    const clientB = await client(GROUPS.B.id);
    const f = await fileOn('client', clientB, 'memberB');
    for (const actor of ['memberA', 'managerA'] as const) {
      expect((await agents[actor].get(`/files/${f.id}/download`)).status).toBe(404);
      const del = await agents[actor].post(`/files/${f.id}/delete`).type('form').send({ _csrf: tokens.get(actor) });
      expect(del.status).toBe(404);
    }
    expect((await agents.memberB.get(`/files/${f.id}/download`)).status).toBe(200);
    expect((await agents.admin.get(`/files/${f.id}/download`)).status).toBe(200);
    expect((await agents.memberA.get('/files/999999/download')).status).toBe(404);
    expect((await agents.memberA.get('/files/abc/download')).status).toBe(404);
    expect((await q('select id from files')).length).toBe(1);
  });

  it("a member deletes their own file but not another member's (403); a manager may delete any in the group", async () => {
    const leadA = await lead(GROUPS.A.id);
    const own = await fileOn('lead', leadA, 'memberA', 'mine.pdf');
    // A file uploaded by another member of group A (not an actor of the fixture), through the service.
    const head = await t.services.files.headForUpload(actorOf(USERS.subjectA.id, GROUPS.A.id), { kind: 'lead', id: leadA });
    const tmp = path.join(uploadDir, 'tmp');
    fs.mkdirSync(tmp, { recursive: true });
    fs.writeFileSync(path.join(tmp, 'theirs-upload'), pdf('theirs'));
    await t.services.files.upload(actorOf(USERS.subjectA.id, GROUPS.A.id), head, [{ path: path.join(tmp, 'theirs-upload'), originalname: 'theirs.pdf' }]);
    const [theirs] = await q<{ id: number; storage_name: string }>("select id, storage_name from files where original_name = 'theirs.pdf'");

    // The list says who may delete what.
    const asMember = await t.services.files.listFor(head, actorOf(USERS.memberA.id, GROUPS.A.id));
    expect(asMember.map((f) => [f.originalName, f.canDelete])).toEqual([['theirs.pdf', false], ['mine.pdf', true]]);
    const asManager = await t.services.files.listFor(head, actorOf(USERS.managerA.id, GROUPS.A.id, 'manager'));
    expect(asManager.every((f) => f.canDelete)).toBe(true);
    expect(asMember[0]).toMatchObject({ uploaderName: 'subjectA', uploaderId: USERS.subjectA.id, mimeType: 'application/pdf', ext: 'pdf' });

    const denied = await agents.memberA.post(`/files/${theirs!.id}/delete`).type('form').send({ _csrf: tokens.get('memberA') });
    expect(denied.status).toBe(403);

    const mine = await agents.memberA.post(`/files/${own.id}/delete`).type('form').send({ _csrf: tokens.get('memberA') });
    expect(mine.status).toBe(303);
    expect(mine.headers.location).toBe(`/leads/${leadA}#files`);
    expect(fs.existsSync(path.join(uploadDir, own.storage_name.slice(0, 2), own.storage_name))).toBe(false);

    const byManager = await agents.managerA.post(`/files/${theirs!.id}/delete`).set('HX-Request', 'true').type('form').send({ _csrf: tokens.get('managerA') });
    expect(byManager.status).toBe(200);
    expect(byManager.text).toContain('The file “theirs.pdf” was deleted.');
    expect(fs.existsSync(path.join(uploadDir, theirs!.storage_name.slice(0, 2), theirs!.storage_name))).toBe(false);

    expect(await fileRows()).toEqual([]);
    const deleted = await q<{ actor_id: number; data: { name: string } }>("select actor_id, data from activities where action = 'file_deleted' order by id");
    expect(deleted).toEqual([
      { actor_id: USERS.memberA.id, data: { name: 'mine.pdf' } },
      { actor_id: USERS.managerA.id, data: { name: 'theirs.pdf' } },
    ]);
    // Deleting again: the file is gone.
    expect((await agents.managerA.post(`/files/${own.id}/delete`).type('form').send({ _csrf: tokens.get('managerA') })).status).toBe(404);
  });

  it("a client made from a lead lists the lead's files too; a converted lead's file is deleted on its client", async () => {
    const leadA = await lead(GROUPS.A.id);
    const f = await fileOn('lead', leadA, 'memberA', 'from-lead.pdf');
    const clientA = await client(GROUPS.A.id, leadA);
    await q("update leads set status = 'converted', client_id = $1 where id = $2", [clientA, leadA]);
    await fileOn('client', clientA, 'memberA', 'on-client.pdf');

    const member = actorOf(USERS.memberA.id, GROUPS.A.id);
    const clientHead = await t.services.files.headForView(member, { kind: 'client', id: clientA });
    const list = await t.services.files.listFor(clientHead, member);
    expect(list.map((x) => x.originalName)).toEqual(['on-client.pdf', 'from-lead.pdf']);
    const leadHead = await t.services.files.headForView(member, { kind: 'lead', id: leadA });
    const leadList = await t.services.files.listFor(leadHead, member);
    expect(leadList.map((x) => [x.originalName, x.canDelete])).toEqual([['from-lead.pdf', false]]); // read-only lead

    expect((await agents.memberA.get(`/files/${f.id}/download`)).status).toBe(200);
    const del = await agents.memberA.post(`/files/${f.id}/delete`).type('form').send({ _csrf: tokens.get('memberA') });
    expect(del.status).toBe(303);
    expect(del.headers.location).toBe(`/clients/${clientA}#files`);
    const [act] = await q<{ client_id: number; lead_id: number | null }>("select client_id, lead_id from activities where action = 'file_deleted'");
    expect(act).toEqual({ client_id: clientA, lead_id: null });
  });

  it('a stored file missing from disk answers 404, not a broken download', async () => {
    const leadA = await lead(GROUPS.A.id);
    const f = await fileOn('lead', leadA, 'memberA');
    await t.services.files.removeStoredFiles([f.storage_name]);
    const res = await agents.memberA.get(`/files/${f.id}/download`);
    expect(res.status).toBe(404);
    expect(res.headers['content-disposition']).toBeUndefined();
    expect(res.headers['content-type']).toContain('text/html');
  });

  it('removeStoredFiles ignores missing files and names that are not storage names', async () => {
    const leadA = await lead(GROUPS.A.id);
    const f = await fileOn('lead', leadA, 'memberA');
    await t.services.files.removeStoredFiles([f.storage_name, f.storage_name, '../../etc/passwd', crypto.randomUUID()]);
    expect(storedFiles()).toEqual([]);
  });
});

describe('sanitizeName', () => {
  it.each([
    ['../../etc/passwd.txt', 'passwd.txt'],
    ['C:\\Users\\me\\Desktop\\file.pdf', 'file.pdf'],
    ['Договор №5.pdf', 'Договор №5.pdf'],
    ['bad\u0000name\u0007.txt', 'badname.txt'],
    ['invoice\u202Efdp.exe', 'invoicefdp.exe'],
    ['  spaced   out  .pdf ', 'spaced out .pdf'],
    ['...hidden.txt', 'hidden.txt'],
    ['tail dots.pdf...', 'tail dots.pdf'],
    ['', ''],
    ['../', ''],
  ])('%j → %j', (raw, clean) => {
    expect(sanitizeName(raw)).toBe(clean);
  });

  it('caps the length at 255 characters and keeps the extension', () => {
    const long = `${'я'.repeat(300)}.docx`;
    const clean = sanitizeName(long);
    expect(Array.from(clean)).toHaveLength(255);
    expect(clean.endsWith('я.docx')).toBe(true);
    const emoji = `${'😀'.repeat(300)}.pdf`;
    expect(Array.from(sanitizeName(emoji))).toHaveLength(255);
    expect(sanitizeName(emoji).endsWith('.pdf')).toBe(true);
  });

  it('decomposed Cyrillic is normalised (NFC)', () => {
    expect(sanitizeName('Йод.txt'.normalize('NFD'))).toBe('Йод.txt');
  });
});
