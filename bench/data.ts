// npm run bench:data -- [--leads 1000000] [--clients 250000] [--groups 50] [--users 500] [--db tandem_bench]
//
// Makes the large data set the benchmarks run on, quickly: a fresh database on DATABASE_URL's server, the
// app's migrations, then every row generated inside PostgreSQL (INSERT ... SELECT over generate_series, two
// connections in parallel) with the secondary indexes dropped during the load and rebuilt afterwards, then
// VACUUM ANALYZE. Distributions: group sizes skewed (a few big groups), owners drawn from each group's
// members, status skewed to new/contacted, created_at over two years (denser recently) rising with the id and
// written in that order (as a table fills), values log-normal,
// Russian (Cyrillic, with transliterated e-mails) and English names, phones, companies.
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { openDatabase, runMigrations } from '../src/db/client.js';
import { createLogger } from '../src/lib/logger.js';
import { passwordHasher } from '../src/lib/passwords.js';
import { dictColumns } from './lib/dict.js';
import { BENCH_ADMIN_EMAIL, BENCH_MEMBER_EMAIL, BENCH_PASSWORD, databaseUrl, recreateDatabase, serverUrl } from './lib/pg.js';

export interface DataOptions {
  /** A URL of the server (any database on it); the data goes into database `db` there. */
  base: string;
  db: string;
  leads: number;
  clients: number;
  groups: number;
  users: number;
  /** Argon2 parameters of the bench users' password hash (the app's defaults unless told). */
  argon2?: { memoryCost: number; timeCost: number };
  log?: (line: string) => void;
}

/** The group the bench member belongs to besides group 1 (the largest): a middle-sized one. */
export const memberSecondGroup = (groups: number) => Math.max(2, Math.ceil(groups / 2));

const BATCH = 50_000;
const WORKERS = 2;
const LOADED_TABLES = ['leads', 'clients', 'comments', 'activities'];

// --- SQL pieces -------------------------------------------------------------------------------------------

/** A random person (Russian or English, male or female) from the random columns r_lang, r_sex, r1..r4. */
const PERSON = `
  case when r_lang < 0.5 then case when r_sex < 0.5 then gen.pick(d.ru_m, r1) else gen.pick(d.ru_f, r1) end
       else gen.pick(d.en_first, r1) end as first,
  case when r_lang < 0.5 then case when r_sex < 0.5 then gen.pick(d.ru_m_t, r1) else gen.pick(d.ru_f_t, r1) end
       else lower(gen.pick(d.en_first, r1)) end as first_t,
  case when r_lang < 0.5 then gen.pick(d.ru_last, r2) || case when r_sex < 0.5 then '' else 'а' end
       else gen.pick(d.en_last, r2) end as last,
  case when r_lang < 0.5 then gen.pick(d.ru_last_t, r2) || case when r_sex < 0.5 then '' else 'a' end
       else lower(replace(gen.pick(d.en_last, r2), '''', '')) end as last_t,
  case when r_lang < 0.5 then gen.pick(d.ru_domain, r3) else gen.pick(d.en_domain, r3) end as domain,
  case when r_lang < 0.5
       then '+7 9' || substr(lpad(floor(r4 * 1e9)::bigint::text, 9, '0'), 1, 2) || ' ' || substr(lpad(floor(r4 * 1e9)::bigint::text, 9, '0'), 3, 3)
            || '-' || substr(lpad(floor(r4 * 1e9)::bigint::text, 9, '0'), 6, 2) || '-' || substr(lpad(floor(r4 * 1e9)::bigint::text, 9, '0'), 8, 2)
       else '+44 20 ' || substr(lpad(floor(r4 * 1e8)::bigint::text, 8, '0'), 1, 4) || ' ' || substr(lpad(floor(r4 * 1e8)::bigint::text, 8, '0'), 5, 4)
  end as phone,
  case when r_lang < 0.5 then gen.pick(d.ru_co_form, r6) || ' «' || gen.pick(d.ru_co, r7) || '»'
       else gen.pick(d.en_co, r7) || ' ' || gen.pick(d.en_suffix, r6) end as company,
  case when r_lang < 0.5 then gen.pick(d.ru_co_t, r7) else lower(gen.pick(d.en_co, r7)) end as company_t,
  case when r_lang < 0.5 then gen.pick(d.ru_desc, r6) else gen.pick(d.en_desc, r6) end as descr`;

