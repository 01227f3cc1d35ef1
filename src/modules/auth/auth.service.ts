import crypto from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import type { Env } from '../../config/env.js';
import type { Mailer } from '../../lib/mailer.js';
import type { PasswordHasher } from '../../lib/passwords.js';
import { translator, type Locale } from '../../lib/i18n.js';
import type { Logger } from '../../lib/logger.js';
import { TooManyRequestsError, ValidationError } from '../../web/errors.js';
import { usersRepository as usersRepo, type User } from '../users/users.repository.js';
import { tokensRepository } from '../tokens/tokens.repository.js';
import { authRepository as repo } from './auth.repository.js';

const RESET_TTL_MS = 60 * 60 * 1000;
// Serialises first registrations so two people registering at once cannot both become admin.
const FIRST_USER_LOCK_ID = 727_002;

export const sha256 = (s: string) => crypto.createHash('sha256').update(s).digest('hex');

export function createAuthService(deps: { database: Database; env: Env; hasher: PasswordHasher; mailer: Mailer; logger: Logger }) {
  const { db } = deps.database;
  const { env, hasher } = deps;
  const windowMs = env.LOGIN_WINDOW_MINUTES * 60_000;
  // Verified against when the email is unknown, so the answer takes as long as for a real account.
  const dummyHash = hasher.hash(crypto.randomBytes(16).toString('hex'));

  return {
    async register(input: { name: string; email: string; password: string }, locale: Locale): Promise<User> {
      const passwordHash = await hasher.hash(input.password);
      return db.transaction(async (tx) => {
        await tx.execute(sql`select pg_advisory_xact_lock(${FIRST_USER_LOCK_ID})`);
        if (await usersRepo.findByEmail(tx, input.email)) throw new ValidationError({ email: { key: 'validation.emailTaken' } });
        const isFirst = (await usersRepo.count(tx)) === 0;
        // Registration signs the user in, so it counts as their first login.
        return usersRepo.insert(tx, { name: input.name, email: input.email, passwordHash, locale, role: isFirst ? 'admin' : 'user', lastLoginAt: new Date() });
      });
    },

    /**
     * Checks the throttle, then the password. Failures count per account+IP and per IP in a sliding window.
     * The attempt is written before it is counted, so parallel guesses cannot all slip under the limit;
     * a refused (429) attempt is taken back, so hammering does not extend the block forever.
     */
    async authenticate(email: string, password: string, ip: string): Promise<User> {
      const now = Date.now();
      const since = new Date(now - windowMs);
      const attemptId = await repo.recordAttempt(db, email, ip, since);
      const stats = await repo.failureStats(db, email, ip, since);
      const pairBlocked = stats.pair > env.LOGIN_MAX_FAILURES;
      if (pairBlocked || stats.ip > env.LOGIN_IP_MAX_FAILURES) {
        await repo.deleteAttempt(db, attemptId);
        const oldest = pairBlocked ? stats.pairOldest : stats.ipOldest;
        const until = (oldest ? new Date(oldest).getTime() : now) + windowMs;
        throw new TooManyRequestsError(Math.max(1, Math.ceil((until - now) / 1000)), 'auth.throttled');
      }
      const user = await usersRepo.findByEmail(db, email);
      const ok = user ? await hasher.verify(user.passwordHash, password) : (await hasher.verify(await dummyHash, password), false);
      if (!user || !ok) throw new ValidationError({ _form: { key: 'auth.invalidCredentials' } });
      await repo.clearFailures(db, email, ip);
      if (!user.active) throw new ValidationError({ _form: { key: 'auth.deactivated' } });
      return (await usersRepo.update(db, user.id, { lastLoginAt: new Date() })) ?? user;
    },

    /** Always behaves the same whether or not the account exists, so it reveals nothing. */
    async requestPasswordReset(email: string, fallbackLocale: Locale): Promise<void> {
      const user = await usersRepo.findByEmail(db, email);
      if (!user || !user.active) return;
      const token = crypto.randomBytes(32).toString('base64url');
      await repo.insertResetToken(db, user.id, sha256(token), new Date(Date.now() + RESET_TTL_MS));
      const t = translator((user.locale as Locale | null) ?? fallbackLocale);
      const link = `${env.APP_URL}/password/reset/${token}`;
      // Not awaited: the answer must take as long for an unknown address as for a real one.
      // (Moves to the job queue with the background-jobs issue.)
      deps.mailer
        .send({ to: user.email, subject: t('mail.reset.subject'), text: t('mail.reset.body', { name: user.name, link }) })
        .catch((err) => deps.logger.error({ err }, 'password reset mail failed'));
    },

    async isResetTokenUsable(token: string): Promise<boolean> {
      return !!(await repo.findUsableResetToken(db, sha256(token)));
    },

    /**
     * Returns false when the token is unknown, used or expired. Every session of the user ends, and every API
     * token is revoked: a reset is account recovery, and whoever had the account may have made tokens.
     */
    async resetPassword(token: string, password: string): Promise<boolean> {
      const passwordHash = await hasher.hash(password);
      return db.transaction(async (tx) => {
        const userId = await repo.consumeResetToken(tx, sha256(token));
        if (!userId) return false;
        await usersRepo.update(tx, userId, { passwordHash });
        await usersRepo.bumpSessionVersion(tx, userId);
        await usersRepo.deleteSessions(tx, userId);
        await tokensRepository.revokeAllFor(tx, userId);
        await repo.deleteResetTokensOf(tx, userId);
        return true;
      });
    },
  };
}
export type AuthService = ReturnType<typeof createAuthService>;
