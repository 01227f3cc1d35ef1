import fs from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { storedPath, thumbPath } from '../../src/modules/files/files.storage.js';
import type { Express } from 'express';
import type { Services } from '../../src/services.js';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { PASSWORD, createTestApp, login, resetDatabase, tokenFor, type Agent, type TestApp } from './app.js';

/**
 * The access fixture: groups A and B; one user per actor kind, and a subject user in each group who is
 * never an actor (so an admin deactivating or removing them cannot end an actor's session).
 */
export const ACTORS = ['anonymous', 'noGroup', 'memberA', 'managerA', 'memberB', 'admin'] as const;
export type ActorName = (typeof ACTORS)[number];

export const USERS = {
  admin: { id: 1, email: 'admin@example.com', role: 'admin' },
  noGroup: { id: 2, email: 'nogroup@example.com', role: 'user' },
  memberA: { id: 3, email: 'member.a@example.com', role: 'user' },
  managerA: { id: 4, email: 'manager.a@example.com', role: 'user' },
  memberB: { id: 5, email: 'member.b@example.com', role: 'user' },
  subjectA: { id: 6, email: 'subject.a@example.com', role: 'user' },
  subjectB: { id: 7, email: 'subject.b@example.com', role: 'user' },
} as const;
export const GROUPS = { A: { id: 1, name: 'Group A' }, B: { id: 2, name: 'Group B' } } as const;
const MEMBERSHIPS: [number, number, 'manager' | 'member'][] = [
  [USERS.memberA.id, GROUPS.A.id, 'member'],
  [USERS.managerA.id, GROUPS.A.id, 'manager'],
  [USERS.subjectA.id, GROUPS.A.id, 'member'],
  [USERS.memberB.id, GROUPS.B.id, 'member'],
  [USERS.subjectB.id, GROUPS.B.id, 'member'],
];

/** Records of each group, all owned and written by the group's subject user (never an actor). */
export const RECORDS = {
  lead: { A: 1, B: 2 },
  trashedLead: { A: 3, B: 4 },
  client: { A: 1, B: 2 },
  trashedClient: { A: 3, B: 4 },
  comment: { A: 1, B: 2 },
  file: { A: 1, B: 2 },
} as const;
const FILE_STORAGE = { A: '0a000000-0000-4000-8000-00000000000a', B: '0b000000-0000-4000-8000-00000000000b' };

let hash: string | undefined;

/** Writes (or puts back) the fixture exactly, whatever a previous request changed. Sessions are kept. */
export async function restoreFixture(services: Services) {
  hash ??= await services.hasher.hash(PASSWORD);
  const q = (text: string, values: unknown[] = []) => services.database.pool.query(text, values);
  for (const [name, u] of Object.entries(USERS)) {
    await q(
      `insert into users (id, email, name, password_hash, role, active) overriding system value values ($1, $2, $3, $4, $5, true)
       on conflict (id) do update set email = excluded.email, name = excluded.name, role = excluded.role, active = true`,
      [u.id, u.email, name, hash, u.role],
    );
  }
  for (const g of Object.values(GROUPS)) {
    await q(
      `insert into groups (id, name, visibility) overriding system value values ($1, $2, 'all')
       on conflict (id) do update set name = excluded.name, visibility = 'all', description = ''`,
      [g.id, g.name],
    );
  }
  await q('delete from memberships');
  for (const [userId, groupId, role] of MEMBERSHIPS) await q('insert into memberships (user_id, group_id, role) values ($1, $2, $3)', [userId, groupId, role]);
  await restoreRecords(services);
  // Ids past the fixture's, and past any row an earlier test left behind (a restart at 101 would collide with it).
  await q("select setval(pg_get_serial_sequence('users', 'id'), greatest(100, (select max(id) from users)))");
  await q("select setval(pg_get_serial_sequence('groups', 'id'), greatest(100, (select max(id) from groups)))");
}

/** One signed-in agent per actor (anonymous has none). */
export async function loginActors(app: Express): Promise<Record<ActorName, Agent>> {
  const agents = {} as Record<ActorName, Agent>;
  for (const a of ACTORS) {
    agents[a] = request.agent(app);
    if (a === 'anonymous') continue;
    const res = await login(agents[a], USERS[a].email);
    if (res.status !== 303) throw new Error(`fixture login failed for ${a}: ${res.status}`);
  }
  return agents;
}

/**
 * Every record table emptied. A job that the last request started (a notification, a file check) may be
 * writing to them: PostgreSQL then ends one side of the deadlock, and when that side is this TRUNCATE, it runs
 * again (the authorization matrix, which restores the fixture after each write, met it now and then).
 */
