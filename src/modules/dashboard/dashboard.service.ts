import type { Database, DbOrTx } from '../../db/client.js';
import { LEAD_STATUSES } from '../../db/schema/index.js';
import { queryHref } from '../../lib/pagination.js';
import { NotFoundError } from '../../web/errors.js';
import { canSee, seesWholeGroup, type Actor } from '../access/policy.js';
import { OPEN_STATUSES, STALE_DAYS, staleBefore } from '../leads/leads.schemas.js';
import { CHART_WEEKS, dashboardRepository as repo, type ClientCell, type LeadCell, type Periods } from './dashboard.repository.js';
import { groupsOf, namedScopeRevision, revisionMemo, revisionsByGroup } from '../records/revisions.js';

const DAY = 86_400_000;
const iso = (d: Date) => d.toISOString().slice(0, 10);

/** Period starts in UTC days, the same days the lists' date filters use. */
export function periods(now = new Date()): Periods {
  const today = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  const weekStart = new Date(today.getTime() - ((today.getUTCDay() + 6) % 7) * DAY);
  const monthStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  return {
    today,
    weekStart,
    prevWeekStart: new Date(weekStart.getTime() - 7 * DAY),
    monthStart,
    prevMonthStart: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1)),
    d30: new Date(today.getTime() - 29 * DAY),
    d90: new Date(today.getTime() - 89 * DAY),
    weekStarts: Array.from({ length: CHART_WEEKS + 1 }, (_, i) => new Date(weekStart.getTime() - (CHART_WEEKS - 1 - i) * 7 * DAY)),
    staleBefore: staleBefore(now.getTime()),
  };
}

/** The lead figures the dashboard adds up from the cells (per status and owner) the database counted. */
const FIGURES = ['n', 'open', 'converted', 'lost', 'newThisWeek', 'newPrevWeek', 'newThisMonth', 'newPrevMonth', 'created30', 'converted30', 'created90', 'converted90', 'stale'] as const;
/** `cents`: the value (two decimals) summed in whole cents, so the sum is as exact as the database's. */
type Figures = Record<(typeof FIGURES)[number], number> & { cents: number; weeks: number[] };
const noFigures = (): Figures => ({ ...(Object.fromEntries(FIGURES.map((f) => [f, 0])) as Record<(typeof FIGURES)[number], number>), cents: 0, weeks: Array<number>(CHART_WEEKS).fill(0) });

/** The cells added up per `key` (the total: one key for all). */
function sumBy<K>(cells: LeadCell[], key: (c: LeadCell) => K): Map<K, Figures> {
  const sums = new Map<K, Figures>();
  for (const c of cells) {
    const k = key(c);
    let f = sums.get(k);
    if (!f) sums.set(k, (f = noFigures()));
    for (const name of FIGURES) f[name] += c[name];
    f.cents += Math.round(Number(c.value ?? 0) * 100);
    c.weeks.forEach((n, i) => (f.weeks[i]! += n));
  }
  return sums;
}

/**
 * How long the page's figures may be reused while nothing in their groups changed and the day is the same. Then
 * they are added up again from the groups' kept figures (GROUP_FIGURES_TTL_MS), and the stale panel and the owners'
 * names read again.
 */
const AGGREGATES_TTL_MS = 60_000;
/**
 * How long a group's figures may be reused while nothing in the group changed and the day is the same: the bound
 * on showing a change the revisions cannot see (made with the triggers off, as bench:data loads; meanwhile the
 * stale panel, read each minute, may already show it). Longer than the page's: recounting every group is what
 * this saves (an admin's million leads, 0.7–0.85 s; F43).
 */
const GROUP_FIGURES_TTL_MS = 10 * 60_000;
const CACHE_ENTRIES = 500;
/**
 * Groups' figures kept per process: one per group for everyone who sees the whole group (about 60 cells, 25 KiB),
 * one per group and person with "own records" visibility (a few cells); the least recently used go first.
 */
const GROUP_ENTRIES = 2_000;

/**
 * What the aggregates depend on besides the data: the groups in view and how the actor sees them. Members of
 * the same groups with the same roles share an entry; "own records" visibility makes it the actor's own.
 */