const RANDOMS = ['r_lang', 'r_sex', 'r1', 'r2', 'r3', 'r4', 'r6', 'r7', 'r_email', 'r_phone', 'r_co', 'r_src', 'r_st', 'r_v1', 'r_v2',
  'r_val', 'r_day', 'r_upd', 'r_del', 'r_own', 'r_cre', 'r_desc', 'r_kind', 'r_web', 'r_addr']
  .map((r) => `random() as ${r}`).join(', ');

/**
 * Days before $now a record was created: two years, linearly denser towards today. `r_created` is the record's
 * place among those generated ($5 the first id, $6 how many), not a random number: a table is written as its rows
 * are created, so ids, creation dates and the rows' order on disk go together, as in a real CRM. With random dates
 * (and rows written in the order a join produced them, grouped by group) the table's order had nothing to do with
 * creation and kept each group's rows together, which flattered the member's pages and searches (RESULTS, ninth pass).
 */
const DAYS_AGO = `(730 * (1 - sqrt(r_created)))`;
const CREATED_PLACE = `(i - $5::int + 0.5) / $6::float8 as r_created`;

const LEADS_SQL = `
insert into leads (id, group_id, owner_id, created_by_id, first_name, last_name, email, phone, company, source, status, value,
                   description, created_at, updated_at, last_activity_at, converted_at, deleted_at)
overriding system value
select i, gid, owner_id, coalesce(creator_id, owner_id), first, last,
  case when r_email < 0.9 then first_t || '.' || last_t || case when r_email < 0.45 then (i % 97)::text else '' end || '@' || domain end,
  case when r_phone < 0.85 then phone end,
  case when r_co < 0.7 then company end,
  case when r_src < 0.05 then null
       else (array['website','website','website','website','website','website','referral','referral','referral','cold_call',
                   'cold_call','email','email','event','partner','social','social','other'])[1 + floor((r_src - 0.05) / 0.95 * 18)::int] end,
  status,
  case when r_val < 0.15 then null
       else (round(least(exp(ln(4000) + 1.2 * sqrt(-2 * ln(1 - r_v1)) * cos(2 * pi() * r_v2)), 5e8) / 50) * 50)::numeric(14, 2) end,
  case when r_desc < 0.3 then descr else '' end,
  created_at, updated_at, updated_at,
  case when status = 'converted' then updated_at end,
  -- In the trash: within the 30-day retention (older trash is purged by the app's daily maintenance).
  case when r_del < 0.005 then greatest(updated_at, $4::timestamptz - (r_del / 0.005) * interval '29 days') end
from (
  select p.*,
    $4::timestamptz - ${DAYS_AGO} * interval '1 day' as created_at,
    $4::timestamptz - ${DAYS_AGO} * (1 - power(r_upd, 3)) * interval '1 day' as updated_at,
    (case when r_st < 0.40 then 'new' when r_st < 0.68 then 'contacted' when r_st < 0.82 then 'qualified'
          when r_st < 0.94 then 'lost' else 'converted' end)::lead_status as status,
    case when r_own < 0.08 then null else gen.pick_int(gm.members, (r_own - 0.08) / 0.92) end as owner_id,
    case when r_cre < 0.3 then gen.pick_int(gm.members, r_cre / 0.3) end as creator_id
  from (
    select r.*, ${PERSON}
    from (select i, 1 + floor($3 * power(random(), 1.5))::int as gid, ${CREATED_PLACE}, ${RANDOMS} from generate_series($1::int, $2::int) i) r
  ) p
  join gen.gm gm on gm.group_id = p.gid
) s
order by i`;

