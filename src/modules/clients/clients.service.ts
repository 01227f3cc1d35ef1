import { eq } from 'drizzle-orm';
import type { ListOptions } from '../records/list.js';
import type { Database, Tx } from '../../db/client.js';
import { clients } from '../../db/schema/index.js';
import { NotFoundError, ValidationError } from '../../web/errors.js';
import { authorize, can, canSee, type Actor } from '../access/policy.js';
import { activityRepository, diff } from '../records/activity.repository.js';
import { checkGroup, checkOwner, nameOwnerAndGroup } from '../records/ownership.js';
import { leadsRepository } from '../leads/leads.repository.js';
import { clientsRepository as repo, type Client } from './clients.repository.js';
import type { ClientInput, ClientListQuery } from './clients.schemas.js';
import { and, isNotNull } from 'drizzle-orm';
import { TRASH_DAYS } from '../leads/leads.service.js';
import type { Notifier } from '../notifications/notifications.service.js';

const TRACKED: (keyof Client)[] = ['name', 'company', 'email', 'phone', 'address', 'website', 'status', 'notes', 'ownerId', 'groupId'];

export function createClientsService(deps: { database: Database; notifications?: Notifier }) {
  const { db } = deps.database;

  /** The owner hears that the client is theirs now, unless they gave it to themselves (in the transaction). */
  async function notifyOwner(tx: Tx, actor: Actor, client: Client, dedupeKey: string) {
    await deps.notifications?.notify(tx, {
      userId: client.ownerId,
      actorId: actor.id,
      kind: 'assigned',
      data: { recordKind: 'client', recordName: client.name },
      link: `/clients/${client.id}`,
      dedupeKey,
    });
  }


  return {
    list: (actor: Actor, q: ClientListQuery, opts?: ListOptions) => repo.list(db, actor, q, opts),

    async get(actor: Actor, id: number) {
      const row = await repo.findVisible(db, actor, id);
      if (!row) throw new NotFoundError();
      return { ...row, can: { delete: can(actor, 'record.delete', row.client), export: actor.isAdmin || actor.memberships.some((m) => m.role === 'manager') } };
    },

    async create(actor: Actor, input: ClientInput): Promise<Client> {
      checkGroup(actor, input.groupId);
      const created = await db.transaction(async (tx) => {
        const ownerId = input.ownerId === undefined ? actor.id : input.ownerId;
        await checkOwner(tx, input.groupId, ownerId);
        const client = await repo.insert(tx, { ...input, ownerId, createdById: actor.id });
        await activityRepository.add(tx, { groupId: client.groupId, clientId: client.id, actorId: actor.id, action: 'created' });
        await notifyOwner(tx, actor, client, `assigned:client:${client.id}:created`);
        return client;
      });
      deps.notifications?.kick();
      return created;
    },

    /**
     * The same rules as a lead's edit: moving groups and changing the owner need the right to reassign.
     * `change` may be a function of the locked row (the API's PATCH: If-Match and merge under the lock).
     */
    async update(actor: Actor, id: number, change: ClientInput | ((current: Client) => ClientInput)): Promise<Client> {
      const updated = await db.transaction(async (tx) => {
        const before = await repo.lockById(tx, id);
        if (!before) throw new NotFoundError();
        authorize(actor, 'record.edit', before);
        const input = typeof change === 'function' ? change(before) : change;
        const ownerId = input.ownerId === undefined ? before.ownerId : input.ownerId;
        if (input.groupId !== before.groupId) {
          checkGroup(actor, input.groupId);
          if (!can(actor, 'record.reassign', before)) throw new ValidationError({ groupId: { key: 'leads.cannotMove' } });
        }
        if (ownerId !== before.ownerId && !can(actor, 'record.reassign', before)) throw new ValidationError({ ownerId: { key: 'leads.cannotReassign' } });
        await checkOwner(tx, input.groupId, ownerId);
        const after = await repo.update(tx, id, { ...input, ownerId });
        const changes = diff(before, after, TRACKED);
        if (Object.keys(changes).length) {
          await nameOwnerAndGroup(tx, changes, before, after);
          await activityRepository.logChanges(tx, { groupId: after.groupId, clientId: id, actorId: actor.id }, changes);
        }
        if (after.ownerId !== before.ownerId) await notifyOwner(tx, actor, after, `assigned:client:${id}:${after.updatedAt.getTime()}`);
        return after;
      });
      deps.notifications?.kick();
      return updated;
    },

    async trash(actor: Actor, id: number) {
      await db.transaction(async (tx) => {
        const client = await repo.lockById(tx, id);
        if (!client) throw new NotFoundError();
        authorize(actor, 'record.delete', client);
        await repo.update(tx, id, { deletedAt: new Date(), deletedById: actor.id });
        await activityRepository.add(tx, { groupId: client.groupId, clientId: id, actorId: actor.id, action: 'deleted' });
      });
    },

    trashList(actor: Actor) {
      const managed = actor.isAdmin ? undefined : actor.memberships.filter((m) => m.role === 'manager').map((m) => m.groupId);
      return repo.trash(db, managed, new Date(Date.now() - TRASH_DAYS * 86_400_000));
    },

    async restore(actor: Actor, id: number) {
      await db.transaction(async (tx) => {
        const [client] = await tx.select().from(clients).where(and(eq(clients.id, id), isNotNull(clients.deletedAt))).for('update');
        if (!client || !canSee(actor, client)) throw new NotFoundError();
        authorize(actor, 'record.delete', client);
        await repo.update(tx, id, { deletedAt: null, deletedById: null });
        await activityRepository.add(tx, { groupId: client.groupId, clientId: id, actorId: actor.id, action: 'restored' });
      });
    },
  };
}
export type ClientsService = ReturnType<typeof createClientsService>;
