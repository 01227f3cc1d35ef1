import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { finished, type Writable } from 'node:stream';
import { UnrecoverableError } from 'bullmq';
import type { Env } from '../../config/env.js';
import type { Database, DbOrTx } from '../../db/client.js';
import type { Jobs } from '../../jobs/jobs.js';
import type { Logger } from '../../lib/logger.js';
import type { Notifier } from '../notifications/notifications.service.js';
import { AppError, ForbiddenError, NotFoundError, TooManyRequestsError } from '../../web/errors.js';
import { authorize, type Actor } from '../access/policy.js';
import { clientExportGroupCounts, clientExportQuery, clientsRepository } from '../clients/clients.repository.js';
import type { ClientFilters } from '../clients/clients.schemas.js';
import { activityRepository } from '../records/activity.repository.js';
import { usersRepository } from '../users/users.repository.js';
import { EXPORT_FORMATS, FORMAT_INFO, exportFileName, type ExportFormat } from './exports.format.js';
import { exportsRepository as repo, type ExportRow } from './exports.repository.js';
import { EXPORT_JOB } from './exports.jobs.js';
import { activeFilters, storedFilters, type ExportRequest } from './exports.schemas.js';
import { streamExport, type StreamResult } from './exports.stream.js';

/**
 * Exports of the client list (DESIGN.md: managers and admins; "exactly the set the user sees"):
 * - up to EXPORT_SYNC_LIMIT rows stream straight into the response;
 * - more run in the background: the job exports.run (exports.jobs.ts, on the jobs engine: BullMQ with
 *   `npm run worker`, or in-process) calls runExport by id, which writes UPLOAD_DIR/exports/<id>.<ext>, kept
 *   24 hours and downloadable only by the user who asked;
 * - every export is a row of `exports` (the per-user log, and the rate limit counts it) and, once written,
 *   one 'exported' activity per group it took rows from.
 */

export const EXPORT_TTL_MS = 24 * 3_600_000;
export const RATE_WINDOW_MS = 10 * 60_000;
/** Background progress is written every this many rows. */
const PROGRESS_EVERY = 1000;
const FOLDER = 'exports';
const STORED_NAME = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.(csv|xlsx|json)$/;

/**
 * A failure no retry can fix (the user may no longer export), shown to the user: `key` is an i18n key stored
 * in exports.error. Unrecoverable for the jobs engine: no further attempts.
 */
class ExportFailure extends UnrecoverableError {
  constructor(readonly key: string) {
    super(key);
  }
}

/** How the job runs an export: whether a failure now is final (its last attempt). */
export interface RunContext {
  final: boolean;
}

/** What the user may read about a failure (the technical error goes to the log). */
function failureKey(err: unknown): string {
  if (err instanceof ExportFailure) return err.key;
  const code = (err as NodeJS.ErrnoException)?.code;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return 'exports.failure.storage';
  return 'exports.failure.internal';
}

/**
 * The actor an export runs as: admins export everything; anyone else only the groups they manage (being a
 * member is enough to see a group's clients, not to export them). Undefined: no export right at all.
 */
export function exportActor(actor: Actor): Actor | undefined {
  if (actor.isAdmin) return actor;
  const managed = actor.memberships.filter((m) => m.role === 'manager');
  return managed.length ? { ...actor, memberships: managed } : undefined;
}

export type ExportPlan =
  | { mode: 'sync'; row: ExportRow; actor: Actor; format: ExportFormat; filters: ClientFilters }
  | { mode: 'background'; row: ExportRow };

interface Deps {
  database: Database;
  env: Env;
  logger: Logger;
  /** Background exports are jobs (exports.run), enqueued in the transaction that creates their row. */
  jobs: Pick<Jobs, 'enqueue' | 'kick' | 'settle'>;
  /** Tells the user a background export is ready (or failed): in the app, and by email unless they turned it off. */
  notifications?: Notifier;
}

