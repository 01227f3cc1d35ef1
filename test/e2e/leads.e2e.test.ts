import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Locator, Page, Response } from 'playwright-core';
import { DESKTOP, pathOf, useJourney } from './browser.js';

const PASSWORD = 'correct horse battery staple';
const ADMIN = { name: 'Ada Lovelace', email: 'ada@example.com' };
const MEMBER = { name: 'Maria Sokolova', email: 'maria@example.com' };
const GROUP = 'Продажи Север';

const IVANOV = { lastName: 'Иванов', firstName: 'Пётр', company: 'ООО Ромашка', email: 'petr@romashka.ru', value: '12 500,50' };
const SMITH = { lastName: 'Smith', company: 'Acme' };
const COMMENT_URL = 'https://example.com/deals/42?ref=crm';
const COMMENT = `Позвонил, ждёт предложение.\nДетали сделки: ${COMMENT_URL}`;

/** A minimal PDF (file-type sniffs "%PDF") and a real 1x1 PNG, written to a temp folder of this run. */
const PDF_NAME = 'Предложение Ромашка.pdf';
const PNG_NAME = 'logo.png';
const PDF_BYTES = Buffer.from(
  '%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n' +
    'trailer<</Root 1 0 R>>\n%%EOF\n',
  'latin1',
);
const PNG_BYTES = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
  'base64',
);
const SVG_NAME = 'evil.svg';
const SVG_BYTES = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>\n');

const j = useJourney();
let tmpDir: string;

beforeAll(async () => {
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-e2e-leads-'));
  fs.writeFileSync(path.join(tmpDir, PDF_NAME), PDF_BYTES);
  fs.writeFileSync(path.join(tmpDir, PNG_NAME), PNG_BYTES);
  fs.writeFileSync(path.join(tmpDir, SVG_NAME), SVG_BYTES);
});

afterAll(async () => {
  if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
});

const newPage = (viewport = DESKTOP) => j.open(viewport);

function expectNoPageProblems() {
  expect(j.problems.cspViolations, 'Content Security Policy violations').toEqual([]);
  expect(j.problems.pageErrors, 'uncaught errors in the page').toEqual([]);
  expect(j.problems.failedAssets, 'static files that failed to load').toEqual([]);
}

async function heading(p: Page): Promise<string> {
  return ((await p.locator('main h1').first().textContent()) ?? '').trim();
}

async function text(l: Locator): Promise<string> {
  return ((await l.textContent()) ?? '').replace(/\s+/g, ' ').trim();
}

/** Clicks something that loads a new page and waits until it has loaded (a form may answer on the same URL). */
async function submitAndWait(p: Page, click: () => Promise<void>, expectedPathname: string | RegExp) {
  const navigated = p.waitForEvent('framenavigated', { predicate: (f) => f === p.mainFrame() });
  await click();
  await navigated;
  await p.waitForLoadState('load');
  const pathname = new URL(p.url()).pathname;
  if (typeof expectedPathname === 'string') expect(pathname).toBe(expectedPathname);
  else expect(pathname).toMatch(expectedPathname);
}

/**
 * An administrator, a group and a plain member of it, straight into the database (the UI for these is covered
 * by the auth and groups journeys). The administrator exists so the member is not the first account.
 */
async function seedPeople() {
  const { pool } = j.app.t.services.database;
  const hash = await j.app.t.services.hasher.hash(PASSWORD);
  const insertUser = async (who: { name: string; email: string }, role: 'admin' | 'user') =>
    (await pool.query<{ id: number }>('insert into users (email, name, password_hash, role) values ($1, $2, $3, $4) returning id', [who.email, who.name, hash, role]))
      .rows[0]!.id;
  await insertUser(ADMIN, 'admin');
  const memberId = await insertUser(MEMBER, 'user');
  const groupId = (await pool.query<{ id: number }>("insert into groups (name, visibility) values ($1, 'all') returning id", [GROUP])).rows[0]!.id;
  await pool.query("insert into memberships (user_id, group_id, role) values ($1, $2, 'member')", [memberId, groupId]);
}

async function logInThroughUi(p: Page, who: { email: string }) {
  await p.goto('/login');
  await p.getByLabel('Email').fill(who.email);
  await p.getByLabel('Password').fill(PASSWORD);
  await submitAndWait(p, () => p.getByRole('button', { name: 'Log in' }).click(), '/dashboard');
}

