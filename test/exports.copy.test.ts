import { Writable } from 'node:stream';
import type pg from 'pg';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { GROUPS, USERS, useFixtureApp } from './helpers/fixture.js';
import type { Actor } from '../src/modules/access/policy.js';
import { clientExportGroupCounts, clientExportQuery } from '../src/modules/clients/clients.repository.js';
import { clientFilters } from '../src/modules/clients/clients.schemas.js';
import { inlineParams } from '../src/modules/exports/copy-out.js';
import type { ExportFormat } from '../src/modules/exports/exports.format.js';
import { createExportsService, exportActor } from '../src/modules/exports/exports.service.js';
import { streamExport, type ExportQuery, type StreamOptions } from '../src/modules/exports/exports.stream.js';

/*
 * CSV by COPY (exports.stream.ts copyCsv): PostgreSQL writes the file, and it must be the very bytes the
 * cursor's writer (exports.format.ts, checked against csv-stringify and the list in exports.test.ts) writes.
 */

const f = useFixtureApp();
const pool = () => f.t.services.database.pool;
const db = () => f.t.services.database.db;
const A = GROUPS.A.id;
const B = GROUPS.B.id;
const admin: Actor = { id: USERS.admin.id, isAdmin: true, memberships: [] };

/** Values a CSV writer can get wrong, each in name, company, notes or address. */
const ODD: { group: number; owner: number | null; name: string; company?: string | null; email?: string | null; phone?: string | null; address?: string; website?: string | null; notes?: string; status?: string; created: string }[] = [
  { group: A, owner: USERS.subjectA.id, name: 'say "hi"', company: 'Acme, Inc.', notes: 'a;b', address: 'line one\nline two', created: '2026-01-02 03:04:05.678999+00' },
  { group: A, owner: USERS.subjectA.id, name: '=1+1', company: '+7 916 123-45-67', notes: '-5', address: '@home', website: '\ttab first', created: '2026-01-02 03:04:05.0005+00' },
  { group: A, owner: null, name: '\rcr first', company: '', email: null, phone: '', notes: 'crlf\r\ninside', created: '2025-12-31 23:59:59.999999+00' },
  { group: A, owner: USERS.subjectA.id, name: '', company: null, notes: '', address: '', created: '2024-02-29 12:00:00+00' },
  { group: B, owner: USERS.subjectB.id, name: '\\.', company: ' spaced ', notes: '\\.', address: 'trailing ', created: '2026-03-01 00:00:00.1+00' },
  { group: B, owner: USERS.subjectB.id, name: 'Ёлка «ёж», "кавычки"', company: '😀 emoji', notes: 'Звонить после 18:00; "срочно"\nвторая строка', created: '2026-03-01 00:00:00.12+00' },
  { group: B, owner: null, name: '"', company: ';', notes: ',', address: '"";;,,', status: 'inactive', created: '2026-03-02 10:00:00+00' },
  { group: A, owner: USERS.subjectA.id, name: "O'Brien \\ back", company: 'mid\ttab', email: 'o.brien@example.com', notes: "it's 100% \\ fine_", created: '2026-03-03 10:00:00+00' },
];

beforeAll(async () => {
  for (const o of ODD) {
    await pool().query(
      `insert into clients (group_id, owner_id, created_by_id, name, company, email, phone, address, website, status, notes, created_at, updated_at)
       values ($1, $2, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11::timestamptz + interval '1.234567 seconds')`,
      [o.group, o.owner, o.name, o.company ?? null, o.email ?? null, o.phone ?? null, o.address ?? '', o.website ?? null, o.status ?? 'active', o.notes ?? '', o.created],
    );
  }
});

