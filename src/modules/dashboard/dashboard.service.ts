import type { Database } from '../../db/client.js';
import { LEAD_STATUSES } from '../../db/schema/index.js';
import { queryHref } from '../../lib/pagination.js';
import { NotFoundError } from '../../web/errors.js';
import { canSee, type Actor } from '../access/policy.js';
import { OPEN_STATUSES, STALE_DAYS } from '../leads/leads.schemas.js';
import { dashboardRepository as repo, type Periods } from './dashboard.repository.js';

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
    chartStart: new Date(weekStart.getTime() - 11 * 7 * DAY),
  };
}

/**
 * The group dashboard. Every figure is a count over the same scoped query the lists use, and carries the
 * list link with the same filters, so a click shows exactly the rows that were counted.
 */
export function createDashboardService(deps: { database: Database }) {
  const { db } = deps.database;

  return {
    async get(actor: Actor, group: number | undefined, now = new Date()) {
      if (group && !canSee(actor, { groupId: group })) throw new NotFoundError();
      const p = periods(now);
      const [leadFigures, statusRows, owners, clientFigures, weekly, assigned, stale, recent] = await Promise.all([
        repo.leadFigures(db, actor, group, p),
        repo.byStatus(db, actor, group),
        repo.byOwner(db, actor, group),
        repo.clientFigures(db, actor, group, p),
        repo.weekly(db, actor, group, p),
        repo.assignedToMe(db, actor, group),
        repo.staleLeads(db, actor, group),
        repo.recentActivity(db, actor, group),
      ]);
      const g = group ? { group } : {};
      const leadsHref = (q: Record<string, unknown>) => queryHref('/leads', { ...g, ...q });
      const clientsHref = (q: Record<string, unknown>) => queryHref('/clients', { ...g, ...q });
      const lastDay = (d: Date) => iso(new Date(d.getTime() - DAY));
      const byStatus = Object.fromEntries(LEAD_STATUSES.map((s) => [s, { n: 0, value: 0 }]));
      for (const r of statusRows) byStatus[r.status] = { n: r.n, value: Number(r.value ?? 0) };
      // A percentage with one decimal, or null when nothing was created in the period.
      const rate = (num: number, den: number) => (den ? Math.round((num / den) * 1000) / 10 : null);

      const weeks = Array.from({ length: 12 }, (_, i) => {
        const start = new Date(p.chartStart.getTime() + i * 7 * DAY);
        return { start: iso(start), leads: weekly.leads.get(iso(start)) ?? 0, clients: weekly.clients.get(iso(start)) ?? 0 };
      });

      return {
        cards: {
          open: { n: leadFigures.open, href: leadsHref({ status: [...OPEN_STATUSES] }) },
          newThisWeek: { n: leadFigures.newThisWeek, prev: leadFigures.newPrevWeek, href: leadsHref({ createdFrom: iso(p.weekStart), converted: '1' }), prevHref: leadsHref({ createdFrom: iso(p.prevWeekStart), createdTo: lastDay(p.weekStart), converted: '1' }) },
          newThisMonth: { n: leadFigures.newThisMonth, prev: leadFigures.newPrevMonth, href: leadsHref({ createdFrom: iso(p.monthStart), converted: '1' }), prevHref: leadsHref({ createdFrom: iso(p.prevMonthStart), createdTo: lastDay(p.monthStart), converted: '1' }) },
          clients: { n: clientFigures.total, href: clientsHref({}), newThisMonth: clientFigures.newThisMonth, newHref: clientsHref({ createdFrom: iso(p.monthStart) }) },
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
