// npm run bench [-- --smoke] [--duration 10] [--connections 10] [--db tandem_bench] [--only REGEX] [--record | --no-record] [--tsx]
//
// Starts the app in production mode against the bench database (made by `npm run bench:data`), signs in a
// member and an admin, warms up, and measures with autocannon; every figure is printed beside a baseline
// measured in the same run: a bare Express route (the framework's ceiling), the same SQL through `pg` as JSON
// (the data's ceiling), argon2id itself for the login, COPY ... TO STDOUT for the export. The table goes to
// bench/RESULTS.md. --smoke makes a tiny data set of its own, runs each figure for about a second, and exits
// non-zero when any answer had an unexpected status (CI runs it).
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { openDatabase, runMigrations } from '../src/db/client.js';
import { createLogger } from '../src/lib/logger.js';
import { fromRoot } from '../src/lib/paths.js';
import { COUNT_CAP } from '../src/modules/records/list.js';
import { passwordHasher } from '../src/lib/passwords.js';
import { generateBenchData } from './data.js';
import { laterDates, searchTerms } from './lib/dict.js';
import { benchJobs } from './jobs.js';
import { compileApp } from './lib/compile.js';
import { PROXY_HEADERS, anonymousSession, download, login, loginBody, makeTextFile, probe, uploadFile, type Session } from './lib/http.js';
import { rotating, runAsync, runLoad, type LoadResult } from './lib/load.js';
import { BENCH_ADMIN_EMAIL, BENCH_MEMBER_EMAIL, BENCH_PASSWORD, databaseExists, databaseUrl, dropDatabase, serverUrl } from './lib/pg.js';
import { memoryOf, sampleMemory } from './lib/proc.js';
import type { SqlCase } from './servers/sql-ceiling.js';

const { values: args } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: false },
    duration: { type: 'string' },
    connections: { type: 'string', default: '10' },
    db: { type: 'string' },
    only: { type: 'string' },
    record: { type: 'boolean' },
    'no-record': { type: 'boolean' },
    tsx: { type: 'boolean', default: false },
  },
});

const smoke = args.smoke!;
const duration = Number(args.duration ?? (smoke ? 1 : 10));
const warmup = smoke ? 0.3 : 3;
const connections = Number(args.connections);
const dbName = args.db ?? (smoke ? 'tandem_bench_smoke' : 'tandem_bench');
const record = args.record ?? (!smoke && !args['no-record']);
const only = args.only ? new RegExp(args.only, 'i') : undefined;
const uploadMb = smoke ? 20 : 100;
const loginAmount = smoke ? 30 : 500;
const SEARCH = 'петров';

const log = (s = '') => process.stdout.write(`${s}\n`);
const fmt = (n: number | undefined, digits = 0) => (n === undefined || Number.isNaN(n) ? '–' : n.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const ms = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? '–' : n < 10 ? n.toFixed(1) : n.toFixed(0));

// --- processes --------------------------------------------------------------------------------------------

const children = new Set<ChildProcess>();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-bench-'));

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

interface Started {
  child: ChildProcess;
  port: number;
  url: string;
  logFile: string;
}

