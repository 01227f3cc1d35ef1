import fs from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { createTestApp, resetDatabase, type TestApp } from '../helpers/app.js';

/** Debian's Chromium; Playwright's own browsers are never downloaded. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 375, height: 740 };

export const SCREENSHOT_DIR = path.resolve('test-results/e2e');

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
}

export interface RunningApp {
  t: TestApp;
  server: Server;
  baseURL: string;
  close(): Promise<void>;
}

/** The real app, in this process, listening on a free port of 127.0.0.1. */
export async function startApp(): Promise<RunningApp> {
  const t = await createTestApp();
  const server = await new Promise<Server>((resolve, reject) => {
    const s = t.app.listen(0, '127.0.0.1', (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  const { port } = server.address() as AddressInfo;
  return {
    t,
    server,
    baseURL: `http://127.0.0.1:${port}`,
    async close() {
      // The browser's keep-alive sockets would otherwise hold close() open.
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await t.close();
    },
  };
}

/** What went wrong inside the page: CSP refusals, uncaught exceptions, static files that failed to load. */
export interface PageProblems {
  cspViolations: string[];
  pageErrors: string[];
  failedAssets: string[];
}

/** A fresh context (no cookies) and page, watched for problems. */
export async function openPage(browser: Browser, baseURL: string, viewport = DESKTOP) {
  const context: BrowserContext = await browser.newContext({ baseURL, viewport, locale: 'en-US' });
  context.setDefaultTimeout(10_000);
  context.setDefaultNavigationTimeout(15_000);
  const page: Page = await context.newPage();
  const problems: PageProblems = { cspViolations: [], pageErrors: [], failedAssets: [] };
  page.on('console', (msg) => {
    if (msg.type() === 'error' && /Content Security Policy/i.test(msg.text())) problems.cspViolations.push(msg.text());
  });
  page.on('pageerror', (err) => problems.pageErrors.push(String(err?.stack ?? err)));
  page.on('response', (res) => {
    if (res.url().includes('/static/') && res.status() >= 400) problems.failedAssets.push(`${res.status()} ${res.url()}`);
  });
  page.on('requestfailed', (req) => {
    if (req.url().includes('/static/')) problems.failedAssets.push(`${req.failure()?.errorText ?? 'failed'} ${req.url()}`);
  });
  return { context, page, problems };
}

/** Saves a full-page screenshot as test-results/e2e/<test name>.png; never throws. */
export async function screenshotOnFailure(page: Page | undefined, testName: string): Promise<string | undefined> {
  if (!page || page.isClosed()) return undefined;
  try {
    fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
    const file = path.join(SCREENSHOT_DIR, `${testName.replace(/[^\w.-]+/g, '_').slice(0, 150)}.png`);
    await page.screenshot({ path: file, fullPage: true, timeout: 10_000 });
    return file;
  } catch {
    return undefined;
  }
}

/** The pathname (and query) the page is on now. */
export function pathOf(page: Page): string {
  const u = new URL(page.url());
  return u.pathname + u.search;
}

/** What a journey file works with; `context`, `page` and `problems` belong to the test running now. */
export interface Journey {
  app: RunningApp;
  browser: Browser;
  context?: BrowserContext;
  page?: Page;
  problems: PageProblems;
  /** A new cookie-less tab at the given viewport, watched for CSP violations and page errors; the test's page. */
  open(viewport?: { width: number; height: number }): Promise<Page>;
}

/**
 * The hooks of a journey file: the app and one browser for the file, an empty database before each test, and
 * after it a screenshot of a failed test's page and its browser context closed.
 */
export function useJourney(): Journey {
  const j = {
    async open(viewport = DESKTOP) {
      const opened = await openPage(j.browser, j.app.baseURL, viewport);
      j.context = opened.context;
      j.page = opened.page;
      j.problems = opened.problems;
      return opened.page;
    },
  } as Journey;
  beforeAll(async () => {
    j.app = await startApp();
    j.browser = await launchBrowser();
  });
  afterAll(async () => {
    await j.browser?.close();
    await j.app?.close();
  });
  beforeEach(async () => {
    await resetDatabase(j.app.t.services);
  });
  afterEach(async ({ task }) => {
    if (task.result?.state === 'fail') {
      const file = await screenshotOnFailure(j.page, task.fullTestName ?? task.name);
      if (file) console.error(`screenshot of the failed page: ${file}`);
    }
    await j.context?.close();
    j.context = undefined;
    j.page = undefined;
  });
  return j;
}
