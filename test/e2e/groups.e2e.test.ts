import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { resetDatabase } from '../helpers/app.js';
import {
  DESKTOP,
  launchBrowser,
  openPage,
  pathOf,
  screenshotOnFailure,
  startApp,
  type PageProblems,
  type RunningApp,
} from './browser.js';

const PASSWORD = 'correct horse battery staple';
const ADMIN = { name: 'Ada Lovelace', email: 'ada@example.com' };
const USER = { name: 'Boris Ivanov', email: 'boris@example.com' };
const GROUP = { name: 'Продажи Север', description: 'Северный регион: Мурманск, Архангельск.' };

let app: RunningApp;
let browser: Browser;
/** Every browser context this test opened (one per person), each with its page and what went wrong in it. */
let opened: { who: string; context: BrowserContext; page: Page; problems: PageProblems }[] = [];

beforeAll(async () => {
  app = await startApp();
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await app?.close();
});

beforeEach(async () => {
  // Every test starts from an empty database, so the first account it registers is the administrator.
  await resetDatabase(app.t.services);
});

afterEach(async ({ task }) => {
  if (task.result?.state === 'fail') {
    for (const o of opened) {
      const file = await screenshotOnFailure(o.page, `${task.fullTestName ?? task.name} (${o.who})`);
      if (file) console.error(`screenshot of the failed page (${o.who}): ${file}`);
    }
  }
  for (const o of opened) await o.context.close();
  opened = [];
});

/** A new cookie-less browser context (a separate person) with one tab, watched for CSP violations and page errors. */
async function newPage(who: string, viewport = DESKTOP): Promise<Page> {
  const o = await openPage(browser, app.baseURL, viewport);
  opened.push({ who, ...o });
  return o.page;
}

function expectNoPageProblems() {
  for (const { who, problems } of opened) {
    expect(problems.cspViolations, `Content Security Policy violations (${who})`).toEqual([]);
    expect(problems.pageErrors, `uncaught errors in the page (${who})`).toEqual([]);
    expect(problems.failedAssets, `static files that failed to load (${who})`).toEqual([]);
  }
}

async function heading(p: Page): Promise<string> {
  return ((await p.locator('main h1').first().textContent()) ?? '').trim();
}

async function text(l: Locator): Promise<string> {
  return ((await l.textContent()) ?? '').replace(/\s+/g, ' ').trim();
}

/**
 * Clicks something that submits a form or follows a link, and waits until the page the server answers with
 * has loaded. (Waiting for the URL alone is not enough: a form may answer on the same URL it is already on.)
 */
async function submitAndWait(p: Page, click: () => Promise<void>, expectedPathname: string | RegExp) {
  const navigated = p.waitForEvent('framenavigated', { predicate: (f) => f === p.mainFrame() });
  await click();
  await navigated;
  await p.waitForLoadState('load');
  const pathname = new URL(p.url()).pathname;
  if (typeof expectedPathname === 'string') expect(pathname).toBe(expectedPathname);
  else expect(pathname).toMatch(expectedPathname);
}

async function registerThroughUi(p: Page, who: { name: string; email: string }) {
  await p.goto('/register');
  await p.getByLabel('Name').fill(who.name);
  await p.getByLabel('Email').fill(who.email);
  await p.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await p.getByLabel('Confirm password').fill(PASSWORD);
  await submitAndWait(p, () => p.getByRole('button', { name: 'Create account' }).click(), '/dashboard');
}

/** The admin registers first, then the second person in their own browser context. */
async function registerBoth(): Promise<{ admin: Page; user: Page }> {
  const admin = await newPage('admin');
  await registerThroughUi(admin, ADMIN);
  expect(await heading(admin)).toBe('Dashboard');
  const user = await newPage('user');
  await registerThroughUi(user, USER);
  return { admin, user };
}