/** A writable that keeps what it is given; `delay` makes it a slow reader (ms per write). */
function collector(opts: { highWaterMark?: number; delay?: number } = {}) {
  const chunks: Buffer[] = [];
  let maxBuffered = 0;
  const out = new Writable({
    highWaterMark: opts.highWaterMark,
    write(chunk: Buffer, _enc, cb) {
      chunks.push(Buffer.from(chunk));
      if (opts.delay === undefined) cb();
      else setTimeout(cb, opts.delay);
    },
  });
  const write = out.write.bind(out);
  out.write = ((chunk: Buffer, ...rest: never[]) => {
    const ok = write(chunk, ...rest);
    maxBuffered = Math.max(maxBuffered, out.writableLength);
    return ok;
  }) as typeof out.write;
  return { out, bytes: () => Buffer.concat(chunks), maxBuffered: () => maxBuffered };
}

/** One export through COPY (with its per-group count) or through the cursor. */
async function exportVia(path: 'copy' | 'cursor', actor: Actor, filters: Record<string, unknown>, format: ExportFormat, opts: StreamOptions = {}) {
  const filter = clientFilters.parse(filters);
  const sink = collector();
  const copy = path === 'copy' ? { groupCounts: clientExportGroupCounts(db(), actor, filter) } : undefined;
  const result = await streamExport(pool(), clientExportQuery(db(), actor, filter), format, sink.out, { ...opts, copy });
  // The per-group counts and the rows COPY wrote come from one snapshot: they always agree.
  expect([...result.groups.values()].reduce((a, b) => a + b, 0)).toBe(result.rows);
  return { ...result, bytes: sink.bytes() };
}

/** Both paths on the same data: the same bytes, rows and groups. */
async function expectSameFile(actor: Actor, filters: Record<string, unknown>, format: ExportFormat) {
  const viaCopy = await exportVia('copy', actor, filters, format);
  const viaCursor = await exportVia('cursor', actor, filters, format);
  expect(viaCopy.bytes.toString('utf8'), JSON.stringify(filters)).toBe(viaCursor.bytes.toString('utf8'));
  expect(viaCopy.bytes.equals(viaCursor.bytes)).toBe(true);
  expect(viaCopy.rows).toBe(viaCursor.rows);
  expect(viaCopy.groups).toEqual(viaCursor.groups);
  return viaCopy;
}

const idleConnections = () => pool().totalCount - pool().idleCount;
/** Statements of this database's other backends that are still running a COPY. */
const copiesRunning = async () =>
  (await pool().query(`select count(*)::int as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() and query like 'COPY (select%'`)).rows[0].n as number;

