import { and, desc, eq, inArray, isNotNull, isNull, or, sql, type SQL } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import type { DbOrTx } from '../../db/client.js';
import { activities, clients, directoryRevision, groupRevisions, groups, leads, users } from '../../db/schema/index.js';
import { groupScope, type Actor } from '../access/policy.js';
import { clientScope } from '../clients/clients.repository.js';
import { leadFilters, leadScope } from '../leads/leads.repository.js';
import { OPEN_STATUSES } from '../leads/leads.schemas.js';

/** The list filters with nothing set but the group: the dashboard counts exactly what the lists show. */
const noFilters = { status: [], q: undefined, owner: undefined, source: undefined, createdFrom: undefined, createdTo: undefined, valueMin: undefined, valueMax: undefined, stale: undefined };

export interface Periods {
  /** The day (UTC) every other period is counted from: a group's figures are kept for that day (dashboard.service). */
  today: Date;
  weekStart: Date;
  prevWeekStart: Date;
  monthStart: Date;
  prevMonthStart: Date;
  d30: Date;
  d90: Date;
  /** The chart's weeks: CHART_WEEKS + 1 boundaries, each week from one to the next, oldest first. */
  weekStarts: Date[];
  /** Leads with no activity since then are stale. */
  staleBefore: Date;
}

/** The lead figures of one group, status and owner (null: unassigned) in the scope: the dashboard sums them up. */
export interface LeadCell {
  groupId: number;
  status: string;
  ownerId: number | null;
  n: number;
  value: string | null;
  open: number;
  converted: number;
  lost: number;
  newThisWeek: number;
  newPrevWeek: number;
  newThisMonth: number;
  newPrevMonth: number;
  created30: number;
  converted30: number;
  created90: number;
  converted90: number;
  stale: number;
  /** The rows created in each of the chart's weeks (Periods.weekStarts), oldest first. */
  weeks: number[];
}

/** The client figures of one group in the scope. */
export type ClientCell = {
  groupId: number;
  n: number;
  newThisMonth: number;
  weeks: number[];
};

/** The chart's weeks. */
export const CHART_WEEKS = 12;

/**
 * The rows created in each of the chart's weeks, as one array column: a count per week, not a grouping set per
 * week. Grouped by a week key (to_char of date_trunc for each row), the admin's million leads were sorted on it
 * on disk, in an order read from a status index (2.4–2.9 s for every recomputed dashboard); twelve counts ride
 * along the one hashed pass (0.9 s, F41).
 */
const weekCounts = (col: SQL, starts: Date[]) =>
  sql`array[${sql.join(starts.slice(0, -1).map((start, i) =>
    sql`count(*) filter (where ${col} >= ${start} and ${col} < ${starts[i + 1]})::int`), sql`, `)}] as weeks`;

