import { describe, expect, it } from 'vitest';
import type { Dialog, Locator, Page, Response } from 'playwright-core';
import { pathOf, useJourney } from './browser.js';

/** This journey's viewport: tall enough for the board's four columns side by side (xl: 1280 px and up). */
const VIEWPORT = { width: 1280, height: 900 };

const PASSWORD = 'correct horse battery staple';
const ADMIN = { name: 'Ada Lovelace', email: 'ada@example.com' };
const MEMBER = { name: 'Maria Sokolova', email: 'maria@example.com' };
const GROUP = 'Продажи Север';
const MOVE_FAILED = 'The lead could not be moved. Reload the page and try again.';

type Status = 'new' | 'contacted' | 'qualified' | 'lost' | 'converted';
interface SeedLead {
  key: string;
  lastName: string;
  firstName?: string;
  company?: string;
  status: Status;
  value?: string;
  /** Minutes since the last activity: the board shows the most recently active cards first. */
  idle: number;
}

/** Seven leads of the member's group: five open (3 new, 1 contacted, 1 qualified), one lost, one converted. */
const LEADS: SeedLead[] = [
  { key: 'novikov', lastName: 'Новиков', firstName: 'Антон', company: 'ООО Вектор', status: 'new', value: '1500', idle: 10 },
  { key: 'baker', lastName: 'Baker', status: 'new', idle: 20 },
  { key: 'carter', lastName: 'Carter', firstName: 'Jane', company: 'Carter & Co', status: 'new', value: '250.50', idle: 30 },
  { key: 'dubois', lastName: 'Dubois', company: 'Dubois SARL', status: 'contacted', value: '700', idle: 40 },
  { key: 'evans', lastName: 'Evans', status: 'qualified', value: '3000', idle: 50 },
  { key: 'fischer', lastName: 'Fischer', status: 'lost', idle: 60 },
  { key: 'garcia', lastName: 'Garcia', firstName: 'Luis', status: 'converted', value: '5000', idle: 70 },
];
/** The name the app shows for a lead: last name, then first name. */
const nameOf = (l: SeedLead) => `${l.lastName} ${l.firstName ?? ''}`.trim();
const lead = (key: string) => LEADS.find((l) => l.key === key)!;

const COLUMNS = ['new', 'contacted', 'qualified', 'lost'] as const;
type Column = (typeof COLUMNS)[number];
type Counts = Record<Column, number>;

const j = useJourney();

const newPage = () => j.open(VIEWPORT);

function expectNoPageProblems() {
  expect(j.problems.cspViolations, 'Content Security Policy violations').toEqual([]);
  expect(j.problems.pageErrors, 'uncaught errors in the page').toEqual([]);
  expect(j.problems.failedAssets, 'static files that failed to load').toEqual([]);
}

const q = async <T extends Record<string, unknown> = Record<string, unknown>>(sql: string, values: unknown[] = []) =>
  (await j.app.t.services.database.pool.query<T>(sql, values)).rows;

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
 * An administrator (so the member is not the first account), a group, a plain member of it and the member's
 * leads, straight into the database. Returns the ids: lead ids by key, and the member's and the group's.
 */
async function seed() {
  const hash = await j.app.t.services.hasher.hash(PASSWORD);
  const insertUser = async (who: { name: string; email: string }, role: 'admin' | 'user') =>
    (await q<{ id: number }>('insert into users (email, name, password_hash, role) values ($1, $2, $3, $4) returning id', [who.email, who.name, hash, role]))[0]!.id;
  await insertUser(ADMIN, 'admin');
  const memberId = await insertUser(MEMBER, 'user');
  const groupId = (await q<{ id: number }>("insert into groups (name, visibility) values ($1, 'all') returning id", [GROUP]))[0]!.id;
  await q("insert into memberships (user_id, group_id, role) values ($1, $2, 'member')", [memberId, groupId]);
  const ids: Record<string, number> = {};
  for (const l of LEADS) {
    const [row] = await q<{ id: number }>(
      `insert into leads (group_id, owner_id, created_by_id, last_name, first_name, company, status, value, converted_at, last_activity_at)
       values ($1, $2, $2, $3, $4, $5, $6::lead_status, $7, case when $6::lead_status = 'converted' then now() end, now() - make_interval(mins => $8))
       returning id`,
      [groupId, memberId, l.lastName, l.firstName ?? '', l.company ?? null, l.status, l.value ?? null, l.idle],
    );
    ids[l.key] = row!.id;
  }
  return { ids, memberId, groupId };
}

