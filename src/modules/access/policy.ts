import { and, eq, inArray, or, sql, type SQL } from 'drizzle-orm';
import type { AnyPgColumn } from 'drizzle-orm/pg-core';
import { ForbiddenError, NotFoundError } from '../../web/errors.js';

/**
 * The one access policy (DESIGN.md, "Who may do what"). Every route and repository asks here; nothing else
 * decides who sees or changes group data.
 */

export type MembershipRole = 'manager' | 'member';
export interface ActorMembership {
  groupId: number;
  groupName: string;
  role: MembershipRole;
  visibility: 'all' | 'own';
}
export interface Actor {
  id: number;
  isAdmin: boolean;
  memberships: ActorMembership[];
  /**
   * The directory's revision when the actor was loaded with the session (src/db/schema/records.ts): caches of
   * owner and group choices key on it. Absent (no caching) where the actor came another way.
   */
  directoryRevision?: string;
  /**
   * The revisions of the groups in the actor's scope, "group:revision,…", read with the session: cached list
   * counts and dashboard figures key on it (src/modules/records/revisions.ts). Absent where loaded another way.
   */
  groupRevisions?: string;
}

/** A record of a group (lead, client, …): who owns it and who created it decide "own records" visibility. */
export interface RecordSubject {
  groupId: number;
  ownerId?: number | null;
  createdById?: number | null;
}
/** A comment or file on a record: its author may edit it. */
export interface AttachmentSubject extends RecordSubject {
  authorId: number | null;
}

export type Action =
  | 'users.manage'
  | 'groups.manage'
  | 'group.view'
  | 'record.view'
  | 'record.create'
  | 'record.edit'
  | 'record.delete'
  | 'record.reassign'
  | 'clients.export'
  | 'attachment.manage';

type Subject = { groupId: number } | RecordSubject | AttachmentSubject | undefined;

export const membershipOf = (actor: Actor, groupId: number) => actor.memberships.find((m) => m.groupId === groupId);
export const isManagerOf = (actor: Actor, groupId: number) => membershipOf(actor, groupId)?.role === 'manager';

/** May the actor see this subject at all? Not seeing it means 404, never 403. */
export function canSee(actor: Actor | undefined, subject: Subject): boolean {
  if (!actor) return false;
  if (actor.isAdmin || !subject) return true;
  const m = membershipOf(actor, subject.groupId);
  if (!m) return false;
  if (!('ownerId' in subject || 'createdById' in subject)) return true; // the group itself, its roster
  if (m.role === 'manager' || m.visibility === 'all') return true;
  return subject.ownerId === actor.id || subject.createdById === actor.id;
}

export function can(actor: Actor | undefined, action: Action, subject?: Subject): boolean {
  if (!actor) return false;
  if (actor.isAdmin) return true;
  switch (action) {
    case 'users.manage':
    case 'groups.manage':
      return false;
    case 'group.view':
    case 'record.view':
    case 'record.edit':
      return canSee(actor, subject);
    case 'record.create':
      return !!subject && !!membershipOf(actor, subject.groupId);
    case 'record.delete':
    case 'record.reassign':
    case 'clients.export':
      return !!subject && canSee(actor, subject) && isManagerOf(actor, subject.groupId);
    case 'attachment.manage':
      return (
        !!subject && canSee(actor, subject) &&
        (isManagerOf(actor, subject.groupId) || ('authorId' in subject && subject.authorId === actor.id))
      );
  }
}

/** Throws 404 when the actor may not see the subject, 403 when they see it but may not do this. */
export function authorize(actor: Actor | undefined, action: Action, subject?: Subject): void {
  if (subject && !canSee(actor, subject)) throw new NotFoundError();
  if (!can(actor, action, subject)) throw new ForbiddenError();
}

/**
 * The actor as a member of one of their groups alone (an admin, or any actor without a group, as they are): what
 * groupScope narrows a scope to, for the decisions made from the memberships themselves (ownerWalkable).
 */
export const inGroup = (actor: Actor, groupId: number | undefined): Actor =>
  actor.isAdmin || !groupId ? actor : { ...actor, memberships: actor.memberships.filter((m) => m.groupId === groupId) };

/** Whether the member sees all of the group's records: managers do, and members of an "all" group. */
export const seesWholeGroup = (m: ActorMembership) => m.role === 'manager' || m.visibility === 'all';

/**
 * The scoping helper every repository uses for group data: a WHERE condition that keeps exactly the rows
 * the actor may see. Admins see all; managers and members of "all" groups see their groups' rows;
 * members of "own" groups see the rows they own or created. With `groupIds` (a list or dashboard filtered to
 * groups), the rows they may see in those groups alone: a member's scope is narrowed to those memberships rather
 * than joined with `group_id IN (...)`, which gives the same rows, but the planner multiplies the two conditions'
 * selectivities and expects a fraction of them: a member's list sorted the whole group instead of walking its
 * slice in order (72 ms against 6 ms), their "assigned to me" on a group's dashboard read and sorted their 4,091
 * open leads there instead of walking ten by last activity (9.4 → 1 ms, F40).
 */
export function groupScope(
  actor: Actor,
  cols: { groupId: AnyPgColumn; ownerId?: AnyPgColumn; createdById?: AnyPgColumn },
  groupIds?: number[],
): SQL {
  if (actor.isAdmin) return groupIds ? inArray(cols.groupId, groupIds.length ? groupIds : [0]) : sql`true`;
  const memberships = groupIds ? actor.memberships.filter((m) => groupIds.includes(m.groupId)) : actor.memberships;
  const whole = memberships.filter((m) => seesWholeGroup(m) || !cols.ownerId).map((m) => m.groupId);
  const ownOnly = memberships.filter((m) => !whole.includes(m.groupId)).map((m) => m.groupId);
  const parts: SQL[] = [];
  if (whole.length) parts.push(inArray(cols.groupId, whole));
  if (ownOnly.length) {
    const mine = [cols.ownerId && eq(cols.ownerId, actor.id), cols.createdById && eq(cols.createdById, actor.id)].filter((x): x is SQL => !!x);
    parts.push(and(inArray(cols.groupId, ownOnly), or(...mine))!);
  }
  return parts.length ? or(...parts)! : sql`false`;
}
