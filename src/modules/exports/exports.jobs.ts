import { z } from 'zod';
import type { Services } from '../../services.js';

/** The background export job: writes the file of one export, by id (everything else is in its row). */
export const EXPORT_JOB = 'exports.run';
/** Attempts before a failure is final (shown to the user, who can retry from /exports/:id). */
export const EXPORT_ATTEMPTS = 3;

/**
 * exports.run { exportId }: the same handler on BullMQ workers (`npm run worker`) and in the in-process engine.
 * The job's key is the export id, so a request retried does not start it twice; only the last attempt
 * records a failure for the user (the earlier ones put the export back to pending while it waits).
 */
export function registerExportJobs(services: Services) {
  services.jobs.define(EXPORT_JOB, {
    schema: z.object({ exportId: z.uuid() }).strict(),
    attempts: EXPORT_ATTEMPTS,
    handler: ({ exportId }, { attempt }) => services.exports.runExport(exportId, { final: attempt >= EXPORT_ATTEMPTS }),
  });
}