export const dashboardRepository = {
  /**
   * For the rest of the transaction, plans without parallel workers: two more processes to start cost a member's
   * 85,000 leads more than they save (cells 52 → 168 ms), and under load they take the cores other requests wait
   * for (F42).
   */
  async noParallelWorkers(tx: DbOrTx) {
    await tx.execute(sql`set local max_parallel_workers_per_gather = 0`);
  },

  /**
   * Every lead figure of the page in one pass over the scope (in `groupIds` alone if given), per group, status and
   * owner: the dashboard adds the cells up into the totals and the chart's weeks (weekCounts), the funnel and
   * pipeline (per status) and the owner table (per owner), and keeps each group's cells until that group changes
   * (F43). A few thousand cells at most. As grouping sets ((), status, owner) every row fed each of the ~25
   * aggregates three times (same minute, without parallel workers: an admin's million leads 0.94–0.96 s →
   * 0.83–0.87 s, a member's 85,000 leads 90–97 → 51–54 ms; F42). Eleven separate aggregates read the same rows
   * four times. The status is grouped as text: as the enum column, the planner read an admin's million leads in
   * status order from leads_live_status_idx (a table visit per row, 1.3 s) to feed a sorted group, where a
   * sequential scan hashes them (F41).
   */
  async leadCells(db: DbOrTx, actor: Actor, groupIds: number[] | undefined, p: Periods): Promise<LeadCell[]> {
    // The list's WHERE with no filter and converted leads shown (they count as created leads, as on the list with
    // "show converted") is its scope alone.
    const where = leadScope(actor, groupIds);
    const open = sql.raw(`status in (${OPEN_STATUSES.map((s) => `'${s}'`).join(', ')})`);
    const { rows } = await db.execute<Record<string, unknown>>(sql`
      select group_id as "groupId", status, owner_id as "ownerId", count(*)::int as n, sum(value)::text as value,
        count(*) filter (where ${open})::int as open,
        count(*) filter (where status = 'converted')::int as converted,
        count(*) filter (where status = 'lost')::int as lost,
        count(*) filter (where created_at >= ${p.weekStart})::int as "newThisWeek",
        count(*) filter (where created_at >= ${p.prevWeekStart} and created_at < ${p.weekStart})::int as "newPrevWeek",
        count(*) filter (where created_at >= ${p.monthStart})::int as "newThisMonth",
        count(*) filter (where created_at >= ${p.prevMonthStart} and created_at < ${p.monthStart})::int as "newPrevMonth",
        count(*) filter (where created_at >= ${p.d30})::int as "created30",
        count(*) filter (where created_at >= ${p.d30} and status = 'converted')::int as "converted30",
        count(*) filter (where created_at >= ${p.d90})::int as "created90",
        count(*) filter (where created_at >= ${p.d90} and status = 'converted')::int as "converted90",
        -- The list's test for stale (leadFilters; created_at is implied, and there lets the list walk its index).
        count(*) filter (where ${open} and last_activity_at < ${p.staleBefore} and created_at < ${p.staleBefore})::int as stale,
        ${weekCounts(sql`created_at`, p.weekStarts)}
      from (
        select ${leads.groupId} as group_id, ${leads.status}::text as status, ${leads.ownerId} as owner_id, ${leads.value} as value,
          ${leads.createdAt} as created_at, ${leads.lastActivityAt} as last_activity_at
        from ${leads} where ${where}
      ) l
      group by group_id, status, owner_id`);
    return rows as unknown as LeadCell[];
  },

  /** Names of the owners in the owner table. */
  ownerNames(db: DbOrTx, ids: number[]) {
    return ids.length ? db.select({ id: users.id, name: users.name }).from(users).where(inArray(users.id, ids)) : Promise.resolve([]);
  },

  /** Clients in total, new this month, and new per week of the chart, per group, in one pass (as leadCells). */
  async clientCells(db: DbOrTx, actor: Actor, groupIds: number[] | undefined, p: Periods) {
    // As the client list without a filter: its scope.
    const where = clientScope(actor, groupIds);
    const { rows } = await db.execute<ClientCell>(sql`
      select group_id as "groupId", count(*)::int as n, count(*) filter (where created_at >= ${p.monthStart})::int as "newThisMonth",
        ${weekCounts(sql`created_at`, p.weekStarts)}
      from (select ${clients.groupId} as group_id, ${clients.createdAt} as created_at from ${clients} where ${where}) c
      group by group_id`);
    return rows;
  },

  /** Every group's id: the groups an admin's dashboard over all groups adds up. */
  async groupIds(db: DbOrTx) {
    return (await db.select({ id: groups.id }).from(groups)).map((g) => g.id);
  },

  /**
   * The revisions of the groups in view (migration 0009 raises a group's on any change to its leads or
   * clients), as one string: while it stays the same, the aggregates cannot have changed. Every group's own
   * revision, not the largest: numbers are taken when a statement runs, so two groups' changes may commit out of
   * order, and a late commit in one group would not move the largest number. For an actor that came without
   * them (the signed-in user's query brings both, see namedScopeRevision).
   */
  async revision(db: DbOrTx, groupIds: number[] | undefined): Promise<string> {
    const [row] = await db
      .select({
        r: sql<string | null>`string_agg(${groupRevisions.groupId} || ':' || ${groupRevisions.revision}, ',' order by ${groupRevisions.groupId})`,
        directory: sql<string | null>`(select ${directoryRevision.revision}::text from ${directoryRevision})`,
      })
      .from(groupRevisions)
      .where(groupIds ? inArray(groupRevisions.groupId, groupIds.length ? groupIds : [0]) : undefined);
    // As namedScopeRevision spells it: the groups', then the directory's (owner names are on the dashboard).
    return `${row?.r ?? ''}|${row?.directory ?? ''}`;
  },

  assignedToMe(db: DbOrTx, actor: Actor, group: number | undefined) {
    return db
      .select({ id: leads.id, firstName: leads.firstName, lastName: leads.lastName, company: leads.company, status: leads.status, lastActivityAt: leads.lastActivityAt })
      .from(leads)
      .where(and(leadFilters(actor, { ...noFilters, group, status: [...OPEN_STATUSES], owner: 'me' })))
      .orderBy(desc(leads.lastActivityAt))
      .limit(10);
  },

  /**
   * The oldest ten stale leads, by the figures' boundary (`staleBefore`, the one the list they link to takes): the
   * oldest ten of each open status, each walked from the start of leads_live_status_activity_idx, merged; ties in
   * the order of that index (by id). As one query over the three statuses, the planner read all of an admin's
   * stale leads and sorted them (150 ms with two workers; a member who sees whole groups 11 ms), where each walk
   * stops at its tenth (0.6 ms and 1 ms; with "own records" visibility 2 → 4 ms; F43).
   */
  staleLeads(db: DbOrTx, actor: Actor, group: number | undefined, staleBefore: Date) {
    const oldest = (status: (typeof OPEN_STATUSES)[number]) =>
      sql`(${db.select({ id: leads.id, lastActivityAt: leads.lastActivityAt }).from(leads)
        .where(leadFilters(actor, { ...noFilters, group, status: [status], stale: '1' }, staleBefore)).orderBy(leads.lastActivityAt, leads.id).limit(10)})`;
    const ids = sql`(select id from (${sql.join(OPEN_STATUSES.map(oldest), sql` union all `)}) o order by last_activity_at, id limit 10)`;
    return db
      .select({ id: leads.id, firstName: leads.firstName, lastName: leads.lastName, company: leads.company, lastActivityAt: leads.lastActivityAt })
      .from(leads)
      .where(inArray(leads.id, ids))
      .orderBy(leads.lastActivityAt, leads.id)
      .limit(10);
  },

  /**
   * The last events on records the actor can see (a member of an "own records" group sees their records'
   * events). Joins, not EXISTS: with EXISTS PostgreSQL first hashed every visible lead (2.4–4.1 s at 1M leads);
   * joined, it walks activities_created_idx newest first and checks each event's record by its key.
   */
  recentActivity(db: DbOrTx, actor: Actor, group: number | undefined) {
    const l = alias(leads, 'l');
    const c = alias(clients, 'c');
    const visible = (t: typeof l | typeof c) => and(groupScope(actor, { groupId: t.groupId, ownerId: t.ownerId, createdById: t.createdById }), isNull(t.deletedAt));
    return db
      .select({
        id: activities.id, action: activities.action, data: activities.data, createdAt: activities.createdAt, leadId: activities.leadId, clientId: activities.clientId, actorName: users.name,
        // The record's name, so the line says what happened to whom.
        recordName: sql<string | null>`coalesce(${c.name}, trim(${l.lastName} || ' ' || ${l.firstName}))`,
      })
      .from(activities)
      .leftJoin(users, eq(users.id, activities.actorId))
      .leftJoin(l, and(eq(l.id, activities.leadId), visible(l)))
      .leftJoin(c, eq(c.id, activities.clientId))
      .where(and(
        group ? eq(activities.groupId, group) : actor.isAdmin ? undefined : inArray(activities.groupId, actor.memberships.map((m) => m.groupId).concat(0)),
        // A lead's event shows if the lead does; an event of a client alone if the client does.
        or(and(isNotNull(activities.leadId), isNotNull(l.id)), and(isNull(activities.leadId), isNotNull(activities.clientId), visible(c))),
      ))
      .orderBy(desc(activities.createdAt), desc(activities.id))
      .limit(20);
  },
};
