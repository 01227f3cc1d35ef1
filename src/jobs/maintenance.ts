import { and, isNotNull, lt, sql } from 'drizzle-orm';
import { z } from 'zod';
import { clients, files, jobOutbox, leads, loginFailures } from '../db/schema/index.js';
import type { Services } from '../services.js';

const TRASH_DAYS = 30;

/**
 * The daily cleanup: trash older than 30 days is deleted for good (files after commit), expired export files
 * go, and bookkeeping rows that nobody needs any more are pruned. Enqueued once per day by its key.
 */
export function registerMaintenanceJobs(services: Services) {
  const { db } = services.database;
  services.jobs.define('maintenance.cleanup', {
    schema: z.object({}).strict(),
    async handler(_payload, { logger }) {
      const cutoff = sql`now() - make_interval(days => ${TRASH_DAYS})`;
      const stored = await db.transaction(async (tx) => {
        const oldLeads = tx.select({ id: leads.id }).from(leads).where(and(isNotNull(leads.deletedAt), lt(leads.deletedAt, cutoff)));
        const oldClients = tx.select({ id: clients.id }).from(clients).where(and(isNotNull(clients.deletedAt), lt(clients.deletedAt, cutoff)));
        const rows = await tx
          .select({ name: files.storageName })
          .from(files)
          .where(sql`(${files.leadId} in ${oldLeads} and ${files.clientId} is null) or ${files.clientId} in ${oldClients}`);
        // A converted lead's attachments stay with its client.
        await tx.execute(sql`update comments set lead_id = null where lead_id in ${oldLeads} and client_id is not null`);
        await tx.execute(sql`update files set lead_id = null where lead_id in ${oldLeads} and client_id is not null`);
        await tx.execute(sql`update activities set lead_id = null where lead_id in ${oldLeads} and client_id is not null`);
        const l = await tx.delete(leads).where(and(isNotNull(leads.deletedAt), lt(leads.deletedAt, cutoff))).returning({ id: leads.id });
        const c = await tx.delete(clients).where(and(isNotNull(clients.deletedAt), lt(clients.deletedAt, cutoff))).returning({ id: clients.id });
        logger.info({ leads: l.length, clients: c.length }, 'cleanup: trash emptied');
        return rows.map((r) => r.name);
      });
      if (stored.length) await services.files.removeStoredFiles(stored);
      await services.exports.purgeExpired();
      await db.delete(loginFailures).where(lt(loginFailures.createdAt, sql`now() - interval '1 day'`));
      await db.delete(jobOutbox).where(and(sql`${jobOutbox.status} = 'done'`, lt(jobOutbox.updatedAt, sql`now() - interval '7 days'`)));
    },
  });
}

/** Asks for today's cleanup (idempotent: one per UTC day, whoever asks). */
export async function scheduleDailyCleanup(services: Services) {
  const day = new Date().toISOString().slice(0, 10);
  await services.jobs.enqueue(services.database.db, 'maintenance.cleanup', {}, day);
  services.jobs.kick();
}
