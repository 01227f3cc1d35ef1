// npx tsx bench/profile.ts [PATH] [--as member|admin] [--db tandem_bench] [--duration 10] [--search | --fresh]
//
// Where a page's time goes: starts the app as the bench does (transpiled, production mode) under `node
// --cpu-prof`, signs in as the bench member (or admin), loads PATH with 10 connections, then prints the CPU
// time per request of the app and of PostgreSQL, and the CPU profile's self time by package and by function.
// --search: PATH?q=TERM, a new term each request (the bench's cold-search figure). --fresh: PATH&createdTo=DATE,
// a new date after every lead each request (the "nothing reused" figures: no page is kept). Needs the bench
// database (`npm run bench:data`).
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { startToolApp } from './lib/app.js';
import { laterDates, searchTerms } from './lib/dict.js';
import { login, PROXY_HEADERS } from './lib/http.js';
import { rotating, runLoad } from './lib/load.js';
import { BENCH_ADMIN_EMAIL, BENCH_MEMBER_EMAIL, BENCH_PASSWORD, databaseUrl, serverUrl } from './lib/pg.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    as: { type: 'string', default: 'member' }, db: { type: 'string', default: 'tandem_bench' }, duration: { type: 'string', default: '10' },
    search: { type: 'boolean' },
    fresh: { type: 'boolean' },
  },
});
const target = positionals[0] ?? '/leads';
const { base, child, dir } = await startToolApp('profile', databaseUrl(serverUrl(), values.db!), (out) => ['--cpu-prof', `--cpu-prof-dir=${out}`]);
const session = await login(base, values.as === 'admin' ? BENCH_ADMIN_EMAIL : BENCH_MEMBER_EMAIL, BENCH_PASSWORD);
const headers = { ...PROXY_HEADERS, cookie: session.cookie };
await runLoad({ url: base + target, connections: 10, duration: 3, headers });
// Round trips to PostgreSQL per request: each statement outside a transaction is a transaction of its own, so
// the database's transaction counter over the run divided by the answers (statistics reach it within a second).
const stats = new pg.Client({ connectionString: databaseUrl(serverUrl(), values.db!) });
await stats.connect();
const xacts = async () => {
  const { rows } = await stats.query<{ n: string }>('select xact_commit + xact_rollback as n from pg_stat_database where datname = current_database()');
  return Number(rows[0]!.n);
};
// CPU seconds so far (user + system) of the app and of every PostgreSQL process (each connection is one; the app's
// pool keeps its ten, and a backend that exits during the run takes its time with it).
const ticks = (pid: number | string) => {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch { return 0; }
};
const postgresCpu = () => fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))
  .filter((p) => { try { return fs.readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'postgres'; } catch { return false; } })
  .reduce((sum, p) => sum + ticks(p), 0);
const joined = (param: string) => `${target}${target.includes('?') ? '&' : '?'}${param}`;
const requests = values.search ? rotating(searchTerms().map((term) => joined(`q=${encodeURIComponent(term)}`)))
  : values.fresh ? rotating(laterDates().map((d) => joined(`createdTo=${d}`))) : undefined;
const xactsBefore = await xacts();
const [appBefore, pgBefore] = [ticks(child.pid!), postgresCpu()];
const result = await runLoad({ url: base + target, connections: 10, duration: Number(values.duration), headers, requests });
const [appCpu, pgCpu] = [ticks(child.pid!) - appBefore, postgresCpu() - pgBefore];
await new Promise((r) => setTimeout(r, 1500));
const answers = result.ok + result.bad;
const perRequest = (await xacts()) - xactsBefore - 1;
await stats.end();
process.stdout.write(`${target}${values.search ? '?q=(a new term each time)' : values.fresh ? ' with createdTo=(a new date each time)' : ''} as ${values.as}: ${result.rps.toFixed(0)} req/s, p95 ${result.p95.toFixed(0)} ms, ${(perRequest / answers).toFixed(2)} database transactions per request\n`);
process.stdout.write(`CPU per request: app ${((1000 * appCpu) / answers).toFixed(1)} ms (with the profiler), PostgreSQL ${((1000 * pgCpu) / answers).toFixed(1)} ms\n`);
child.kill('SIGINT');
await new Promise((r) => child.once('exit', r));

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }
const file = fs.readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))!;
const profile = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const byPackage = new Map<string, number>();
const byFunction = new Map<string, number>();
let total = 0;
profile.samples.forEach((id, i) => {
  const t = profile.timeDeltas[i] ?? 0;
  total += t;
  const { functionName, url, lineNumber } = nodes.get(id)!.callFrame;
  const where = url.includes('node_modules/') ? url.replace(/.*node_modules\/((@[^/]+\/)?[^/]+).*/, '$1') : url.includes('/.build/') ? `app ${url.replace(/.*\/\.build\//, '')}` : url || functionName;
  byPackage.set(where, (byPackage.get(where) ?? 0) + t);
  const fn = `${functionName || '(anonymous)'} ${url.replace(/.*node_modules\//, '').replace(/.*\/\.build\//, '')}:${lineNumber}`;
  byFunction.set(fn, (byFunction.get(fn) ?? 0) + t);
});
const top = (m: Map<string, number>, n: number) =>
  [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`).join('\n');
process.stdout.write(`\nself time by package or file\n${top(byPackage, 20)}\n\nby function\n${top(byFunction, 25)}\n`);
if (process.env.KEEP_PROFILE) fs.copyFileSync(path.join(dir, file), process.env.KEEP_PROFILE);
fs.rmSync(dir, { recursive: true, force: true });