const CLIENTS_SQL = `
insert into clients (id, group_id, owner_id, created_by_id, name, company, email, phone, address, website, status, notes,
                     created_at, updated_at)
overriding system value
select i, gid, owner_id, coalesce(creator_id, owner_id),
  case when r_kind < 0.5 then company else first || ' ' || last end,
  case when r_kind < 0.5 or r_co < 0.5 then company end,
  case when r_email < 0.9 then case when r_kind < 0.5 then 'info@' || company_t || '.' || case when r_lang < 0.5 then 'ru' else 'com' end
                                  else first_t || '.' || last_t || '@' || domain end end,
  case when r_phone < 0.9 then phone end,
  case when r_addr < 0.15 then ''
       when r_lang < 0.5 then 'г. ' || gen.pick(d.ru_city, r3) || ', ' || gen.pick(d.ru_street, r4) || ', д. ' || (1 + floor(r_addr * 150))::int
       else (1 + floor(r_addr * 200))::int || ' ' || gen.pick(d.en_street, r4) || ', ' || gen.pick(d.en_city, r3) end,
  case when r_web < 0.3 then 'https://' || company_t || case when r_lang < 0.5 then '.ru' else '.com' end end,
  (case when r_st < 0.85 then 'active' else 'inactive' end)::client_status,
  case when r_desc < 0.2 then descr else '' end,
  created_at, updated_at
from (
  select p.*,
    $4::timestamptz - ${DAYS_AGO} * interval '1 day' as created_at,
    $4::timestamptz - ${DAYS_AGO} * (1 - power(r_upd, 3)) * interval '1 day' as updated_at,
    case when r_own < 0.05 then null else gen.pick_int(gm.members, (r_own - 0.05) / 0.95) end as owner_id,
    case when r_cre < 0.3 then gen.pick_int(gm.members, r_cre / 0.3) end as creator_id
  from (
    select r.*, ${PERSON}
    from (select i, 1 + floor($3 * power(random(), 1.5))::int as gid, ${CREATED_PLACE}, ${RANDOMS} from generate_series($1::int, $2::int) i) r
  ) p
  join gen.gm gm on gm.group_id = p.gid
) s
order by i`;

/**
 * The dictionary's arrays go in as query parameters (constants in the plan): read from a one-row table they
 * would be de-TOASTed for every generated row, which made the load several times slower.
 */
function withDict(sql: string, params: unknown[] = []): { sql: string; params: unknown[] } {
  const dict = dictColumns();
  const out = [...params];
  const index = new Map<string, number>();
  const text = sql.replace(/\bd\.(\w+)\b/g, (_m, name: string) => {
    if (!(name in dict)) throw new Error(`no dictionary column ${name}`);
    if (!index.has(name)) {
      out.push(dict[name]);
      index.set(name, out.length);
    }
    return `$${index.get(name)}::text[]`;
  });
  return { sql: text, params: out };
}

/** Runs tasks on a small pool of clients, WORKERS at a time. */
async function parallel(pool: pg.Pool, tasks: { label?: string; sql: string; params?: unknown[] }[], setup: string[]) {
  let next = 0;
  const worker = async () => {
    const c = await pool.connect();
    try {
      for (const s of setup) await c.query(s).catch(() => undefined);
      while (next < tasks.length) {
        const t = tasks[next++]!;
        await c.query(t.sql, t.params);
      }
    } finally {
      c.release();
    }
  };
  await Promise.all(Array.from({ length: Math.min(WORKERS, tasks.length) }, worker));
}

function batches(from: number, to: number, size = BATCH): [number, number][] {
  const out: [number, number][] = [];
  for (let a = from; a <= to; a += size) out.push([a, Math.min(to, a + size - 1)]);
  return out;
}

