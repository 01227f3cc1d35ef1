import { and, eq, isNotNull } from 'drizzle-orm';
import type { ListOptions } from '../records/list.js';
import type { Database, Tx } from '../../db/client.js';
import { activities, comments, files, groups } from '../../db/schema/index.js';
import { ConflictError, NotFoundError, ValidationError } from '../../web/errors.js';
import { authorize, can, canSee, type Actor } from '../access/policy.js';
import { activityRepository, diff } from '../records/activity.repository.js';
import { revisionMemo } from '../records/revisions.js';
import { checkGroup, checkOwner, nameOwnerAndGroup } from '../records/ownership.js';
import { clientsRepository } from '../clients/clients.repository.js';
import { leadsRepository as repo, type Lead } from './leads.repository.js';
import type { ConvertInput, LeadInput, LeadListQuery } from './leads.schemas.js';
import type { Notifier } from '../notifications/notifications.service.js';

export const TRASH_DAYS = 30;
/**
 * An owner filter longer than this is not sent as one select (500 people were 22.7 KB of an admin's 39.8 KB client
 * list page, and a hard list to scroll): the select holds anyone, me, unassigned and the chosen person, and people
 * are found by typing (findOwners, public/js/owner-find.js), at most OWNER_FIND_LIMIT at a time.
 */
export const OWNER_SELECT_MAX = 50;
export const OWNER_FIND_LIMIT = 30;
/** Text compared the way people type it: letter case and ё/е do not matter. */
const folded = (s: string) => s.toLowerCase().replaceAll('ё', 'е');
/** The person an owner filter's value (`owner` in the query: an id, "me", "none" or nothing) names, if any. */
const chosenIn = <T extends { id: number }>(people: T[], selected: unknown) => people.find((o) => String(o.id) === String(selected));
const TRACKED: (keyof Lead)[] = ['firstName', 'lastName', 'email', 'phone', 'company', 'source', 'status', 'value', 'description', 'ownerId', 'groupId'];

export interface LeadsDeps {
  database: Database;
  /** Removes stored files after a permanent delete has committed (the files module provides it). */
  removeStoredFiles?: (storageNames: string[]) => Promise<void>;
  /** Tells a new owner about their lead (in the transaction; kick after commit). */
  notifications?: Notifier;
}

