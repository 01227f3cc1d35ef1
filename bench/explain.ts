// npx tsx bench/explain.ts [--db tandem_bench] [--case REGEX] [--q TERM] [--no-analyze]
//
// EXPLAIN (ANALYZE, BUFFERS) of the SQL the list figures run, captured from the app's own repositories (the same
// way the SQL-ceiling server gets it), for the bench member and admin. For finding out why a figure misses.
import { parseArgs } from 'node:util';
import pg from 'pg';
import { drizzle } from 'drizzle-orm/node-postgres';
import * as schema from '../src/db/schema/index.js';
import type { Actor } from '../src/modules/access/policy.js';
import { leadsRepository } from '../src/modules/leads/leads.repository.js';
import { leadListQuery } from '../src/modules/leads/leads.schemas.js';
import { clientExportQuery, clientsRepository } from '../src/modules/clients/clients.repository.js';
import { clientFilters, clientListQuery } from '../src/modules/clients/clients.schemas.js';
import { usersRepository } from '../src/modules/users/users.repository.js';
import { BENCH_ADMIN_EMAIL, BENCH_MEMBER_EMAIL, databaseUrl, serverUrl } from './lib/pg.js';

const { values } = parseArgs({ options: { db: { type: 'string', default: 'tandem_bench' }, case: { type: 'string' }, q: { type: 'string' }, 'no-analyze': { type: 'boolean' } } });
const pool = new pg.Pool({ connectionString: databaseUrl(serverUrl(), values.db!), max: 2 });
const captured: { sql: string; params: unknown[] }[] = [];
const capturing = drizzle(pool, { schema, logger: { logQuery: (sql, params) => void captured.push({ sql, params }) } });
const plain = drizzle(pool, { schema });

async function actorOf(email: string): Promise<Actor> {
  const user = await usersRepository.findByEmail(plain, email);
  if (!user) throw new Error(`no ${email}: make the data with npm run bench:data`);
  return { id: user.id, isAdmin: user.role === 'admin', memberships: await usersRepository.memberships(plain, user.id) };
}
const member = await actorOf(BENCH_MEMBER_EMAIL);
const admin = await actorOf(BENCH_ADMIN_EMAIL);
const { rows: [owner] } = await pool.query(
  `select owner_id from leads where group_id = $1 and owner_id is not null and owner_id <> $2 and status = 'contacted' group by 1 order by count(*) desc limit 1`,
  [member.memberships[0]?.groupId, member.id],
);

// The search cases' term (--q: another one, say a fragment the cold-search figure asks for).
const term = values.q ?? 'петров';
const cases: [string, () => Promise<unknown>][] = [
  ['leads member first page', () => leadsRepository.list(capturing, member, leadListQuery.parse({}))],
  ['leads member deep page 400', () => leadsRepository.list(capturing, member, leadListQuery.parse({ page: '400' }))],
  ['leads member status+owner', () => leadsRepository.list(capturing, member, leadListQuery.parse({ status: 'contacted', owner: String(owner?.owner_id) }))],
  ['leads member search', () => leadsRepository.list(capturing, member, leadListQuery.parse({ q: term }))],
  ['leads admin first page', () => leadsRepository.list(capturing, admin, leadListQuery.parse({}))],
  // The bench's "nothing reused" figure: a "created to" date after every lead.
  ['leads admin first page created to', () => leadsRepository.list(capturing, admin, leadListQuery.parse({ createdTo: '2030-01-01' }))],
  ['leads admin search', () => leadsRepository.list(capturing, admin, leadListQuery.parse({ q: term }))],
  // A broad term (300,000 matches over all groups): the page is walked in the list's order instead.
  ['leads admin broad search', () => leadsRepository.list(capturing, admin, leadListQuery.parse({ q: 'ов' }))],
  ['leads member broad search', () => leadsRepository.list(capturing, member, leadListQuery.parse({ q: 'ова' }))],
  ['clients member first page', () => clientsRepository.list(capturing, member, clientListQuery.parse({}))],
  ['clients admin search', () => clientsRepository.list(capturing, admin, clientListQuery.parse({ q: term }))],
  ['clients admin broad search', () => clientsRepository.list(capturing, admin, clientListQuery.parse({ q: 'ов' }))],
  ['clients admin first page', () => clientsRepository.list(capturing, admin, clientListQuery.parse({}))],
  ['clients admin export', async () => captured.push(clientExportQuery(plain, admin, clientFilters.parse({})).toSQL())],
];

for (const [name, run] of cases) {
  if (values.case && !new RegExp(values.case, 'i').test(name)) continue;
  captured.length = 0;
  await run();
  for (const q of [...captured]) {
    const { rows } = await pool.query(`explain (${values['no-analyze'] ? 'costs' : 'analyze, buffers'}) ${q.sql}`, q.params);
    process.stdout.write(`\n=== ${name}\n${q.sql}\n-- ${JSON.stringify(q.params)}\n${rows.map((r) => r['QUERY PLAN']).join('\n')}\n`);
  }
}
await pool.end();
