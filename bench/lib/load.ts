import autocannon from 'autocannon';

export interface LoadOptions {
  url: string;
  connections: number;
  /** Seconds; or `amount` requests in total. */
  duration?: number;
  amount?: number;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  requests?: autocannon.Request[];
  /** The status a correct answer has (200 for pages, 303 for a login). */
  expect?: number;
}

export interface LoadResult {
  /** Answers with the expected status. */
  ok: number;
  /** Answers with another status, connection errors and timeouts. */
  bad: number;
  statuses: Record<string, number>;
  errors: number;
  timeouts: number;
  seconds: number;
  /** Correct answers per second. */
  rps: number;
  /** Latency of the correct answers, ms. */
  p50: number;
  p95: number;
  p99: number;
  bytesPerAnswer: number;
}

/**
 * Requests that take `paths` in turn, one per request, across every run they are passed to: a path is not asked
 * twice until all have been (the cold-search figures: nothing the app reuses between requests).
 */
export function rotating(paths: string[]): autocannon.Request[] {
  let turn = 0;
  return [{ setupRequest: (req) => ({ ...req, path: paths[turn++ % paths.length] }) }];
}

const percentile = (sorted: number[], q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]! : NaN);

/**
 * Runs autocannon and computes the figures from every answer (autocannon's own summary has no p95): requests
 * per second counts only answers with the expected status, latencies are theirs.
 */
export function runLoad(o: LoadOptions): Promise<LoadResult> {
  const expect = o.expect ?? 200;
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let bytes = 0;
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const instance = autocannon(
      {
        url: o.url,
        connections: o.connections,
        ...(o.amount ? { amount: o.amount } : { duration: o.duration ?? 10 }),
        timeout: 30,
        // autocannon treats a key set to undefined as given: only pass what is there.
        ...(o.method ? { method: o.method } : {}),
        ...(o.headers ? { headers: o.headers } : {}),
        ...(o.body ? { body: o.body } : {}),
        ...(o.requests ? { requests: o.requests } : {}),
      },
      (err, result) => {
        if (err) return reject(err);
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        latencies.sort((a, b) => a - b);
        const ok = latencies.length;
        const other = Object.entries(statuses).filter(([s]) => Number(s) !== expect).reduce((n, [, c]) => n + c, 0);
        resolve({
          ok,
          bad: other + result.errors + result.timeouts,
          statuses,
          errors: result.errors,
          timeouts: result.timeouts,
          seconds,
          rps: ok / seconds,
          p50: percentile(latencies, 0.5),
          p95: percentile(latencies, 0.95),
          p99: percentile(latencies, 0.99),
          bytesPerAnswer: ok ? bytes / ok : 0,
        });
      },
    );
    instance.on('response', (_client, statusCode, resBytes, responseTime) => {
      statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
      if (statusCode === expect) {
        latencies.push(responseTime);
        bytes += resBytes;
      }
    });
  });
}

/** The same figures for any async operation run `concurrency` at a time, `amount` times (argon2's ceiling). */
export async function runAsync(amount: number, concurrency: number, op: () => Promise<unknown>): Promise<LoadResult> {
  const latencies: number[] = [];
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < amount) {
        const t = process.hrtime.bigint();
        await op();
        latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  latencies.sort((a, b) => a - b);
  return {
    ok: latencies.length, bad: 0, statuses: {}, errors: 0, timeouts: 0, seconds, rps: latencies.length / seconds,
    p50: percentile(latencies, 0.5), p95: percentile(latencies, 0.95), p99: percentile(latencies, 0.99), bytesPerAnswer: 0,
  };
}
