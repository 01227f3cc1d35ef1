import { desc, eq } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import type { DbOrTx } from '../../db/client.js';
import { leads, users } from '../../db/schema/index.js';
import type { Actor } from '../access/policy.js';
import { cappedCount, memoizedPage } from '../records/list.js';
import { groupsOf, namedScopeRevision, scopeRevision } from '../records/revisions.js';
import { leadFilters } from './leads.repository.js';

/** The board's columns: the statuses a card can be dragged between (converted comes only from conversion). */
export const BOARD_STATUSES = ['new', 'contacted', 'qualified', 'lost'] as const;
export type BoardStatus = (typeof BOARD_STATUSES)[number];
/** Cards per column and per "load more": never every record at once. */
export const BOARD_PAGE = 20;

const owner = alias(users, 'owner');
const filtersFor = (status: BoardStatus, group?: number) =>
  ({ status: [status], group, q: undefined, owner: undefined, source: undefined, createdFrom: undefined, createdTo: undefined, valueMin: undefined, valueMax: undefined, stale: undefined, converted: undefined });

export const boardRepository = {
  /**
   * One page of a column, most recently active first; the same scope and filters as the list. Kept like a list
   * page (memoizedPage: the cards show owner names) while nothing in the scope's groups and no name changed: a
   * board is reloaded after every move made elsewhere, and its four columns were four statements per view (an
   * admin's board: p95 100 ms under load, F39). A move, a comment or any edit changes a group's revision. Not
   * "load more" (offset > 0): up to 400 offsets per column would push the lists' pages out.
   */
  async cards(db: DbOrTx, actor: Actor, status: BoardStatus, group: number | undefined, offset: number) {
    const where = leadFilters(actor, filtersFor(status, group));
    const page = await memoizedPage(db, 'board', where, namedScopeRevision(actor, groupsOf(group)), async () => ({
      items: await db
        .select({ id: leads.id, firstName: leads.firstName, lastName: leads.lastName, company: leads.company, value: leads.value, status: leads.status, ownerName: owner.name })
        .from(leads)
        .leftJoin(owner, eq(owner.id, leads.ownerId))
        .where(where)
        .orderBy(desc(leads.lastActivityAt), desc(leads.id))
        .limit(BOARD_PAGE)
        .offset(offset),
    }), String(offset), offset > 0);
    return page.items;
  },
  /**
   * Each column's count as the list with that status filter counts it (capped at 10,000, reused under the same
   * revisions: the same query and memo entry as the list's). An exact count per status over an admin's million
   * leads read them all: 740 ms per board (F29).
   */
  async counts(db: DbOrTx, actor: Actor, group: number | undefined) {
    const revision = scopeRevision(actor, groupsOf(group));
    const counted = await Promise.all(BOARD_STATUSES.map((s) => cappedCount(db, leads, leadFilters(actor, filtersFor(s, group)), revision)));
    return Object.fromEntries(BOARD_STATUSES.map((s, i) => [s, counted[i]!])) as Record<BoardStatus, { total: number; capped: boolean }>;
  },
};
