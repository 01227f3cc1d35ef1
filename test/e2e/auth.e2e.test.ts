import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { DESKTOP, pathOf, PHONE, useJourney } from './browser.js';

const NAME = 'Ada Lovelace';
const EMAIL = 'ada@example.com';
const PASSWORD = 'correct horse battery staple';

const j = useJourney();

const newPage = (viewport = DESKTOP) => j.open(viewport);

function expectNoPageProblems() {
  expect(j.problems.cspViolations, 'Content Security Policy violations').toEqual([]);
  expect(j.problems.pageErrors, 'uncaught errors in the page').toEqual([]);
  expect(j.problems.failedAssets, 'static files that failed to load').toEqual([]);
}

async function heading(p: Page): Promise<string> {
  return ((await p.locator('main h1').first().textContent()) ?? '').trim();
}

/**
 * Clicks something that submits a form or follows a link, and waits until the page the server answers with
 * has loaded. (Waiting for the URL alone is not enough: a form may answer on the same URL it is already on.)
 */
async function submitAndWait(p: Page, click: () => Promise<void>, expectedPathname: string) {
  const navigated = p.waitForEvent('framenavigated', { predicate: (f) => f === p.mainFrame() });
  await click();
  await navigated;
  await p.waitForLoadState('load');
  expect(new URL(p.url()).pathname).toBe(expectedPathname);
}

async function registerThroughUi(p: Page, name = NAME, email = EMAIL, password = PASSWORD) {
  await p.goto('/register');
  await p.getByLabel('Name').fill(name);
  await p.getByLabel('Email').fill(email);
  await p.getByLabel('Password', { exact: true }).fill(password);
  await p.getByLabel('Confirm password').fill(password);
  await submitAndWait(p, () => p.getByRole('button', { name: 'Create account' }).click(), '/dashboard');
}

