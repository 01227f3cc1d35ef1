import { and, eq, isNull } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import type { DbOrTx } from '../../db/client.js';
import { clients, groups, users } from '../../db/schema/index.js';
import { groupScope, type Actor } from '../access/policy.js';

export type Client = typeof clients.$inferSelect;
export type NewClient = typeof clients.$inferInsert;

const owner = alias(users, 'owner');

/** The scope every client query starts from: what the actor may see, never the trash. */
export const clientScope = (actor: Actor) =>
  and(groupScope(actor, { groupId: clients.groupId, ownerId: clients.ownerId, createdById: clients.createdById }), isNull(clients.deletedAt))!;

export const clientsRepository = {
  async insert(db: DbOrTx, values: NewClient) {
    const [row] = await db.insert(clients).values(values).returning();
    return row!;
  },
  async findVisible(db: DbOrTx, actor: Actor, id: number) {
    const [row] = await db
      .select({ client: clients, groupName: groups.name, ownerName: owner.name })
      .from(clients)
      .innerJoin(groups, eq(groups.id, clients.groupId))
      .leftJoin(owner, eq(owner.id, clients.ownerId))
      .where(and(eq(clients.id, id), clientScope(actor)));
    return row;
  },
};
