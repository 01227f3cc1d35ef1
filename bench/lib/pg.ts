import pg from 'pg';

/** The bench users every generated data set has; all share BENCH_PASSWORD. */
export const BENCH_ADMIN_EMAIL = 'admin@bench.local';
export const BENCH_MEMBER_EMAIL = 'member@bench.local';
/** Users 3..n are user<id>@bench.local (the login figure signs in as them, one account per request). */
export const benchUserEmail = (id: number) => `user${id}@bench.local`;
export const BENCH_PASSWORD = 'tandem-bench-password-42';

/** The PostgreSQL server the benchmarks use: DATABASE_URL's. The embedded PGlite is not a benchmark target. */
export function serverUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url) {
    process.stderr.write(
      'The benchmarks need a PostgreSQL server: set DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/postgres).\n' +
        'The bench database is created on that server, beside the database the URL names.\n',
    );
    process.exit(2);
  }
  return url;
}

/** The URL of database `name` on the same server. */
export function databaseUrl(base: string, name: string): string {
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
}

const ident = (name: string) => {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`);
  return `"${name}"`;
};

async function withAdmin<T>(base: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: base });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export async function databaseExists(base: string, name: string): Promise<boolean> {
  return withAdmin(base, async (c) => (await c.query('select 1 from pg_database where datname = $1', [name])).rowCount === 1);
}

/** Drops (closing its connections) and creates the database. */
export async function recreateDatabase(base: string, name: string): Promise<void> {
  await withAdmin(base, async (c) => {
    await c.query(`drop database if exists ${ident(name)} with (force)`);
    await c.query(`create database ${ident(name)}`);
  });
}

export async function dropDatabase(base: string, name: string): Promise<void> {
  await withAdmin(base, (c) => c.query(`drop database if exists ${ident(name)} with (force)`));
}
