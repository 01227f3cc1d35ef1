import { z } from 'zod';

/**
 * The whole configuration, parsed once from process.env. Every variable is documented in .env.example;
 * a bad or missing one stops the process with one message that lists each problem (see formatEnvError).
 */
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const csv = z
  .string()
  .transform((v) => v.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean));

/** `trust proxy` as Express understands it: false, a hop count, or a list of addresses/subnets. */
const trustProxy = z.string().transform((v, ctx) => {
  const s = v.trim();
  if (s === '' || s === 'false' || s === '0') return false as const;
  if (s === 'true') {
    ctx.addIssue({ code: 'custom', message: 'use a hop count or a list of proxy addresses, not "true"' });
    return z.NEVER;
  }
  if (/^\d+$/.test(s)) return Number(s);
  return s.split(',').map((p) => p.trim());
});

const schema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    HOST: z.string().min(1).default('0.0.0.0'),
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    APP_URL: z.url().optional(),
    DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
      .optional(),
    DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(100).default(10),
    DATA_DIR: z.string().min(1).default('./data'),
    REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL').optional(),
    SESSION_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
    SESSION_IDLE_MINUTES: z.coerce.number().int().min(1).default(120),
    SESSION_ABSOLUTE_HOURS: z.coerce.number().int().min(1).default(24),
    TRUST_PROXY: trustProxy.default(false),
    ALLOWED_HOSTS: csv.optional(),
    SMTP_URL: z.string().regex(/^smtps?:\/\//, 'must be an smtp:// or smtps:// URL').optional(),
    MAIL_FROM: z.string().min(3).default('Tandem CRM <no-reply@tandem.local>'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    BODY_LIMIT: z.string().regex(/^\d+(b|kb|mb)$/i, 'like 100kb or 1mb').default('100kb'),
    LOGIN_MAX_FAILURES: z.coerce.number().int().min(1).default(5),
    LOGIN_IP_MAX_FAILURES: z.coerce.number().int().min(1).default(30),
    LOGIN_WINDOW_MINUTES: z.coerce.number().int().min(1).default(15),
    ARGON2_MEMORY_KIB: z.coerce.number().int().min(1024).default(19456),
    ARGON2_TIME_COST: z.coerce.number().int().min(1).default(2),
    MIGRATE_ON_START: bool.default(true),
    JOBS_BACKOFF_MS: z.coerce.number().int().min(1).default(2000),
    JOBS_POLL_MS: z.coerce.number().int().min(50).default(2000),
    /** `npm run worker`: seconds the jobs in hand get on SIGTERM before the process exits anyway. */
    WORKER_STOP_SECONDS: z.coerce.number().positive().max(3600).default(20),
    UPLOAD_DIR: z.string().min(1).optional(),
    UPLOAD_MAX_FILE_MB: z.coerce.number().min(1).max(1024).default(25),
    UPLOAD_MAX_FILES: z.coerce.number().int().min(1).max(100).default(10),
    EXPORT_SYNC_LIMIT: z.coerce.number().int().min(0).default(10_000),
    EXPORT_RATE_LIMIT: z.coerce.number().int().min(1).default(10),
  });

export type Env = z.infer<typeof schema> & {
  APP_URL: string;
  UPLOAD_DIR: string;
  SESSION_SECRET: string;
  ALLOWED_HOSTS: string[];
  isProduction: boolean;
};

export class EnvError extends Error {
  constructor(readonly problems: string[]) {
    super(formatEnvError(problems));
    this.name = 'EnvError';
  }
}

export function formatEnvError(problems: string[]): string {
  return ['Tandem CRM cannot start: the configuration is invalid.', ...problems.map((p) => `  - ${p}`),
    'See .env.example for every variable and its meaning.'].join('\n');
}

// A fixed secret is only acceptable outside production, where sessions guard nothing real.
const DEV_SECRET = 'tandem-development-secret-not-for-production-use';

export function parseEnv(source: NodeJS.ProcessEnv = process.env): Env {
  // Empty strings mean "unset": docker-compose and .env files often leave a variable blank.
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const result = schema.safeParse(cleaned);
  const problems = (result.error?.issues ?? []).map((i) => ({ key: i.path.join('.') || '(environment)', message: i.message }));
  // Checked beside the schema (not in a refinement) so it is reported together with every other problem.
  if (cleaned.NODE_ENV === 'production' && !cleaned.SESSION_SECRET) problems.push({ key: 'SESSION_SECRET', message: 'is required in production' });
  if (!result.success || problems.length) {
    throw new EnvError(
      problems.map(({ key, message }) => {
        const value = cleaned[key];
        // Secrets and URLs (which may hold passwords) are never echoed.
        const shown = value === undefined ? 'unset' : /SECRET|URL/.test(key) ? 'given' : JSON.stringify(value);
        return `${key} (${shown}): ${message}`;
      }),
    );
  }
  const env = result.data;
  const appUrl = env.APP_URL ?? `http://localhost:${env.PORT}`;
  const appHost = new URL(appUrl).hostname.toLowerCase();
  return {
    ...env,
    APP_URL: appUrl.replace(/\/$/, ''),
    UPLOAD_DIR: env.UPLOAD_DIR ?? `${env.DATA_DIR}/uploads`,
    SESSION_SECRET: env.SESSION_SECRET ?? DEV_SECRET,
    // Hosts are checked without the port. In production only configured hosts are served.
    ALLOWED_HOSTS: env.ALLOWED_HOSTS ?? (env.NODE_ENV === 'production' ? [appHost] : [appHost, 'localhost', '127.0.0.1', '[::1]']),
    isProduction: env.NODE_ENV === 'production',
  };
}

/** For entry points: parse or print the one clear message and exit 1. */
export function loadEnvOrExit(): Env {
  try {
    return parseEnv();
  } catch (err) {
    if (err instanceof EnvError) {
      process.stderr.write(err.message + '\n');
      process.exit(1);
    }
    throw err;
  }
}