function scopeKey(actor: Actor, group: number | undefined): string {
  const g = group ?? 'all';
  if (actor.isAdmin) return `admin|${g}`;
  const ms = actor.memberships.filter((m) => !group || m.groupId === group).sort((a, b) => a.groupId - b.groupId);
  const own = ms.some((m) => !seesWholeGroup(m));
  return `${own ? `u${actor.id}` : 'm'}|${g}|${ms.map((m) => `${m.groupId}:${m.role}:${m.visibility}`).join(',')}`;
}

/**
 * A group's figures as the actor sees them: the whole group's (admins, managers and members of an "all" group
 * share them) or, with "own records" visibility, the actor's own records there. The day they are counted for is
 * in the entry's revision, not its key: a new day replaces yesterday's entries instead of adding to them.
 */
function groupKey(actor: Actor, groupId: number): string {
  const m = actor.isAdmin ? undefined : actor.memberships.find((x) => x.groupId === groupId);
  return `${groupId}|${!m || seesWholeGroup(m) ? 'all' : `u${actor.id}`}`;
}

interface GroupFigures {
  leads: LeadCell[];
  clients: ClientCell[];
}

/**
 * The group dashboard. Every figure is a count over the same scoped query the lists use, and carries the
 * list link with the same filters, so a click shows exactly the rows that were counted.
 */
