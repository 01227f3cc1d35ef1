import { and, eq, lt, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { idempotencyKeys } from '../../db/schema/index.js';

/** How long a key is remembered. */
export const IDEMPOTENCY_TTL_HOURS = 24;
/** A claim still running after this long is taken to be from a crashed request and may be taken over. */
const ABANDONED_MS = 5 * 60_000;

export type Claim =
  | { kind: 'claimed'; id: number }
  | { kind: 'replay'; status: number; location: string | null; body: unknown }
  | { kind: 'busy' }
  | { kind: 'mismatch' };

/**
 * Idempotency keys of API creates. The first request with a key claims it (a row with no status yet; the
 * unique (user, key) index lets exactly one concurrent request win); when it succeeds its response is stored,
 * and a retry with the same key and the same request gets that response again instead of a second record.
 * A failed request releases its claim, so the client may retry. Keys are per user and kept for a day.
 */
export function createIdempotencyService(deps: { database: Database }) {
  const { db } = deps.database;

  async function tryClaim(userId: number, key: string, fingerprint: string) {
    const [row] = await db.insert(idempotencyKeys).values({ userId, key, fingerprint }).onConflictDoNothing().returning({ id: idempotencyKeys.id });
    return row?.id;
  }

  return {
    async claim(userId: number, key: string, fingerprint: string): Promise<Claim> {
      await db.delete(idempotencyKeys).where(and(eq(idempotencyKeys.userId, userId), lt(idempotencyKeys.createdAt, sql`now() - make_interval(hours => ${IDEMPOTENCY_TTL_HOURS})`)));
      for (let attempt = 0; attempt < 2; attempt++) {
        const id = await tryClaim(userId, key, fingerprint);
        if (id) return { kind: 'claimed', id };
        const [row] = await db.select().from(idempotencyKeys).where(and(eq(idempotencyKeys.userId, userId), eq(idempotencyKeys.key, key)));
        if (!row) continue; // released or expired meanwhile: claim again
        if (row.fingerprint !== fingerprint) return { kind: 'mismatch' };
        if (row.status !== null) return { kind: 'replay', status: row.status, location: row.location, body: row.body };
        if (Date.now() - row.createdAt.getTime() < ABANDONED_MS) return { kind: 'busy' };
        await db.delete(idempotencyKeys).where(and(eq(idempotencyKeys.id, row.id), sql`${idempotencyKeys.status} is null`));
      }
      return { kind: 'busy' };
    },

    async complete(id: number, status: number, location: string | null, body: unknown) {
      await db.update(idempotencyKeys).set({ status, location, body: body ?? null }).where(eq(idempotencyKeys.id, id));
    },

    async release(id: number) {
      await db.delete(idempotencyKeys).where(eq(idempotencyKeys.id, id));
    },
  };
}
export type IdempotencyService = ReturnType<typeof createIdempotencyService>;