async function truncateRecords(services: Services) {
  for (let attempt = 1; ; attempt++) {
    try {
      await services.database.pool.query('truncate leads, clients, comments, files, activities, job_outbox restart identity cascade');
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== '40P01' || attempt === 3) throw err;
    }
  }
}

/** Leads (live and trashed), clients, comments and files of groups A and B, exactly as the fixture says. */
async function restoreRecords(services: Services) {
  const q = (text: string, values: unknown[] = []) => services.database.pool.query(text, values);
  await truncateRecords(services);
  for (const s of ['A', 'B'] as const) {
    const g = GROUPS[s].id;
    const u = s === 'A' ? USERS.subjectA.id : USERS.subjectB.id;
    await q(`insert into leads (id, group_id, owner_id, created_by_id, last_name, company) overriding system value values ($1, $2, $3, $3, $4, 'Fixture')`, [RECORDS.lead[s], g, u, `Lead ${s}`]);
    await q(`insert into leads (id, group_id, owner_id, created_by_id, last_name, deleted_at) overriding system value values ($1, $2, $3, $3, $4, now())`, [RECORDS.trashedLead[s], g, u, `Trashed ${s}`]);
    await q(`insert into clients (id, group_id, owner_id, created_by_id, name) overriding system value values ($1, $2, $3, $3, $4)`, [RECORDS.client[s], g, u, `Client ${s}`]);
    await q(`insert into clients (id, group_id, owner_id, created_by_id, name, deleted_at) overriding system value values ($1, $2, $3, $3, $4, now())`, [RECORDS.trashedClient[s], g, u, `Trashed client ${s}`]);
    await q(`insert into comments (id, group_id, lead_id, author_id, body) overriding system value values ($1, $2, $3, $4, 'fixture comment')`, [RECORDS.comment[s], g, RECORDS.lead[s], u]);
    await q(
      `insert into files (id, group_id, lead_id, uploader_id, original_name, storage_name, mime_type, size, status, thumb_storage_name) overriding system value values ($1, $2, $3, $4, 'fixture.txt', $5, 'text/plain', 5, 'ready', $5)`,
      [RECORDS.file[s], g, RECORDS.lead[s], u, FILE_STORAGE[s]],
    );
    const stored = storedPath(services.env.UPLOAD_DIR, FILE_STORAGE[s]);
    fs.mkdirSync(path.dirname(stored), { recursive: true });
    fs.writeFileSync(stored, 'hello');
    fs.writeFileSync(thumbPath(services.env.UPLOAD_DIR, FILE_STORAGE[s]), 'not really a webp');
  }
  for (const t of ['leads', 'clients', 'comments', 'files']) await q(`select setval(pg_get_serial_sequence('${t}', 'id'), 100)`);
}

/** A test file's app on the fixture, and SQL on its database. */
export interface FixtureApp {
  t: TestApp;
  q(sql: string, values?: unknown[]): Promise<any[]>;
}

/** The hooks of a test file on the fixture: one app for the file, on an emptied database with the fixture in it. */
export function useFixtureApp(): FixtureApp {
  const s = { q: async (sql: string, values: unknown[] = []) => (await s.t.services.database.pool.query(sql, values)).rows } as FixtureApp;
  beforeAll(async () => {
    s.t = await createTestApp();
    await resetDatabase(s.t.services);
    await restoreFixture(s.t.services);
  });
  afterAll(async () => {
    await s.t.close();
  });
  return s;
}

/** What a file of record tests works with: the app, one signed-in agent per actor, SQL, and a form POST with CSRF. */
export interface FixtureSuite extends FixtureApp {
  agents: Record<ActorName, Agent>;
  post(actor: ActorName, url: string, body?: Record<string, unknown>): ReturnType<Agent['post']>;
}

/**
 * The hooks of a file of record tests: one app and the actors signed in for the file; before each test the
 * fixture put back, and the records and people an earlier test made removed (plus `beforeEachSql`), so every
 * test makes the rows it needs.
 */
export function useFixtureSuite(beforeEachSql: string[] = []): FixtureSuite {
  const tokens = new Map<ActorName, string>();
  const s = Object.assign(useFixtureApp(), {
    async post(actor: ActorName, url: string, body: Record<string, unknown> = {}) {
      if (!tokens.has(actor)) tokens.set(actor, await tokenFor(s.agents[actor], '/profile'));
      return s.agents[actor].post(url).type('form').send({ _csrf: tokens.get(actor), ...body });
    },
  }) as FixtureSuite;
  beforeAll(async () => {
    s.agents = await loginActors(s.t.app);
  });
  beforeEach(async () => {
    await restoreFixture(s.t.services);
    await truncateRecords(s.t.services);
    await s.q('delete from users where id > 100');
    for (const sql of beforeEachSql) await s.q(sql);
  });
  return s;
}
