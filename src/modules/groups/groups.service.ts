import type { Database } from '../../db/client.js';
import { NotFoundError, ValidationError } from '../../web/errors.js';
import { authorize, type Actor } from '../access/policy.js';
import { usersRepository } from '../users/users.repository.js';
import type { GroupDataKind } from './group-data.js';
import { groupsRepository as repo } from './groups.repository.js';
import type { Notifier } from '../notifications/notifications.service.js';

type GroupInput = { name: string; description: string; visibility: 'all' | 'own' };

export function createGroupsService(deps: { database: Database; dataKinds: GroupDataKind[]; removeStoredFiles: (names: string[]) => Promise<void>; notifications?: Notifier }) {
  const { db } = deps.database;

  /** Loads a group the actor may see (404 otherwise) and checks the action (403 when not allowed). */
  async function load(actor: Actor, id: number, action: 'group.view' | 'groups.manage') {
    const group = await repo.findById(db, id);
    if (!group) throw new NotFoundError();
    authorize(actor, action, { groupId: group.id });
    return group;
  }

  return {
    list(actor: Actor) {
      return repo.list(db, actor.isAdmin ? undefined : actor.memberships.map((m) => m.groupId));
    },

    async get(actor: Actor, id: number) {
      const group = await load(actor, id, 'group.view');
      return { group, roster: await repo.roster(db, id) };
    },

    async getForEdit(actor: Actor, id: number) {
      return load(actor, id, 'groups.manage');
    },

    async create(actor: Actor, input: GroupInput) {
      authorize(actor, 'groups.manage');
      return db.transaction(async (tx) => {
        if (await repo.nameTaken(tx, input.name)) throw new ValidationError({ name: { key: 'groups.nameTaken' } });
        return repo.insert(tx, input);
      });
    },

    async update(actor: Actor, id: number, input: GroupInput) {
      await load(actor, id, 'groups.manage');
      await db.transaction(async (tx) => {
        if (await repo.nameTaken(tx, input.name, id)) throw new ValidationError({ name: { key: 'groups.nameTaken' } });
        await repo.update(tx, id, input);
      });
    },

    /** What deleting would touch: each kind of record with its count, and the groups it could move to. */
    async deletePreview(actor: Actor, id: number) {
      const group = await load(actor, id, 'groups.manage');
      const counts = await db.transaction(async (tx) =>
        Promise.all(deps.dataKinds.map(async (k) => ({ labelKey: k.labelKey, count: await k.count(tx, id) }))),
      );
      const targets = (await repo.list(db)).filter((g) => g.id !== id);
      return { group, counts: counts.filter((c) => c.count > 0), targets };
    },

    /**
     * Deletes a group once its name is typed back. Records are moved to another group or deleted first,
     * in the same transaction: a refusal or an error leaves everything as it was.
     */
    async delete(actor: Actor, id: number, input: { confirmName: string; records?: 'move' | 'delete'; targetGroupId?: number }) {
      const group = await load(actor, id, 'groups.manage');
      if (input.confirmName !== group.name) throw new ValidationError({ confirmName: { key: 'groups.confirmMismatch' } });
      const storedFiles: string[] = [];
      await db.transaction(async (tx) => {
        const counts = await Promise.all(deps.dataKinds.map((k) => k.count(tx, id)));
        if (counts.some((n) => n > 0)) {
          if (!input.records) throw new ValidationError({ records: { key: 'groups.chooseRecords' } });
          if (input.records === 'move') {
            const target = input.targetGroupId && input.targetGroupId !== id ? await repo.findById(tx, input.targetGroupId) : undefined;
            if (!target) throw new ValidationError({ targetGroupId: { key: 'groups.chooseTarget' } });
            for (const k of deps.dataKinds) await k.moveAll(tx, id, target.id);
          } else {
            for (const k of deps.dataKinds) storedFiles.push(...(await k.deleteAll(tx, id)));
          }
        }
        await repo.delete(tx, id);
      });
      // Bytes on disk go only once the rows are gone for good.
      if (storedFiles.length) await deps.removeStoredFiles(storedFiles);
      return group;
    },

    async candidates(actor: Actor, id: number, text: string) {
      await load(actor, id, 'groups.manage');
      return repo.candidates(db, id, text);
    },

    async addMember(actor: Actor, id: number, input: { userId?: number; email?: string; role: 'manager' | 'member' }) {
      const group = await load(actor, id, 'groups.manage');
      const user = input.userId ? await usersRepository.findById(db, input.userId) : await usersRepository.findByEmail(db, input.email ?? '');
      if (!user) throw new ValidationError({ email: { key: 'groups.unknownUser' } });
      // The membership and the new member's notification commit together.
      await db.transaction(async (tx) => {
        if (!(await repo.addMember(tx, id, user.id, input.role))) throw new ValidationError({ email: { key: 'groups.alreadyMember', params: { name: user.name } } });
        await deps.notifications?.notify(tx, {
          userId: user.id,
          actorId: actor.id,
          kind: 'added_to_group',
          data: { groupName: group.name, role: input.role },
          link: `/groups/${id}`,
          // A later removal and re-adding is a new event.
          dedupeKey: `added_to_group:${id}:${Date.now()}`,
        });
      });
      deps.notifications?.kick();
      return user;
    },

    async setRole(actor: Actor, id: number, userId: number, role: 'manager' | 'member') {
      await load(actor, id, 'groups.manage');
      if (!(await repo.setRole(db, id, userId, role))) throw new NotFoundError();
    },

    /** Removes a member; the records they owned in the group become unassigned. Returns how many did. */
    async removeMember(actor: Actor, id: number, userId: number) {
      await load(actor, id, 'groups.manage');
      return db.transaction(async (tx) => {
        // Their records first, then the membership: an edit holding one of the records takes the membership's key
        // share next (checkOwner), which the membership's deletion would be holding (see GroupDataKind.lockOwned).
        for (const k of deps.dataKinds) await k.lockOwned(tx, id, userId);
        if (!(await repo.removeMember(tx, id, userId))) throw new NotFoundError();
        let unassigned = 0;
        for (const k of deps.dataKinds) unassigned += await k.unassign(tx, id, userId, actor.id);
        return unassigned;
      });
    },
  };
}
export type GroupsService = ReturnType<typeof createGroupsService>;
