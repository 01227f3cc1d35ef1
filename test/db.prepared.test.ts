import pg from 'pg';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { preparingClient, statementName } from '../src/db/prepared.js';

// The embedded database never gets the preparing client (src/db/client.ts): one backend for every connection.
describe.skipIf(inject('embedded'))('parameterised SELECTs as named prepared statements (src/db/prepared.ts)', () => {
  let client: pg.Client;
  const prepared = async () =>
    (await client.query<{ name: string }>('select name from pg_prepared_statements order by name')).rows.map((r) => r.name);

  // A new connection per case: prepared statements belong to a connection.
  beforeEach(async () => {
    const Client = preparingClient(3);
    client = new Client({ connectionString: inject('databaseUrl') });
    await client.connect();
  });
  afterEach(() => client.end());

  it('prepares a SELECT with parameters once per connection and answers it like a plain query', async () => {
    const text = 'select $1::int + 1 as n';
    expect((await client.query(text, [41])).rows).toEqual([{ n: 42 }]);
    expect((await client.query(text, [1])).rows).toEqual([{ n: 2 }]);
    expect(await prepared()).toEqual([statementName(text)]);
  });

  it('leaves text searches, statements without parameters and writes unprepared', async () => {
    await client.query(`select 'Петров' ilike $1 as hit`, ['%петр%']);
    await client.query('select 1');
    await client.query('create temp table t (n int)');
    await client.query('insert into t values ($1)', [1]);
    expect(await prepared()).toEqual([]);
  });

  it('keeps at most its limit per connection: the least recently used goes, and comes back when needed again', async () => {
    const q = (i: number) => `select $1::int * ${i} as n`;
    for (const i of [1, 2, 3]) await client.query(q(i), [1]);
    await client.query(q(1), [1]); // 1 is now the most recently used; 2 the least
    await client.query(q(4), [1]);
    expect((await prepared()).sort()).toEqual([q(1), q(3), q(4)].map(statementName).sort());
    // The evicted one is prepared again rather than failing as unknown or "already exists".
    expect((await client.query(q(2), [5])).rows).toEqual([{ n: 10 }]);
    expect(await prepared()).toHaveLength(3);
    expect(await prepared()).toContain(statementName(q(2)));
  });

  it('still reports a failing statement as an error, and the connection goes on working', async () => {
    await expect(client.query('select $1::int / 0 as n', [1])).rejects.toThrow(/division by zero/);
    expect((await client.query('select $1::int / 1 as n', [7])).rows).toEqual([{ n: 7 }]);
  });
});