describe.skipIf(inject('embedded'))('CSV written by COPY (PostgreSQL; the embedded database keeps the cursor)', () => {
  it('is byte for byte what the cursor writes: quotes, delimiters, line breaks, formula characters, empty vs NULL, Cyrillic, a lone \\.', async () => {
    for (const format of ['csv', 'csv_excel'] as const) {
      const file = (await expectSameFile(admin, { sort: 'name', dir: 'asc' }, format)).bytes.toString('utf8');
      const d = format === 'csv' ? ',' : ';';
      expect(file.startsWith(format === 'csv' ? 'id,name,company,' : '\uFEFFid;name;company;')).toBe(true);
      // Quoted when holding the delimiter, a quote, CR or LF; quotes doubled; nothing else quoted.
      expect(file).toContain(`${d}"say ""hi"""${d}`);
      expect(file).toContain(format === 'csv' ? ',"Acme, Inc.",' : ';Acme, Inc.;');
      expect(file).toContain(format === 'csv' ? ',a;b,' : ';"a;b";');
      expect(file).toContain(`${d}"line one\nline two"${d}`);
      expect(file).toContain(`${d}"crlf\r\ninside"${d}`);
      expect(file).toContain(`${d}"Ёлка «ёж», ""кавычки"""${d}`);
      // Neutralised: = + - @ tab, and CR (then quoted for the CR).
      for (const cell of [`'=1+1`, `'+7 916 123-45-67`, `'-5`, `'@home`, `'\ttab first`]) expect(file).toContain(`${d}${cell}${d}`);
      expect(file).toContain(`${d}"'\rcr first"${d}`);
      // A lone \. and spaces at either end stay bare (COPY quotes \. only in a one-column file).
      expect(file).toContain(`${d}\\.${d}`);
      expect(file).toContain(`${d} spaced ${d}`);
      // An empty string is an empty cell like NULL, never "".
      expect(file).not.toMatch(new RegExp(`(^|${d})""(${d}|\r\n)`, 'm'));
      // Milliseconds truncated, as timestampToIso does.
      expect(file).toContain(`${d}2026-01-02T03:04:05.678Z${d}2026-01-02T03:04:06.913Z${d}`);
      expect(file).toContain(`${d}2026-01-02T03:04:05.000Z${d}`);
      expect(file).toContain(`${d}2025-12-31T23:59:59.999Z${d}`);
      // Every record ends in CRLF; a bare LF is only inside quotes.
      expect(file.endsWith('\r\n')).toBe(true);
    }
  });

  it('same bytes in every order and with every filter, search text with quotes and backslashes included', async () => {
    const cases: Record<string, unknown>[] = [
      {},
      { sort: 'company', dir: 'desc' },
      { sort: 'owner', dir: 'asc' },
      { sort: 'updated', dir: 'asc', status: 'inactive' },
      { q: "o'brien \\" },
      { q: '100%' },
      { q: 'ёлка' },
      { group: String(B), owner: 'none' },
      { owner: String(USERS.subjectA.id), fromLead: 'no', createdFrom: '2026-01-01', createdTo: '2026-03-01' },
      { q: 'nothing like this' },
    ];
    for (const filters of cases) await expectSameFile(admin, filters, 'csv');
    expect((await exportVia('copy', admin, { q: "o'brien \\" }, 'csv')).rows).toBe(1);
    expect((await exportVia('copy', admin, { createdFrom: '2026-01-01', createdTo: '2026-03-01' }, 'csv')).rows).toBe(4);
    const none = await exportVia('copy', admin, { q: 'nothing like this' }, 'csv_excel');
    expect(none).toMatchObject({ rows: 0, groups: new Map() });
    expect(none.bytes.toString('utf8')).toMatch(/^\uFEFFid;name;.*;source_lead_id\r\n$/);
  });

  it("a manager of A who is a member of B exports A's rows only, and the group counts say so", async () => {
    const actor = exportActor({
      id: USERS.managerA.id,
      isAdmin: false,
      memberships: [
        { groupId: A, groupName: GROUPS.A.name, role: 'manager', visibility: 'all' },
        { groupId: B, groupName: GROUPS.B.name, role: 'member', visibility: 'all' },
      ],
    })!;
    const { rows: [live] } = await pool().query(`select count(*)::int as n from clients where group_id = $1 and deleted_at is null`, [A]);
    for (const format of ['csv', 'csv_excel'] as const) {
      const result = await expectSameFile(actor, {}, format);
      expect(result.rows).toBe(live.n);
      expect(result.groups).toEqual(new Map([[GROUPS.A.name, live.n]]));
      const file = result.bytes.toString('utf8');
      expect(file).not.toContain(GROUPS.B.name);
      expect(file).not.toContain('Ёлка');
    }
    // Naming group B in the filters finds nothing of theirs in it.
    expect(await exportVia('copy', actor, { group: String(B) }, 'csv')).toMatchObject({ rows: 0, groups: new Map() });
  });

  it('reports progress every progressEvery rows, as the cursor does', async () => {
    const calls = { copy: [] as number[], cursor: [] as number[] };
    for (const path of ['copy', 'cursor'] as const) await exportVia(path, admin, {}, 'csv', { progressEvery: 3, onProgress: (n) => calls[path].push(n) });
    expect(calls.copy.length).toBeGreaterThan(1);
    expect(calls.copy).toEqual(calls.cursor);
  });

  describe('a large file', () => {
    beforeAll(async () => {
      // ≈ 4 MB: far more than a socket's and a writable's buffers.
      await pool().query(
        `insert into clients (group_id, owner_id, name, notes) select $1, $2, 'Bulk ' || lpad(n::text, 5, '0'), repeat('x', 500) from generate_series(1, 8000) n`,
        [B, USERS.subjectB.id],
      );
    });

    it('is read no faster than a slow destination takes it (backpressure), and arrives whole', async () => {
      const filter = clientFilters.parse({ q: 'bulk', sort: 'name', dir: 'asc' });
      const slow = collector({ highWaterMark: 16 * 1024, delay: 1 });
      const result = await streamExport(pool(), clientExportQuery(db(), admin, filter), 'csv', slow.out, { copy: { groupCounts: clientExportGroupCounts(db(), admin, filter) } });
      expect(result).toEqual({ rows: 8000, groups: new Map([[GROUPS.B.name, 8000]]) });
      // Without the pause the whole file would wait in `out`; with it, a few 64 KiB writes at most (the rest
      // of what the socket had already read is still handed on).
      expect(slow.maxBuffered()).toBeLessThan(512 * 1024);
      const fast = await exportVia('cursor', admin, { q: 'bulk', sort: 'name', dir: 'asc' }, 'csv');
      expect(slow.bytes().equals(fast.bytes)).toBe(true);
      expect(idleConnections()).toBe(0);
    });

    it('an abort mid-COPY (signal, or the destination closing) ends it and closes its connection; the pool goes on', async () => {
      for (const how of ['signal', 'destination'] as const) {
        const filter = clientFilters.parse({ q: 'bulk' });
        const ac = new AbortController();
        const sink = collector({ highWaterMark: 16 * 1024, delay: 5 });
        let writes = 0;
        sink.out.on('drain', () => {
          if (++writes !== 2) return;
          if (how === 'signal') ac.abort(new Error('client gone'));
          else sink.out.destroy();
        });
        const run = streamExport(pool(), clientExportQuery(db(), admin, filter), 'csv', sink.out, {
          signal: ac.signal,
          copy: { groupCounts: clientExportGroupCounts(db(), admin, filter) },
        });
        await expect(run).rejects.toThrow(how === 'signal' ? 'client gone' : 'the destination closed early');
        expect(sink.bytes().length).toBeLessThan(4_000_000);
        // Nothing is held, and the server has ended the COPY (its backend is gone).
        expect(idleConnections()).toBe(0);
        await expect.poll(copiesRunning, { timeout: 5000 }).toBe(0);
        // The pool hands out working connections: the next export is whole.
        expect((await exportVia('copy', admin, { q: 'bulk' }, 'csv')).rows).toBe(8000);
      }
    });
  });

  it("a failing COPY throws the server's error, and its connection is closed, not pooled", async () => {
    const failing: ExportQuery = {
      toSQL: () => ({ sql: 'select id / (id - id) as id from clients', params: [] }),
      _: { selectedFields: { id: null } },
    };
    const groupCounts = { toSQL: () => ({ sql: 'select 1, 1', params: [] }) };
    await expect(streamExport(pool(), failing, 'csv', collector().out, { copy: { groupCounts } })).rejects.toMatchObject({ code: '22012' });
    expect(idleConnections()).toBe(0);
    expect((await pool().query('select 1 as ok')).rows).toEqual([{ ok: 1 }]);
  });
});

