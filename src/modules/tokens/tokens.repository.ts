import { and, desc, eq, isNull, lt, or, sql } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client.js';
import { apiTokens } from '../../db/schema/index.js';

export type ApiToken = typeof apiTokens.$inferSelect;
export type NewApiToken = typeof apiTokens.$inferInsert;

/** What the owner sees of a token: never its hash. */
const shown = {
  id: apiTokens.id,
  name: apiTokens.name,
  prefix: apiTokens.prefix,
  scope: apiTokens.scope,
  expiresAt: apiTokens.expiresAt,
  lastUsedAt: apiTokens.lastUsedAt,
  createdAt: apiTokens.createdAt,
};

export const tokensRepository = {
  async insert(db: DbOrTx, values: NewApiToken) {
    const [row] = await db.insert(apiTokens).values(values).returning(shown);
    return row!;
  },
  /** The user's tokens that are not revoked, newest first. */
  listFor(db: DbOrTx, userId: number) {
    return db.select(shown).from(apiTokens).where(and(eq(apiTokens.userId, userId), isNull(apiTokens.revokedAt))).orderBy(desc(apiTokens.createdAt), desc(apiTokens.id));
  },
  async countLive(db: DbOrTx, userId: number) {
    const [row] = await db
      .select({ n: sql<number>`count(*)::int` })
      .from(apiTokens)
      .where(and(eq(apiTokens.userId, userId), isNull(apiTokens.revokedAt), or(isNull(apiTokens.expiresAt), sql`${apiTokens.expiresAt} > now()`)));
    return row?.n ?? 0;
  },
  async findByHash(db: DbOrTx, tokenHash: string) {
    const [row] = await db.select().from(apiTokens).where(eq(apiTokens.tokenHash, tokenHash));
    return row;
  },
  /** Revokes one of the user's own tokens; undefined when it is not theirs (or does not exist). */
  async revoke(db: DbOrTx, userId: number, id: number) {
    const [row] = await db
      .update(apiTokens)
      .set({ revokedAt: sql`coalesce(${apiTokens.revokedAt}, now())` })
      .where(and(eq(apiTokens.id, id), eq(apiTokens.userId, userId)))
      .returning({ id: apiTokens.id, name: apiTokens.name });
    return row;
  },
  /** Revokes every live token of the user (account recovery); returns how many. */
  async revokeAllFor(db: DbOrTx, userId: number): Promise<number> {
    const rows = await db
      .update(apiTokens)
      .set({ revokedAt: sql`now()` })
      .where(and(eq(apiTokens.userId, userId), isNull(apiTokens.revokedAt)))
      .returning({ id: apiTokens.id });
    return rows.length;
  },

  /** Records a use, at most once a minute per token (one cheap conditional update). */
  async touch(db: DbOrTx, id: number) {
    await db
      .update(apiTokens)
      .set({ lastUsedAt: sql`now()` })
      .where(and(eq(apiTokens.id, id), or(isNull(apiTokens.lastUsedAt), lt(apiTokens.lastUsedAt, sql`now() - interval '1 minute'`))));
  },
};
