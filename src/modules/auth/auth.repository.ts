import { and, eq, gt, isNull, lt, or, sql } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client.js';
import { loginFailures, passwordResetTokens } from '../../db/schema/index.js';

export const authRepository = {
  /** Failures inside the window, for the account+IP pair and for the IP alone, with the oldest of each. */
  async failureStats(db: DbOrTx, email: string, ip: string, since: Date) {
    const [row] = await db
      .select({
        pair: sql<number>`count(*) filter (where ${loginFailures.email} = ${email})::int`,
        pairOldest: sql<Date | null>`min(${loginFailures.createdAt}) filter (where ${loginFailures.email} = ${email})`,
        ip: sql<number>`count(*)::int`,
        ipOldest: sql<Date | null>`min(${loginFailures.createdAt})`,
      })
      .from(loginFailures)
      .where(and(eq(loginFailures.ip, ip), gt(loginFailures.createdAt, since)));
    return row!;
  },
  /** Records an attempt as a failure until it succeeds (then clearFailures removes it). Returns its id. */
  async recordAttempt(db: DbOrTx, email: string, ip: string, windowStart: Date) {
    // Old rows of this IP are useless once outside the window; dropping them here keeps the table small.
    await db.delete(loginFailures).where(and(eq(loginFailures.ip, ip), lt(loginFailures.createdAt, windowStart)));
    const [row] = await db.insert(loginFailures).values({ email, ip }).returning({ id: loginFailures.id });
    return row!.id;
  },
  async deleteAttempt(db: DbOrTx, id: number) {
    await db.delete(loginFailures).where(eq(loginFailures.id, id));
  },
  async clearFailures(db: DbOrTx, email: string, ip: string) {
    await db.delete(loginFailures).where(and(eq(loginFailures.email, email), eq(loginFailures.ip, ip)));
  },

  async insertResetToken(db: DbOrTx, userId: number, tokenHash: string, expiresAt: Date) {
    await db.insert(passwordResetTokens).values({ userId, tokenHash, expiresAt });
  },
  findUsableResetToken(db: DbOrTx, tokenHash: string) {
    return db.query.passwordResetTokens.findFirst({
      where: and(eq(passwordResetTokens.tokenHash, tokenHash), isNull(passwordResetTokens.usedAt), gt(passwordResetTokens.expiresAt, new Date())),
    });
  },
  /** Marks the token used if it still is usable; the row lock makes two concurrent uses yield one winner. */
  async consumeResetToken(db: DbOrTx, tokenHash: string) {
    const [row] = await db
      .update(passwordResetTokens)
      .set({ usedAt: new Date() })
      .where(and(eq(passwordResetTokens.tokenHash, tokenHash), isNull(passwordResetTokens.usedAt), gt(passwordResetTokens.expiresAt, new Date())))
      .returning({ userId: passwordResetTokens.userId });
    return row?.userId;
  },
  async deleteResetTokensOf(db: DbOrTx, userId: number) {
    await db.delete(passwordResetTokens).where(and(eq(passwordResetTokens.userId, userId), or(isNull(passwordResetTokens.usedAt), lt(passwordResetTokens.expiresAt, new Date()))));
  },
};
