// npx tsx bench/plans.ts [--db tandem_bench] [--runs 20] [--over 1.3]
//
// Are the statements the app prepares (src/db/prepared.ts: the list pages' row reads) as fast on a generic plan
// as on their custom plans? PostgreSQL keeps a generic plan, after five executions, when its estimate is no
// worse; this measures the real times. For every list order, direction, deep page and filter the survey opens
// (bench/survey.ts), as the bench member and admin, it captures the page's row read from the repositories and
// times it prepared under plan_cache_mode force_custom_plan and force_generic_plan (median of --runs). Prints
// the slowest ratios first and exits 1 if any generic plan is more than --over times its custom one.
import { parseArgs } from 'node:util';
import pg from 'pg';
import { drizzle } from 'drizzle-orm/node-postgres';
import * as schema from '../src/db/schema/index.js';
import type { Actor } from '../src/modules/access/policy.js';
import { PREPARE, preparable, statementsClient } from '../src/db/prepared.js';
import { leadsRepository } from '../src/modules/leads/leads.repository.js';
import { leadListQuery } from '../src/modules/leads/leads.schemas.js';
import { clientsRepository } from '../src/modules/clients/clients.repository.js';
import { clientListQuery } from '../src/modules/clients/clients.schemas.js';
import { usersRepository } from '../src/modules/users/users.repository.js';
import { BENCH_ADMIN_EMAIL, BENCH_MEMBER_EMAIL, databaseUrl, serverUrl } from './lib/pg.js';

const { values } = parseArgs({ options: { db: { type: 'string', default: 'tandem_bench' }, runs: { type: 'string', default: '20' }, over: { type: 'string', default: '1.3' } } });
const url = databaseUrl(serverUrl(), values.db!);
// Captures run unnamed; the timing connection below prepares by hand.
const pool = new pg.Pool({ connectionString: url, max: 2, Client: statementsClient(false) });
const captured: { sql: string; params: unknown[] }[] = [];
const db = drizzle(pool, { schema });
// Which statements asked to be prepared: the pool sees the name, Drizzle's logger does not.
const original = pool.query.bind(pool);
(pool as unknown as { query: unknown }).query = (config: { name?: string; text: string }, params: unknown[]) => {
  if (config?.name === PREPARE) captured.push({ sql: config.text, params });
  return original(config as never, params as never);
};

async function actorOf(email: string): Promise<Actor> {
  const user = await usersRepository.findByEmail(db, email);
  if (!user) throw new Error(`no ${email}: make the data with npm run bench:data`);
  return { id: user.id, isAdmin: user.role === 'admin', memberships: await usersRepository.memberships(db, user.id) };
}
const group = (await actorOf(BENCH_MEMBER_EMAIL)).memberships[0]!.groupId;
const lists = (sorts: string[], filters: Record<string, string>[]) => [
  {}, ...sorts.flatMap((sort) => [{ sort, dir: 'asc' }, { sort, dir: 'desc' }, { sort, dir: 'desc', page: '40' }]), ...filters,
];
const leadCases = lists(['created', 'name', 'status', 'value', 'owner'], [
  { owner: 'me' }, { owner: 'none' }, { status: 'new' }, { status: 'contacted', owner: 'me' }, { stale: '1' }, { converted: '1' }, { source: 'web' },
  { valueMin: '10000' }, { createdFrom: '2026-01-01' }, { group: String(group) },
]);
const clientCases = lists(['created', 'updated', 'name', 'company', 'status', 'owner'], [{ owner: 'me' }, { status: 'active' }, { fromLead: 'yes' }, { group: String(group) }]);

const timer = new pg.Client({ connectionString: url });
await timer.connect();
const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
async function time(mode: string, sql: string, params: unknown[]) {
  await timer.query(`set plan_cache_mode = ${mode}`);
  await timer.query({ name: 'plans_check', text: sql, values: params });
  const times: number[] = [];
  for (let i = 0; i < Number(values.runs); i++) {
    const t0 = performance.now();
    await timer.query({ name: 'plans_check', text: sql, values: params });
    times.push(performance.now() - t0);
  }
  await timer.query('deallocate plans_check');
  (timer as unknown as { connection: { parsedStatements: Record<string, string> } }).connection.parsedStatements = {};
  return median(times);
}

const rows: { ratio: number; line: string }[] = [];
for (const [who, email] of [['member', BENCH_MEMBER_EMAIL], ['admin', BENCH_ADMIN_EMAIL]] as const) {
  const actor = await actorOf(email);
  for (const [kind, cases] of [['leads', leadCases], ['clients', clientCases]] as const) {
    for (const c of cases) {
      const q = Object.fromEntries(Object.entries(c).map(([k, v]) => [k, v === 'me' ? String(actor.id) : v]));
      captured.length = 0;
      if (kind === 'leads') await leadsRepository.list(db, actor, leadListQuery.parse(q));
      else await clientsRepository.list(db, actor, clientListQuery.parse(q));
      for (const s of captured.map((c) => preparable(c.sql, c.params)).filter((s) => s !== undefined)) {
        const custom = await time('force_custom_plan', s.text, s.values);
        const generic = await time('force_generic_plan', s.text, s.values);
        rows.push({ ratio: generic / custom, line: `${custom.toFixed(2).padStart(7)} ms custom ${generic.toFixed(2).padStart(7)} ms generic  ${who.padEnd(6)} /${kind}?${new URLSearchParams(q)}` });
      }
    }
  }
}
await timer.end();
await pool.end();
rows.sort((a, b) => b.ratio - a.ratio);
for (const r of rows) process.stdout.write(`${r.ratio > Number(values.over) ? '!' : ' '} ${r.ratio.toFixed(2)}x ${r.line}\n`);
const bad = rows.filter((r) => r.ratio > Number(values.over)).length;
process.stdout.write(`${rows.length} statements; ${bad} slower on a generic plan than ${values.over} times their custom plan\n`);
process.exit(bad ? 1 : 0);
