import fs from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import type { Page, Response } from 'playwright-core';
import { DESKTOP, pathOf, useJourney } from './browser.js';

const PASSWORD = 'correct horse battery staple';
const ADMIN = { name: 'Ada Lovelace', email: 'ada@example.com' };
const MANAGER = { name: 'Марина Орлова', email: 'marina@example.com' };
const NORTH = 'Продажи Север';
const SOUTH = 'Продажи Юг';

interface SeedClient {
  group: 'north' | 'south';
  name: string;
  status: 'active' | 'inactive';
  company?: string;
  /** Minutes ago it was created: the list shows the newest first. */
  age: number;
}

/**
 * The manager's group (north) and a group they are not in (south). The filter used below is status=active
 * and the search "ов": it keeps three of north's clients and leaves out an inactive one, one that does not
 * match, and south's client that matches both (another group: never theirs to see or export).
 */
const CLIENTS: SeedClient[] = [
  { group: 'north', name: 'Иванов Иван', status: 'active', company: 'ООО «Ромашка»', age: 10 },
  { group: 'north', name: 'Anna Smith', status: 'active', age: 20 },
  { group: 'north', name: 'Орлов и сыновья, "Опт"', status: 'active', company: 'Орлов, Сыновья', age: 30 },
  { group: 'north', name: 'Смирнов Олег', status: 'inactive', age: 40 },
  { group: 'north', name: 'Петрова Анна', status: 'active', age: 50 },
  { group: 'south', name: 'Чужой Сидоров', status: 'active', company: 'Тайна', age: 5 },
];
const EXPECTED = ['Иванов Иван', 'Орлов и сыновья, "Опт"', 'Петрова Анна'];

const j = useJourney();

const q = async <T extends Record<string, unknown> = Record<string, unknown>>(sql: string, values: unknown[] = []) =>
  (await j.app.t.services.database.pool.query<T>(sql, values)).rows;

/** An administrator (so the manager is not the first account), two groups, the manager of one, and the clients. */
async function seed() {
  const hash = await j.app.t.services.hasher.hash(PASSWORD);
  const insertUser = async (who: { name: string; email: string }, role: 'admin' | 'user') =>
    (await q<{ id: number }>('insert into users (email, name, password_hash, role) values ($1, $2, $3, $4) returning id', [who.email, who.name, hash, role]))[0]!.id;
  const adminId = await insertUser(ADMIN, 'admin');
  const managerId = await insertUser(MANAGER, 'user');
  const group = async (name: string) => (await q<{ id: number }>("insert into groups (name, visibility) values ($1, 'all') returning id", [name]))[0]!.id;
  const groups = { north: await group(NORTH), south: await group(SOUTH) };
  await q("insert into memberships (user_id, group_id, role) values ($1, $2, 'manager')", [managerId, groups.north]);
  for (const c of CLIENTS) {
    await q(
      `insert into clients (group_id, owner_id, created_by_id, name, company, status, created_at, updated_at)
       values ($1, $2, $2, $3, $4, $5, now() - make_interval(mins => $6), now() - make_interval(mins => $6))`,
      [groups[c.group], c.group === 'north' ? managerId : adminId, c.name, c.company ?? null, c.status, c.age],
    );
  }
}

/** A strict RFC 4180 reader (CRLF records, quoted fields with doubled quotes and line breaks). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === ',') { row.push(field); field = ''; }
    else if (c === '\r' && text[i + 1] === '\n') { row.push(field); rows.push(row); row = []; field = ''; i++; }
    else if (c === '\n' || c === '\r') throw new Error(`bare line break outside quotes at ${i}`);
    else field += c;
  }
  if (field !== '' || row.length) throw new Error('the last record has no CRLF');
  return rows;
}

/** Waits for the htmx GET of the client list that swaps #client-results, whose query passes `accept`. */
function clientListSwap(p: Page, accept: (params: URLSearchParams) => boolean): Promise<Response> {
  return p.waitForResponse((r) => {
    const u = new URL(r.url());
    const h = r.request().headers();
    return r.request().method() === 'GET' && u.pathname === '/clients' && h['hx-request'] === 'true' && accept(u.searchParams);
  });
}