async function logInThroughUi(p: Page, who: { email: string }) {
  await p.goto('/login');
  await p.getByLabel('Email').fill(who.email);
  await p.getByLabel('Password').fill(PASSWORD);
  await submitAndWait(p, () => p.getByRole('button', { name: 'Log in' }).click(), '/dashboard');
}

// ── The dashboard ────────────────────────────────────────────────────────────────────────────────────────────

/** A dashboard card's big number. */
async function cardFigure(p: Page, testid: string): Promise<string> {
  return text(p.getByTestId(testid).locator('[data-figure]'));
}

/** The funnel's number for a status. */
async function funnelCount(p: Page, status: Status): Promise<string> {
  return text(p.getByTestId('funnel').locator(`[data-status="${status}"]`));
}

/** The "Latest activity" lines, newest first, whitespace collapsed. */
async function recentLines(p: Page): Promise<string[]> {
  return (await p.getByTestId('recent').locator('> li').allTextContents()).map((s) => s.replace(/\s+/g, ' ').trim());
}

// ── The board ────────────────────────────────────────────────────────────────────────────────────────────────

const column = (p: Page, status: Column) => p.locator(`section[data-column][data-status="${status}"]`);
const cardList = (p: Page, status: Column) => p.locator(`#cards-${status}`);
const cardOf = (p: Page, id: number) => p.locator(`[data-cards] > li[data-testid="card"][data-id="${id}"]`);

/** Every column's count badge, read in one go (one evaluation: a consistent snapshot). */
async function boardCounts(p: Page): Promise<Counts> {
  const raw = await p.evaluate((cols) => Object.fromEntries(cols.map((c) => [c, document.querySelector(`[data-testid="count-${c}"]`)?.textContent?.trim() ?? ''])), [...COLUMNS]);
  return Object.fromEntries(COLUMNS.map((c) => [c, Number(raw[c])])) as Counts;
}

/** The lead ids shown in a column, top to bottom. */
async function idsIn(p: Page, status: Column): Promise<number[]> {
  return (await cardList(p, status).locator('> li[data-testid="card"]').evaluateAll((els) => els.map((e) => e.getAttribute('data-id')))).map(Number);
}

/** The column a card is in now (from the DOM), or null when it is not on the board. */
async function columnOfCard(p: Page, id: number): Promise<string | null> {
  return p.evaluate((cardId) => document.querySelector(`[data-cards] > li[data-id="${cardId}"]`)?.closest('[data-column]')?.getAttribute('data-status') ?? null, id);
}

/** Marks the document: a full page load would lose it. */
async function markDocument(p: Page) {
  await p.evaluate(() => ((window as unknown as { __sameDocument: boolean }).__sameDocument = true));
}
const sameDocument = (p: Page) => p.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument === true);

/**
 * Records both count badges each time either changes, so a test can tell whether they changed together or one
 * after the other (two separate updates would show a snapshot with only one of them changed).
 */
async function watchCounts(p: Page, a: Column, b: Column) {
  await p.evaluate(([x, y]) => {
    const ex = document.querySelector(`[data-testid="count-${x}"]`)!;
    const ey = document.querySelector(`[data-testid="count-${y}"]`)!;
    const w = window as unknown as { __countSnapshots: string[][] };
    w.__countSnapshots = [];
    const observer = new MutationObserver(() => w.__countSnapshots.push([ex.textContent!.trim(), ey.textContent!.trim()]));
    for (const el of [ex, ey]) observer.observe(el, { childList: true, characterData: true, subtree: true });
  }, [a, b] as const);
}
const countSnapshots = (p: Page) => p.evaluate(() => (window as unknown as { __countSnapshots: string[][] }).__countSnapshots);

/** Waits for the POST a drop sends (fetch, not a page load). */
function statusPost(p: Page, id: number): Promise<Response> {
  return p.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === `/leads/${id}/status`);
}

/**
 * Drags a card onto another column's list with real pointer events, the way a mouse does: press on the card's
 * padding (not its link, select or button: SortableJS ignores presses there), move in steps, hold until SortableJS
 * has placed the card in the target list (its fallback mode checks the pointer every 50 ms), then release.
 */
