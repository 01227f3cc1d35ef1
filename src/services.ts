import { Redis } from 'ioredis';
import { sql } from 'drizzle-orm';
import type { Env } from './config/env.js';
import { openDatabase, runMigrations, type Database } from './db/client.js';
import type { Logger } from './lib/logger.js';
import { createMailer, type Mailer } from './lib/mailer.js';
import { passwordHasher, type PasswordHasher } from './lib/passwords.js';
import { createAuthService, type AuthService } from './modules/auth/auth.service.js';
import { createUsersService, type UsersService } from './modules/users/users.service.js';
import { sessionCookieName } from './web/session.js';
import { createJobs, type Jobs } from './jobs/jobs.js';
import { registerJobs } from './jobs/registry.js';
import { createAdminService, type AdminService } from './modules/admin/admin.service.js';
import { createGroupsService, type GroupsService } from './modules/groups/groups.service.js';
import { recordGroupDataKinds } from './modules/records/group-data-kinds.js';
import { createFilesService, type FilesService } from './modules/files/files.service.js';
import { createLeadsService, type LeadsService } from './modules/leads/leads.service.js';
import { createClientsService, type ClientsService } from './modules/clients/clients.service.js';
import { createExportsService, type ExportsService } from './modules/exports/exports.service.js';
import { createNotificationsService, type NotificationsService } from './modules/notifications/notifications.service.js';
import { createDashboardService, type DashboardService } from './modules/dashboard/dashboard.service.js';
import { createCommentsService, type CommentsService } from './modules/records/comments.js';
import { createTokensService, type TokensService } from './modules/tokens/tokens.service.js';
import { createIdempotencyService, type IdempotencyService } from './modules/api/idempotency.js';
import { activityRepository } from './modules/records/activity.repository.js';
import type { RecordHead } from './modules/records/records.js';

/** The composition root: every service is built once here and handed to createApp. */
export interface Services {
  env: Env;
  logger: Logger;
  database: Database;
  redis?: Redis;
  mailer: Mailer;
  hasher: PasswordHasher;
  auth: AuthService;
  users: UsersService;
  admin: AdminService;
  groups: GroupsService;
  files: FilesService;
  leads: LeadsService;
  dashboard: DashboardService;
  clients: ClientsService;
  exports: ExportsService;
  comments: CommentsService;
  tokens: TokensService;
  idempotency: IdempotencyService;
  activity: { timeline(head: RecordHead): ReturnType<typeof activityRepository.timeline> };
  jobs: Jobs;
  notifications: NotificationsService;
  sessionCookieName: string;
  readiness(): Promise<Record<string, 'ok' | 'error'>>;
  close(): Promise<void>;
}

export async function createServices(env: Env, logger: Logger, opts: { migrate?: boolean; mailer?: Mailer } = {}): Promise<Services> {
  const database = await openDatabase({ databaseUrl: env.DATABASE_URL, dataDir: env.DATA_DIR, poolMax: env.DATABASE_POOL_MAX, logger });
  if (opts.migrate ?? env.MIGRATE_ON_START) await runMigrations(database, logger);

  let redis: Redis | undefined;
  if (env.REDIS_URL) {
    // Readiness and the API's rate limit: fail fast instead of queueing commands while Redis is away, and give
    // up on a command after a second when Redis is there but does not answer (the limiter then falls back).
    redis = new Redis(env.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2000, commandTimeout: 1000 });
    redis.on('error', (err) => logger.debug({ err }, 'redis connection error'));
    redis.connect().catch(() => undefined);
  }

  const mailer = opts.mailer ?? createMailer({ smtpUrl: env.SMTP_URL, from: env.MAIL_FROM, logger });
  const hasher = passwordHasher({ memoryCost: env.ARGON2_MEMORY_KIB, timeCost: env.ARGON2_TIME_COST });
  const jobs = createJobs({ database, logger, redisUrl: env.REDIS_URL, backoffMs: env.JOBS_BACKOFF_MS, pollMs: env.JOBS_POLL_MS });
  // In the app and by email; producers notify inside their transactions (see notifications.service.ts).
  const notifications = createNotificationsService({ database, jobs, mailer, env, logger });
  const files = createFilesService({ database, env, logger, jobs });
  const removeStoredFiles = (names: string[]) => files.removeStoredFiles(names);

  const exportsService = createExportsService({ database, env, logger, notifications, jobs });

  const services: Services = {
    env,
    logger,
    database,
    redis,
    mailer,
    hasher,
    auth: createAuthService({ database, env, hasher, mailer, logger }),
    users: createUsersService({ database, hasher }),
    admin: createAdminService({ database }),
    // Kinds of group data (leads, clients): group deletion moves or deletes each.
    groups: createGroupsService({ database, dataKinds: recordGroupDataKinds, removeStoredFiles, notifications }),
    files,
    leads: createLeadsService({ database, removeStoredFiles, notifications }),
    clients: createClientsService({ database, notifications }),
    exports: exportsService,
    dashboard: createDashboardService({ database }),
    comments: createCommentsService({ database, notifications }),
    tokens: createTokensService({ database, redis, logger }),
    idempotency: createIdempotencyService({ database }),
    activity: { timeline: (head) => activityRepository.timeline(database.db, head) },
    jobs,
    notifications,
    sessionCookieName: sessionCookieName(env),
    async readiness() {
      const checks: Record<string, 'ok' | 'error'> = {};
      checks.database = await database.db.execute(sql`select 1`).then(() => 'ok' as const, () => 'error' as const);
      if (redis) {
        checks.redis = await Promise.race([
          redis.ping().then(() => 'ok' as const, () => 'error' as const),
          new Promise<'error'>((r) => setTimeout(() => r('error'), 1000).unref()),
        ]);
      }
      return checks;
    },
    async close() {
      // Exports running here stop first (their job runs them again), so stopping the jobs does not wait for them.
      await exportsService.close();
      await jobs.stop();
      mailer.close();
      redis?.disconnect();
      await database.close();
    },
  };
  // Every job handler, defined once for both engines (the web process and `npm run worker`).
  registerJobs(services);
  return services;
}

export type { Database };