/** The rows the list shows: id (from the link) and name, top to bottom. */
async function listedClients(p: Page): Promise<{ id: string; name: string }[]> {
  const links = p.getByTestId('client-table').locator('tbody tr td:first-child a');
  const out: { id: string; name: string }[] = [];
  for (const a of await links.all()) {
    const href = (await a.getAttribute('href')) ?? '';
    out.push({ id: href.replace(/^\/clients\//, ''), name: ((await a.textContent()) ?? '').trim() });
  }
  return out;
}

describe('exports (browser)', () => {
  it('a manager filters the client list, exports it as CSV, and the file holds exactly the rows shown', async () => {
    await seed();
    await j.open(DESKTOP);
    const p = j.page!;

    await p.goto('/login');
    await p.getByLabel('Email').fill(MANAGER.email);
    await p.getByLabel('Password').fill(PASSWORD);
    await Promise.all([p.waitForURL('**/dashboard'), p.getByRole('button', { name: 'Log in' }).click()]);

    await p.goto('/clients');
    expect(await p.getByTestId('total').textContent()).toContain('5 clients');

    // Filter: active only, then a Cyrillic search (each an htmx swap of the results).
    let swapped = clientListSwap(p, (s) => s.get('status') === 'active');
    await p.locator('#f-status').selectOption('active');
    expect((await swapped).status()).toBe(200);
    swapped = clientListSwap(p, (s) => s.get('status') === 'active' && s.get('q') === 'ов');
    await p.locator('#f-q').pressSequentially('ов', { delay: 40 });
    expect((await swapped).status()).toBe(200);
    await p.waitForFunction(() => document.querySelectorAll('[data-testid="client-table"] tbody tr').length === 3);
    expect(pathOf(p)).toContain('status=active');

    const shown = await listedClients(p);
    expect(shown.map((r) => r.name)).toEqual(EXPECTED);

    // Export what is shown, as plain CSV.
    const form = p.getByTestId('export-form');
    await form.locator('select[name="format"]').selectOption('csv');
    const [download] = await Promise.all([p.waitForEvent('download'), form.getByRole('button', { name: 'Export' }).click()]);
    expect(download.suggestedFilename()).toBe(`clients-${new Date().toISOString().slice(0, 10)}.csv`);
    const file = await download.path();
    const text = await fs.readFile(file, 'utf8');
    expect(text.charCodeAt(0)).not.toBe(0xfeff);

    const rows = parseCsv(text);
    const header = rows[0]!;
    expect(header.slice(0, 2)).toEqual(['id', 'name']);
    const col = (name: string) => header.indexOf(name);
    const body = rows.slice(1);
    // The same rows as the list, in the same order.
    expect(body.map((r) => ({ id: r[col('id')], name: r[col('name')] }))).toEqual(shown);
    expect(body.every((r) => r[col('group')] === NORTH && r[col('status')] === 'active')).toBe(true);
    expect(body.find((r) => r[col('name')] === 'Иванов Иван')![col('company')]).toBe('ООО «Ромашка»');
    // Left out by the filter, or in another group.
    for (const absent of ['Anna Smith', 'Смирнов Олег', 'Чужой Сидоров', 'Тайна', SOUTH]) expect(text).not.toContain(absent);

    // The download is in the user's export log, with the filters it was made with.
    const [logged] = await q<{ status: string; total: number; filters: Record<string, unknown> }>('select status, total, filters from exports');
    expect(logged).toMatchObject({ status: 'done', total: 3, filters: { status: 'active', q: 'ов' } });

    expect(j.problems.cspViolations, 'Content Security Policy violations').toEqual([]);
    expect(j.problems.pageErrors, 'uncaught errors in the page').toEqual([]);
    expect(j.problems.failedAssets, 'static files that failed to load').toEqual([]);
  });
});
