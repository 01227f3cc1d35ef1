import type { Services } from '../../services.js';
import { NotFoundError } from '../../web/errors.js';
import type { Actor } from '../access/policy.js';
import { filesRepository } from '../files/files.repository.js';
import type { RecordRef } from '../records/records.js';

/**
 * A file's metadata in any status (the download needs "ready"): the record it is shown on decides who may
 * see it, exactly as for the download — another group's file is 404.
 * TODO(files): a `files.get(actor, id)` in the files service would make this helper unnecessary.
 */
export async function fileMeta(services: Pick<Services, 'files' | 'database'>, actor: Actor, id: number) {
  const row = await filesRepository.findById(services.database.db, id);
  const ref: RecordRef | undefined = row?.clientId ? { kind: 'client', id: row.clientId } : row?.leadId ? { kind: 'lead', id: row.leadId } : undefined;
  if (!ref) throw new NotFoundError();
  const head = await services.files.headForView(actor, ref);
  const item = (await services.files.listFor(head, actor)).find((f) => f.id === id);
  if (!item) throw new NotFoundError();
  return item;
}
