import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { useJourney } from './browser.js';

/** The bell refreshes itself in a real browser (bell.js + htmx under the app's CSP), and pauses in a hidden tab. */
const PASSWORD = 'correct horse battery staple';

const j = useJourney();

const q = async (sql: string, values: unknown[] = []) => (await j.app.t.services.database.pool.query(sql, values)).rows;

async function seedUsers() {
  const hash = await j.app.t.services.hasher.hash(PASSWORD);
  const insert = async (email: string, name: string, role: 'admin' | 'user') =>
    (await q('insert into users (email, name, password_hash, role) values ($1, $2, $3, $4) returning id', [email, name, hash, role]))[0]!.id as number;
  return { admin: await insert('ada@example.com', 'Ada', 'admin'), member: await insert('maria@example.com', 'Maria', 'user') };
}

let seq = 0;
async function notify(userId: number, actorId: number) {
  seq++;
  await j.app.t.services.notifications.notify(j.app.t.services.database.db, {
    userId, actorId, kind: 'assigned', data: { recordKind: 'lead', recordName: `Lead ${seq}` }, link: '/notifications', dedupeKey: `e2e:${seq}`,
  });
}

/** Sets what the page believes about its tab and tells it, as the browser does when the tab is switched. */
async function setVisibility(p: Page, state: 'visible' | 'hidden') {
  await p.evaluate((s) => {
    Object.defineProperty(document, 'visibilityState', { value: s, configurable: true });
    document.dispatchEvent(new Event('visibilitychange'));
  }, state);
}

describe('the bell in the navigation', () => {
  it('shows new notifications within 30 s, keeps the focus, and asks nothing while the tab is hidden', async () => {
    const { admin, member } = await seedUsers();
    const p = await j.open();
    // Fake timers (Date.now, setTimeout) that still run with real time, so 30 s can pass at once.
    await j.context!.clock.install();
    const polls: string[] = [];
    p.on('request', (r) => {
      if (new URL(r.url()).pathname === '/notifications/bell') polls.push(r.url());
    });

    await p.goto('/login');
    await p.getByLabel('Email').fill('maria@example.com');
    await p.getByLabel('Password').fill(PASSWORD);
    await Promise.all([p.waitForURL('**/dashboard'), p.getByRole('button', { name: 'Log in' }).click()]);
    const bell = p.getByTestId('bell');
    expect(await bell.getAttribute('aria-label')).toBe('Notifications, none unread');

    // Someone assigns two leads to her: no reload, the bell says so after its next poll.
    await notify(member, admin);
    await notify(member, admin);
    await bell.focus();
    await p.clock.fastForward(31_000);
    await expect.poll(() => bell.getAttribute('aria-label'), { timeout: 10_000 }).toBe('Notifications, 2 unread');
    expect(await p.getByTestId('bell-count').textContent()).toBe('2');
    expect(polls).toHaveLength(1);
    // The new bell has the focus the old one had (a keyboard user is not thrown back to the top of the page).
    expect(await p.evaluate(() => document.activeElement?.id)).toBe('bell');

    // A hidden tab asks nothing, however long it stays hidden…
    await setVisibility(p, 'hidden');
    await notify(member, admin);
    await p.clock.fastForward(5 * 60_000);
    await p.waitForTimeout(300);
    expect(polls).toHaveLength(1);
    // …and asks at once when it is shown again.
    await setVisibility(p, 'visible');
    await expect.poll(() => bell.getAttribute('aria-label'), { timeout: 10_000 }).toBe('Notifications, 3 unread');
    expect(polls).toHaveLength(2);

    expect(j.problems.cspViolations, 'Content Security Policy violations').toEqual([]);
    expect(j.problems.pageErrors, 'uncaught errors in the page').toEqual([]);
    expect(j.problems.failedAssets, 'static files that failed to load').toEqual([]);
  });
});