/** Starts a Node process (TypeScript through tsx's loader), logging to a file, and waits until `readyPath` answers 200. */
async function startNode(name: string, entry: string, env: Record<string, string>, readyPath: string, port: number, opts: { ts?: boolean } = {}): Promise<Started> {
  const logFile = path.join(tmp, `${name}.log`);
  const fd = fs.openSync(logFile, 'a');
  const child = spawn(process.execPath, [...(opts.ts === false ? [] : ['--import', 'tsx']), entry], {
    cwd: fromRoot(),
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmp, ...env },
    stdio: ['ignore', fd, fd],
  });
  fs.closeSync(fd);
  children.add(child);
  let exited: number | null | undefined;
  child.once('exit', (code) => {
    exited = code;
    children.delete(child);
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (exited !== undefined) break;
    try {
      const res = await fetch(url + readyPath, { headers: PROXY_HEADERS });
      await res.arrayBuffer();
      if (res.status === 200) return { child, port, url, logFile };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const tail = fs.readFileSync(logFile, 'utf8').split('\n').slice(-30).join('\n');
  throw new Error(`${name} did not start (exit code ${exited ?? 'none'}); its log:\n${tail}`);
}

async function stop(s: Started | undefined) {
  if (!s || s.child.exitCode !== null || s.child.signalCode) return;
  const done = new Promise((r) => s.child.once('exit', r));
  s.child.kill('SIGTERM');
  const timer = setTimeout(() => s.child.kill('SIGKILL'), 12_000);
  await done;
  clearTimeout(timer);
}

function killAll() {
  for (const c of children) c.kill('SIGKILL');
}
// Interrupted (Ctrl-C, a CI timeout): no server may outlive the run.
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
  process.on(signal, () => {
    killAll();
    fs.rmSync(tmp, { recursive: true, force: true });
    process.exit(code);
  });
}

// --- the figures --------------------------------------------------------------------------------------------

interface Row {
  section: 'http' | 'memory';
  figure: string;
  result?: LoadResult;
  baseline?: { name: string; result?: LoadResult; value?: string };
  ratio?: number;
  vsExpress?: number;
  value?: string;
  rss?: { before: number; peak: number; added: number };
  target?: string;
  met?: boolean;
  note?: string;
  failed?: boolean;
}
const rows: Row[] = [];

async function main() {
  const started = Date.now();
  const base = serverUrl();
  const load1 = os.loadavg()[0]!;

  if (smoke) {
    log(`smoke: a tiny data set in "${dbName}"`);
    await generateBenchData({ base, db: dbName, leads: 2000, clients: 500, groups: 4, users: 24, log: (s) => log(`  ${s}`) });
  } else if (!(await databaseExists(base, dbName))) {
    throw new Error(`database "${dbName}" does not exist: run \`npm run bench:data\` first (see README, Benchmarks)`);
  }
  const dbUrl = databaseUrl(base, dbName);
  // The schema moves on while a bench database lives: bring it up to date before anything reads it.
  {
    const logger = createLogger('warn');
    const database = await openDatabase({ databaseUrl: dbUrl, dataDir: '', poolMax: 1, logger });
    try {
      await runMigrations(database, logger);
    } finally {
      await database.close();
    }
  }

  // What the data set holds, and the records the figures use.
  const db = new pg.Client({ connectionString: dbUrl });
  await db.connect();
  const one = async <T = Record<string, unknown>>(sql: string, params: unknown[] = []) => (await db.query(sql, params)).rows[0] as T;
  const admin = await one<{ id: number }>('select id from users where email = $1', [BENCH_ADMIN_EMAIL]);
  const member = await one<{ id: number }>('select id from users where email = $1', [BENCH_MEMBER_EMAIL]);
  if (!admin || !member) throw new Error(`"${dbName}" has no bench users: make it with \`npm run bench:data\``);
  const counts = await one<Record<string, number>>(
    `select (select count(*) from leads)::int as leads, (select count(*) from clients)::int as clients, (select count(*) from groups)::int as groups,
            (select count(*) from users)::int as users, (select count(*) from comments)::int as comments`,
  );
  const memberGroups = (await db.query('select group_id from memberships where user_id = $1', [member.id])).rows.map((r) => r.group_id as number);
  const visible = await one<{ n: number }>(`select count(*)::int as n from leads where group_id = any($1) and deleted_at is null and status <> 'converted'`, [memberGroups]);
  const pages = Math.max(1, Math.ceil(visible.n / 25));
  // The deepest page the list offers: it counts up to 10,000 rows (COUNT_CAP) and pages stop there.
  const deepPage = Math.max(2, Math.min(COUNT_CAP / 25, Math.floor(pages / 2)));
  // The row page deepPage - 1 ends with: the pager's "next" link from there names it (keyset).
  const deepAfter = await one<{ id: number }>(
    `select id from leads where group_id = any($1) and deleted_at is null and status <> 'converted' order by created_at desc, id desc offset $2 limit 1`,
    [memberGroups, (deepPage - 1) * 25 - 1],
  );
  // The issue's dashboard case: the member's group nearest to 20,000 leads.
  const dashGroup = await one<{ group_id: number; n: number }>(
    `select group_id, count(*)::int as n from leads where group_id = any($1) and deleted_at is null group by 1 order by abs(count(*) - 20000) limit 1`,
    [memberGroups],
  );
  const owner = await one<{ owner_id: number; n: number }>(
    `select owner_id, count(*)::int as n from leads where group_id = $1 and owner_id is not null and owner_id <> $2 and status = 'contacted'
     group by 1 order by 2 desc limit 1`,
    [memberGroups[0], member.id],
  );
  const busyLead = await one<{ id: number; n: number }>(
    `select l.id, count(*)::int as n from comments c join leads l on l.id = c.lead_id
     where l.group_id = any($1) and l.status <> 'converted' and l.deleted_at is null group by l.id order by 2 desc, 1 limit 1`,
    [memberGroups],
  );
  const uploadLead = await one<{ id: number }>(`select id from leads where group_id = any($1) and status = 'new' and deleted_at is null order by id desc limit 1`, [memberGroups]);
  const exportRows = await one<{ n: number }>('select count(*)::int as n from clients where deleted_at is null');
  const loginEmails = (await db.query(`select email from users where id > $1 and active and role = 'user' order by id limit 200`, [member.id])).rows.map((r) => r.email as string);
  const aHash = (await one<{ password_hash: string }>('select password_hash from users where email = $1', [loginEmails[0]])).password_hash;
  const pgVersion = (await one<{ v: string }>(`select current_setting('server_version') as v`)).v;
  // current_setting() gives each in its own unit ("128MB"); setting and unit would read "163848kB" for 16,384 pages of 8kB.
  const pgSettings = (await db.query(`select name, current_setting(name) as value from pg_settings where name in ('shared_buffers', 'work_mem', 'effective_cache_size', 'max_parallel_workers_per_gather', 'jit') order by name`)).rows
    .map((r) => `${r.name}=${r.value}`).join(', ');
  await db.end();

  log(`data: ${fmt(counts.leads)} leads, ${fmt(counts.clients)} clients, ${counts.groups} groups, ${counts.users} users; ` +
    `the member sees ${fmt(visible.n)} open leads (groups ${memberGroups.join(', ')})`);

  // --- servers ---
  const appPort = await freePort();
  const dataDir = path.join(tmp, 'data');
  const appEnv: Record<string, string> = {
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(appPort),
    APP_URL: `http://127.0.0.1:${appPort}`,
    ALLOWED_HOSTS: '127.0.0.1',
    // Production behind a TLS proxy: the proxy (here: the load generator on loopback) says X-Forwarded-Proto.
    TRUST_PROXY: '127.0.0.1',
    SESSION_SECRET: crypto.randomBytes(36).toString('base64url'),
    DATABASE_URL: dbUrl,
    DATA_DIR: dataDir,
    UPLOAD_MAX_FILE_MB: String(uploadMb + 50),
    // The export figure measures the streaming export itself: above EXPORT_SYNC_LIMIT (default 10,000 rows)
    // the app hands the export to a background job instead (a redirect to its progress page).
    EXPORT_SYNC_LIMIT: '10000000',
    ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
  };
  // As production runs it: plain JavaScript under node (src/ transpiled now, see lib/compile.ts); --tsx runs the
  // TypeScript through tsx's loader instead (more memory, same code).
  const appEntry = args.tsx ? fromRoot('src/server.ts') : compileApp();
  const startApp = () => startNode('app', appEntry, appEnv, '/healthz', appPort, { ts: args.tsx });

  const sqlCases: SqlCase[] = [];
  const leadCase = (name: string, userId: number, query: SqlCase['query']) => (sqlCases.push({ name, userId, kind: 'leads', query }), name);
  const clientCase = (name: string, userId: number, query: SqlCase['query']) => (sqlCases.push({ name, userId, kind: 'clients', query }), name);

  interface Figure {
    title: string;
    path: string;
    as: 'member' | 'admin';
    sql?: string;
    target?: { p95?: number; ratio?: number };
    optional?: boolean;
    accept?: string;
    /** Paths taken in turn, one per request (path is the first): nothing the app reuses between requests. */
    rotate?: string[];
  }
  const q = (o: Record<string, string | number>) => `?${new URLSearchParams(Object.entries(o).map(([k, v]) => [k, String(v)]))}`;
  const coldTerms = searchTerms();
  const freshDates = laterDates();
  // Each request a search never asked before, so the figure is the search itself, not a reused page of it: the
  // 1,015 terms come round two or three times in a figure's window, each time with another "created to" date
  // (after every lead). Until the seventh pass they came round bare, and a memo of 2,000 searches answered most
  // of the second and third rounds (bench/RESULTS.md, seventh pass).
  const coldPaths = freshDates.map((d, i) => `/leads${q({ q: coldTerms[i % coldTerms.length]!, createdTo: d })}`);
  const filterQuery = { status: 'contacted', owner: String(owner?.owner_id ?? member.id) };
  /** The lead list with `query`, each request with another "created to" date (the "nothing reused" figures). */
  const anew = (query: Record<string, string>) => freshDates.map((d) => `/leads${q({ ...query, createdTo: d })}`);
  const freshFilterPaths = anew(filterQuery);
  const freshAdminPaths = anew({});
  const allFigures: Figure[] = [
    { title: 'leads: member, first page', path: '/leads', as: 'member', sql: leadCase('lm1', member.id, {}), target: { p95: 50, ratio: 0.5 } },
    { title: `leads: member, deep page (page ${deepPage}, offset ${fmt((deepPage - 1) * 25)})`, path: `/leads${q({ page: deepPage })}`, as: 'member', sql: leadCase('lmdeep', member.id, { page: String(deepPage) }), target: { p95: 50, ratio: 0.5 } },
    { title: `leads: member, page ${deepPage} by the pager's next link (keyset: after=${deepAfter.id})`, path: `/leads${q({ page: deepPage, after: deepAfter.id })}`, as: 'member', sql: leadCase('lmkeyset', member.id, { page: String(deepPage), after: String(deepAfter.id) }), target: { p95: 50, ratio: 0.5 } },
    { title: 'leads: member, status + owner filter', path: `/leads${q(filterQuery)}`, as: 'member', sql: leadCase('lmfilter', member.id, filterQuery), target: { p95: 50, ratio: 0.5 } },
    // The same filter with nothing reused (list pages are kept while their groups are unchanged, F36): each
    // request another "created to" date, all of them after every lead, so the page is read, planned and counted.
    { title: `leads: member, status + owner filter, nothing reused (a new "created to" date each request)`, path: freshFilterPaths[0]!, rotate: freshFilterPaths, as: 'member', sql: leadCase('lmfilterfresh', member.id, { ...filterQuery, createdTo: freshDates[0]! }), target: { p95: 50, ratio: 0.5 } },
    { title: 'leads: member, stale (the dashboard\'s link)', path: `/leads${q({ stale: '1' })}`, as: 'member', sql: leadCase('lmstale', member.id, { stale: '1' }), target: { p95: 50, ratio: 0.5 } },
    { title: `leads: member, search "${SEARCH}"`, path: `/leads${q({ q: SEARCH })}`, as: 'member', sql: leadCase('lmsearch', member.id, { q: SEARCH }), target: { p95: 100, ratio: 0.5 } },
    { title: 'leads: admin, first page (all groups)', path: '/leads', as: 'admin', sql: leadCase('la1', admin.id, {}), target: { p95: 150, ratio: 0.5 } },
    { title: 'leads: admin, first page, nothing reused (a new "created to" date each request)', path: freshAdminPaths[0]!, rotate: freshAdminPaths, as: 'admin', sql: leadCase('la1fresh', admin.id, { createdTo: freshDates[0]! }), target: { p95: 150, ratio: 0.5 } },
    { title: 'leads: admin, sorted by owner (all groups)', path: `/leads${q({ sort: 'owner', dir: 'asc' })}`, as: 'admin', sql: leadCase('laowner', admin.id, { sort: 'owner', dir: 'asc' }), target: { p95: 150, ratio: 0.5 } },
    { title: `leads: admin, search "${SEARCH}" (all groups)`, path: `/leads${q({ q: SEARCH })}`, as: 'admin', sql: leadCase('lasearch', admin.id, { q: SEARCH }), target: { p95: 100, ratio: 0.5 } },
    { title: `leads: member, search, a new term each request (${fmt(coldTerms.length)} terms, each round with other dates)`, path: coldPaths[0]!, rotate: coldPaths, as: 'member', target: { p95: 100 } },
    { title: `leads: admin, search, a new term each request (all groups)`, path: coldPaths[0]!, rotate: coldPaths, as: 'admin', target: { p95: 100 } },
    { title: 'clients: member, first page', path: '/clients', as: 'member', sql: clientCase('cm1', member.id, {}), target: { ratio: 0.5 } },
    { title: 'clients: admin, first page (all groups)', path: '/clients', as: 'admin', sql: clientCase('ca1', admin.id, {}), target: { ratio: 0.5 } },
    { title: `lead page with ${busyLead?.n ?? 0} comments (member)`, path: `/leads/${busyLead?.id ?? 1}`, as: 'member' },
    { title: `dashboard (member, group ${dashGroup?.group_id} with ${fmt(dashGroup?.n)} leads)`, path: `/dashboard?group=${dashGroup?.group_id}`, as: 'member', target: { p95: 100 } },
    { title: `dashboard (member, all their groups: ${fmt(visible.n)} open leads)`, path: '/dashboard', as: 'member', target: { p95: 100 } },
    { title: 'dashboard (admin, all groups)', path: '/dashboard', as: 'admin', target: { p95: 100 } },
    { title: 'lead board (member, their groups: four columns, their counts)', path: '/leads/board', as: 'member', target: { p95: 100 } },
    { title: 'lead board (admin, all groups: four columns, their counts)', path: '/leads/board', as: 'admin', target: { p95: 100 } },
    { title: 'API: GET /api/v1/leads (member, session)', path: '/api/v1/leads', as: 'member', optional: true, sql: 'lm1', target: { ratio: 0.5 }, accept: 'application/json' },
  ];
  const figures = allFigures.filter((f) => !only || only.test(f.title));

  log('starting: the app (production mode), the Express ceiling, the SQL ceiling');
  const [expressPort, sqlPort] = [await freePort(), await freePort()];
  let app: Started | undefined;
  let express: Started | undefined;
  let sqlServer: Started | undefined;
  try {
    [app, express, sqlServer] = await Promise.all([
      startApp(),
      startNode('express-ceiling', fromRoot('bench/servers/express-ceiling.ts'), { NODE_ENV: 'production', BENCH_PORT: String(expressPort) }, '/ready', expressPort),
      startNode('sql-ceiling', fromRoot('bench/servers/sql-ceiling.ts'), {
        NODE_ENV: 'production',
        BENCH_CONFIG: JSON.stringify({ databaseUrl: dbUrl, port: sqlPort, cases: sqlCases, exportUserId: admin.id }),
      }, '/ready', sqlPort),
    ]);

    const sessions: Record<'member' | 'admin', Session> = {
      member: await login(app.url, BENCH_MEMBER_EMAIL, BENCH_PASSWORD),
      admin: await login(app.url, BENCH_ADMIN_EMAIL, BENCH_PASSWORD),
    };
    const headersFor = (as: 'member' | 'admin', accept = 'text/html') => ({ ...PROXY_HEADERS, cookie: sessions[as].cookie, accept });
    const slow = new Set<string>();
    const measure = async (url: string, headers: Record<string, string> = {}, expect = 200, rotate?: string[]) => {
      // One rotation across warm-up and measurement.
      const requests = rotate && rotating(rotate);
      const load = (o: { duration?: number; amount?: number }) => runLoad({ url, connections, headers, expect, ...o, ...(requests ? { requests } : {}) });
      await load({ duration: warmup });
      const result = await load({ duration });
      if (result.ok >= connections || result.bad) return result;
      // Too slow for the window (answers still running when it closed): measure a fixed number instead.
      slow.add(url);
      return load({ amount: connections * (smoke ? 1 : 3) });
    };

    // Each page once under load before any is measured: the first figure after the app started was measured on
    // cold code and caches (the member's first page: 200 req/s in a full run, 454 alone minutes later).
    if (!smoke) {
      for (const f of figures) await runLoad({ url: `${app.url}${f.rotate?.[0] ?? f.path}`, connections, headers: headersFor(f.as, f.accept), expect: 200, duration: 1 });
    }
    log(`measuring: ${connections} connections, ${duration} s per figure after ${warmup} s of warm-up`);
    const expressResult = await measure(`${express.url}/hello`);
    rows.push({ section: 'http', figure: 'baseline: bare Express route (framework ceiling)', result: expressResult });
    log(`  ${'baseline: bare Express route'.padEnd(58)} ${fmt(expressResult.rps).padStart(7)} req/s  p95 ${ms(expressResult.p95)} ms`);

    for (const f of figures) {
      const p = await probe(app.url, f.path, sessions[f.as]);
      if (p.status !== 200) {
        const skipped = f.optional && p.status === 404;
        rows.push({ section: 'http', figure: f.title, note: skipped ? 'skipped: the route does not exist yet (404)' : `answered ${p.status}${p.location ? ` → ${p.location}` : ''}`, failed: !skipped });
        log(`  ${f.title.padEnd(58)} ${skipped ? 'skipped (404: not built yet)' : `FAILED: ${p.status}`}`);
        continue;
      }
      const result = await measure(`${app.url}${f.path}`, headersFor(f.as, f.accept), 200, f.rotate);
      const row: Row = { section: 'http', figure: f.title, result, vsExpress: result.rps / expressResult.rps };
      if (slow.has(`${app.url}${f.path}`)) row.note = `too slow for ${duration} s windows: measured over ${result.ok + result.bad} requests`;
      if (f.sql) {
        // Measured right after its figure, also when an earlier figure ran the same SQL: the machine's speed moves
        // within a run (the API's figure once compared with the first page's baseline of nine minutes before: 38%;
        // alone, 87%).
        const b = await measure(`${sqlServer.url}/case/${f.sql}`);
        row.baseline = { name: 'same SQL via pg → JSON', result: b };
        row.ratio = result.rps / b.rps;
        if (b.bad) row.note = `the SQL baseline had ${b.bad} bad answers`;
      } else {
        row.baseline = { name: 'bare Express route', result: expressResult };
        row.ratio = row.vsExpress;
      }
      const checks: string[] = [];
      let met = true;
      if (f.target?.p95 !== undefined) {
        checks.push(`p95 ≤ ${f.target.p95} ms`);
        met &&= result.p95 <= f.target.p95;
      }
      if (f.target?.ratio !== undefined && f.sql) {
        checks.push(`≥ ${f.target.ratio * 100}% of SQL`);
        met &&= (row.ratio ?? 0) >= f.target.ratio;
      }
      if (checks.length) {
        row.target = checks.join(', ');
        row.met = met;
      }
      if (result.bad || result.ok === 0) {
        row.failed = true;
        row.note = `${row.note ? `${row.note}; ` : ''}${result.bad} unexpected answers: ${JSON.stringify(result.statuses)}`;
      }
      rows.push(row);
      log(`  ${f.title.padEnd(58)} ${fmt(result.rps).padStart(7)} req/s  p95 ${ms(result.p95)} ms` +
        (row.baseline?.result && f.sql ? `   SQL ${fmt(row.baseline.result.rps)} req/s → ${(row.ratio! * 100).toFixed(0)}%` : '') + (row.failed ? '  FAILED' : ''));
    }

    // The admin's dashboard right after a change: the figures it reused are counted again. One view at a time, each
    // after a write (an edit of one lead): in one group, taking the groups in turn (that group's figures are
    // counted again, F43), and beside it, in every group at once (each group counted again: what any change cost
    // before F43). Both include their write.
    const afterChange = 'dashboard (admin, all groups) after a change in one group, one view at a time';
    if (!only || only.test(afterChange)) {
      const writer = new pg.Client({ connectionString: dbUrl });
      await writer.connect();
      try {
        const groupIds = (await writer.query('select id from groups order by id')).rows.map((r) => r.id as number);
        const touch = (ids: number[]) => writer.query(
          `update leads set updated_at = updated_at where id in (select (select id from leads where group_id = g and deleted_at is null limit 1) from unnest($1::int[]) g)`, [ids]);
        const view = async () => {
          const { status } = await probe(app.url, '/dashboard', sessions.admin);
          if (status !== 200) throw new Error(`dashboard after a change: answered ${status}`);
        };
        // Untimed first: every group's figures counted now, so none has expired (10 minutes) while they are measured.
        await view();
        let n = 0;
        const one = await runAsync(smoke ? 4 : groupIds.length, 1, async () => { await touch([groupIds[n++ % groupIds.length]!]); await view(); });
        const every = await runAsync(smoke ? 2 : 8, 1, async () => { await touch(groupIds); await view(); });
        const row: Row = {
          section: 'http', figure: afterChange, result: one,
          vsExpress: one.rps / expressResult.rps, baseline: { name: 'the same after a change in every group', result: every }, ratio: one.rps / every.rps,
        };
        rows.push(row);
        log(`  ${row.figure.padEnd(58)} ${fmt(one.rps).padStart(7)} /s  p95 ${ms(one.p95)} ms   every group changed: ${fmt(every.rps)} /s, p95 ${ms(every.p95)} ms`);
      } finally {
        await writer.end();
      }
    }

    // Login: one fresh anonymous session (cookie + CSRF token) per request, as a browser has; accounts in turn so
    // the per-account throttle never sees parallel attempts on one account (successful logins clear their attempt).
    if (!only || only.test('login')) {
      const prepared: Session[] = [];
      for (let i = 0; i < loginAmount; i += 10) prepared.push(...(await Promise.all(Array.from({ length: Math.min(10, loginAmount - i) }, () => anonymousSession(app!.url)))));
      let n = 0;
      const result = await runLoad({
        url: app.url,
        connections,
        amount: loginAmount,
        expect: 303,
        requests: [{
          method: 'POST',
          path: '/login',
          setupRequest: (req) => {
            const s = prepared[n % prepared.length]!;
            const email = loginEmails[n % loginEmails.length]!;
            n++;
            return { ...req, headers: { ...PROXY_HEADERS, cookie: s.cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: loginBody(s, email, BENCH_PASSWORD) };
          },
        }],
      });
      const hasher = passwordHasher({ memoryCost: 19456, timeCost: 2 });
      const argon = await runAsync(Math.max(20, Math.round(loginAmount / 2)), connections, () => hasher.verify(aHash, BENCH_PASSWORD));
      rows.push({ section: 'http', figure: 'baseline: argon2id verify, 10 at a time (in-process)', result: argon });
      const row: Row = {
        section: 'http', figure: `login: POST /login with CSRF, correct password (${loginAmount} logins)`, result, vsExpress: result.rps / expressResult.rps,
        baseline: { name: 'argon2id verify alone', result: argon }, ratio: result.rps / argon.rps,
      };
      if (result.bad || result.ok === 0) {
        row.failed = true;
        row.note = `${result.bad} unexpected answers: ${JSON.stringify(result.statuses)}`;
      }
      rows.push(row);
      log(`  ${row.figure.padEnd(58)} ${fmt(result.rps).padStart(7)} req/s  p95 ${ms(result.p95)} ms   argon2 ${fmt(argon.rps)} /s` + (row.failed ? '  FAILED' : ''));
    }

    // --- memory: a freshly started app, so "before" is an app that has served a little, not a load test ---
    if (!only || only.test('upload') || only.test('export')) {
      await stop(app);
      app = await startApp();
      const pid = app.child.pid!;
      const s = { member: await login(app.url, BENCH_MEMBER_EMAIL, BENCH_PASSWORD), admin: await login(app.url, BENCH_ADMIN_EMAIL, BENCH_PASSWORD) };
      for (const as of ['member', 'admin'] as const) await probe(app.url, '/leads', s[as]);
      await new Promise((r) => setTimeout(r, 500));
      log(`memory (fresh app, RSS ${fmt(memoryOf(pid).rss)} MiB)`);

      if (!only || only.test('upload')) {
        const file = path.join(tmp, 'upload.txt');
        await makeTextFile(file, uploadMb);
        const sampler = sampleMemory(pid);
        const up = await uploadFile(app.port, `/leads/${uploadLead?.id}/files`, file, 'bench-upload.txt', { ...PROXY_HEADERS, cookie: s.member.cookie, 'x-csrf-token': s.member.csrf });
        const mem = sampler.stop();
        fs.rmSync(file, { force: true });
        const row: Row = {
          section: 'memory', figure: `upload ${uploadMb} MB .txt (POST /leads/:id/files, multipart)`, rss: mem,
          value: `${(uploadMb / up.seconds).toFixed(0)} MB/s (${up.seconds.toFixed(2)} s)`, target: 'adds ≤ 50 MB RSS', met: mem.added <= 50,
        };
        if (up.status === 404) {
          row.note = 'skipped: the route answered 404';
          delete row.met;
        } else if (up.status !== 303) {
          row.failed = true;
          row.note = `answered ${up.status} (expected 303): ${up.body.replace(/\s+/g, ' ').slice(0, 200)}`;
        }
        rows.push(row);
        log(`  ${row.figure.padEnd(58)} ${row.value}, RSS ${fmt(mem.before)} → ${fmt(mem.peak)} MiB (+${fmt(mem.added)})${row.failed ? `  FAILED: ${row.note}` : ''}`);
      }

      if (!only || only.test('export')) {
        const copy = await download(sqlServer.port, '/copy');
        const copyRate = exportRows.n / copy.seconds;
        rows.push({ section: 'memory', figure: `baseline: COPY (export SELECT) TO STDOUT csv, via pg`, value: `${fmt(copyRate)} rows/s (${copy.seconds.toFixed(2)} s, ${fmt(copy.bytes / 1048576, 1)} MB)` });
        log(`  ${'baseline: COPY ... TO STDOUT (FORMAT csv)'.padEnd(58)} ${fmt(copyRate)} rows/s, ${copy.seconds.toFixed(2)} s`);
        for (const format of ['csv', 'xlsx']) {
          const urlPath = `/clients/export?format=${format}`;
          const sampler = sampleMemory(pid);
          const res = await download(app.port, urlPath, { ...PROXY_HEADERS, cookie: s.admin.cookie });
          const mem = sampler.stop();
          const title = `export ${fmt(exportRows.n)} clients as ${format.toUpperCase()} (admin, GET ${urlPath})`;
          if (res.status === 404) {
            rows.push({ section: 'memory', figure: title, note: 'skipped: the export route does not exist yet (404)' });
            log(`  ${title.padEnd(58)} skipped (404: not built yet)`);
            continue;
          }
          if (res.status !== 200) {
            // A background export (202/303) is not a synchronous download: not measured here.
            rows.push({ section: 'memory', figure: title, note: `answered ${res.status} (${res.type}): not a synchronous download, not measured`, failed: res.status >= 400 });
            log(`  ${title.padEnd(58)} answered ${res.status}: not measured`);
            continue;
          }
          const rate = exportRows.n / res.seconds;
          const ratio = rate / copyRate;
          const row: Row = {
            section: 'memory', figure: title, rss: mem, value: `${fmt(rate)} rows/s (${res.seconds.toFixed(2)} s, ${fmt(res.bytes / 1048576, 1)} MB)`,
            baseline: { name: 'COPY csv', value: `${fmt(copyRate)} rows/s` }, ratio,
            target: format === 'csv' ? '≥ 50% of COPY, peak RSS ≤ 200 MB' : 'peak RSS ≤ 200 MB',
            met: (format === 'csv' ? ratio >= 0.5 : true) && mem.peak <= 200,
          };
          if (format === 'csv' && Math.abs(res.lines - 1 - exportRows.n) > exportRows.n * 0.01) row.note = `${fmt(res.lines - 1)} lines for ${fmt(exportRows.n)} clients`;
          rows.push(row);
          log(`  ${title.padEnd(58)} ${row.value}, ${(ratio * 100).toFixed(0)}% of COPY, RSS peak ${fmt(mem.peak)} MiB`);
        }
      }
    }
  } finally {
    await Promise.all([stop(app), stop(express), stop(sqlServer)]);
  }

  // --- jobs: notification throughput of the worker (bench/jobs.ts; it needs Redis) ---
  let jobRows: string[] = [];
  if (process.env.REDIS_URL && (!only || only.test('notification jobs'))) {
    log('measuring: notification jobs through the worker (email off)');
    try {
      jobRows = (await benchJobs({ smoke, log: (line) => log(`  ${line}`) })).rows;
    } catch (err) {
      rows.push({ section: 'memory', figure: 'notification jobs', failed: true, note: (err as Error).message });
    }
  }

  // --- report ---
  const machine = `${os.availableParallelism()} CPUs (${os.cpus()[0]?.model.trim() ?? '?'}), ${fmt(os.totalmem() / 2 ** 30, 1)} GiB RAM`;
  const header = [
    `## ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')} — ${smoke ? 'smoke run' : only ? `partial run (only /${args.only}/)` : 'full run'}`,
    '',
    `- machine: ${machine}; load average ${load1.toFixed(2)} at the start, ${os.loadavg()[0]!.toFixed(2)} at the end (the machine is shared)`,
    `- Node ${process.version}, PostgreSQL ${pgVersion} (${pgSettings}); app: ${args.tsx ? 'src/server.ts via tsx' : 'node on src/ transpiled to JS'}, NODE_ENV=production, pool 10, argon2id 19 MiB / t=2`,
    `- data "${dbName}": ${fmt(counts.leads)} leads, ${fmt(counts.clients)} clients, ${counts.groups} groups, ${counts.users} users, ${fmt(counts.comments)} comments; ` +
      `the member is in groups ${memberGroups.join(' and ')} and sees ${fmt(visible.n)} open leads`,
    `- load: autocannon, ${connections} connections, ${duration} s per figure after ${smoke ? "" : "1 s of each page under load and "}${warmup} s of warm-up; latencies of correct answers only; run took ${((Date.now() - started) / 1000).toFixed(0)} s`,
    '',
  ];
  const http = rows.filter((r) => r.section === 'http');
  const table = [
    '| figure | req/s | p50 ms | p95 ms | p99 ms | baseline | baseline req/s | baseline p95 ms | ratio | ÷ Express | target | met |',
    '|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---|:-:|',
    ...http.map((r) => {
      const res = r.result;
      const b = r.baseline?.result;
      const verdict = r.failed ? '**FAILED**' : r.met === undefined ? '' : r.met ? 'yes' : '**no**';
      return `| ${r.figure}${r.note ? ` — ${r.note}` : ''} | ${res ? fmt(res.rps) : '–'} | ${ms(res?.p50)} | ${ms(res?.p95)} | ${ms(res?.p99)} | ${r.baseline?.name ?? ''} | ` +
        `${b ? fmt(b.rps) : ''} | ${b ? ms(b.p95) : ''} | ${r.ratio !== undefined ? `${(r.ratio * 100).toFixed(0)}%` : ''} | ` +
        `${r.vsExpress !== undefined ? `${(r.vsExpress * 100).toFixed(1)}%` : ''} | ${r.target ?? ''} | ${verdict} |`;
    }),
  ];
  const memory = rows.filter((r) => r.section === 'memory');
  if (memory.length) {
    table.push('', '| figure | value | baseline | ratio | RSS before → peak (MiB) | RSS added | target | met |', '|---|---|---|---:|---|---:|---|:-:|');
    for (const r of memory) {
      const verdict = r.failed ? '**FAILED**' : r.met === undefined ? '' : r.met ? 'yes' : '**no**';
      table.push(`| ${r.figure}${r.note ? ` — ${r.note}` : ''} | ${r.value ?? ''} | ${r.baseline ? `${r.baseline.name}: ${r.baseline.value}` : ''} | ` +
        `${r.ratio !== undefined ? `${(r.ratio * 100).toFixed(0)}%` : ''} | ${r.rss ? `${fmt(r.rss.before)} → ${fmt(r.rss.peak)}` : ''} | ` +
        `${r.rss ? `+${fmt(r.rss.added)}` : ''} | ${r.target ?? ''} | ${verdict} |`);
    }
  }
  if (jobRows.length) {
    if (!memory.length) table.push('', '| figure | value | baseline | ratio | RSS before → peak (MiB) | RSS added | target | met |', '|---|---|---|---:|---|---:|---|:-:|');
    table.push(...jobRows);
  }
  const report = [...header, ...table, ''].join('\n');
  log('');
  log(report);
  if (record) {
    const file = fromRoot('bench', 'RESULTS.md');
    if (!fs.existsSync(file)) fs.writeFileSync(file, '# Benchmark results\n\nAppended by `npm run bench`; newest last. How to read them: README, "Benchmarks".\n\n');
    fs.appendFileSync(file, `${report}\n`);
    log(`appended to ${path.relative(process.cwd(), file)}`);
  }
  if (smoke) await dropDatabase(base, dbName);

  const failed = rows.filter((r) => r.failed);
  if (failed.length) {
    log(`\n${failed.length} figure(s) had unexpected answers:`);
    for (const r of failed) log(`  - ${r.figure}: ${r.note}`);
    const appLog = path.join(tmp, 'app.log');
    if (fs.existsSync(appLog)) {
      const errors = fs.readFileSync(appLog, 'utf8').split('\n').filter((l) => /"level":(50|60)/.test(l)).slice(-5);
      if (errors.length) log(`\nthe app's last errors:\n${errors.map((l) => `  ${l.slice(0, 600)}`).join('\n')}`);
    }
    return 1;
  }
  return 0;
}

let code = 1;
try {
  code = await main();
} catch (err) {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`);
  code = 1;
} finally {
  killAll();
  fs.rmSync(tmp, { recursive: true, force: true });
}
process.exit(code);