export async function generateBenchData(o: DataOptions): Promise<{ seconds: number; counts: Record<string, number> }> {
  const log = o.log ?? ((s: string) => process.stdout.write(`${s}\n`));
  if (o.users < 3) throw new Error('--users must be at least 3 (an admin, the bench member, one more)');
  if (o.groups < 2) throw new Error('--groups must be at least 2');
  const started = Date.now();
  let t = Date.now();
  const step = (what: string) => {
    log(`  ${what.padEnd(44)} ${((Date.now() - t) / 1000).toFixed(1)} s`);
    t = Date.now();
  };

  log(`bench data → database "${o.db}": ${o.leads.toLocaleString('en')} leads, ${o.clients.toLocaleString('en')} clients, ${o.groups} groups, ${o.users} users`);
  await recreateDatabase(o.base, o.db);
  const url = databaseUrl(o.base, o.db);
  const logger = createLogger('warn');
  const database = await openDatabase({ databaseUrl: url, dataDir: '', poolMax: 1, logger });
  try {
    await runMigrations(database, logger);
  } finally {
    await database.close();
  }
  step('database created and migrated');

  const argon2 = o.argon2 ?? { memoryCost: 19456, timeCost: 2 };
  const hash = await passwordHasher(argon2).hash(BENCH_PASSWORD);
  const now = new Date();

  const pool = new pg.Pool({ connectionString: url, max: WORKERS });
  // FK triggers off during the load (the data is generated consistent); needs superuser, optional otherwise.
  const setup = ["set session_replication_role = 'replica'", 'set synchronous_commit = off', "set maintenance_work_mem = '512MB'", "set work_mem = '64MB'"];
  const c = await pool.connect();
  try {
    for (const s of setup) await c.query(s).catch((err: Error) => log(`  (${s}: ${err.message}; continuing without it)`));
    const q = (sql: string, params?: unknown[]) => c.query(sql, params);
    const qd = (sql: string, params?: unknown[]) => {
      const x = withDict(sql, params);
      return c.query(x.sql, x.params);
    };

    // Helpers and the dictionary live in a scratch schema dropped at the end.
    await q('create schema gen');
    await q(`create function gen.pick(arr text[], r float8) returns text language sql immutable as 'select arr[1 + floor(r * cardinality(arr))::int]'`);
    await q(`create function gen.pick_int(arr int[], r float8) returns int language sql immutable as 'select arr[1 + floor(r * cardinality(arr))::int]'`);

    const mid = memberSecondGroup(o.groups);
    await q(
      `insert into groups (id, name, description, visibility, created_at, updated_at) overriding system value
       select i, case when i % 2 = 1 then 'Отдел продаж №' || i else 'Sales team ' || i end,
              case when i % 2 = 1 then 'Региональные продажи' else 'Regional sales' end,
              (case when i % 10 = 0 then 'own' else 'all' end)::group_visibility, $2::timestamptz - interval '2 years', $2::timestamptz
       from generate_series(1, $1::int) i`,
      [o.groups, now],
    );
    await qd(
      `insert into users (id, email, name, password_hash, role, locale, last_login_at, created_at, updated_at) overriding system value
       select i,
         case i when 1 then '${BENCH_ADMIN_EMAIL}' when 2 then '${BENCH_MEMBER_EMAIL}' else 'user' || i || '@bench.local' end,
         case i when 1 then 'Bench Admin' when 2 then 'Участник Бенча' else first || ' ' || last end,
         $1, (case when i = 1 then 'admin' else 'user' end)::system_role,
         case when r_lang < 0.5 then 'ru' else 'en' end,
         $3::timestamptz - r_day * interval '30 days', $3::timestamptz - interval '2 years', $3::timestamptz
       from (select r.*, ${PERSON} from (select i, ${RANDOMS} from generate_series(1, $2::int) i) r) p`,
      [hash, o.users, now],
    );
    // Everyone but the admin in one group (round robin; the first of each group manages it), every 7th user in a
    // second one; the bench member is a plain member of group 1 (the largest) and of a middle-sized group.
    await q(
      `insert into memberships (user_id, group_id, role)
       select u, 1 + (u - 3) % $1, (case when u - 3 < $1 then 'manager' else 'member' end)::membership_role from generate_series(3, $2::int) u
       union all
       select u, 1 + (u * 7 + 3) % $1, 'member' from generate_series(3, $2::int) u where u % 7 = 0
       union all select 2, 1, 'member' union all select 2, $3::int, 'member'
       on conflict do nothing`,
      [o.groups, o.users, mid],
    );
    await q(`create table gen.gm as
             select g.id as group_id, coalesce(array_agg(m.user_id order by m.user_id) filter (where m.user_id is not null), '{}') as members
             from groups g left join memberships m on m.group_id = g.id group by g.id`);
    step(`groups, users (argon2 ${argon2.memoryCost} KiB), memberships`);

    // Secondary indexes off during the load, rebuilt after (much faster than maintaining them row by row).
    const { rows: indexes } = await q(
      `select i.indexname, i.indexdef from pg_indexes i
       where i.schemaname = 'public' and i.tablename = any($1)
         and not exists (select 1 from pg_constraint k where k.conname = i.indexname)`,
      [LOADED_TABLES],
    );
    for (const ix of indexes) await q(`drop index "${ix.indexname}"`);
    step(`${indexes.length} secondary indexes dropped for the load`);

    await parallel(pool, batches(1, o.leads).map(([a, b]) => withDict(LEADS_SQL, [a, b, o.groups, now, 1, o.leads])), setup);
    step('leads');

    // Converted leads became clients (same group and owner, lead_id set); the rest of the clients stand alone.
    const conv = await q(
      `insert into clients (id, group_id, owner_id, created_by_id, name, company, email, phone, address, notes, lead_id, created_at, updated_at)
       overriding system value
       select row_number() over (order by l.id), l.group_id, l.owner_id, coalesce(l.owner_id, l.created_by_id),
              coalesce(nullif(trim(l.first_name || ' ' || l.last_name), ''), l.company, '#' || l.id), l.company, l.email, l.phone, '', l.description,
              l.id, l.converted_at, l.converted_at
       from leads l where l.status = 'converted' order by l.id limit $1`,
      [o.clients],
    );
    const fromLeads = conv.rowCount ?? 0;
    await q('update leads l set client_id = c.id from clients c where c.lead_id = l.id');
    await q(`update leads set status = 'qualified', converted_at = null where status = 'converted' and client_id is null`);
    if (o.clients > fromLeads) {
      await parallel(pool, batches(fromLeads + 1, o.clients).map(([a, b]) => withDict(CLIENTS_SQL, [a, b, o.groups, now, fromLeads + 1, o.clients - fromLeads])), setup);
    }
    step(`clients (${fromLeads.toLocaleString('en')} converted from leads)`);

    // Comments: 1% of the leads have 1-4; one lead of group 1 has 50 (the "lead page" figure).
    await qd(
      `insert into comments (group_id, lead_id, client_id, author_id, body, created_at)
       select l.group_id, l.id, l.client_id, coalesce(gen.pick_int(gm.members, random()), l.owner_id),
              case when l.first_name ~ '[А-Яа-яЁё]' then gen.pick(d.ru_comment, random()) else gen.pick(d.en_comment, random()) end,
              l.created_at + (l.updated_at - l.created_at) * (k / 5.0)
       from leads l join gen.gm gm on gm.group_id = l.group_id cross join lateral generate_series(1, 1 + l.id % 4) k
       where l.id % 100 = 7 and l.deleted_at is null`,
    );
    await qd(
      `insert into comments (group_id, lead_id, author_id, body, created_at)
       select l.group_id, l.id, coalesce(gen.pick_int(gm.members, random()), l.owner_id),
              case when k % 2 = 0 then gen.pick(d.ru_comment, random()) else gen.pick(d.en_comment, random()) end
                || case when k % 5 = 0 then E'\\n' || gen.pick(d.ru_desc, random()) else '' end,
              l.created_at + ($1::timestamptz - l.created_at) * (k / 51.0)
       from (select * from leads where group_id = 1 and status = 'contacted' and deleted_at is null and id % 100 <> 7 order by id limit 1) l
       join gen.gm gm on gm.group_id = l.group_id cross join generate_series(1, 50) k`,
      [now],
    );
    step('comments');

    // Activity, as the app writes it: created, status changes, conversions, comments.
    await parallel(
      pool,
      [
        { sql: `insert into activities (group_id, lead_id, client_id, actor_id, action, created_at)
                select group_id, id, client_id, created_by_id, 'created', created_at from leads` },
        { sql: `insert into activities (group_id, lead_id, client_id, actor_id, action, data, created_at)
                select group_id, id, client_id, owner_id, 'updated',
                       jsonb_build_object('changes', jsonb_build_object('status', jsonb_build_array('new', case when status = 'converted' then 'qualified' else status::text end))),
                       created_at + (updated_at - created_at) / 2
                from leads where status <> 'new' and updated_at > created_at` },
        { sql: `insert into activities (group_id, lead_id, client_id, actor_id, action, data, created_at)
                select l.group_id, l.id, l.client_id, l.owner_id, 'converted', jsonb_build_object('clientName', c.name), l.converted_at
                from leads l join clients c on c.id = l.client_id` },
        { sql: `insert into activities (group_id, client_id, actor_id, action, created_at)
                select group_id, id, created_by_id, 'created', created_at from clients where lead_id is null` },
        { sql: `insert into activities (group_id, lead_id, client_id, actor_id, action, data, created_at)
                select group_id, lead_id, client_id, author_id, 'commented', jsonb_build_object('excerpt', left(body, 140)), created_at from comments` },
      ],
      setup,
    );
    await q(`update leads l set last_activity_at = m.t
             from (select lead_id, max(created_at) as t from comments where lead_id is not null group by lead_id) m
             where l.id = m.lead_id and m.t > l.last_activity_at`);
    step('activities');

    for (const table of ['users', 'groups', 'leads', 'clients']) {
      await q(`select setval(pg_get_serial_sequence('${table}', 'id'), greatest(1, (select max(id) from ${table})))`);
    }
    await q('drop schema gen cascade');

    // Biggest first, two at a time.
    const weight = (def: string) => (/USING gin/.test(def) ? 2 : 0) + (/ON public\.(leads|activities) /.test(def) ? 1 : 0);
    const order = [...indexes].sort((a, b) => weight(b.indexdef) - weight(a.indexdef));
    await parallel(pool, order.map((ix) => ({ sql: ix.indexdef as string })), setup);
    step(`${indexes.length} indexes rebuilt`);

    // VACUUM as well as ANALYZE: a freshly loaded table has no visibility map, so index-only scans would
    // visit the heap until autovacuum passed; a long-running database would not look like that.
    await q(`vacuum (freeze, analyze) users, groups, memberships, ${LOADED_TABLES.join(', ')}`);
    step('vacuum analyze');

    const { rows: [counts] } = await q(
      `select (select count(*) from leads)::int as leads, (select count(*) from clients)::int as clients,
              (select count(*) from comments)::int as comments, (select count(*) from activities)::int as activities,
              (select count(*) from users)::int as users, (select count(*) from groups)::int as groups,
              pg_size_pretty(pg_database_size(current_database())) as size`,
    );
    const seconds = (Date.now() - started) / 1000;
    log(`done in ${seconds.toFixed(1)} s: ${Object.entries(counts as Record<string, unknown>).map(([k, v]) => `${k} ${typeof v === 'number' ? v.toLocaleString('en') : v}`).join(', ')}`);
    log(`logins: ${BENCH_ADMIN_EMAIL} (admin), ${BENCH_MEMBER_EMAIL} (member of groups 1 and ${mid}), user3..user${o.users}@bench.local; password ${BENCH_PASSWORD}`);
    return { seconds, counts: counts as Record<string, number> };
  } finally {
    c.release();
    await pool.end();
  }
}

// --- CLI --------------------------------------------------------------------------------------------------

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({
    options: {
      leads: { type: 'string', default: '1000000' },
      clients: { type: 'string', default: '250000' },
      groups: { type: 'string', default: '50' },
      users: { type: 'string', default: '500' },
      db: { type: 'string', default: 'tandem_bench' },
    },
  });
  const num = (name: string, v: string | undefined) => {
    const n = Number(String(v).replace(/[_,]/g, ''));
    if (!Number.isInteger(n) || n < 0) {
      process.stderr.write(`bench:data: --${name} must be a whole number (got ${v})\n`);
      process.exit(2);
    }
    return n;
  };
  try {
    await generateBenchData({
      base: serverUrl(),
      db: values.db!,
      leads: num('leads', values.leads),
      clients: num('clients', values.clients),
      groups: num('groups', values.groups),
      users: num('users', values.users),
    });
  } catch (err) {
    process.stderr.write(`bench:data failed: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