/** Waits for the htmx GET of the lead list that swaps #lead-results, whose query passes `accept`. */
function leadListSwap(p: Page, accept: (params: URLSearchParams) => boolean): Promise<Response> {
  return p.waitForResponse((r) => {
    const u = new URL(r.url());
    const h = r.request().headers();
    return r.request().method() === 'GET' && u.pathname === '/leads' && h['hx-request'] === 'true' && h['hx-target'] === 'lead-results' && accept(u.searchParams);
  });
}

/** The lead list's visible rows, as "name" cell texts. */
async function listedNames(p: Page): Promise<string[]> {
  const cells = p.getByTestId('lead-table').locator('tbody tr td:first-child a');
  return (await cells.allTextContents()).map((s) => s.replace(/\s+/g, ' ').trim());
}

/** Each timeline entry's "what happened" line, newest first. */
async function timelineActions(p: Page): Promise<string[]> {
  const lines = p.getByTestId('timeline').locator('ol > li > div.text-slate-900');
  return (await lines.allTextContents()).map((s) => s.replace(/\s+/g, ' ').trim());
}

describe('leads (browser)', () => {
  it('a member creates leads, filters the list, comments, uploads files and converts a lead into a client', async () => {
    await seedPeople();
    const p = await newPage(DESKTOP);
    await logInThroughUi(p, MEMBER);
    const nav = p.getByRole('navigation', { name: 'Main navigation' });

    // ── Leads: empty at first, then "New lead". ────────────────────────────────────────────────────────────
    await submitAndWait(p, () => nav.getByRole('link', { name: 'Leads' }).click(), '/leads');
    expect(await heading(p)).toBe('Leads');
    expect(await p.title()).toBe('Leads · Tandem CRM');
    expect(await nav.getByRole('link', { name: 'Leads' }).getAttribute('aria-current')).toBe('page');
    expect(await text(p.getByTestId('total'))).toBe('0 leads');
    expect(await text(p.getByTestId('empty'))).toContain('No leads yet.');
    // A plain member manages no group: no Trash.
    expect(await p.locator('main').getByRole('link', { name: 'Trash' }).count()).toBe(0);

    await submitAndWait(p, () => p.locator('main').getByRole('link', { name: 'New lead' }).first().click(), '/leads/new');
    expect(await heading(p)).toBe('New lead');
    // Their only group is chosen, and they own the lead unless they pick someone else.
    expect(await text(p.getByLabel('Group').locator('option:checked'))).toBe(GROUP);
    expect(await text(p.getByLabel('Owner').locator('option:checked'))).toBe(MEMBER.name);
    expect(await p.getByLabel('Status').inputValue()).toBe('new');
    await p.getByLabel('Last name').fill(IVANOV.lastName);
    await p.getByLabel('First name').fill(IVANOV.firstName);
    await p.getByLabel('Company').fill(IVANOV.company);
    await p.getByLabel('Email').fill(IVANOV.email);
    await p.getByLabel('Value').fill(IVANOV.value);
    await submitAndWait(p, () => p.locator('main').getByRole('button', { name: 'Save' }).click(), /^\/leads\/\d+$/);
    const leadPath = new URL(p.url()).pathname;

    // The lead page.
    expect(await heading(p)).toBe('Иванов Пётр');
    expect(await p.title()).toBe('Иванов Пётр · Tandem CRM');
    expect(await text(p.getByRole('status'))).toBe('Lead created.');
    expect(await text(p.locator('main h1 + p'))).toBe(`${IVANOV.company} · ${GROUP}`);
    const details = p.locator('main dl').first();
    const detail = (label: string) => details.locator('div').filter({ has: p.locator('dt', { hasText: new RegExp(`^${label}$`) }) }).locator('dd');
    expect(await text(p.getByTestId('status'))).toBe('New');
    expect(await text(detail('Owner'))).toBe(MEMBER.name);
    expect(await text(detail('Email'))).toBe(IVANOV.email);
    expect(await detail('Email').getByRole('link').getAttribute('href')).toBe(`mailto:${IVANOV.email}`);
    // "12 500,50" was understood as 12500.50 and is shown the English way.
    expect(await text(detail('Value'))).toBe('12,500.5');
    expect(await timelineActions(p)).toEqual(['Created']);
    expect(await text(p.getByRole('heading', { name: /^Comments/ }))).toBe('Comments (0)');
    expect(await text(p.getByRole('heading', { name: /^Files/ }))).toBe('Files (0)');

    // ── A second lead, status Contacted. ───────────────────────────────────────────────────────────────────
    await submitAndWait(p, () => nav.getByRole('link', { name: 'Leads' }).click(), '/leads');
    await submitAndWait(p, () => p.locator('main').getByRole('link', { name: 'New lead' }).first().click(), '/leads/new');
    await p.getByLabel('Last name').fill(SMITH.lastName);
    await p.getByLabel('Company').fill(SMITH.company);
    await p.getByLabel('Status').selectOption({ label: 'Contacted' });
    await submitAndWait(p, () => p.locator('main').getByRole('button', { name: 'Save' }).click(), /^\/leads\/\d+$/);
    expect(await heading(p)).toBe('Smith');
    expect(await text(p.getByTestId('status'))).toBe('Contacted');

    // ── The list: both, newest first. ──────────────────────────────────────────────────────────────────────
    await submitAndWait(p, () => p.getByRole('link', { name: '← Leads' }).click(), '/leads');
    expect(await text(p.getByTestId('total'))).toBe('2 leads');
    expect(await listedNames(p)).toEqual(['Smith', 'Иванов Пётр']);
    const rowOf = (name: string) => p.getByTestId('lead-table').locator('tbody tr').filter({ hasText: name });
    expect(await text(rowOf('Иванов').locator('td').nth(1))).toBe(IVANOV.company);
    expect(await text(rowOf('Иванов').locator('td').nth(2))).toBe('New');
    expect(await text(rowOf('Smith').locator('td').nth(2))).toBe('Contacted');

    // Marks the document: a full page load would lose it, an htmx swap keeps it.
    await p.evaluate(() => ((window as unknown as { __sameDocument: boolean }).__sameDocument = true));
    const sameDocument = () => p.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument === true);

    // Typing part of the company, in lower case: only Иванов remains.
    const search = p.getByRole('search').getByLabel('Search');
    await search.click();
    const searched = leadListSwap(p, (s) => s.get('q') === 'ромаш');
    await search.pressSequentially('ромаш', { delay: 40 });
    expect((await searched).status()).toBe(200);
    await rowOf('Smith').waitFor({ state: 'detached' });
    expect(await listedNames(p)).toEqual(['Иванов Пётр']);
    expect(await text(p.getByTestId('total'))).toBe('1 lead');
    await p.waitForURL((u) => u.pathname === '/leads' && u.searchParams.get('q') === 'ромаш');
    expect(await sameDocument()).toBe(true);
    expect(await p.locator('main h1').count()).toBe(1);
    expect(await p.locator('#lead-results form, #lead-results h1').count()).toBe(0);
    expect(await search.inputValue()).toBe('ромаш');

    // Clearing the box, then ticking "Contacted": only Smith.
    const cleared = leadListSwap(p, (s) => s.get('q') === '');
    await search.fill('');
    expect((await cleared).status()).toBe(200);
    await rowOf('Smith').waitFor({ state: 'attached' });
    expect(await text(p.getByTestId('total'))).toBe('2 leads');
    const statusBoxes = p.getByRole('group', { name: 'Status' });
    const contacted = statusBoxes.getByLabel('Contacted');
    const filtered = leadListSwap(p, (s) => s.getAll('status').join() === 'contacted');
    await contacted.check();
    expect((await filtered).status()).toBe(200);
    await rowOf('Иванов').waitFor({ state: 'detached' });
    expect(await listedNames(p)).toEqual(['Smith']);
    expect(await text(p.getByTestId('total'))).toBe('1 lead');
    await p.waitForURL((u) => u.searchParams.getAll('status').join() === 'contacted');
    // "New" as well: both again.
    const both = leadListSwap(p, (s) => s.getAll('status').sort().join() === 'contacted,new');
    await statusBoxes.getByLabel('New').check();
    expect((await both).status()).toBe(200);
    await rowOf('Иванов').waitFor({ state: 'attached' });
    expect(await listedNames(p)).toEqual(['Smith', 'Иванов Пётр']);
    expect(await text(p.getByTestId('total'))).toBe('2 leads');
    expect(await sameDocument()).toBe(true);
    // A date the browser did not check (no date picker: typed as text) answers 400. htmx swaps nothing on an
    // error, so the message shows above the list, which stays as it was; the next answer clears it.
    const dateFrom = p.locator('#f-createdFrom');
    await dateFrom.evaluate((el) => { (el as HTMLInputElement).type = 'text'; });
    const badDate = leadListSwap(p, (s) => s.get('createdFrom') === '2026-02-30');
    await dateFrom.fill('2026-02-30');
    await dateFrom.dispatchEvent('change');
    expect((await badDate).status()).toBe(400);
    const problem = p.locator('#htmx-error');
    await problem.waitFor({ state: 'visible' });
    expect(await problem.getAttribute('role')).toBe('alert');
    expect(await text(problem)).toContain('Bad request. createdFrom: “2026-02-30” is not a valid date.');
    expect(await listedNames(p)).toEqual(['Smith', 'Иванов Пётр']);
    const undone = leadListSwap(p, (s) => s.get('createdFrom') === '');
    await dateFrom.fill('');
    await dateFrom.dispatchEvent('change');
    expect((await undone).status()).toBe(200);
    await problem.waitFor({ state: 'hidden' });
    expect(await sameDocument()).toBe(true);

    // ── Иванов: a comment with two lines and a link. ───────────────────────────────────────────────────────
    await submitAndWait(p, () => rowOf('Иванов').getByRole('link', { name: 'Иванов Пётр' }).click(), leadPath);
    await p.getByLabel('Add a comment').fill(COMMENT);
    await submitAndWait(p, () => p.getByRole('button', { name: 'Post comment' }).click(), leadPath);
    expect(new URL(p.url()).hash).toBe('#comments');
    expect(await text(p.getByRole('heading', { name: /^Comments/ }))).toBe('Comments (1)');
    const comments = p.getByTestId('comments').locator('> li');
    expect(await comments.count()).toBe(1);
    expect(await text(comments.first())).toContain(MEMBER.name);
    const body = comments.first().locator('div.whitespace-pre-line');
    // The line break is kept on screen (innerText follows the rendering) ...
    expect(await body.innerText()).toBe(COMMENT);
    const lineHeight = await body.evaluate((el) => parseFloat(getComputedStyle(el).lineHeight));
    expect((await body.boundingBox())!.height).toBeGreaterThan(lineHeight * 1.5);
    // ... and the URL is a link that opens in a new tab; nothing else became markup.
    const link = body.getByRole('link', { name: COMMENT_URL });
    expect(await link.getAttribute('href')).toBe(COMMENT_URL);
    expect(await link.getAttribute('target')).toBe('_blank');
    expect(await link.getAttribute('rel')).toContain('noopener');
    expect(await body.locator('*').count()).toBe(1);
    // The comment box is empty again.
    expect(await p.getByLabel('Add a comment').inputValue()).toBe('');
    expect((await timelineActions(p))[0]).toMatch(/^Commented/);

    // ── Two files at once, through htmx, with the progress bar. ────────────────────────────────────────────
    const filesSection = p.locator('#files');
    const progress = filesSection.locator('progress[data-upload-progress]');
    expect(await progress.isHidden()).toBe(true);
    expect(await text(filesSection.getByTestId('files').locator('tbody'))).toBe('No files yet.');
    // Watches what upload.js does: its listeners are on <body> and were added first, so these run after them.
    await p.evaluate(() => {
      (window as unknown as { __sameDocument: boolean }).__sameDocument = true;
      const seen = { shownOnRequest: false, buttonDisabledOnRequest: false, progressValues: [] as number[] };
      (window as unknown as { __upload: typeof seen }).__upload = seen;
      const bar = () => document.querySelector<HTMLProgressElement>('#files [data-upload-progress]');
      document.body.addEventListener('htmx:beforeRequest', () => {
        const b = bar();
        seen.shownOnRequest = !!b && !b.hidden && b.checkVisibility();
        seen.buttonDisabledOnRequest = !!document.querySelector<HTMLButtonElement>('#files [data-upload-submit]')?.disabled;
      });
      document.body.addEventListener('htmx:xhr:progress', () => {
        const b = bar();
        if (b) seen.progressValues.push(b.value);
      });
    });
    await filesSection.getByLabel('Add files').setInputFiles([path.join(tmpDir, PDF_NAME), path.join(tmpDir, PNG_NAME)]);
    const uploaded = p.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === `${leadPath}/files`);
    await filesSection.getByRole('button', { name: 'Upload' }).click();
    expect((await uploaded).status()).toBe(200);
    const fileRows = p.locator('#files').getByTestId('files').locator('tbody tr');
    await fileRows.nth(1).waitFor({ state: 'attached' });
    const watched = await p.evaluate(() => (window as unknown as { __upload: { shownOnRequest: boolean; buttonDisabledOnRequest: boolean; progressValues: number[] } }).__upload);
    expect(watched.shownOnRequest, 'the progress bar shows when the upload starts').toBe(true);
    expect(watched.buttonDisabledOnRequest, 'the Upload button is disabled during the upload').toBe(true);
    expect(watched.progressValues.length, 'htmx:xhr:progress reached the progress bar').toBeGreaterThan(0);
    expect(Math.max(...watched.progressValues)).toBeGreaterThan(0);
    expect(Math.max(...watched.progressValues)).toBeLessThanOrEqual(100);
    // The section was swapped in place: the new bar is hidden again, the button usable, a notice says so.
    expect(await sameDocument()).toBe(true);
    expect(await text(p.getByRole('heading', { name: /^Files/ }))).toBe('Files (2)');
    expect(await text(p.locator('#files').getByRole('status'))).toBe('2 files uploaded.');
    expect(await p.locator('#files progress[data-upload-progress]').isHidden()).toBe(true);
    expect(await p.locator('#files').getByRole('button', { name: 'Upload' }).isEnabled()).toBe(true);
    expect(await p.locator('#files').getByLabel('Add files').inputValue()).toBe('');
    expect(pathOf(p)).toBe(leadPath);
    // The files.process job checks the new files; the section refreshes itself until none is pending.
    await p.locator('#files [data-file-status="pending"]').first().waitFor({ state: 'detached', timeout: 15_000 });
    const fileNames = async () => (await p.locator('#files').getByTestId('files').locator('tbody tr td:first-child a').allTextContents()).map((s) => s.trim()).sort();
    expect(await fileNames()).toEqual([PDF_NAME, PNG_NAME].sort());
    const pdfRow = fileRows.filter({ hasText: PDF_NAME });
    expect(await text(pdfRow.locator('td').nth(1))).toBe(`${PDF_BYTES.length} B`);
    expect(await text(pdfRow.locator('td').nth(2))).toBe('PDF');
    expect(await text(pdfRow.locator('td').nth(3))).toBe(MEMBER.name);
    expect(await text(fileRows.filter({ hasText: PNG_NAME }).locator('td').nth(2))).toBe('PNG');

    // Downloading gives back the same bytes, under the same (Cyrillic) name.
    const downloading = p.waitForEvent('download');
    await pdfRow.getByRole('link', { name: PDF_NAME }).click();
    const download = await downloading;
    expect(await download.failure()).toBeNull();
    expect(download.suggestedFilename()).toBe(PDF_NAME);
    expect(fs.readFileSync(await download.path())).toEqual(PDF_BYTES);
    // The page stayed where it was.
    expect(pathOf(p)).toBe(leadPath);
    expect(await sameDocument()).toBe(true);

    // An SVG is refused: the message shows inside the files section and nothing is added.
    await p.locator('#files').getByLabel('Add files').setInputFiles(path.join(tmpDir, SVG_NAME));
    const refused = p.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === `${leadPath}/files`);
    await p.locator('#files').getByRole('button', { name: 'Upload' }).click();
    expect((await refused).status()).toBe(422);
    const fileError = p.locator('#files').getByTestId('file-error');
    await fileError.waitFor({ state: 'visible' });
    expect(await text(fileError)).toBe(
      `“${SVG_NAME}” is not a type of file that can be uploaded (allowed: PDF, PNG, JPEG, GIF, WebP, DOCX, XLSX, PPTX, ODT, ODS, TXT, CSV, ZIP). Nothing was uploaded.`,
    );
    expect(await fileError.getAttribute('role')).toBe('alert');
    expect(await p.locator('#files').getByLabel('Add files').getAttribute('aria-invalid')).toBe('true');
    expect(await text(p.getByRole('heading', { name: /^Files/ }))).toBe('Files (2)');
    expect(await fileNames()).toEqual([PDF_NAME, PNG_NAME].sort());
    expect(await p.locator('#files').getByRole('status').count()).toBe(0);
    // Still on the lead page (one section, one heading), not an error page.
    expect(await heading(p)).toBe('Иванов Пётр');
    expect(await p.locator('#files').count()).toBe(1);
    expect(await sameDocument()).toBe(true);

    // The history, after a reload: files, comment, creation.
    await p.reload();
    expect(await timelineActions(p)).toEqual([`Added the file ${PNG_NAME}`, `Added the file ${PDF_NAME}`, expect.stringMatching(/^Commented/), 'Created']);
    expect(await p.locator('#files').getByTestId('file-error').count()).toBe(0);

    // ── Convert to client (confirm). ───────────────────────────────────────────────────────────────────────
    const dialogs: string[] = [];
    p.once('dialog', (d) => {
      dialogs.push(`${d.type()}: ${d.message()}`);
      void d.accept();
    });
    await submitAndWait(p, () => p.locator('main').getByRole('button', { name: 'Convert to client' }).click(), /^\/clients\/\d+$/);
    expect(dialogs).toEqual(['confirm: Create a client from this lead? The lead becomes read-only.']);
    const clientPath = new URL(p.url()).pathname;

    // The client page: named after the person, the comment and both files came along, with the history.
    expect(await heading(p)).toBe('Пётр Иванов');
    expect(await p.title()).toBe('Пётр Иванов · Tandem CRM');
    expect(await text(p.locator('main > [role="status"]'))).toBe('Converted into the client “Пётр Иванов”.');
    expect(await text(p.locator('main h1 + p'))).toBe(`${IVANOV.company} · ${GROUP}`);
    expect(await p.getByTestId('lead-link').getAttribute('href')).toBe(leadPath);
    expect(await text(p.getByRole('heading', { name: /^Comments/ }))).toBe('Comments (1)');
    const clientComment = p.getByTestId('comments').locator('> li div.whitespace-pre-line');
    expect(await clientComment.innerText()).toBe(COMMENT);
    expect(await clientComment.getByRole('link', { name: COMMENT_URL }).getAttribute('href')).toBe(COMMENT_URL);
    expect(await text(p.getByRole('heading', { name: /^Files/ }))).toBe('Files (2)');
    expect(await fileNames()).toEqual([PDF_NAME, PNG_NAME].sort());
    // Files now continue on the client: the upload form is here.
    expect(await p.locator('#files').getByLabel('Add files').isVisible()).toBe(true);
    expect(await timelineActions(p)).toEqual([
      'Converted into the client Пётр Иванов',
      `Added the file ${PNG_NAME} (on the lead)`,
      `Added the file ${PDF_NAME} (on the lead)`,
      expect.stringMatching(/^Commented \(on the lead\)/),
      'Created (on the lead)',
    ]);

    // The lead: converted, read-only, linking to its client.
    await submitAndWait(p, () => p.getByTestId('lead-link').click(), leadPath);
    expect(await heading(p)).toBe('Иванов Пётр');
    expect(await text(p.getByTestId('status'))).toBe('Converted');
    const note = p.locator('main').getByRole('status');
    expect(await text(note)).toMatch(/^Converted into a client on .+\. This lead is read-only\.$/);
    const clientLink = p.getByTestId('client-link');
    expect(await text(clientLink)).toBe('Open the client');
    expect(await clientLink.getAttribute('href')).toBe(clientPath);
    const main = p.locator('main');
    expect(await main.getByRole('link', { name: 'Edit' }).count()).toBe(0);
    expect(await main.getByRole('button', { name: 'Convert to client' }).count()).toBe(0);
    expect(await main.getByRole('link', { name: 'Convert with changes…' }).count()).toBe(0);
    expect(await p.getByLabel('Add a comment').count()).toBe(0);
    expect(await p.getByRole('button', { name: 'Post comment' }).count()).toBe(0);
    expect(await p.locator('#files').getByLabel('Add files').count()).toBe(0);
    expect(await p.locator('#files').getByRole('button', { name: /^Delete/ }).count()).toBe(0);
    expect(await text(p.locator('#files > p'))).toBe('This lead was converted into a client: its files continue on the client.');
    expect(await fileNames()).toEqual([PDF_NAME, PNG_NAME].sort());
    expect(await timelineActions(p)).toContain('Converted into the client Пётр Иванов');
    await submitAndWait(p, () => clientLink.click(), clientPath);

    // The lead list no longer shows Иванов, unless "Show converted" is ticked.
    await submitAndWait(p, () => nav.getByRole('link', { name: 'Leads' }).click(), '/leads');
    expect(await listedNames(p)).toEqual(['Smith']);
    expect(await text(p.getByTestId('total'))).toBe('1 lead');
    const withConverted = leadListSwap(p, (s) => s.get('converted') === '1');
    await p.getByRole('search').getByLabel('Show converted').check();
    expect((await withConverted).status()).toBe(200);
    await rowOf('Иванов').waitFor({ state: 'attached' });
    expect(await text(rowOf('Иванов').locator('td').nth(2))).toBe('Converted');
    expect(await text(p.getByTestId('total'))).toBe('2 leads');

    expectNoPageProblems();
  });
});