export function createDashboardService(deps: { database: Database }) {
  const { db } = deps.database;

  // Each group's cells, reused while the group's revision and the day are the same (F43).
  const groupMemo = revisionMemo<GroupFigures>({ ttlMs: GROUP_FIGURES_TTL_MS, maxEntries: GROUP_ENTRIES });

  /**
   * The cells of the groups in view: those kept for their group's current revision, the rest counted in one pass
   * and kept. A change in one group recounts that group alone, where the whole scope was recounted (an admin's
   * million leads for a change anywhere). Kept cells may come from earlier snapshots: each is as of its group's
   * revision, read before the count, so it is never older than that revision says. Cells another view is still
   * counting are shared; if that count fails, the views that shared it count those groups again, each after its
   * own count has finished, so that nothing runs on a transaction after it ended.
   */
  async function groupFigures(tx: DbOrTx, actor: Actor, group: number | undefined, p: Periods, revisions: Map<number, string>, now: number) {
    const inView = group ? [group] : actor.isAdmin ? await repo.groupIds(tx) : actor.memberships.map((m) => m.groupId);
    // A group with no revision yet (nothing written since migration 0009) has one once anything is written there.
    const revisionOf = (g: number) => `${revisions.get(g) ?? 'none'}|${p.today.getTime()}`;
    /** The cells of `groupIds`, kept or counted here in one pass (over `ids`; all of an admin's groups: undefined). */
    const count = async (groupIds: number[], ids: number[] | undefined) => {
      // Started by the first entry that is not kept (another view may have counted them meanwhile), and then
      // kept for all of them before it is ready, so that views missing the same groups share it.
      let counted: Promise<(g: number) => GroupFigures> | undefined;
      const ours = () => (counted ??= (async () => {
        const byGroup = new Map<number, GroupFigures>(groupIds.map((g) => [g, { leads: [], clients: [] }]));
        for (const c of await repo.leadCells(tx, actor, ids, p)) byGroup.get(c.groupId)?.leads.push(c);
        for (const c of await repo.clientCells(tx, actor, ids, p)) byGroup.get(c.groupId)?.clients.push(c);
        return (g: number) => byGroup.get(g)!;
      })());
      const entries = groupIds.map((g) => groupMemo(groupKey(actor, g), revisionOf(g), () => ours().then((of) => of(g)), now));
      if (counted) await counted;
      return Promise.all(entries);
    };
    const shared = new Map<number, Promise<GroupFigures | undefined>>();
    const missing: number[] = [];
    for (const g of inView) {
      const hit = groupMemo.peek(groupKey(actor, g), revisionOf(g), now);
      if (hit) shared.set(g, hit.catch(() => undefined));
      else missing.push(g);
    }
    // All of an admin's groups: the whole table, without a list of every group to test.
    const figures = missing.length ? await count(missing, actor.isAdmin && !group && !shared.size ? undefined : missing) : [];
    const failed: number[] = [];
    for (const [g, hit] of shared) {
      const f = await hit;
      if (f) figures.push(f);
      else failed.push(g);
    }
    if (failed.length) figures.push(...(await count(failed, failed)));
    return { leads: figures.flatMap((f) => f.leads), clients: figures.flatMap((f) => f.clients) };
  }

  async function aggregates(tx: DbOrTx, actor: Actor, group: number | undefined, p: Periods, revisions: Map<number, string>, now: number) {
    await repo.noParallelWorkers(tx);
    const { leads: cells, clients: clientCells } = await groupFigures(tx, actor, group, p, revisions, now);
    const total = sumBy(cells, () => 0).get(0) ?? noFigures();
    const clientFigures = { n: 0, newThisMonth: 0, weeks: Array<number>(CHART_WEEKS).fill(0) };
    for (const c of clientCells) {
      clientFigures.n += c.n;
      clientFigures.newThisMonth += c.newThisMonth;
      c.weeks.forEach((n, i) => (clientFigures.weeks[i]! += n));
    }
    const ownerRows = [...sumBy(cells, (c) => c.ownerId)].map(([ownerId, f]) => ({ ...f, ownerId }))
      .sort((a, b) => b.n - a.n || (a.ownerId ?? 0) - (b.ownerId ?? 0)).slice(0, 50);
    const names = new Map((await repo.ownerNames(tx, ownerRows.flatMap((r) => (r.ownerId ? [r.ownerId] : [])))).map((u) => [u.id, u.name]));
    return {
      leadFigures: total,
      statusRows: [...sumBy(cells, (c) => c.status)].map(([status, f]) => ({ status, n: f.n, value: f.cents / 100 })),
      owners: ownerRows.map((r) => ({ ownerId: r.ownerId, ownerName: r.ownerId ? names.get(r.ownerId) ?? null : null, open: r.open, converted: r.converted, lost: r.lost })),
      // By position in p.weekStarts: kept for the day (the revisions hold it, cachedAggregates), so a kept value
      // never outlives the week its chart started on.
      weekly: { leads: total.weeks, clients: clientFigures.weeks },
      clientFigures,
      // Stale leads depend on the same rows and on the day only: cached with the figures (the oldest first).
      stale: await repo.staleLeads(tx, actor, group, p.staleBefore),
    };
  }

  // Aggregates by scope, reused while the groups' revision is unchanged and the entry is younger than the TTL.
  const memo = revisionMemo<Awaited<ReturnType<typeof aggregates>>>({ ttlMs: AGGREGATES_TTL_MS, maxEntries: CACHE_ENTRIES });

  /**
   * The revision is read before the figures are computed (with the signed-in user, or here for an actor that
   * came without it), in an earlier snapshot: figures stored under it are never older than it says. A change
   * committed in between only makes the next view recompute. Views that miss together share one computation.
   */
  async function cachedAggregates(actor: Actor, group: number | undefined, p: Periods, now: number) {
    const groupIds = group ? [group] : actor.isAdmin ? undefined : actor.memberships.map((m) => m.groupId);
    // The owner table names people: a rename (the directory's revision) changes the figures' text too.
    const revision = namedScopeRevision(actor, groupsOf(group)) ?? (await repo.revision(db, groupIds));
    const revisions = revisionsByGroup(revision.split('|')[0]!);
    // Computed on one connection in one read-only snapshot, so the lead and client figures counted together agree
    // (the eleven parallel queries this replaced held the whole pool under load and failed with connect timeouts).
    const compute = () => db.transaction((tx) => aggregates(tx, actor, group, p, revisions, now), { isolationLevel: 'repeatable read', accessMode: 'read only' });
    // Every period, "stale" too (staleBefore), is counted from the day: a new day is a new revision.
    return memo(scopeKey(actor, group), `${revision}|${p.today.getTime()}`, compute, now);
  }

  return {
    async get(actor: Actor, group: number | undefined, now = new Date()) {
      if (group && !canSee(actor, { groupId: group })) throw new NotFoundError();
      const p = periods(now);
      const [{ leadFigures, statusRows, owners, clientFigures, weekly, stale }, assigned, recent] = await Promise.all([
        cachedAggregates(actor, group, p, now.getTime()),
        repo.assignedToMe(db, actor, group),
        repo.recentActivity(db, actor, group),
      ]);
      const g = group ? { group } : {};
      const leadsHref = (q: Record<string, unknown>) => queryHref('/leads', { ...g, ...q });
      const clientsHref = (q: Record<string, unknown>) => queryHref('/clients', { ...g, ...q });
      const lastDay = (d: Date) => iso(new Date(d.getTime() - DAY));
      const byStatus = Object.fromEntries(LEAD_STATUSES.map((s) => [s, { n: 0, value: 0 }]));
      for (const r of statusRows) byStatus[r.status] = { n: r.n, value: r.value };
      // A percentage with one decimal, or null when nothing was created in the period.
      const rate = (num: number, den: number) => (den ? Math.round((num / den) * 1000) / 10 : null);

      const weeks = p.weekStarts.slice(0, -1).map((start, i) => ({ start: iso(start), leads: weekly.leads[i] ?? 0, clients: weekly.clients[i] ?? 0 }));

      return {
        cards: {
          open: { n: leadFigures.open, href: leadsHref({ status: [...OPEN_STATUSES] }) },
          newThisWeek: { n: leadFigures.newThisWeek, prev: leadFigures.newPrevWeek, href: leadsHref({ createdFrom: iso(p.weekStart), converted: '1' }), prevHref: leadsHref({ createdFrom: iso(p.prevWeekStart), createdTo: lastDay(p.weekStart), converted: '1' }) },
          newThisMonth: { n: leadFigures.newThisMonth, prev: leadFigures.newPrevMonth, href: leadsHref({ createdFrom: iso(p.monthStart), converted: '1' }), prevHref: leadsHref({ createdFrom: iso(p.prevMonthStart), createdTo: lastDay(p.monthStart), converted: '1' }) },
          clients: { n: clientFigures.n, href: clientsHref({}), newThisMonth: clientFigures.newThisMonth, newHref: clientsHref({ createdFrom: iso(p.monthStart) }) },
          conversion30: { rate: rate(leadFigures.converted30, leadFigures.created30), converted: leadFigures.converted30, created: leadFigures.created30, href: leadsHref({ status: ['converted'], createdFrom: iso(p.d30) }) },
          conversion90: { rate: rate(leadFigures.converted90, leadFigures.created90), converted: leadFigures.converted90, created: leadFigures.created90, href: leadsHref({ status: ['converted'], createdFrom: iso(p.d90) }) },
          stale: { n: leadFigures.stale, href: leadsHref({ stale: '1' }) },
        },
        funnel: LEAD_STATUSES.map((s) => ({ status: s, n: byStatus[s]!.n, value: byStatus[s]!.value, href: leadsHref({ status: [s] }) })),
        pipeline: OPEN_STATUSES.map((s) => ({ status: s, value: byStatus[s]!.value, href: leadsHref({ status: [s] }) })),
        weeks,
        owners: owners.map((o) => ({
          ...o,
          openHref: leadsHref({ owner: o.ownerId ?? 'none', status: [...OPEN_STATUSES] }),
          convertedHref: leadsHref({ owner: o.ownerId ?? 'none', status: ['converted'] }),
          lostHref: leadsHref({ owner: o.ownerId ?? 'none', status: ['lost'] }),
        })),
        assigned: { items: assigned, href: leadsHref({ owner: 'me', status: [...OPEN_STATUSES] }) },
        // "No activity since" that day: the boundary the figure and the list take (a UTC day, as the lists' dates).
        stale: { items: stale, days: STALE_DAYS, since: p.staleBefore },
        recent,
      };
    },
  };
}
export type DashboardService = ReturnType<typeof createDashboardService>;