export function createLeadsService(deps: LeadsDeps) {
  const { db } = deps.database;

  /** The groups the actor works in (all, for admins): from the session's memberships, no query for members. */
  const groupChoices = async (actor: Actor) =>
    actor.isAdmin
      ? db.select({ groupId: groups.id, groupName: groups.name }).from(groups).orderBy(groups.name)
      : actor.memberships.map((m) => ({ groupId: m.groupId, groupName: m.groupName }));

  async function loadChoices(actor: Actor) {
    const groupList = await groupChoices(actor);
    const rows = await repo.owners(db, actor.isAdmin ? undefined : groupList.map((g) => g.groupId));
    // The owner filter lists each person once, whatever number of groups they share with the actor.
    const people = [...new Map(rows.map((o) => [o.id, o])).values()];
    // Namesakes (32 names among the bench's 500 people) would be identical options: their email tells them apart.
    const named = new Map<string, number>();
    for (const p of people) named.set(p.name.toLowerCase(), (named.get(p.name.toLowerCase()) ?? 0) + 1);
    const labels = new Map(people.map((p) => [p.id, named.get(p.name.toLowerCase())! > 1 ? `${p.name} (${p.email})` : p.name]));
    const owners = rows.map((o) => ({ id: o.id, name: o.name, groupId: o.groupId, label: labels.get(o.id)! }));
    const ownerChoices = people.map((o) => ({ id: o.id, name: o.name, label: labels.get(o.id)!, search: folded(`${o.name} ${o.email}`) }));
    return { groups: groupList, owners, ownerChoices };
  }

  /**
   * Every list and form page shows the groups and their members (owner filter and select): the same answer
   * until the directory changes, so it is kept per scope under the directory revision the signed-in user's
   * query brought (no query at all on a hit, and a change by any process is seen on the next request).
   */
  const cached = revisionMemo<Awaited<ReturnType<typeof loadChoices>>>({ ttlMs: 10 * 60_000, maxEntries: 1_000 });
  function choices(actor: Actor) {
    if (actor.directoryRevision === undefined) return loadChoices(actor);
    const key = actor.isAdmin ? 'admin' : actor.memberships.map((m) => m.groupId).sort((a, b) => a - b).join(',');
    return cached(key, actor.directoryRevision, () => loadChoices(actor));
  }

  /** Whether the actor manages some group (or is an admin): the trash is theirs to open. */
  const managesAny = (actor: Actor) => actor.isAdmin || actor.memberships.some((m) => m.role === 'manager');

  /** The owner hears that the lead is theirs now, unless they gave it to themselves. */
  async function notifyOwner(tx: Tx, actor: Actor, lead: Lead, dedupeKey: string) {
    await deps.notifications?.notify(tx, {
      userId: lead.ownerId,
      actorId: actor.id,
      kind: 'assigned',
      data: { recordKind: 'lead', recordName: leadName(lead) },
      link: `/leads/${lead.id}`,
      dedupeKey,
    });
  }


  return {
    list: (actor: Actor, q: LeadListQuery, opts?: ListOptions) => repo.list(db, actor, q, opts),

    /** The group switcher's groups: an admin's come from the cache of choices (no query per dashboard view). */
    groupChoices: async (actor: Actor) => (actor.isAdmin ? (await choices(actor)).groups : groupChoices(actor)),

    /**
     * What the lead and client list pages offer: the group filter, the trash link, and the owner filter with its
     * people (all of them, or only the chosen one when they are too many for one select: OWNER_SELECT_MAX), how
     * many there are, and whether the page offers to find them by typing.
     */
    async listOptions(actor: Actor, selectedOwner: unknown) {
      const { groups: groupList, ownerChoices } = await choices(actor);
      const find = ownerChoices.length > OWNER_SELECT_MAX;
      const chosen = chosenIn(ownerChoices, selectedOwner);
      const people = find ? (chosen ? [chosen] : []) : ownerChoices;
      return { groups: groupList, managesAny: managesAny(actor), ownerFilter: { find, people, count: ownerChoices.length } };
    },

    /**
     * The owner filter's people whose name or email contains `text`, in name order, at most OWNER_FIND_LIMIT; how
     * many matched, how many of those are not shown, and the first one's id. The chosen person (`selected`) is
     * always among them (last, if they do not match), so the filter shown stays chosen.
     */
    async findOwners(actor: Actor, text: string, selected: unknown) {
      const { ownerChoices } = await choices(actor);
      const needle = folded(text.trim());
      const matches = needle ? ownerChoices.filter((o) => o.search.includes(needle)) : ownerChoices;
      const people = matches.slice(0, OWNER_FIND_LIMIT);
      const chosen = chosenIn(ownerChoices, selected);
      if (chosen && !people.includes(chosen)) people.push(chosen);
      return { people, total: matches.length, more: Math.max(0, matches.length - OWNER_FIND_LIMIT), first: matches[0]?.id ?? null };
    },

    /** Groups the actor can file a lead in, and their members as possible owners. */
    async formOptions(actor: Actor) {
      const { groups: groupList, owners, ownerChoices } = await choices(actor);
      return { groups: groupList, owners, ownerChoices, managesAny: managesAny(actor) };
    },

    async get(actor: Actor, id: number) {
      const row = await repo.findVisible(db, actor, id);
      if (!row) throw new NotFoundError();
      const subject = { groupId: row.lead.groupId, ownerId: row.lead.ownerId, createdById: row.lead.createdById };
      return {
        ...row,
        can: {
          edit: row.lead.status !== 'converted',
          delete: can(actor, 'record.delete', subject),
          reassign: can(actor, 'record.reassign', subject),
        },
      };
    },

    async create(actor: Actor, input: LeadInput): Promise<Lead> {
      checkGroup(actor, input.groupId);
      const created = await db.transaction(async (tx) => {
        const ownerId = input.ownerId === undefined ? actor.id : input.ownerId;
        await checkOwner(tx, input.groupId, ownerId);
        const lead = await repo.insert(tx, { ...input, ownerId, createdById: actor.id });
        await activityRepository.add(tx, { groupId: lead.groupId, leadId: lead.id, actorId: actor.id, action: 'created' });
        await notifyOwner(tx, actor, lead, `assigned:lead:${lead.id}:created`);
        return lead;
      });
      deps.notifications?.kick();
      return created;
    },

    /**
     * Saves an edit and records each changed field with its old and new value. Moving to another group
     * needs the right to reassign here and membership there; changing the owner needs the right to reassign.
     * `change` may be a function of the locked row (the API's PATCH): its If-Match check and its merge of the
     * fields sent then happen under the row lock, so two writers with the same version cannot both pass.
     */
    async update(actor: Actor, id: number, change: LeadInput | ((current: Lead) => LeadInput)): Promise<Lead> {
      const updated = await db.transaction(async (tx) => {
        const before = await repo.lockById(tx, id);
        if (!before) throw new NotFoundError();
        const subject = { groupId: before.groupId, ownerId: before.ownerId, createdById: before.createdById };
        authorize(actor, 'record.edit', subject);
        if (before.status === 'converted') throw readOnly(before);
        const input = typeof change === 'function' ? change(before) : change;
        const ownerId = input.ownerId === undefined ? before.ownerId : input.ownerId;
        if (input.groupId !== before.groupId) {
          checkGroup(actor, input.groupId);
          if (!can(actor, 'record.reassign', subject)) throw new ValidationError({ groupId: { key: 'leads.cannotMove' } });
        }
        if (ownerId !== before.ownerId && !can(actor, 'record.reassign', subject)) throw new ValidationError({ ownerId: { key: 'leads.cannotReassign' } });
        await checkOwner(tx, input.groupId, ownerId);
        const after = await repo.update(tx, id, { ...input, ownerId });
        const changes = diff(before, after, TRACKED);
        if (Object.keys(changes).length) {
          await nameOwnerAndGroup(tx, changes, before, after);
          await activityRepository.logChanges(tx, { groupId: after.groupId, leadId: id, actorId: actor.id }, changes);
        }
        if (after.ownerId !== before.ownerId) await notifyOwner(tx, actor, after, `assigned:lead:${id}:${after.updatedAt.getTime()}`);
        return after;
      });
      deps.notifications?.kick();
      return updated;
    },

    /** Changes only the status (the board, quick actions): the same policy and the same activity log. */
    async setStatus(actor: Actor, id: number, status: Lead['status']) {
      return db.transaction(async (tx) => {
        const before = await repo.lockById(tx, id);
        if (!before) throw new NotFoundError();
        authorize(actor, 'record.edit', before);
        if (before.status === 'converted' || status === 'converted') throw new ConflictError('leads.readOnly');
        if (before.status === status) return before;
        const after = await repo.update(tx, id, { status });
        await activityRepository.logChanges(tx, { groupId: after.groupId, leadId: id, actorId: actor.id }, { status: [before.status, status] });
        return after;
      });
    },

    /** Into the trash (managers and admins): hidden everywhere, restorable for TRASH_DAYS days. */
    async trash(actor: Actor, id: number) {
      await db.transaction(async (tx) => {
        const lead = await repo.lockById(tx, id);
        if (!lead) throw new NotFoundError();
        authorize(actor, 'record.delete', lead);
        await repo.update(tx, id, { deletedAt: new Date(), deletedById: actor.id });
        await activityRepository.add(tx, { groupId: lead.groupId, leadId: id, actorId: actor.id, action: 'deleted' });
      });
    },

    trashList(actor: Actor) {
      const managed = actor.isAdmin ? undefined : actor.memberships.filter((m) => m.role === 'manager').map((m) => m.groupId);
      return repo.trash(db, managed, new Date(Date.now() - TRASH_DAYS * 86_400_000));
    },

    async restore(actor: Actor, id: number) {
      await db.transaction(async (tx) => {
        const lead = await repo.findTrashed(tx, id);
        if (!lead || !canSee(actor, lead)) throw new NotFoundError();
        authorize(actor, 'record.delete', lead);
        await repo.update(tx, id, { deletedAt: null, deletedById: null });
        await activityRepository.add(tx, { groupId: lead.groupId, leadId: id, actorId: actor.id, action: 'restored' });
      });
    },

    /** Deletes a trashed lead for good; its stored files are removed once the transaction has committed. */
    async purge(actor: Actor, id: number) {
      const storageNames = await db.transaction(async (tx) => {
        const lead = await repo.findTrashed(tx, id);
        if (!lead || !canSee(actor, lead)) throw new NotFoundError();
        authorize(actor, 'record.delete', lead);
        // A converted lead's comments, files and activity live on with its client: detach them first, or the
        // cascade would delete them. Only what belongs to this lead alone goes.
        for (const table of [comments, files, activities]) await tx.update(table).set({ leadId: null }).where(and(eq(table.leadId, id), isNotNull(table.clientId)));
        const rows = await tx.select({ storageName: files.storageName }).from(files).where(eq(files.leadId, id));
        await repo.hardDelete(tx, id);
        return rows.map((r) => r.storageName);
      });
      if (storageNames.length) await deps.removeStoredFiles?.(storageNames);
    },

    /**
     * Converts a lead into a client, in one transaction: the client is created in the same group (from the
     * lead, or from the form's edited values), every comment, file and activity of the lead is attached to
     * the client as well (not copied), and the lead becomes converted and read-only. The row lock and the
     * unique clients.lead_id make a double click or a second tab yield the same single client (409 here).
     */
    async convert(actor: Actor, id: number, input?: ConvertInput) {
      return db.transaction(async (tx) => {
        const lead = await repo.lockById(tx, id);
        if (!lead) throw new NotFoundError();
        authorize(actor, 'record.edit', lead);
        if (lead.status === 'converted') throw alreadyConverted(lead);
        const values = input ?? clientValuesFrom(lead);
        const client = await clientsRepository.insert(tx, {
          ...values,
          groupId: lead.groupId,
          ownerId: lead.ownerId,
          createdById: actor.id,
          leadId: lead.id,
        });
        await repo.update(tx, id, { status: 'converted', clientId: client.id, convertedAt: new Date() });
        for (const table of [comments, files, activities]) await tx.update(table).set({ clientId: client.id }).where(eq(table.leadId, id));
        await activityRepository.add(tx, { groupId: lead.groupId, leadId: id, clientId: client.id, actorId: actor.id, action: 'converted', data: { clientName: client.name } });
        return client;
      });
    },
  };
}

/** The client a lead becomes when nobody edits the form: its name (or company), contact details and notes. */
export function clientValuesFrom(lead: Lead): ConvertInput {
  const person = [lead.firstName, lead.lastName].filter(Boolean).join(' ');
  return {
    name: person || lead.company || `#${lead.id}`,
    company: lead.company,
    email: lead.email,
    phone: lead.phone,
    address: '',
    website: null,
    notes: lead.description,
  };
}

/** How a lead is named to people: the person, else the company, else its number. */
export const leadName = (lead: Pick<Lead, 'id' | 'firstName' | 'lastName' | 'company'>) =>
  [lead.firstName, lead.lastName].filter(Boolean).join(' ') || lead.company || `#${lead.id}`;

/** 409 for a converted lead, with the way to its client. */
export const alreadyConverted = (lead: Pick<Lead, 'clientId'>) =>
  new ConflictError('leads.alreadyConverted').withAction(`/clients/${lead.clientId}`, 'leads.openClient');
export const readOnly = (lead: Pick<Lead, 'clientId'>) =>
  new ConflictError('leads.readOnly').withAction(`/clients/${lead.clientId}`, 'leads.openClient');

export type LeadsService = ReturnType<typeof createLeadsService>;