const storedPath = (dir: string, name: string) => {
  if (!STORED_NAME.test(name)) throw new Error(`invalid export storage name: ${JSON.stringify(name)}`);
  return path.join(dir, name);
};

/**
 * Deletes exports past their expiry (files and rows), failed ones a day old, and temp files a day old. For
 * the daily cleanup job; returns how many exports were removed. Missing files are fine; other removal errors
 * are logged.
 */
export async function purgeExpiredExports(deps: Pick<Deps, 'database' | 'env' | 'logger'>, now: Date = new Date()): Promise<number> {
  const { db } = deps.database;
  const dir = path.resolve(deps.env.UPLOAD_DIR, FOLDER);
  const rows = await repo.expired(db, now, new Date(now.getTime() - EXPORT_TTL_MS));
  for (const r of rows) {
    if (!r.storageName) continue;
    await fsp.rm(storedPath(dir, r.storageName), { force: true }).catch((err) => deps.logger.error({ err, exportId: r.id }, 'could not remove an expired export file'));
  }
  await repo.deleteByIds(db, rows.map((r) => r.id));
  // Temp files of runs that died with their process.
  const names = await fsp.readdir(dir).catch(() => [] as string[]);
  for (const n of names.filter((x) => x.endsWith('.part'))) {
    const p = path.join(dir, n);
    const st = await fsp.stat(p).catch(() => undefined);
    if (st && now.getTime() - st.mtimeMs > EXPORT_TTL_MS) await fsp.rm(p, { force: true }).catch(() => undefined);
  }
  return rows.length;
}