async function dragCard(p: Page, id: number, to: Column) {
  const card = cardOf(p, id);
  await card.scrollIntoViewIfNeeded();
  const from = (await card.boundingBox())!;
  const start = { x: from.x + 5, y: from.y + 5 };
  // The press really lands on the card itself, outside the controls SortableJS filters out.
  const hit = await p.evaluate(({ x, y }) => {
    const el = document.elementFromPoint(x, y);
    return { card: el?.closest('li[data-id]')?.getAttribute('data-id') ?? null, control: !!el?.closest('select, button, a, input') };
  }, start);
  expect(hit, 'where the drag starts').toEqual({ card: String(id), control: false });

  const list = cardList(p, to);
  const target = (await list.boundingBox())!;
  // Over the middle of the target list (its cards if it has any: SortableJS inserts before or after them).
  const end = { x: target.x + target.width / 2, y: target.y + Math.min(target.height / 2, 40) };

  await p.mouse.move(start.x, start.y);
  await p.mouse.down();
  await p.mouse.move(start.x + 8, start.y + 8, { steps: 4 });
  await p.mouse.move(end.x, end.y, { steps: 25 });
  const inTarget = () => p.evaluate(([cardId, status]) => document.querySelector(`#cards-${status} > li[data-id="${cardId}"]`) !== null, [String(id), to] as const);
  for (let i = 0; i < 40 && !(await inTarget()); i++) {
    // Small moves over the target until the emulated dragover has put the card there.
    await p.mouse.move(end.x + (i % 2 ? 3 : -3), end.y + 2, { steps: 2 });
    await p.waitForTimeout(60);
  }
  expect(await inTarget(), `the dragged card is over the ${to} list before the drop`).toBe(true);
  await p.mouse.up();
}

