// npx tsx bench/survey.ts [--db tandem_bench] [--runs 7] [--over 20]
//
// Which pages are slow at the bench's scale: starts the app as the bench does (transpiled, production mode), signs
// in as the bench member and admin, and requests each page of the app (every list order and filter, the record
// pages, admin pages, the API) one at a time, several times; prints the median time of each, slowest first, and
// flags those over --over ms. One request at a time: this finds slow queries, not the machine's throughput (that
// is `npm run bench`). Needs the bench database (`npm run bench:data`).
import { parseArgs } from 'node:util';
import pg from 'pg';
import { startToolApp } from './lib/app.js';
import { login, PROXY_HEADERS } from './lib/http.js';
import { BENCH_ADMIN_EMAIL, BENCH_MEMBER_EMAIL, BENCH_PASSWORD, databaseUrl, serverUrl } from './lib/pg.js';

const { values } = parseArgs({ options: { db: { type: 'string', default: 'tandem_bench' }, runs: { type: 'string', default: '7' }, over: { type: 'string', default: '20' } } });
const url = databaseUrl(serverUrl(), values.db!);
const { base, child } = await startToolApp('survey', url);
try {
  // Real ids: the member's newest lead and client, the lead with the most comments, the member's first group.
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  const one = async (sql: string) => Object.values((await db.query(sql)).rows[0] ?? {})[0] as number | undefined;
  const member = await one(`select id from users where email = '${BENCH_MEMBER_EMAIL}'`);
  const group = await one(`select group_id from memberships where user_id = ${member} order by group_id limit 1`);
  const lead = await one(`select id from leads where group_id = ${group} and deleted_at is null and status <> 'converted' order by id desc limit 1`);
  const client = await one(`select id from clients where group_id = ${group} and deleted_at is null order by id desc limit 1`);
  const busy = await one(`select lead_id from comments c join leads l on l.id = c.lead_id where l.group_id = ${group} group by 1 order by count(*) desc limit 1`);
  await db.end();

  const lists = (kind: string, sorts: string[], filters: string[]) => [
    `/${kind}`, ...sorts.flatMap((s) => [`/${kind}?sort=${s}&dir=asc`, `/${kind}?sort=${s}&dir=desc`, `/${kind}?sort=${s}&dir=desc&page=40`]), ...filters.map((f) => `/${kind}?${f}`),
  ];
  const paths = [
    '/dashboard', `/dashboard?group=${group}`, '/leads/board', '/notifications', '/exports', '/profile', '/profile/tokens', '/groups', `/groups/${group}`,
    ...lists('leads', ['created', 'name', 'status', 'value', 'owner'], ['owner=me', 'owner=none', 'status=new', 'stale=1', 'converted=1', 'source=web', 'valueMin=10000', 'createdFrom=2026-01-01', 'q=ова', 'q=петров', `group=${group}`]),
    ...lists('clients', ['created', 'updated', 'name', 'company', 'status', 'owner'], ['owner=me', 'status=active', 'fromLead=yes', 'q=ова', `group=${group}`]),
    `/leads/${lead}`, `/leads/${lead}/edit`, `/leads/${busy}`, `/clients/${client}`, `/clients/${client}/edit`, '/leads/trash', '/clients/trash',
    '/api/v1/leads', '/api/v1/leads?sort=owner', '/api/v1/clients', '/api/v1/dashboard', `/api/v1/leads/${lead}`,
    '/admin', '/admin/users', '/admin/jobs',
  ];
  const rows: { as: string; path: string; status: number; ms: number }[] = [];
  for (const [as, email] of [['member', BENCH_MEMBER_EMAIL], ['admin', BENCH_ADMIN_EMAIL]] as const) {
    const { cookie } = await login(base, email, BENCH_PASSWORD);
    for (const p of paths) {
      const times: number[] = [];
      let status = 0;
      for (let i = 0; i < Number(values.runs); i++) {
        const started = performance.now();
        const res = await fetch(base + p, { headers: { ...PROXY_HEADERS, cookie }, redirect: 'manual' });
        await res.arrayBuffer();
        times.push(performance.now() - started);
        status = res.status;
      }
      times.sort((a, b) => a - b);
      rows.push({ as, path: p, status, ms: times[Math.floor(times.length / 2)]! });
    }
  }
  rows.sort((a, b) => b.ms - a.ms);
  for (const r of rows) {
    process.stdout.write(`${r.ms >= Number(values.over) ? '!' : ' '} ${r.ms.toFixed(1).padStart(7)} ms  ${String(r.status).padEnd(4)}${r.as.padEnd(7)} ${r.path}\n`);
  }
} finally {
  child.kill();
}
