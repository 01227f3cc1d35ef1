// The data's ceiling: a tiny node:http server that runs exactly the SQL the app runs for a list page (captured
// from the app's own repository code, so it never drifts), through `pg`, and answers the rows as JSON; and
// streams `COPY (<the export's SELECT>) TO STDOUT (FORMAT csv)` for the export figure.
// Started by bench/run.ts with BENCH_CONFIG (JSON): { databaseUrl, port, cases: [{ name, userId, kind, query }], exportUserId }.
import http from 'node:http';
import pg from 'pg';
import { drizzle } from 'drizzle-orm/node-postgres';
import * as schema from '../../src/db/schema/index.js';
import type { Actor } from '../../src/modules/access/policy.js';
import { leadsRepository } from '../../src/modules/leads/leads.repository.js';
import { leadListQuery } from '../../src/modules/leads/leads.schemas.js';
import { clientExportQuery, clientsRepository } from '../../src/modules/clients/clients.repository.js';
import { clientFilters, clientListQuery } from '../../src/modules/clients/clients.schemas.js';
import { usersRepository } from '../../src/modules/users/users.repository.js';
import { inlineParams } from '../../src/modules/exports/copy-out.js';
import { copyTo } from '../lib/copy-to.js';

export interface SqlCase {
  name: string;
  userId: number;
  kind: 'leads' | 'clients';
  query: Record<string, string | string[]>;
}
interface Config {
  databaseUrl: string;
  port: number;
  cases: SqlCase[];
  exportUserId?: number;
}
const config = JSON.parse(process.env.BENCH_CONFIG ?? '{}') as Config;

// Same pool size as the app's default (DATABASE_POOL_MAX=10).
const pool = new pg.Pool({ connectionString: config.databaseUrl, max: 10 });
const captured: { sql: string; params: unknown[] }[] = [];
const capturing = drizzle(pool, { schema, logger: { logQuery: (sql, params) => void captured.push({ sql, params }) } });
const plain = drizzle(pool, { schema });

async function actorOf(userId: number): Promise<Actor> {
  const user = await usersRepository.findById(plain, userId);
  if (!user) throw new Error(`no user ${userId}`);
  return { id: user.id, isAdmin: user.role === 'admin', memberships: await usersRepository.memberships(plain, user.id) };
}

/** The queries one list page runs (the page of rows and the count), as text and parameters. */
const queries = new Map<string, { sql: string; params: unknown[] }[]>();
for (const c of config.cases) {
  const actor = await actorOf(c.userId);
  captured.length = 0;
  if (c.kind === 'leads') await leadsRepository.list(capturing, actor, leadListQuery.parse(c.query));
  else await clientsRepository.list(capturing, actor, clientListQuery.parse(c.query));
  queries.set(c.name, [...captured]);
}

let copySql: string | undefined;
if (config.exportUserId) {
  const { sql, params } = clientExportQuery(plain, await actorOf(config.exportUserId), clientFilters.parse({})).toSQL();
  const c = await pool.connect();
  try {
    copySql = `COPY (${inlineParams(sql, params, (s) => c.escapeLiteral(s))}) TO STDOUT (FORMAT csv, HEADER)`;
  } finally {
    c.release();
  }
}

const server = http.createServer((req, res) => {
  const fail = (err: unknown) => {
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
    res.end(String((err as Error).message));
  };
  const url = req.url ?? '/';
  if (url === '/ready') return void res.end('ok');
  if (url === '/queries') {
    res.writeHead(200, { 'content-type': 'application/json' });
    return void res.end(JSON.stringify({ cases: Object.fromEntries(queries), copySql }));
  }
  if (url.startsWith('/case/')) {
    const list = queries.get(decodeURIComponent(url.slice(6)));
    if (!list) return void res.writeHead(404).end();
    Promise.all(list.map((q) => pool.query(q.sql, q.params)))
      .then(([items, count]) => {
        const body = JSON.stringify({ items: items!.rows, total: count?.rows[0]?.count ?? count?.rows[0]?.n });
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
        res.end(body);
      })
      .catch(fail);
    return;
  }
  if (url === '/copy' && copySql) {
    pool
      .connect()
      .then(async (client) => {
        try {
          res.writeHead(200, { 'content-type': 'text/csv; charset=utf-8' });
          await copyTo(client, copySql!, (chunk) => res.write(chunk), () => new Promise((r) => res.once('drain', () => r())));
          res.end();
        } finally {
          client.release();
        }
      })
      .catch(fail);
    return;
  }
  res.writeHead(404).end();
});
server.listen(config.port, '127.0.0.1');
process.on('SIGTERM', () => {
  server.close();
  void pool.end().then(() => process.exit(0));
});
