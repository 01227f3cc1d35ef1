import type { Redis } from 'ioredis';
import type { Logger } from '../../lib/logger.js';

/**
 * The per-token request limit of the API: a fixed window (`max` requests per `windowMs`, the window starting
 * at the token's first request in it).
 *
 * - With Redis (REDIS_URL), the count lives in Redis, so every web process counts against the same limit:
 *   one Lua script does INCR, sets PEXPIRE on the window's first request and reads PTTL, atomically (no
 *   key can be left without an expiry, two processes cannot both start a window).
 * - Without Redis (the embedded, single-process mode), it is counted in this process's memory: several
 *   processes would each allow the full limit, which that mode does not promise to handle anyway.
 * - If Redis does not answer, the request is counted in memory instead (logged): an outage of the counter
 *   neither opens the API to unlimited use nor takes it down.
 */

export interface RateLimits {
  max: number;
  windowMs: number;
}

export interface RateLimitState {
  ok: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the window resets. */
  resetSeconds: number;
}

export interface RateLimiter {
  /** Mutable, so a test can lower the limit of a running app. */
  limits: RateLimits;
  /** Counts one request of the token and says whether it is within the limit. */
  hit(tokenId: number): Promise<RateLimitState>;
  /** Forgets every count (tests). */
  reset(): Promise<void>;
}

const state = (limits: RateLimits, count: number, msLeft: number): RateLimitState => ({
  ok: count <= limits.max,
  limit: limits.max,
  remaining: Math.max(0, limits.max - count),
  resetSeconds: Math.max(1, Math.ceil(msLeft / 1000)),
});

/** Counts in this process's memory (the embedded mode, and the fallback while Redis is away). */
export function createMemoryRateLimiter(limits: RateLimits) {
  const windows = new Map<number, { start: number; count: number }>();
  const count = (tokenId: number, now = Date.now()): RateLimitState => {
    let w = windows.get(tokenId);
    if (!w || now - w.start >= limits.windowMs) {
      if (windows.size > 10_000) for (const [k, v] of windows) if (now - v.start >= limits.windowMs) windows.delete(k);
      w = { start: now, count: 0 };
      windows.set(tokenId, w);
    }
    w.count++;
    return state(limits, w.count, w.start + limits.windowMs - now);
  };
  return {
    limits,
    count,
    hit: async (tokenId: number) => count(tokenId),
    reset: async () => void windows.clear(),
  } satisfies RateLimiter & { count: unknown };
}

// KEYS[1] the token's counter; ARGV[1] the window in ms. Returns { count, ms left in the window }.
const HIT_SCRIPT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return { n, ttl }
`;

export const RATE_KEY_PREFIX = 'tandem:api-rate:token:';

/** Counts in Redis, shared by every web process; falls back to memory while Redis does not answer. */
export function createRedisRateLimiter(redis: Redis, limits: RateLimits, logger?: Logger): RateLimiter {
  const fallback = createMemoryRateLimiter(limits);
  let warnedAt = 0;
  return {
    limits,
    async hit(tokenId) {
      try {
        const [count, msLeft] = (await redis.eval(HIT_SCRIPT, 1, RATE_KEY_PREFIX + tokenId, String(limits.windowMs))) as [number, number];
        return state(limits, count, msLeft);
      } catch (err) {
        // At most one warning a minute: an outage must not flood the log with one line per request.
        if (Date.now() - warnedAt > 60_000) {
          warnedAt = Date.now();
          logger?.warn({ err }, 'API rate limit: Redis did not answer, counting in this process');
        }
        return fallback.count(tokenId);
      }
    },
    async reset() {
      await fallback.reset();
      const keys = await redis.keys(`${RATE_KEY_PREFIX}*`).catch(() => [] as string[]);
      if (keys.length) await redis.del(...keys).catch(() => undefined);
    },
  };
}