describe('signing up, out and in (browser)', () => {
  it('the first visitor registers, becomes administrator, logs out and back in', async () => {
    const p = await newPage(DESKTOP);

    // Anonymous: the start page sends to the login page.
    await p.goto('/');
    expect(pathOf(p)).toBe('/login');
    expect(await heading(p)).toBe('Log in');
    expect(await p.title()).toBe('Log in · Tandem CRM');
    expect(await p.getByTestId('user-menu').count()).toBe(0);

    // To the registration form through the link under the login form.
    await submitAndWait(p, () => p.getByRole('link', { name: 'Create an account' }).click(), '/register');
    expect(await heading(p)).toBe('Create an account');

    // A confirmation that does not match: the message is beside that field, name and email are kept.
    await p.getByLabel('Name').fill(NAME);
    await p.getByLabel('Email').fill(EMAIL);
    await p.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await p.getByLabel('Confirm password').fill(`${PASSWORD}!`);
    const refused = p.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/register');
    await submitAndWait(p, () => p.getByRole('button', { name: 'Create account' }).click(), '/register');
    expect((await refused).status()).toBe(422);
    const confirmError = p.locator('#e-passwordConfirm');
    await confirmError.waitFor({ state: 'visible' });
    expect((await confirmError.textContent())?.trim()).toBe('The passwords do not match.');
    expect(await p.getByLabel('Confirm password').getAttribute('aria-invalid')).toBe('true');
    expect(await p.getByLabel('Confirm password').getAttribute('aria-describedby')).toBe('e-passwordConfirm');
    expect(await p.locator('.field-error').count()).toBe(1);
    expect(await p.getByLabel('Name').inputValue()).toBe(NAME);
    expect(await p.getByLabel('Email').inputValue()).toBe(EMAIL);
    // Passwords are never sent back.
    expect(await p.getByLabel('Password', { exact: true }).inputValue()).toBe('');
    expect(await p.getByLabel('Confirm password').inputValue()).toBe('');
    expect(await p.content()).not.toContain(PASSWORD);

    // Now correctly: straight to the dashboard, told they are the administrator, their name in the menu.
    await p.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await p.getByLabel('Confirm password').fill(PASSWORD);
    await submitAndWait(p, () => p.getByRole('button', { name: 'Create account' }).click(), '/dashboard');
    expect(await heading(p)).toBe('Dashboard');
    const flash = p.getByRole('status');
    await flash.first().waitFor({ state: 'visible' });
    expect(await flash.allTextContents()).toEqual([
      expect.stringContaining('As the first user, you are the administrator of this Tandem CRM.'),
    ]);
    const userMenu = p.getByTestId('user-menu');
    expect(await userMenu.isVisible()).toBe(true);
    expect((await userMenu.textContent())?.trim()).toBe(NAME);
    const nav = p.getByRole('navigation', { name: 'Main navigation' });
    expect(await nav.isVisible()).toBe(true);
    expect(await nav.getByRole('link', { name: 'Dashboard' }).getAttribute('aria-current')).toBe('page');
    expect(await nav.getByText('Admin', { exact: false }).isVisible()).toBe(true);
    // On a desktop the nav is always shown: no Menu toggle.
    expect(await p.getByRole('button', { name: 'Menu' }).isVisible()).toBe(false);

    // The flash is shown once only.
    await p.reload();
    expect(await p.getByRole('status').count()).toBe(0);

    // Log out through the nav's button.
    const sessionCookie = async () => (await j.context!.cookies()).find((c) => c.name === 'tandem.sid')?.value;
    const signedInSession = await sessionCookie();
    expect(signedInSession).toBeTruthy();
    const logout = nav.getByRole('button', { name: 'Log out' });
    expect(await logout.isVisible()).toBe(true);
    await submitAndWait(p, () => logout.click(), '/login');
    expect(await heading(p)).toBe('Log in');
    expect(await p.getByTestId('user-menu').count()).toBe(0);
    // The signed-in session is gone (the login page may start a new, anonymous one for its CSRF token).
    expect(await sessionCookie()).not.toBe(signedInSession);

    // The dashboard is closed again: to the login page, which remembers where to return.
    await p.goto('/dashboard');
    expect(pathOf(p)).toBe('/login?next=%2Fdashboard');
    expect(await heading(p)).toBe('Log in');

    // Logging back in with the same credentials lands on the dashboard.
    await p.getByLabel('Email').fill(EMAIL);
    await p.getByLabel('Password').fill(PASSWORD);
    await submitAndWait(p, () => p.getByRole('button', { name: 'Log in' }).click(), '/dashboard');
    expect(await heading(p)).toBe('Dashboard');
    expect((await p.getByTestId('user-menu').textContent())?.trim()).toBe(NAME);
    expect(await p.getByRole('status').count()).toBe(0);
    // A login is recorded and shown.
    expect(await p.locator('main').getByText(/^Last login: \S/).count()).toBe(1);

    expectNoPageProblems();
  });

  it('on a phone the navigation opens from the Menu toggle', async () => {
    const p = await newPage(PHONE);
    await registerThroughUi(p, 'Grace Hopper', 'grace@example.com');
    expect(await heading(p)).toBe('Dashboard');

    const toggle = p.getByRole('button', { name: 'Menu' });
    const nav = p.locator('#main-nav');
    const dashboardLink = nav.getByRole('link', { name: 'Dashboard' });
    const userMenu = p.getByTestId('user-menu');
    const logout = nav.getByRole('button', { name: 'Log out' });

    // Closed at first: only the toggle shows.
    expect(await toggle.isVisible()).toBe(true);
    expect(await toggle.getAttribute('aria-expanded')).toBe('false');
    expect(await nav.isVisible()).toBe(false);
    expect(await dashboardLink.isVisible()).toBe(false);
    expect(await userMenu.isVisible()).toBe(false);

    // Open.
    await toggle.click();
    await dashboardLink.waitFor({ state: 'visible' });
    expect(await toggle.getAttribute('aria-expanded')).toBe('true');
    expect(await userMenu.isVisible()).toBe(true);
    expect((await userMenu.textContent())?.trim()).toBe('Grace Hopper');
    expect(await logout.isVisible()).toBe(true);
    // The opened menu fits the narrow screen (no sideways scrolling).
    const box = await nav.boundingBox();
    expect(box).not.toBeNull();
    expect(box!.x).toBeGreaterThanOrEqual(0);
    expect(box!.x + box!.width).toBeLessThanOrEqual(PHONE.width);
    expect(await p.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width);

    // And closed again.
    await toggle.click();
    await dashboardLink.waitFor({ state: 'hidden' });
    expect(await toggle.getAttribute('aria-expanded')).toBe('false');

    expectNoPageProblems();
  });

  it('the footer switches the login page to Russian', async () => {
    const p = await newPage(DESKTOP);
    await p.goto('/login');
    expect(await heading(p)).toBe('Log in');
    expect(await p.locator('html').getAttribute('lang')).toBe('en');

    const footer = p.locator('footer');
    await submitAndWait(p, () => footer.getByRole('button', { name: 'Русский' }).click(), '/login');
    expect(await heading(p)).toBe('Вход');
    expect(await p.locator('html').getAttribute('lang')).toBe('ru');
    expect(await footer.getByRole('button', { name: 'Русский' }).getAttribute('aria-current')).toBe('true');
    expect(await footer.getByRole('button', { name: 'English' }).getAttribute('aria-current')).toBeNull();

    // The choice stays for the visit.
    await p.goto('/register');
    expect(await heading(p)).toBe('Регистрация');

    expectNoPageProblems();
  });
});
