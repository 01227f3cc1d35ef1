import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { useJourney } from './browser.js';

const PASSWORD = 'correct horse battery staple';
const ADMIN = { name: 'Ada Lovelace', email: 'ada@example.com' };

const j = useJourney();
const q = async <T extends Record<string, unknown> = Record<string, unknown>>(sql: string, values: unknown[] = []) =>
  (await j.app.t.services.database.pool.query<T>(sql, values)).rows;

/**
 * The admin, one group of 60 people (too many for one select: OWNER_SELECT_MAX is 50), two of them Ёлкина, and
 * a lead owned by each of three people.
 */
async function seed() {
  const hash = await j.app.t.services.hasher.hash(PASSWORD);
  await q(`insert into users (email, name, password_hash, role) values ($1, $2, $3, 'admin')`, [ADMIN.email, ADMIN.name, hash]);
  const [group] = await q<{ id: number }>(`insert into groups (name, visibility) values ('Продажи', 'all') returning id`);
  await q(
    `insert into users (email, name, password_hash, role)
     select 'p' || i || '@example.com', case i when 1 then 'Ёлкина Анна' when 2 then 'Ёлкина Вера' else 'Person ' || lpad(i::text, 2, '0') end, $1, 'user'
     from generate_series(1, 60) i`,
    [hash],
  );
  await q(`insert into memberships (group_id, user_id, role) select $1, id, 'member' from users where email like 'p%@example.com'`, [group!.id]);
  for (const [email, lastName] of [['p1@example.com', 'Лид Анны'], ['p2@example.com', 'Лид Веры'], ['p7@example.com', 'Lead of Seven']]) {
    await q(`insert into leads (group_id, owner_id, created_by_id, last_name, status) select $1, id, id, $2, 'new' from users where email = $3`, [group!.id, lastName, email]);
  }
}

const names = async (p: Page) => (await p.locator('#lead-results a[href^="/leads/"]').allTextContents()).map((s) => s.trim()).filter(Boolean);

describe('an owner filter of many people', () => {
  it('an admin finds an owner by typing, picks them, and the list follows; Enter picks the first found', async () => {
    await seed();
    const p = await j.open();
    await p.goto('/login');
    await p.getByLabel('Email').fill(ADMIN.email);
    await p.getByLabel('Password').fill(PASSWORD);
    await Promise.all([p.waitForURL('**/dashboard'), p.getByRole('button', { name: 'Log in' }).click()]);
    await p.goto('/leads');
    expect(await names(p)).toHaveLength(3);

    const owner = p.getByLabel('Owner', { exact: true });
    const finder = p.getByLabel('Find an owner by name or email');
    // Only anyone, me and unassigned until something is typed.
    expect(await owner.locator('option').allTextContents()).toEqual(['Any', 'Me', 'Unassigned']);
    // Requests for the list (htmx refilters): typing must make none.
    const listRequests: string[] = [];
    p.on('request', (r) => { if (new URL(r.url()).pathname === '/leads') listRequests.push(r.url()); });
    // Enter in the empty box picks nobody.
    await finder.press('Enter');
    await finder.pressSequentially('елкина', { delay: 20 });
    await expect.poll(() => owner.locator('option').allTextContents()).toEqual(['Any', 'Me', 'Unassigned', 'Ёлкина Анна', 'Ёлкина Вера']);
    await expect.poll(() => p.locator('#f-owner-find-status').textContent()).toBe('2 people found.');
    // Typing did not filter the list; choosing does.
    expect(listRequests).toEqual([]);
    expect(await names(p)).toHaveLength(3);
    await owner.selectOption({ label: 'Ёлкина Вера' });
    await expect.poll(() => names(p)).toEqual(['Лид Веры']);
    expect(new URL(p.url()).searchParams.get('owner')).toMatch(/^\d+$/);

    // Nobody found: Enter changes nothing, and the chosen owner stays chosen.
    await finder.fill('');
    await finder.pressSequentially('nobody', { delay: 20 });
    await finder.press('Enter');
    await expect.poll(() => p.locator('#f-owner-find-status').textContent()).toBe('0 people found.');
    expect(await owner.locator('option:checked').textContent()).toBe('Ёлкина Вера');
    expect(await names(p)).toEqual(['Лид Веры']);

    // Enter takes the first person found; the down arrow goes to the select.
    await finder.fill('');
    await finder.pressSequentially('person 07', { delay: 20 });
    await finder.press('Enter');
    await expect.poll(() => names(p)).toEqual(['Lead of Seven']);
    expect(await owner.locator('option:checked').textContent()).toBe('Person 07');
    await finder.press('ArrowDown');
    expect(await p.evaluate(() => document.activeElement?.id)).toBe('f-owner');

    // Reloaded, the page keeps the chosen owner in the select.
    await p.reload();
    expect(await owner.locator('option:checked').textContent()).toBe('Person 07');
    expect(await names(p)).toEqual(['Lead of Seven']);
    // No Content Security Policy violation, uncaught error or static file that failed to load.
    expect(j.problems).toEqual({ cspViolations: [], pageErrors: [], failedAssets: [] });
  });
});