describe('dashboard and lead board (browser)', () => {
  it('a member reads the dashboard, follows its figures, and moves leads on the board by drag and by keyboard', async () => {
    const { ids } = await seed();
    const p = await newPage();
    await logInThroughUi(p, MEMBER);

    // ── The dashboard. ─────────────────────────────────────────────────────────────────────────────────────
    expect(await heading(p)).toBe('Dashboard');
    expect(await p.title()).toBe('Dashboard · Tandem CRM');
    const nav = p.getByRole('navigation', { name: 'Main navigation' });
    expect(await nav.getByRole('link', { name: 'Dashboard' }).getAttribute('aria-current')).toBe('page');
    // Open = new + contacted + qualified: 3 + 1 + 1.
    expect(await cardFigure(p, 'open-leads')).toBe('5');
    expect(await funnelCount(p, 'new')).toBe('3');
    expect(await funnelCount(p, 'contacted')).toBe('1');
    expect(await funnelCount(p, 'qualified')).toBe('1');
    expect(await funnelCount(p, 'lost')).toBe('1');
    expect(await funnelCount(p, 'converted')).toBe('1');
    // Leads put straight into the database have no history yet.
    expect(await recentLines(p)).toEqual(['Nothing happened yet.']);

    // "Open leads" opens the list of exactly the leads it counted.
    const openFigure = Number((await cardFigure(p, 'open-leads')).replace(/[^\d]/g, ''));
    await submitAndWait(p, () => p.getByTestId('open-leads').click(), '/leads');
    const statuses = new URL(p.url()).searchParams.getAll('status').sort();
    expect(statuses).toEqual(['contacted', 'new', 'qualified']);
    expect(await heading(p)).toBe('Leads');
    expect(await text(p.getByTestId('total'))).toBe(`${openFigure} leads`);
    const listed = (await p.getByTestId('lead-table').locator('tbody tr td:first-child a').allTextContents()).map((s) => s.replace(/\s+/g, ' ').trim());
    expect(listed.sort()).toEqual(LEADS.filter((l) => ['new', 'contacted', 'qualified'].includes(l.status)).map(nameOf).sort());

    // Back to the dashboard.
    await p.goBack();
    await p.waitForLoadState('load');
    expect(pathOf(p)).toBe('/dashboard');
    expect(await heading(p)).toBe('Dashboard');

    // ── The board, from the dashboard's link. ──────────────────────────────────────────────────────────────
    await submitAndWait(p, () => p.locator('main').getByRole('link', { name: /Open the lead board/ }).click(), '/leads/board');
    expect(await heading(p)).toBe('Lead board');
    expect(await p.title()).toBe('Lead board · Tandem CRM');
    // Four columns; converted leads are not on the board.
    expect(await p.locator('section[data-column]').evaluateAll((els) => els.map((e) => e.getAttribute('data-status')))).toEqual([...COLUMNS]);
    expect(await boardCounts(p)).toEqual({ new: 3, contacted: 1, qualified: 1, lost: 1 });
    // Most recently active first.
    expect(await idsIn(p, 'new')).toEqual([ids.novikov, ids.baker, ids.carter]);
    expect(await idsIn(p, 'qualified')).toEqual([ids.evans]);
    expect(await cardOf(p, ids.garcia!).count()).toBe(0);
    // A card: name (a link), company, owner and value.
    const novikovCard = cardOf(p, ids.novikov!);
    expect(await text(novikovCard.getByRole('link'))).toBe(nameOf(lead('novikov')));
    expect(await novikovCard.getByRole('link').getAttribute('href')).toBe(`/leads/${ids.novikov}`);
    expect(await text(novikovCard)).toContain('ООО Вектор');
    expect(await text(novikovCard)).toContain(MEMBER.name);
    expect(await text(novikovCard)).toContain('1,500');
    expect(await novikovCard.getByLabel('Move to').inputValue()).toBe('new');
    // SortableJS loaded (the script gives up silently without it).
    expect(await p.evaluate(() => typeof (window as unknown as { Sortable?: unknown }).Sortable)).toBe('function');

    // ── Drag Новиков from New to Qualified. ────────────────────────────────────────────────────────────────
    await markDocument(p);
    await watchCounts(p, 'new', 'qualified');
    const dialogs: string[] = [];
    const onDialog = (d: Dialog) => {
      dialogs.push(`${d.type()}: ${d.message()}`);
      void d.accept();
    };
    p.on('dialog', onDialog);
    const moved = statusPost(p, ids.novikov!);
    await dragCard(p, ids.novikov!, 'qualified');
    const movedRes = await moved;
    expect(movedRes.status(), 'the drop is saved (204: no page)').toBe(204);
    expect(movedRes.request().headers()['hx-request']).toBe('true');
    await p.waitForFunction(() => document.querySelector('[data-testid="count-qualified"]')?.textContent?.trim() === '2');
    // Both counts changed, together, without a page load.
    expect(await boardCounts(p)).toEqual({ new: 2, contacted: 1, qualified: 2, lost: 1 });
    expect(await countSnapshots(p), 'the two counts never disagreed on the way').toEqual([['2', '2']]);
    expect(await sameDocument(p)).toBe(true);
    expect(pathOf(p)).toBe('/leads/board');
    expect(await columnOfCard(p, ids.novikov!)).toBe('qualified');
    expect((await idsIn(p, 'qualified')).sort()).toEqual([ids.novikov, ids.evans].sort());
    expect(await idsIn(p, 'new')).toEqual([ids.baker, ids.carter]);
    // The card's own "Move to" select follows.
    expect(await novikovCard.getByLabel('Move to').inputValue()).toBe('qualified');
    expect(dialogs, 'no alert for a move the server accepted').toEqual([]);
    expect((await q<{ status: string }>('select status from leads where id = $1', [ids.novikov]))[0]!.status).toBe('qualified');

    // ── Reload: the move was saved. ────────────────────────────────────────────────────────────────────────
    await p.reload();
    await p.waitForLoadState('load');
    expect(await sameDocument(p)).toBe(false);
    expect(await boardCounts(p)).toEqual({ new: 2, contacted: 1, qualified: 2, lost: 1 });
    // Just moved, so the most recently active of its column.
    expect(await idsIn(p, 'qualified')).toEqual([ids.novikov, ids.evans]);
    expect(await cardOf(p, ids.novikov!).getByLabel('Move to').inputValue()).toBe('qualified');

    // ── The keyboard path: Baker's "Move to" select and "Move" button, New → Lost. ────────────────────────
    const bakerCard = cardOf(p, ids.baker!);
    const moveTo = bakerCard.getByLabel('Move to');
    expect(await moveTo.locator('option').allTextContents()).toEqual(['New', 'Contacted', 'Qualified', 'Lost']);
    await moveTo.focus();
    await moveTo.selectOption('lost');
    // Tab from the select reaches the card's Move button; Enter submits.
    await p.keyboard.press('Tab');
    expect(await p.evaluate(() => document.activeElement?.textContent?.trim())).toBe('Move');
    expect(await p.evaluate(() => document.activeElement?.closest('li[data-id]')?.getAttribute('data-id'))).toBe(String(ids.baker));
    await submitAndWait(p, () => p.keyboard.press('Enter'), '/leads/board');
    expect(await heading(p)).toBe('Lead board');
    expect(await text(p.locator('main').getByRole('status'))).toBe('Lead saved.');
    expect(await boardCounts(p)).toEqual({ new: 1, contacted: 1, qualified: 2, lost: 2 });
    expect(await columnOfCard(p, ids.baker!)).toBe('lost');
    expect(await idsIn(p, 'lost')).toEqual([ids.baker, ids.fischer]);
    expect(await idsIn(p, 'new')).toEqual([ids.carter]);
    expect(await cardOf(p, ids.baker!).getByLabel('Move to').inputValue()).toBe('lost');

    // ── Back on the dashboard: the figures followed. ───────────────────────────────────────────────────────
    await submitAndWait(p, () => nav.getByRole('link', { name: 'Dashboard' }).click(), '/dashboard');
    expect(await funnelCount(p, 'new')).toBe('1');
    expect(await funnelCount(p, 'contacted')).toBe('1');
    expect(await funnelCount(p, 'qualified')).toBe('2');
    expect(await funnelCount(p, 'lost')).toBe('2');
    expect(await funnelCount(p, 'converted')).toBe('1');
    expect(await cardFigure(p, 'open-leads')).toBe('4');
    // Latest activity, newest first: both moves, by the member, as edits of the named leads.
    const lines = await recentLines(p);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(new RegExp(`· ${MEMBER.name}: ${nameOf(lead('baker'))} — status changed$`));
    expect(lines[1]).toMatch(new RegExp(`· ${MEMBER.name}: ${nameOf(lead('novikov'))} — status changed$`));
    const recent = p.getByTestId('recent');
    expect(await recent.getByRole('link', { name: nameOf(lead('novikov')) }).getAttribute('href')).toBe(`/leads/${ids.novikov}`);
    expect(await recent.getByRole('link', { name: nameOf(lead('baker')) }).getAttribute('href')).toBe(`/leads/${ids.baker}`);
    // And the "Open leads" card still matches its list.
    await submitAndWait(p, () => p.getByTestId('open-leads').click(), '/leads');
    expect(await text(p.getByTestId('total'))).toBe('4 leads');

    p.off('dialog', onDialog);
    expect(dialogs).toEqual([]);
    expectNoPageProblems();
  });

  it('a drop the server refuses puts the card back and says so: a lead converted meanwhile, then a revoked membership', async () => {
    const { ids, memberId, groupId } = await seed();
    const p = await newPage();
    await logInThroughUi(p, MEMBER);
    await submitAndWait(p, () => p.locator('main').getByRole('link', { name: /Open the lead board/ }).click(), '/leads/board');
    const before: Counts = { new: 3, contacted: 1, qualified: 1, lost: 1 };
    expect(await boardCounts(p)).toEqual(before);
    await markDocument(p);

    const dialogs: string[] = [];
    p.on('dialog', (d) => {
      dialogs.push(`${d.type()}: ${d.message()}`);
      void d.accept();
    });

    // ── Carter is converted elsewhere while the board is open; the member drags it to Qualified. ───────────
    await q("update leads set status = 'converted', converted_at = now() where id = $1", [ids.carter]);
    const refused = statusPost(p, ids.carter!);
    await dragCard(p, ids.carter!, 'qualified');
    expect((await refused).status(), 'a converted lead is read-only').toBe(409);
    await expect.poll(() => dialogs.length, { timeout: 5_000 }).toBe(1);
    expect(dialogs).toEqual([`alert: ${MOVE_FAILED}`]);
    // Back in New, at its place (the last), counts untouched, still the same page.
    expect(await columnOfCard(p, ids.carter!)).toBe('new');
    expect(await idsIn(p, 'new')).toEqual([ids.novikov, ids.baker, ids.carter]);
    expect(await idsIn(p, 'qualified')).toEqual([ids.evans]);
    expect(await boardCounts(p)).toEqual(before);
    expect(await cardOf(p, ids.carter!).getByLabel('Move to').inputValue()).toBe('new');
    expect(await sameDocument(p)).toBe(true);
    expect((await q<{ status: string }>('select status from leads where id = $1', [ids.carter]))[0]!.status).toBe('converted');

    // ── The member leaves the group while the board is open; a drag of Новиков is refused too. ─────────────
    await q('delete from memberships where user_id = $1 and group_id = $2', [memberId, groupId]);
    const hidden = statusPost(p, ids.novikov!);
    await dragCard(p, ids.novikov!, 'contacted');
    expect((await hidden).status(), 'a lead of a group the member left is not theirs to see').toBe(404);
    await expect.poll(() => dialogs.length, { timeout: 5_000 }).toBe(2);
    expect(dialogs[1]).toBe(`alert: ${MOVE_FAILED}`);
    expect(await columnOfCard(p, ids.novikov!)).toBe('new');
    expect(await idsIn(p, 'new')).toEqual([ids.novikov, ids.baker, ids.carter]);
    expect(await idsIn(p, 'contacted')).toEqual([ids.dubois]);
    expect(await boardCounts(p)).toEqual(before);
    expect(await sameDocument(p)).toBe(true);
    expect((await q<{ status: string }>('select status from leads where id = $1', [ids.novikov]))[0]!.status).toBe('new');
    // Nothing was recorded.
    expect(await q('select id from activities')).toEqual([]);

    expectNoPageProblems();
  });
});