export function createExportsService(deps: Deps) {
  const { database, env, logger } = deps;
  const { db, pool } = database;
  const dir = path.resolve(env.UPLOAD_DIR, FOLDER);
  // Aborted by close(): a shutdown stops the exports running in this process (their job runs them again).
  const shutdown = new AbortController();

  /**
   * CSV is written by PostgreSQL's COPY (streamExport), except on the embedded database: PGlite runs a
   * statement to its end in one call, holding the event loop, and its socket server queues all of the output
   * without backpressure (a 200,000-row COPY there: 37 of its 41 MB waited in memory before the first row was
   * read), where the cursor's 1000-row batches keep memory flat.
   */
  const copyFor = (actor: Actor, filters: ClientFilters) =>
    database.embedded ? undefined : { groupCounts: clientExportGroupCounts(db, actor, filters) };

  /**
   * May `actor` export with these filters? Throws 403 (manages no group; only a member of the named group)
   * or 404 (the named group is not theirs); returns the actor scoped to the groups they may export.
   */
  function allowed(actor: Actor, req: ExportRequest): Actor {
    const scoped = exportActor(actor);
    if (!scoped) throw new ForbiddenError('exports.errors.notManager');
    if (req.filters.group) authorize(actor, 'clients.export', { groupId: req.filters.group });
    return scoped;
  }

  /**
   * Policy, rate limit and size: what a request to export becomes. Nothing is streamed yet. A background
   * export's job is enqueued in the transaction that creates its row (so neither exists without the other).
   * `toFile`: a background export (a file) whatever the size, e.g. for API clients.
   */
  async function begin(actor: Actor, req: ExportRequest, opts: { toFile?: boolean } = {}): Promise<ExportPlan> {
    const scoped = allowed(actor, req);

    const count = await clientsRepository.count(db, scoped, req.filters);
    const background = opts.toFile === true || count > env.EXPORT_SYNC_LIMIT;
    const row = await db.transaction(async (tx) => {
      await repo.lockUser(tx, actor.id);
      const since = new Date(Date.now() - RATE_WINDOW_MS);
      const recent = await repo.startedSince(tx, actor.id, since);
      if (recent.count >= env.EXPORT_RATE_LIMIT) {
        const freeAt = (recent.oldest?.getTime() ?? Date.now()) + RATE_WINDOW_MS;
        const err = new TooManyRequestsError(Math.max(1, Math.ceil((freeAt - Date.now()) / 1000)), 'exports.errors.rateLimited');
        Object.assign(err.params, { limit: env.EXPORT_RATE_LIMIT });
        throw err.withAction('/exports', 'exports.myExports');
      }
      const inserted = await repo.insert(tx, {
        userId: actor.id,
        format: req.format,
        filters: activeFilters(req.filters),
        status: background ? 'pending' : 'running',
        total: count,
      });
      // By id, keyed by it: the job reads everything it needs from the row.
      if (background) await deps.jobs.enqueue(tx, EXPORT_JOB, { exportId: inserted.id }, inserted.id);
      return inserted;
    });
    if (!background) return { mode: 'sync', row, actor: scoped, format: req.format, filters: req.filters };
    deps.jobs.kick();
    return { mode: 'background', row };
  }

  /**
   * Records a finished export: its row done, and one 'exported' activity per group it took rows from. A
   * background one (it has a stored file) also notifies its user, in the same transaction.
   */
  async function recordDone(row: ExportRow, result: StreamResult, extra: { storageName?: string } = {}) {
    const now = new Date();
    const groupIds = await repo.groupIdsByName(db, [...result.groups.keys()]);
    await db.transaction(async (tx) => {
      await repo.update(tx, row.id, {
        status: 'done',
        total: result.rows,
        processed: result.rows,
        error: null,
        finishedAt: now,
        expiresAt: new Date(now.getTime() + EXPORT_TTL_MS),
        ...extra,
      });
      for (const g of groupIds) {
        await activityRepository.add(tx, {
          groupId: g.id,
          actorId: row.userId,
          action: 'exported',
          data: { format: row.format, filters: row.filters, rows: result.groups.get(g.name) ?? 0, total: result.rows, exportId: row.id },
        });
      }
      if (extra.storageName) await notifyUser(tx, row, 'done', result.rows);
    });
    if (extra.storageName) deps.notifications?.kick();
  }

  /** The export_ready notification; its status says done or failed. */
  async function notifyUser(tx: DbOrTx, row: ExportRow, status: 'done' | 'failed', rows: number) {
    await deps.notifications?.notify(tx, {
      userId: row.userId,
      kind: 'export_ready',
      data: { status, rows },
      link: `/exports/${row.id}`,
      // An export is done once; a failed one the user retries may fail again, and each failure is its own event.
      dedupeKey: status === 'done' ? `export:${row.id}:done` : `export:${row.id}:failed:${Date.now()}`,
    });
  }

  /**
   * Streams a synchronous export into the response. A client that goes away ends the cursor (or the COPY) and
   * frees the connection; the export is then logged as interrupted. The log is completed before the response
   * ends, so a client that has the whole file finds it in /exports.
   */
  async function streamSync(plan: Extract<ExportPlan, { mode: 'sync' }>, res: Writable & { headersSent: boolean }) {
    let result: StreamResult;
    try {
      result = await streamExport(pool, clientExportQuery(db, plan.actor, plan.filters), plan.format, res, { copy: copyFor(plan.actor, plan.filters) });
    } catch (err) {
      // Cut off mid-file: the client must see a failed download, not a short file that looks complete.
      if (res.headersSent && !res.destroyed) res.destroy();
      const aborted = (err as { code?: string }).code === 'ERR_STREAM_PREMATURE_CLOSE' || (err as Error).name === 'AbortError';
      await repo
        .update(db, plan.row.id, { status: 'failed', error: aborted ? 'exports.failure.interrupted' : failureKey(err), finishedAt: new Date() })
        .catch((e) => logger.error({ err: e }, 'could not record a failed export'));
      if (aborted) {
        logger.info({ exportId: plan.row.id }, 'export download interrupted by the client');
        return;
      }
      throw err;
    }
    await recordDone(plan.row, result).catch((err) => logger.error({ err, exportId: plan.row.id }, 'could not record a finished export'));
    // Only now, with the cursor's connection back in the pool (see streamExport).
    // res.end() takes no callback here: express-session wraps end(chunk, encoding) and would take a
    // function for a chunk. finished() calls back once the response is finished or the connection has gone,
    // also when that was already so (a client that left while the export was being recorded: its 'close' has
    // fired, and waiting for another would never end); its listeners are then removed.
    await new Promise<void>((resolve) => {
      const cleanup = finished(res, () => {
        cleanup();
        resolve();
      });
      res.end();
    });
  }

  /**
   * The background job's work: writes the export of `exportId` to UPLOAD_DIR/exports/<id>.<ext> (a temp name,
   * then a rename), with progress every ~1000 rows, then marks it done (expiring in 24 hours). Idempotent and
   * by id: a done export is left alone, anything else is written again from the start. On failure the partial
   * file is removed and the error thrown (the jobs engine retries it, or shows it on /admin/jobs); on the last
   * attempt, or a failure no retry can fix, the export is marked failed with a message the user can read.
   */
  async function runExport(exportId: string, ctx: RunContext = { final: true }): Promise<void> {
    const signal = shutdown.signal;
    signal.throwIfAborted();
    const existing = await repo.findById(db, exportId);
    if (!existing || existing.status === 'done') return;
    const row = await repo.claim(db, exportId);
    if (!row) return;

    let tmp: string | undefined;
    let file: fs.WriteStream | undefined;
    try {
      const user = await usersRepository.findById(db, row.userId);
      if (!user?.active) throw new ExportFailure('exports.failure.userInactive');
      const actor: Actor = { id: user.id, isAdmin: user.role === 'admin', memberships: await usersRepository.memberships(db, user.id) };
      const scoped = exportActor(actor);
      if (!scoped) throw new ExportFailure('exports.failure.notManager');
      if (!(EXPORT_FORMATS as readonly string[]).includes(row.format)) throw new ExportFailure('exports.failure.internal');
      const format = row.format as ExportFormat;
      const filters = storedFilters(row.filters);

      const name = `${row.id}.${FORMAT_INFO[format].ext}`;
      await fsp.mkdir(dir, { recursive: true });
      tmp = path.join(dir, `${name}.${crypto.randomBytes(6).toString('hex')}.part`);
      file = fs.createWriteStream(tmp, { flags: 'wx' });

      // Progress goes through the pool without being awaited: the stream never waits for a second
      // connection (the embedded database has only one; there the updates land once the cursor is done).
      let inFlight = false;
      let latest = 0;
      const report = (n: number) => {
        latest = n;
        if (inFlight) return;
        inFlight = true;
        const send = (): Promise<void> => {
          const value = latest;
          return repo.progress(db, row.id, value).then(() => (latest > value ? send() : undefined));
        };
        send()
          .catch((err) => logger.debug({ err }, 'export progress not recorded'))
          .finally(() => (inFlight = false));
      };

      const result = await streamExport(pool, clientExportQuery(db, scoped, filters), format, file, {
        copy: copyFor(scoped, filters),
        signal,
        onProgress: report,
        progressEvery: PROGRESS_EVERY,
      });
      await new Promise<void>((resolve, reject) => {
        file!.once('error', reject);
        file!.end(() => (file!.closed ? resolve() : file!.once('close', resolve)));
      });
      await fsp.rename(tmp, storedPath(dir, name));
      tmp = undefined;
      await recordDone(row, result, { storageName: name });
    } catch (err) {
      if (file && !file.closed) {
        // Removed only once the stream has let go: a file still being opened would be created after the rm.
        const closed = new Promise<void>((resolve) => file!.once('close', () => resolve()));
        file.destroy();
        await closed;
      }
      if (tmp) await fsp.rm(tmp, { force: true }).catch(() => undefined);
      const interrupted = signal.aborted;
      const key = interrupted ? 'exports.failure.stopped' : failureKey(err);
      // A shutdown is not the export's fault, but it is an attempt: its job runs it again unless it was the last.
      const final = ctx.final || err instanceof UnrecoverableError;
      if (!(err instanceof ExportFailure) && !interrupted) logger.error({ err, exportId: row.id, final }, 'export failed');
      await db
        .transaction(async (tx) => {
          await repo.update(tx, row.id, final ? { status: 'failed', error: key, finishedAt: new Date() } : { status: 'pending', processed: 0 });
          if (final) await notifyUser(tx, row, 'failed', 0);
        })
        .then(() => final && deps.notifications?.kick())
        .catch((e) => logger.error({ err: e }, 'could not record a failed export'));
      throw err;
    }
  }

  async function owned(userId: number, id: string) {
    const row = await repo.findOwned(db, userId, id);
    if (!row) throw new NotFoundError();
    return row;
  }

  return {
    syncLimit: env.EXPORT_SYNC_LIMIT,
    /** The export right alone (no count, no log, no rate limit): for HEAD requests. */
    check: (actor: Actor, req: ExportRequest) => void allowed(actor, req),
    begin,
    streamSync,
    runExport,

    /** The user's own export; anyone else's (an admin's view included) answers 404. */
    get: owned,

    list: (userId: number) => repo.listForUser(db, userId),

    /**
     * A failed export of the user goes back to the queue: a new job (its first one has used its attempts),
     * keyed by the failure it retries, in the transaction that makes the export pending again. Only a failed
     * export moves, so a retry sent twice starts one job.
     */
    async retry(userId: number, id: string) {
      const row = await owned(userId, id);
      if (row.status !== 'failed') throw new AppError(409, 'exports.errors.notFailed').withAction(`/exports/${id}`, 'exports.back');
      const failedAt = (row.finishedAt ?? row.createdAt).getTime();
      const requeued = await db.transaction(async (tx) => {
        if (!(await repo.requeue(tx, userId, id))) return false;
        await deps.jobs.enqueue(tx, EXPORT_JOB, { exportId: id }, `${id}:retry:${failedAt}`);
        return true;
      });
      if (requeued) deps.jobs.kick();
      return row;
    },

    /** The file of a finished background export: 404 unless it is the user's, 410 once expired (then removed). */
    async download(userId: number, id: string) {
      const row = await owned(userId, id);
      if (row.status !== 'done') throw new AppError(409, 'exports.errors.notReady').withAction(`/exports/${id}`, 'exports.back');
      if (row.expiresAt && row.expiresAt.getTime() <= Date.now()) {
        if (row.storageName) {
          await fsp.rm(storedPath(dir, row.storageName), { force: true }).catch((err) => logger.error({ err, exportId: id }, 'could not remove an expired export file'));
          await repo.update(db, id, { storageName: null });
        }
        throw new AppError(410, 'exports.errors.expired').withAction('/exports', 'exports.myExports');
      }
      // A download that went straight to the browser left no file.
      if (!row.storageName) throw new NotFoundError();
      const file = storedPath(dir, row.storageName);
      const format = row.format as ExportFormat;
      return { path: file, name: exportFileName(format, row.createdAt), contentType: FORMAT_INFO[format].contentType };
    },

    purgeExpired: (now?: Date) => purgeExpiredExports(deps, now),

    /**
     * In-process engine: resolves when no job (background exports included) is due. With BullMQ it only hands
     * the outbox to Redis; wait for the export's status instead.
     */
    idle: () => deps.jobs.settle(),
    /** Stops the exports running in this process (shutdown); each is left to its job's next attempt. */
    close: async () => {
      shutdown.abort(new Error('the exports service is shutting down'));
    },
  };
}

export type ExportsService = ReturnType<typeof createExportsService>;
