import pg from 'pg';
import { drizzle } from 'drizzle-orm/node-postgres';
import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { PREPARE, preparable, runPrepared, statementName, statementsClient } from '../src/db/prepared.js';

// The embedded database never prepares (src/db/client.ts): one backend behind every connection.
describe.skipIf(inject('embedded'))('queries that ask to be prepared (src/db/prepared.ts)', () => {
  let client: pg.Client | undefined;
  // A new connection per case: prepared statements belong to a connection.
  const connect = async (prepare: boolean, max = 3) => {
    const Client = statementsClient(prepare, max);
    client = new Client({ connectionString: inject('databaseUrl') });
    await client.connect();
    return client;
  };
  afterEach(async () => {
    await client?.end();
    client = undefined;
  });
  const prepared = async (c: pg.Client) => (await c.query<{ name: string }>('select name from pg_prepared_statements')).rows.map((r) => r.name).sort();
  const ask = (c: pg.Client, text: string, values: unknown[]) => c.query({ name: PREPARE, text, values });

  it('runs a Drizzle query as a statement named by its text, once per connection, with the same answer', async () => {
    const c = await connect(true);
    const db = drizzle(c);
    const query = () => db.select({ n: sql<number>`${41}::int + 1` }).from(sql`(select 1) one`);
    expect(await runPrepared(query())).toEqual([{ n: 42 }]);
    expect(await runPrepared(query())).toEqual([{ n: 42 }]);
    expect(await prepared(c)).toEqual([statementName(query().toSQL().sql)]);
  });

  it('writes LIMIT and OFFSET into the statement (a generic plan cannot see them) and reads each page right', async () => {
    const c = await connect(true, 10);
    const db = drizzle(c);
    const page = (offset: number) =>
      runPrepared(db.select({ n: sql<number>`n` }).from(sql`generate_series(1, 100) n`).where(sql`n % ${2} = 0`).orderBy(sql`n desc`).limit(3).offset(offset));
    expect(await page(0)).toEqual([{ n: 100 }, { n: 98 }, { n: 96 }]);
    expect(await page(3)).toEqual([{ n: 94 }, { n: 92 }, { n: 90 }]);
    expect(await page(0)).toEqual([{ n: 100 }, { n: 98 }, { n: 96 }]);
    const statements = (await c.query<{ statement: string }>('select statement from pg_prepared_statements order by statement')).rows.map((r) => r.statement);
    expect(statements).toHaveLength(2);
    expect(statements.every((t) => /where n % \$1 = 0 order by n desc limit 3( offset 3)?$/.test(t))).toBe(true);
  });

  it('renumbers the parameters left, and leaves a LIMIT that is not a plain count as a parameter', () => {
    expect(preparable('select a from t where b = $1 and c in ($2, $3) limit $4 offset $5', ['x', 1, 2, 25, 50])).toEqual({
      text: 'select a from t where b = $1 and c in ($2, $3) limit 25 offset 50', values: ['x', 1, 2],
    });
    expect(preparable('select a from (select a from t where b = $1 limit $2) s where c = $3 limit $4', ['x', 10, 'y', 5])).toEqual({
      text: 'select a from (select a from t where b = $1 limit 10) s where c = $2 limit 5', values: ['x', 'y'],
    });
    expect(preparable('select a from t limit $1', ['1; drop table t'])).toEqual({ text: 'select a from t limit $1', values: ['1; drop table t'] });
    expect(preparable('select a from t where b like $1 limit $2', ['%x%', 5])).toBeUndefined();
  });

  it('prepares only what asks, never a text search, and nothing at all when turned off', async () => {
    const c = await connect(true);
    await c.query('select $1::int as n', [1]);
    await ask(c, `select 'Петров' ilike $1 as hit`, ['%петр%']);
    await ask(c, `select 'Петров' like $1 as hit`, ['%етр%']);
    expect(await prepared(c)).toEqual([]);
    await c.end();

    const off = await connect(false);
    // Two different texts asking for the same (placeholder) name: unnamed, so neither collides.
    expect((await ask(off, 'select $1::int + 1 as n', [1])).rows).toEqual([{ n: 2 }]);
    expect((await ask(off, 'select $1::int + 2 as n', [1])).rows).toEqual([{ n: 3 }]);
    expect(await prepared(off)).toEqual([]);
  });

  it('keeps at most its limit per connection: the least recently used goes, and comes back when needed again', async () => {
    const c = await connect(true, 3);
    const q = (i: number) => `select $1::int * ${i} as n`;
    for (const i of [1, 2, 3]) await ask(c, q(i), [1]);
    await ask(c, q(1), [1]); // 1 is now the most recently used; 2 the least
    await ask(c, q(4), [1]);
    expect(await prepared(c)).toEqual([q(1), q(3), q(4)].map(statementName).sort());
    // The evicted one is prepared again rather than failing as unknown or "already exists".
    expect((await ask(c, q(2), [5])).rows).toEqual([{ n: 10 }]);
    expect(await prepared(c)).toHaveLength(3);
    expect(await prepared(c)).toContain(statementName(q(2)));
  });

  it('still reports a failing statement as an error, and the connection goes on working', async () => {
    const c = await connect(true);
    await expect(ask(c, 'select $1::int / 0 as n', [1])).rejects.toThrow(/division by zero/);
    expect((await ask(c, 'select $1::int / 1 as n', [7])).rows).toEqual([{ n: 7 }]);
  });
});
