import type { Database, DbOrTx } from '../../db/client.js';
import { LEAD_STATUSES } from '../../db/schema/index.js';
import { queryHref } from '../../lib/pagination.js';
import { NotFoundError } from '../../web/errors.js';
import { canSee, type Actor } from '../access/policy.js';
import { OPEN_STATUSES, STALE_DAYS, staleBefore } from '../leads/leads.schemas.js';
import { CHART_WEEKS, dashboardRepository as repo, type LeadCell, type Periods } from './dashboard.repository.js';
import { groupsOf, namedScopeRevision, revisionMemo } from '../records/revisions.js';

const DAY = 86_400_000;
const iso = (d: Date) => d.toISOString().slice(0, 10);

/** Period starts in UTC days, the same days the lists' date filters use. */
export function periods(now = new Date()): Periods {
  const today = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  const weekStart = new Date(today.getTime() - ((today.getUTCDay() + 6) % 7) * DAY);
  const monthStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  return {
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

/** How long aggregates may be reused while nothing in their groups changed (time alone moves "stale", "this week"). */
export const AGGREGATES_TTL_MS = 60_000;
const CACHE_ENTRIES = 500;

/**
 * What the aggregates depend on besides the data: the groups in view and how the actor sees them. Members of
 * the same groups with the same roles share an entry; "own records" visibility makes it the actor's own.
 */
function scopeKey(actor: Actor, group: number | undefined): string {
  const g = group ?? 'all';
  if (actor.isAdmin) return `admin|${g}`;
  const ms = actor.memberships.filter((m) => !group || m.groupId === group).sort((a, b) => a.groupId - b.groupId);
  const own = ms.some((m) => m.role !== 'manager' && m.visibility === 'own');
  return `${own ? `u${actor.id}` : 'm'}|${g}|${ms.map((m) => `${m.groupId}:${m.role}:${m.visibility}`).join(',')}`;
}

/**
 * The group dashboard. Every figure is a count over the same scoped query the lists use, and carries the
 * list link with the same filters, so a click shows exactly the rows that were counted.
 */
export function createDashboardService(deps: { database: Database }) {
  const { db } = deps.database;

  async function aggregates(tx: DbOrTx, actor: Actor, group: number | undefined, p: Periods) {
    await repo.noParallelWorkers(tx);
    const cells = await repo.leadAggregates(tx, actor, group, p);
    const clientRows = await repo.clientAggregates(tx, actor, group, p);
    const total = sumBy(cells, () => 0).get(0) ?? noFigures();
    const ownerRows = [...sumBy(cells, (c) => c.ownerId)].map(([ownerId, f]) => ({ ...f, ownerId }))
      .sort((a, b) => b.n - a.n || (a.ownerId ?? 0) - (b.ownerId ?? 0)).slice(0, 50);
    const names = new Map((await repo.ownerNames(tx, ownerRows.flatMap((r) => (r.ownerId ? [r.ownerId] : [])))).map((u) => [u.id, u.name]));
    return {
      leadFigures: total,
      statusRows: [...sumBy(cells, (c) => c.status)].map(([status, f]) => ({ status, n: f.n, value: f.cents / 100 })),
      owners: ownerRows.map((r) => ({ ownerId: r.ownerId, ownerName: r.ownerId ? names.get(r.ownerId) ?? null : null, open: r.open, converted: r.converted, lost: r.lost })),
      // By position in p.weekStarts: kept with the minute in the revision (cachedAggregates), so a kept value
      // never outlives the week its chart started on.
      weekly: { leads: total.weeks, clients: clientRows.weeks },
      clientFigures: clientRows,
      // Stale leads depend on the same rows and on time only: cached with the figures (the oldest first).
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
    // Computed on one connection in one read-only snapshot, so the lead and client figures agree (the eleven
    // parallel queries this replaced held the whole pool under load and failed with connect timeouts).
    const compute = () => db.transaction((tx) => aggregates(tx, actor, group, p), { isolationLevel: 'repeatable read', accessMode: 'read only' });
    // The stale figure and list move with the minute (staleBefore): a new minute is a new revision, so the figure
    // and the list it links to always take the same boundary.
    return memo(scopeKey(actor, group), `${revision}|${p.staleBefore.getTime()}`, compute, now);
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
        stale: { items: stale, days: STALE_DAYS },
        recent,
      };
    },
  };
}
export type DashboardService = ReturnType<typeof createDashboardService>;
