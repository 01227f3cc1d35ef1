import crypto from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Database } from '../../db/client.js';
import type { Logger } from '../../lib/logger.js';
import { NotFoundError, ValidationError } from '../../web/errors.js';
import { usersRepository, type User } from '../users/users.repository.js';
import { tokensRepository as repo, type ApiToken } from './tokens.repository.js';
import { createMemoryRateLimiter, createRedisRateLimiter, type RateLimits } from './tokens.ratelimit.js';
import type { TokenInput } from './tokens.schemas.js';

/** Every secret starts with this, so a leaked one is recognisable (secret scanners, logs). */
export const TOKEN_PREFIX = 'tdm_';
const SECRET_RE = /^tdm_[A-Za-z0-9_-]{43}$/;
/** A user may hold this many live tokens. */
export const MAX_TOKENS = 50;
const MINUTE = 60_000;

export const hashToken = (secret: string) => crypto.createHash('sha256').update(secret).digest('hex');

/** The token a request was authenticated with, as routes and views may see it. */
export interface RequestToken {
  id: number;
  name: string;
  scope: ApiToken['scope'];
  expiresAt: Date | null;
}

/** Personal access tokens: made and revoked on the profile page; only their SHA-256 is stored. */
export function createTokensService(deps: { database: Database; redis?: Redis; logger?: Logger; rateLimit?: RateLimits }) {
  const { db } = deps.database;
  const limits = deps.rateLimit ?? { max: 600, windowMs: MINUTE };
  // Shared by every web process when there is Redis; the embedded (single-process) mode counts in memory.
  const limiter = deps.redis ? createRedisRateLimiter(deps.redis, limits, deps.logger) : createMemoryRateLimiter(limits);

  return {
    limiter,

    list: (userId: number) => repo.listFor(db, userId),

    /** Makes a token; the secret is returned this once and never stored. */
    async create(user: Pick<User, 'id'>, input: TokenInput, now = new Date()) {
      if ((await repo.countLive(db, user.id)) >= MAX_TOKENS) throw new ValidationError({ tokenName: { key: 'tokens.tooMany', params: { max: MAX_TOKENS } } });
      const secret = TOKEN_PREFIX + crypto.randomBytes(32).toString('base64url');
      const expiresAt = input.expiresIn === 'never' ? null : new Date(now.getTime() + Number(input.expiresIn) * 86_400_000);
      const token = await repo.insert(db, {
        userId: user.id,
        name: input.tokenName,
        scope: input.scope,
        expiresAt,
        tokenHash: hashToken(secret),
        prefix: secret.slice(0, TOKEN_PREFIX.length + 6),
      });
      return { secret, token };
    },

    /** Revokes one of the user's tokens at once; another user's token answers 404. */
    async revoke(userId: number, id: number) {
      const row = await repo.revoke(db, userId, id);
      if (!row) throw new NotFoundError();
      return row;
    },

    /**
     * The token and its user for a presented secret, or undefined when it is unknown, revoked, expired, or
     * its user is gone or deactivated. Checked on every request: a revocation takes effect at once.
     */
    async authenticate(secret: string, now = new Date()): Promise<{ token: RequestToken; user: User } | undefined> {
      if (!SECRET_RE.test(secret)) return undefined;
      const row = await repo.findByHash(db, hashToken(secret));
      if (!row || row.revokedAt || (row.expiresAt && row.expiresAt <= now)) return undefined;
      const user = await usersRepository.findById(db, row.userId);
      if (!user?.active) return undefined;
      if (!row.lastUsedAt || now.getTime() - row.lastUsedAt.getTime() >= MINUTE) await repo.touch(db, row.id);
      return { token: { id: row.id, name: row.name, scope: row.scope, expiresAt: row.expiresAt }, user };
    },
  };
}
export type TokensService = ReturnType<typeof createTokensService>;