/** Types like a person (one key at a time) and waits for the htmx GET that carries the whole text. */
async function typeAndWaitForHtmx(p: Page, input: Locator, value: string, pathname: string | RegExp, param: string) {
  const answered = p.waitForResponse((r) => {
    const u = new URL(r.url());
    const pathOk = typeof pathname === 'string' ? u.pathname === pathname : pathname.test(u.pathname);
    return r.request().method() === 'GET' && pathOk && u.searchParams.get(param) === value && r.request().headers()['hx-request'] === 'true';
  });
  await input.pressSequentially(value, { delay: 40 });
  const res = await answered;
  expect(res.status()).toBe(200);
  return res;
}

describe('groups (browser)', () => {
  it('the admin creates a group and adds a second user as Manager, who then sees it without management controls', async () => {
    const { admin, user } = await registerBoth();

    // The second person is a plain user in no group: told to ask an administrator.
    expect(pathOf(user)).toBe('/dashboard');
    expect(await user.title()).toBe('No group yet · Tandem CRM');
    const noGroup = user.getByTestId('no-group');
    expect(await noGroup.isVisible()).toBe(true);
    expect(await text(noGroup.getByRole('heading', { level: 1 }))).toBe(`Welcome, ${USER.name}!`);
    expect(await text(noGroup)).toContain('You are not in a group yet.');
    expect(await text(noGroup)).toContain('ask an administrator to add you to one');
    const userNav = user.getByRole('navigation', { name: 'Main navigation' });
    expect(await userNav.getByRole('link', { name: 'Admin' }).count()).toBe(0);
    // Welcomed, but not told they are the administrator.
    expect((await user.getByRole('status').allTextContents()).map((t) => t.trim())).toEqual([
      'Welcome to Tandem CRM! Your account is ready.',
    ]);

    // The admin: Groups → (none yet) → New group.
    const adminNav = admin.getByRole('navigation', { name: 'Main navigation' });
    await submitAndWait(admin, () => adminNav.getByRole('link', { name: 'Groups' }).click(), '/groups');
    expect(await heading(admin)).toBe('Groups');
    expect(await adminNav.getByRole('link', { name: 'Groups' }).getAttribute('aria-current')).toBe('page');
    expect(await admin.locator('main').getByText('There are no groups yet.').isVisible()).toBe(true);
    await submitAndWait(admin, () => admin.locator('main').getByRole('link', { name: 'New group' }).first().click(), '/groups/new');
    expect(await heading(admin)).toBe('New group');
    await admin.getByLabel('Group name').fill(GROUP.name);
    await admin.getByLabel('Description').fill(GROUP.description);
    expect(await admin.getByLabel('Members see every record of the group').isChecked()).toBe(true);
    await submitAndWait(admin, () => admin.locator('main').getByRole('button', { name: 'Save' }).click(), /^\/groups\/\d+$/);
    const groupPath = new URL(admin.url()).pathname;

    // The group page, in Cyrillic, with an empty roster and the "Add a member" box.
    expect(await heading(admin)).toBe(GROUP.name);
    expect(await admin.title()).toBe(`${GROUP.name} · Tandem CRM`);
    expect(await text(admin.getByRole('status'))).toBe(`Group “${GROUP.name}” created.`);
    expect(await admin.locator('main').getByText(GROUP.description).isVisible()).toBe(true);
    const roster = admin.getByTestId('roster');
    expect(await text(roster.locator('tbody'))).toBe('No members yet.');
    const addBox = admin.getByRole('region', { name: 'Add a member' });
    expect(await addBox.isVisible()).toBe(true);

    // Typing part of the name brings up the candidate list (htmx) with that person only.
    const search = addBox.getByLabel('Name or email');
    await search.click();
    await typeAndWaitForHtmx(admin, search, 'Ivan', `${groupPath}/candidates`, 'email');
    const candidates = addBox.getByTestId('candidates');
    await candidates.waitFor({ state: 'visible' });
    const candidateRows = candidates.locator('li');
    expect(await candidateRows.count()).toBe(1);
    expect(await text(candidateRows.first())).toBe(`${USER.name} <${USER.email}> Add`);
    // htmx swapped the list in without leaving the page.
    expect(pathOf(admin)).toBe(groupPath);

    // Role Manager, then that candidate's Add button.
    const roleSelect = addBox.getByLabel('Role');
    expect(await roleSelect.inputValue()).toBe('member');
    await roleSelect.selectOption({ label: 'Manager' });
    expect(await roleSelect.inputValue()).toBe('manager');
    const added = admin.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === `${groupPath}/members`);
    await submitAndWait(
      admin,
      () => candidateRows.filter({ hasText: USER.email }).getByRole('button', { name: 'Add' }).click(),
      groupPath,
    );
    expect((await added).status()).toBe(303);
    expect(await text(admin.getByRole('status'))).toBe(`${USER.name} was added to the group.`);

    // The roster now lists them as Manager; the admin can change the role or remove them.
    expect(await text(admin.getByRole('heading', { name: /^Members/ }))).toBe('Members (1)');
    const adminRows = admin.getByTestId('roster').locator('tbody tr');
    expect(await adminRows.count()).toBe(1);
    const adminRow = adminRows.first();
    expect(await text(adminRow.locator('td').nth(0))).toBe(USER.name);
    expect(await text(adminRow.locator('td').nth(1))).toBe(USER.email);
    const rowRole = adminRow.getByLabel('Role');
    expect(await rowRole.inputValue()).toBe('manager');
    expect(await text(rowRole.locator('option:checked'))).toBe('Manager');
    expect(await adminRow.getByRole('button', { name: 'Remove' }).isVisible()).toBe(true);
    // The search box is cleared again (a new page) and the person is no longer offered.
    const search2 = admin.getByRole('region', { name: 'Add a member' }).getByLabel('Name or email');
    expect(await search2.inputValue()).toBe('');
    expect(await admin.getByTestId('candidates').count()).toBe(0);

    // The second person reloads: now in a group, so the dashboard, with Groups in the nav.
    await user.reload();
    expect(pathOf(user)).toBe('/dashboard');
    expect(await heading(user)).toBe('Dashboard');
    expect(await user.getByTestId('no-group').count()).toBe(0);
    const groupsLink = userNav.getByRole('link', { name: 'Groups' });
    expect(await groupsLink.isVisible()).toBe(true);
    expect(await userNav.getByRole('link', { name: 'Admin' }).count()).toBe(0);

    // "My groups" lists the group.
    await submitAndWait(user, () => groupsLink.click(), '/groups');
    expect(await heading(user)).toBe('My groups');
    expect(await user.title()).toBe('My groups · Tandem CRM');
    expect(await user.locator('main').getByRole('link', { name: 'New group' }).count()).toBe(0);
    const cards = user.getByTestId('group-list').locator('li');
    expect(await cards.count()).toBe(1);
    expect(await text(cards.first())).toContain(GROUP.description);
    expect(await text(cards.first())).toContain('1 member');

    // The group page: the roster with their own row, read-only.
    await submitAndWait(user, () => cards.first().getByRole('link', { name: GROUP.name }).click(), groupPath);
    expect(await heading(user)).toBe(GROUP.name);
    expect(await user.locator('main').getByText(GROUP.description).isVisible()).toBe(true);
    const userRows = user.getByTestId('roster').locator('tbody tr');
    expect(await userRows.count()).toBe(1);
    expect(await userRows.first().locator('td').allTextContents().then((cells) => cells.map((c) => c.trim()))).toEqual([
      USER.name,
      USER.email,
      'Manager',
    ]);
    // No management controls: no add box, no role selects, no Remove, no Edit.
    expect(await user.getByRole('region', { name: 'Add a member' }).count()).toBe(0);
    expect(await user.getByRole('heading', { name: 'Add a member' }).count()).toBe(0);
    expect(await user.getByLabel('Name or email').count()).toBe(0);
    expect(await user.getByRole('button', { name: 'Remove' }).count()).toBe(0);
    expect(await user.getByRole('button', { name: 'Add' }).count()).toBe(0);
    expect(await user.locator('main select, main form').count()).toBe(0);
    expect(await user.getByRole('link', { name: 'Edit group' }).count()).toBe(0);

    expectNoPageProblems();
  });

  it('Admin → Users lists both users, and the search box filters the table through htmx and updates the URL', async () => {
    const { admin } = await registerBoth();

    const nav = admin.getByRole('navigation', { name: 'Main navigation' });
    await submitAndWait(admin, () => nav.getByRole('link', { name: 'Admin' }).click(), '/admin/users');
    expect(await heading(admin)).toBe('Users');
    expect(await nav.getByRole('link', { name: 'Admin' }).getAttribute('aria-current')).toBe('page');

    const table = admin.locator('#users-table');
    const rowOf = (who: { email: string }) => table.locator('tbody tr').filter({ hasText: who.email });
    expect(await table.locator('tbody tr').count()).toBe(2);
    expect(await text(admin.getByTestId('total'))).toBe('2 users');
    expect(await text(rowOf(ADMIN).locator('td').nth(0))).toBe(ADMIN.name);
    expect(await text(rowOf(ADMIN).locator('td').nth(2))).toBe('Administrator');
    expect(await text(rowOf(USER).locator('td').nth(0))).toBe(USER.name);
    expect(await text(rowOf(USER).locator('td').nth(2))).toBe('User');

    // Marks the document: a full page load would lose it, an htmx swap keeps it.
    await admin.evaluate(() => ((window as unknown as { __sameDocument: boolean }).__sameDocument = true));

    const search = admin.getByRole('search').getByLabel('Search');
    await search.click();
    await typeAndWaitForHtmx(admin, search, 'Lovel', '/admin/users', 'q');
    await rowOf(USER).waitFor({ state: 'detached' });
    expect(await table.locator('tbody tr').count()).toBe(1);
    expect(await text(rowOf(ADMIN).locator('td').nth(0))).toBe(ADMIN.name);
    expect(await text(admin.getByTestId('total'))).toBe('1 user');

    // Only the table was swapped: same document, one heading, the search box keeps its text and focus.
    expect(await admin.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument)).toBe(true);
    expect(await admin.locator('main h1').count()).toBe(1);
    expect(await admin.locator('#users-table #users-table, #users-table h1, #users-table form').count()).toBe(0);
    expect(await search.inputValue()).toBe('Lovel');
    expect(await search.evaluate((el) => el === document.activeElement)).toBe(true);

    // hx-push-url: the address bar shows the search, so reloading it gives the same filtered list.
    await admin.waitForURL((u) => u.searchParams.get('q') === 'Lovel');
    expect(new URL(admin.url()).pathname).toBe('/admin/users');
    await admin.reload();
    expect(await heading(admin)).toBe('Users');
    expect(await admin.getByRole('search').getByLabel('Search').inputValue()).toBe('Lovel');
    expect(await table.locator('tbody tr').count()).toBe(1);
    expect(await rowOf(USER).count()).toBe(0);

    // Clearing the box brings the other user back.
    const search2 = admin.getByRole('search').getByLabel('Search');
    const cleared = admin.waitForResponse(
      (r) => new URL(r.url()).pathname === '/admin/users' && new URL(r.url()).searchParams.get('q') === '' && r.request().headers()['hx-request'] === 'true',
    );
    await search2.fill('');
    expect((await cleared).status()).toBe(200);
    await rowOf(USER).waitFor({ state: 'attached' });
    expect(await table.locator('tbody tr').count()).toBe(2);
    await admin.waitForURL((u) => u.searchParams.get('q') === '');

    expectNoPageProblems();
  });
});