describe('inlineParams (COPY takes no parameters)', () => {
  const inline = async (sql: string, params: unknown[]) => {
    const client = await pool().connect();
    try {
      return inlineParams(sql, params, (s) => client.escapeLiteral(s));
    } finally {
      client.release();
    }
  };

  it('gives the same values PostgreSQL gets as parameters', async () => {
    const sql = `select $1::text as s1, $2::text as s2, $3::text as s3, $4::text as s4, $5::int as i, 10 -$6 as minus, $7::numeric as n,
      $8::bigint as big, $9::boolean as b, $10::text as nul, $11::timestamptz as ts, $12::text[] as arr, $13::int[] as ints, $14::text as dollars`;
    const params = ["it's", 'back\\slash \\\'', '', 'Ёлка 😀', 42, -5, 3.25, 10n ** 15n, true, null, new Date('2026-01-02T03:04:05.678Z'), ['a', 'b"c', null, 'd\\e', '{x,y}'], [1, -2], '$1 $2'];
    const bound = (await pool().query(sql, params.map((p) => (typeof p === 'bigint' ? String(p) : p)))).rows[0];
    const inlined = (await pool().query(await inline(sql, params))).rows[0];
    expect(inlined).toEqual(bound);
    expect(inlined).toMatchObject({ s1: "it's", minus: 15, arr: ['a', 'b"c', null, 'd\\e', '{x,y}'], ints: [1, -2], dollars: '$1 $2' });
  });

  it('refuses what it cannot write faithfully, and parameters not numbered as Drizzle numbers them', async () => {
    for (const bad of [{ a: 1 }, Buffer.from('x'), NaN, Infinity, new Date('nope'), [{ a: 1 }], Symbol('s')]) {
      await expect(inline('select $1', [bad])).rejects.toThrow(/inlineParams/);
    }
    await expect(inline('select $1, $2', [1])).rejects.toThrow('$2 where $2 of 1 was expected');
    // A `$1` inside a quoted literal of a raw fragment: the literal written there would end the quotes.
    await expect(inline(`select 'cost: $1' as note, $1 as v`, [`x' or 1=1 --`])).rejects.toThrow(/inlineParams/);
    await expect(inline('select $2, $1', [1, 2])).rejects.toThrow(/inlineParams/);
    await expect(inline('select $1', [1, 2])).rejects.toThrow('2 parameters, 1 used');
  });
});

