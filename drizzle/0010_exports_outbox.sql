-- Background exports left pending or running by the version before exports became jobs: its in-process runner
-- kept its queue in memory (and looked for unfinished exports at start), so they have no job_outbox row, and
-- without one they never run (the owner's retry only takes failed exports, and the cleanup only removes
-- finished or failed ones). Each gets the job the code writes for a new background export (exports.jobs.ts,
-- exports.service.ts begin(): name exports.run, payload { exportId }, key 'exports.run:' || id, 3 attempts).
-- ON CONFLICT DO NOTHING: an export that already has its job keeps it. A 'running' export may also be a
-- synchronous download that the old version's process died in the middle of; its job writes it to a file
-- and tells its owner, as the old runner did at start.
INSERT INTO "job_outbox" ("name", "payload", "job_key", "max_attempts")
SELECT 'exports.run', jsonb_build_object('exportId', "id"::text), 'exports.run:' || "id"::text, 3
FROM "exports"
WHERE "status" IN ('pending', 'running')
ORDER BY "created_at", "id"
ON CONFLICT DO NOTHING;
