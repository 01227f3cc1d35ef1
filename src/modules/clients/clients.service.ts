import type { Database } from '../../db/client.js';
import { NotFoundError } from '../../web/errors.js';
import { can, type Actor } from '../access/policy.js';
import { clientsRepository as repo } from './clients.repository.js';

export function createClientsService(deps: { database: Database }) {
  const { db } = deps.database;
  return {
    async get(actor: Actor, id: number) {
      const row = await repo.findVisible(db, actor, id);
      if (!row) throw new NotFoundError();
      return { ...row, can: { delete: can(actor, 'record.delete', row.client) } };
    },
  };
}
export type ClientsService = ReturnType<typeof createClientsService>;
