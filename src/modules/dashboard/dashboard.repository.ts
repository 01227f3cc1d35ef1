import { and, desc, eq, gte, inArray, isNull, or, sql, type SQL } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client.js';
import { activities, clients, leads, users } from '../../db/schema/index.js';
import type { Actor } from '../access/policy.js';
import { clientWhere } from '../clients/clients.repository.js';
import { leadFilters, leadScope } from '../leads/leads.repository.js';
import { OPEN_STATUSES, STALE_DAYS } from '../leads/leads.schemas.js';
import { clientScope } from '../clients/clients.repository.js';

/** The list filters with nothing set but the group: the dashboard counts exactly what the lists show. */
const noFilters = { status: [], q: undefined, owner: undefined, source: undefined, createdFrom: undefined, createdTo: undefined, valueMin: undefined, valueMax: undefined, stale: undefined };

export interface Periods {
  weekStart: Date;
  prevWeekStart: Date;
  monthStart: Date;
  prevMonthStart: Date;
  d30: Date;
  d90: Date;
  chartStart: Date;
}

const count = sql<number>`count(*)::int`;

export const dashboardRepository = {
  /** Counts and sums over the group's leads in one pass (served by the group/status and group/created indexes). */
  async leadFigures(db: DbOrTx, actor: Actor, group: number | undefined, p: Periods) {
    // converted: '1' so converted leads count as created leads, as on the list with "show converted".
    const where = leadFilters(actor, { ...noFilters, group, converted: '1' });
    const open = sql`${leads.status} in ('new', 'contacted', 'qualified')`;
    const [row] = await db
      .select({
        open: sql<number>`count(*) filter (where ${open})::int`,
        newThisWeek: sql<number>`count(*) filter (where ${leads.createdAt} >= ${p.weekStart})::int`,
        newPrevWeek: sql<number>`count(*) filter (where ${leads.createdAt} >= ${p.prevWeekStart} and ${leads.createdAt} < ${p.weekStart})::int`,
        newThisMonth: sql<number>`count(*) filter (where ${leads.createdAt} >= ${p.monthStart})::int`,
        newPrevMonth: sql<number>`count(*) filter (where ${leads.createdAt} >= ${p.prevMonthStart} and ${leads.createdAt} < ${p.monthStart})::int`,
        created30: sql<number>`count(*) filter (where ${leads.createdAt} >= ${p.d30})::int`,
        converted30: sql<number>`count(*) filter (where ${leads.createdAt} >= ${p.d30} and ${leads.status} = 'converted')::int`,
        created90: sql<number>`count(*) filter (where ${leads.createdAt} >= ${p.d90})::int`,
        converted90: sql<number>`count(*) filter (where ${leads.createdAt} >= ${p.d90} and ${leads.status} = 'converted')::int`,
        stale: sql<number>`count(*) filter (where ${open} and ${leads.lastActivityAt} < now() - make_interval(days => ${STALE_DAYS}))::int`,
      })
      .from(leads)
      .where(where);
    return row!;
  },

  /** The funnel and the pipeline: count and value per status. */
  byStatus(db: DbOrTx, actor: Actor, group: number | undefined) {
    return db
      .select({ status: leads.status, n: count, value: sql<string | null>`sum(${leads.value})` })
      .from(leads)
      .where(leadFilters(actor, { ...noFilters, group, converted: '1' }))
      .groupBy(leads.status);
  },

  /** Per owner: open, converted and lost (unassigned as a row of its own). */
  byOwner(db: DbOrTx, actor: Actor, group: number | undefined) {
    return db
      .select({
        ownerId: leads.ownerId,
        ownerName: users.name,
        open: sql<number>`count(*) filter (where ${leads.status} in ('new', 'contacted', 'qualified'))::int`,
        converted: sql<number>`count(*) filter (where ${leads.status} = 'converted')::int`,
        lost: sql<number>`count(*) filter (where ${leads.status} = 'lost')::int`,
      })
      .from(leads)
      .leftJoin(users, eq(users.id, leads.ownerId))
      .where(leadFilters(actor, { ...noFilters, group, converted: '1' }))
      .groupBy(leads.ownerId, users.name)
      .orderBy(desc(sql`count(*)`))
      .limit(50);
  },

  async clientFigures(db: DbOrTx, actor: Actor, group: number | undefined, p: Periods) {
    const [row] = await db
      .select({ total: count, newThisMonth: sql<number>`count(*) filter (where ${clients.createdAt} >= ${p.monthStart})::int` })
      .from(clients)
      .where(clientWhere(actor, { group, sort: 'created', dir: 'desc' }));
    return row!;
  },

  /** New leads and new clients per week (weeks start on Monday, UTC), the last 12 weeks. */
  async weekly(db: DbOrTx, actor: Actor, group: number | undefined, p: Periods) {
    const leadRows = await db
      .select({ week: sql<string>`to_char(date_trunc('week', ${leads.createdAt} at time zone 'UTC'), 'YYYY-MM-DD')`, n: count })
      .from(leads)
      .where(and(leadFilters(actor, { ...noFilters, group, converted: '1' }), gte(leads.createdAt, p.chartStart)))
      .groupBy(sql`1`);
    const clientRows = await db
      .select({ week: sql<string>`to_char(date_trunc('week', ${clients.createdAt} at time zone 'UTC'), 'YYYY-MM-DD')`, n: count })
      .from(clients)
      .where(and(clientWhere(actor, { group, sort: 'created', dir: 'desc' }), gte(clients.createdAt, p.chartStart)))
      .groupBy(sql`1`);
    return { leads: new Map(leadRows.map((r) => [r.week, r.n])), clients: new Map(clientRows.map((r) => [r.week, r.n])) };
  },

  assignedToMe(db: DbOrTx, actor: Actor, group: number | undefined) {
    return db
      .select({ id: leads.id, firstName: leads.firstName, lastName: leads.lastName, company: leads.company, status: leads.status, lastActivityAt: leads.lastActivityAt })
      .from(leads)
      .where(and(leadFilters(actor, { ...noFilters, group, status: [...OPEN_STATUSES], owner: 'me' })))
      .orderBy(desc(leads.lastActivityAt))
      .limit(10);
  },

  staleLeads(db: DbOrTx, actor: Actor, group: number | undefined) {
    return db
      .select({ id: leads.id, firstName: leads.firstName, lastName: leads.lastName, company: leads.company, lastActivityAt: leads.lastActivityAt })
      .from(leads)
      .where(leadFilters(actor, { ...noFilters, group, stale: '1' }))
      .orderBy(leads.lastActivityAt)
      .limit(10);
  },

  /** The last events on records the actor can see (a member of an "own records" group sees their records' events). */
  recentActivity(db: DbOrTx, actor: Actor, group: number | undefined) {
    const visible: SQL = or(
      and(sql`${activities.leadId} is not null`, sql`exists (select 1 from ${leads} where ${leads.id} = ${activities.leadId} and ${leadScope(actor)})`),
      and(isNull(activities.leadId), sql`${activities.clientId} is not null`, sql`exists (select 1 from ${clients} where ${clients.id} = ${activities.clientId} and ${clientScope(actor)})`),
    )!;
    return db
      .select({
        id: activities.id, action: activities.action, data: activities.data, createdAt: activities.createdAt, leadId: activities.leadId, clientId: activities.clientId, actorName: users.name,
        // The record's name, so the line says what happened to whom (20 rows: subqueries are cheap).
        recordName: sql<string | null>`coalesce((select name from ${clients} where ${clients.id} = ${activities.clientId}), (select trim(last_name || ' ' || first_name) from ${leads} where ${leads.id} = ${activities.leadId}))`,
      })
      .from(activities)
      .leftJoin(users, eq(users.id, activities.actorId))
      .where(and(visible, group ? eq(activities.groupId, group) : actor.isAdmin ? undefined : inArray(activities.groupId, actor.memberships.map((m) => m.groupId).concat(0))))
      .orderBy(desc(activities.createdAt), desc(activities.id))
      .limit(20);
  },
};

