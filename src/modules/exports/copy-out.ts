import type pg from 'pg';

/**
 * `COPY … TO STDOUT` through a pg client, without a dependency: pg hands every CopyData message of the active
 * query to the query object's handleCopyData (pg-copy-streams is built the same way). The CSV export and the
 * benchmark's COPY baseline (bench/lib/copy-to.ts) both read COPY through this.
 */

/** The connection pg hands a query object: the socket, and the simple-query protocol. */
interface Connection {
  query(text: string): void;
  sendCopyFail(message: string): void;
  stream: NodeJS.ReadableStream;
}

export interface CopyOut {
  /** Resolves with the row count of COPY's command tag once the server is ready again; rejects on an error. */
  done: Promise<number>;
  /** Stops reading the connection (backpressure): the server then waits on its socket, holding nothing. */
  pause(): void;
  resume(): void;
}

/**
 * Runs `sql` (a COPY … TO STDOUT statement) on `client` and calls `onData` with each CopyData message. In COPY TO
 * PostgreSQL sends exactly one message per row, the header included (protocol, "COPY Operations"). `chunk`
 * is a view of pg's read buffer, valid only during the call: copy what you keep.
 */
export function copyOut(client: pg.PoolClient | pg.Client, sql: string, onData: (chunk: Buffer) => void): CopyOut {
  let connection: Connection | undefined;
  let rows = 0;
  let settle: { resolve(n: number): void; reject(err: Error): void };
  const done = new Promise<number>((resolve, reject) => (settle = { resolve, reject }));
  const query = {
    submit(conn: Connection) {
      connection = conn;
      conn.query(sql);
    },
    handleCopyData(msg: { chunk: Buffer }) {
      onData(msg.chunk);
    },
    handleCommandComplete(msg: { text: string }) {
      rows = Number(/^COPY (\d+)$/.exec(msg.text)?.[1] ?? NaN);
    },
    // pg gives an error to the query at once and never calls its handleReadyForQuery afterwards (it still
    // waits for the server's ReadyForQuery before it sends the next query).
    handleError(err: Error) {
      settle.reject(err);
    },
    handleReadyForQuery() {
      settle.resolve(rows);
    },
    // A COPY TO sends none of these; pg calls them for whatever arrives, so they must exist.
    handleRowDescription() {},
    handleDataRow() {},
    handleEmptyQuery() {},
    handlePortalSuspended() {},
    handleCopyInResponse(conn: Connection) {
      conn.sendCopyFail('copyOut reads COPY TO only');
    },
  };
  (client as unknown as { query(q: typeof query): void }).query(query);
  return {
    done,
    pause: () => connection?.stream.pause(),
    resume: () => connection?.stream.resume(),
  };
}

/**
 * `sql` with its `$n` parameters written in as SQL literals, for a statement that takes none (COPY). Drizzle
 * writes every value as a parameter, so a `$n` in its SQL is one. Strings (and Dates, as ISO text) become
 * quoted literals of unknown type, which PostgreSQL types from their context exactly as it types a parameter;
 * numbers are written as numbers (negative ones in parentheses: `- -1` must not become a `--` comment);
 * arrays as a quoted array literal. Anything else is refused rather than guessed at.
 */
export function inlineParams(sql: string, params: readonly unknown[], escapeLiteral: (s: string) => string): string {
  // Drizzle numbers its parameters in the order they appear, each used once: anything else (a `$1` inside a
  // quoted literal or name of a raw fragment, say) is refused, since a literal written there would end the quotes.
  let seen = 0;
  const out = sql.replace(/\$(\d+)/g, (_m, n: string) => {
    if (Number(n) !== ++seen || seen > params.length) throw new Error(`inlineParams: $${n} where $${seen} of ${params.length} was expected`);
    return literal(params[seen - 1], escapeLiteral);
  });
  if (seen !== params.length) throw new Error(`inlineParams: ${params.length} parameters, ${seen} used`);
  return out;
}

function literal(v: unknown, escapeLiteral: (s: string) => string): string {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'string') return escapeLiteral(v);
  if (typeof v === 'number' || typeof v === 'bigint') {
    if (typeof v === 'number' && !Number.isFinite(v)) throw new TypeError(`inlineParams: ${v} is not an SQL number`);
    return v < 0 ? `(${v})` : String(v);
  }
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (v instanceof Date) {
    if (Number.isNaN(v.getTime())) throw new TypeError('inlineParams: an invalid Date');
    return escapeLiteral(v.toISOString());
  }
  if (Array.isArray(v)) return escapeLiteral(arrayText(v));
  throw new TypeError(`inlineParams: cannot write ${Object.prototype.toString.call(v)} as an SQL literal`);
}

/** PostgreSQL's text form of an array ({"a","b\"c",NULL,{1,2}}), as pg sends an array parameter. */
function arrayText(items: readonly unknown[]): string {
  const parts = items.map((v) => {
    if (v === null || v === undefined) return 'NULL';
    if (Array.isArray(v)) return arrayText(v);
    if (typeof v === 'number' && Number.isFinite(v)) return String(v);
    if (typeof v === 'bigint') return String(v);
    if (typeof v === 'string') return `"${v.replace(/[\\"]/g, '\\$&')}"`;
    throw new TypeError(`inlineParams: cannot write ${Object.prototype.toString.call(v)} in an SQL array`);
  });
  return `{${parts.join(',')}}`;
}

const WRITE_SIZE = 64 * 1024;

/**
 * COPY's messages (one per row) gathered into writes of about 64 KiB: a write per row costs more than the row.
 * The bytes are copied in, since pg reuses its read buffer for the next message.
 */
export class WriteBatch {
  private buf = Buffer.allocUnsafe(WRITE_SIZE);
  private used = 0;

  constructor(prefix?: Buffer) {
    if (prefix) this.add(prefix);
  }

  /** Copies `bytes` (then `end`) in; returns what was gathered before them when they did not fit. */
  add(bytes: Buffer, end?: Buffer): Buffer | undefined {
    const size = bytes.length + (end?.length ?? 0);
    const full = this.used + size > this.buf.length ? this.take() : undefined;
    if (size > this.buf.length) this.buf = Buffer.allocUnsafe(size);
    this.used += bytes.copy(this.buf, this.used);
    if (end) this.used += end.copy(this.buf, this.used);
    return full;
  }

  /** What has been gathered, if anything; a new buffer follows, since the writer keeps the one it is given. */
  take(): Buffer | undefined {
    if (!this.used) return undefined;
    const chunk = this.buf.subarray(0, this.used);
    this.buf = Buffer.allocUnsafe(WRITE_SIZE);
    this.used = 0;
    return chunk;
  }
}