describe('which path the export service takes', () => {
  it('CSV by COPY unless the database is the embedded one (then by the cursor), JSON by the cursor; the same file either way', async () => {
    // Every statement sent on the pool's connections while the exports run.
    const sent: string[] = [];
    const patched: [pg.PoolClient, pg.PoolClient['query']][] = [];
    const spy = (client: pg.PoolClient) => {
      if (patched.some(([c]) => c === client)) return;
      const query = client.query;
      patched.push([client, query]);
      client.query = function (this: pg.PoolClient, q: unknown, ...rest: unknown[]) {
        sent.push(typeof q === 'string' ? q : ((q as { text?: string }).text ?? ''));
        return (query as (...a: unknown[]) => unknown).call(this, q, ...rest);
      } as pg.PoolClient['query'];
    };
    const { services } = f.t;
    /** A download of `format` by a service on this database, told it is embedded or not: the file, and whether it took a snapshot for COPY. */
    const download = async (embedded: boolean, format: ExportFormat) => {
      const exports = createExportsService({ database: { ...services.database, embedded }, env: services.env, logger: services.logger, jobs: services.jobs });
      const plan = await exports.begin(admin, { format, filters: clientFilters.parse({ sort: 'name', dir: 'asc' }) });
      if (plan.mode !== 'sync') throw new Error('expected a download');
      const sink = collector();
      const start = sent.length;
      await exports.streamSync(plan, Object.assign(sink.out, { headersSent: true }));
      return { file: sink.bytes(), copied: sent.slice(start).includes('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY') };
    };
    pool().on('acquire', spy);
    try {
      const server = await download(false, 'csv');
      const embedded = await download(true, 'csv');
      expect(server.copied).toBe(true);
      expect(embedded.copied).toBe(false);
      expect(server.file.equals(embedded.file)).toBe(true);
      expect(server.file.length).toBeGreaterThan(1000);
      expect((await download(false, 'json')).copied).toBe(false);
    } finally {
      pool().off('acquire', spy);
      for (const [client, query] of patched) client.query = query;
    }
  });
});
