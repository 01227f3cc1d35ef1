import { once } from 'node:events';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import QueryStream from 'pg-query-stream';
import { columnsFor, csvTransform, jsonTransform, xlsxConsumer, type ExportFormat, type XlsxStats } from './exports.format.js';

const TIMESTAMPTZ_OID = 1184;
const parseTimestamp = pg.types.getTypeParser(TIMESTAMPTZ_OID, 'text') as (v: string) => Date;
// PostgreSQL's text form of a UTC timestamptz (DateStyle ISO, TimeZone UTC): 2026-11-26 08:12:37.870123+00
const UTC_TEXT = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?\+00$/;

/**
 * A timestamptz as ISO 8601 in UTC with milliseconds, exactly as Date#toISOString writes it. The export reads
 * two per row, so the common case (a UTC session) is rewritten as text instead of going through a Date;
 * anything else (another time zone, infinity, BC) takes pg's own parser.
 */
export function timestampToIso(v: string): string {
  const m = UTC_TEXT.exec(v);
  if (m) return `${m[1]}T${m[2]}.${(m[3] ?? '').slice(0, 3).padEnd(3, '0')}Z`;
  const d = parseTimestamp(v);
  return d instanceof Date && !Number.isNaN(d.getTime()) ? d.toISOString() : String(v);
}

/** pg's type parsers, with timestamptz read straight into ISO text. */
const EXPORT_TYPES = {
  getTypeParser: (oid: number, format?: 'text' | 'binary') =>
    oid === TIMESTAMPTZ_OID && format !== 'binary' ? timestampToIso : pg.types.getTypeParser(oid, format ?? 'text'),
};

/** What the streamer needs of a Drizzle select: its SQL and the names of its fields, in order. */
export interface ExportQuery {
  toSQL(): { sql: string; params: unknown[] };
  readonly _: { readonly selectedFields: Record<string, unknown> };
}

export interface StreamResult {
  rows: number;
  /** Rows per group name: the groups the export touched (the activity log gets one entry per group). */
  groups: Map<string, number>;
}

export interface StreamOptions {
  /** Aborts the stream (client gone, shutdown); the cursor is closed and the connection released. */
  signal?: AbortSignal;
  /** Called every `progressEvery` rows with the rows written so far. Must not wait for the database. */
  onProgress?: (rows: number) => void;
  progressEvery?: number;
  /** Filled in by the XLSX writer: how much it buffered (tests, benchmark). */
  xlsxStats?: XlsxStats;
}

// Rows fetched from the cursor per round trip; also the stream's buffer, so memory stays flat.
const BATCH_SIZE = 1000;
// A cursor that cannot be closed within this time (a dead server) gets its connection discarded.
const CLOSE_TIMEOUT_MS = 5000;

/**
 * Streams the rows of `query` as `format` into `out` from a database cursor (pg-query-stream) on one pooled
 * connection, through stream.pipeline, so backpressure reaches the cursor and memory stays flat whatever
 * the row count. The connection is released in every path: done, failed, or aborted (client gone), after
 * the cursor is closed. No other connection and no transaction is used while streaming (the embedded
 * database has one connection: a second one would deadlock).
 *
 * `out` is NOT ended: the caller ends it once this has returned, i.e. after the connection is back in the
 * pool. Ending a response can itself need the pool (express-session saves the session as the response
 * ends): with the embedded database's single connection still held by the cursor, that would wait for it
 * forever. On failure the error is thrown and `out` is left to the caller (destroy a response, remove a
 * temp file).
 */
export async function streamExport(pool: pg.Pool, query: ExportQuery, format: ExportFormat, out: Writable, opts: StreamOptions = {}): Promise<StreamResult> {
  const { sql: text, params } = query.toSQL();
  const fields = Object.keys(query._.selectedFields);
  const cols = columnsFor(fields);
  const groupAt = fields.indexOf('group');
  const every = opts.progressEvery ?? 1000;

  const result: StreamResult = { rows: 0, groups: new Map() };
  const onRow = (row: unknown[]) => {
    result.rows++;
    if (groupAt >= 0) {
      const g = String(row[groupAt]);
      result.groups.set(g, (result.groups.get(g) ?? 0) + 1);
    }
    if (opts.onProgress && result.rows % every === 0) opts.onProgress(result.rows);
  };

  // One signal for everything that ends the stream early: the caller's, and `out` failing or closing early.
  const ac = new AbortController();
  const abort = (reason: unknown) => ac.abort(reason);
  if (opts.signal?.aborted) throw opts.signal.reason ?? new Error('aborted');
  opts.signal?.addEventListener('abort', () => abort(opts.signal!.reason), { once: true });
  const onOutError = (err: unknown) => abort(err);
  const onOutClose = () => {
    if (!out.writableFinished) abort(Object.assign(new Error('the destination closed early'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
  };
  out.on('error', onOutError);
  out.on('close', onOutClose);

  // The formats write here; everything it accepts has been handed to `out`, and it never ends `out`.
  const sink = forwardTo(out);
  const client = await pool.connect();
  let dbError: Error | undefined;
  const rows = new QueryStream(text, params as unknown[], { rowMode: 'array', batchSize: BATCH_SIZE, types: EXPORT_TYPES });
  rows.on('error', (err) => {
    // Errors that came from the database (not from our own destroy after an abort) taint the connection.
    if (!ac.signal.aborted && (err as { code?: string }).code !== 'ABORT_ERR') dbError ??= err;
  });
  try {
    client.query(rows);
    if (format === 'xlsx') {
      await pipeline(rows, xlsxConsumer(cols, onRow, sink, ac.signal, opts.xlsxStats), { signal: ac.signal });
    } else {
      const transform = format === 'json' ? jsonTransform(cols, onRow) : csvTransform(cols, format === 'csv_excel', onRow);
      await pipeline(rows, transform, sink, { signal: ac.signal });
    }
    return result;
  } catch (err) {
    if (!rows.destroyed) rows.destroy();
    sink.destroy();
    throw ac.signal.aborted && ac.signal.reason instanceof Error ? ac.signal.reason : err;
  } finally {
    out.off('error', onOutError);
    out.off('close', onOutClose);
    // The cursor closes as the stream is destroyed; release only once it has, so the next user of the
    // connection never finds a half-read portal. A cursor that will not close takes its connection with it.
    let closed = rows.closed;
    if (!closed) {
      closed = await Promise.race([
        once(rows, 'close').then(() => true, () => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), CLOSE_TIMEOUT_MS).unref()),
      ]);
    }
    client.release(dbError ?? (closed ? undefined : true));
  }
}

/**
 * A writable that hands every chunk to `out`, waiting for `out` to drain when it asks to (backpressure), and
 * finishes without ending `out`.
 */
function forwardTo(out: Writable): Writable {
  return new Writable({
    highWaterMark: 64 * 1024,
    write(chunk: Buffer, _encoding, cb) {
      if (out.destroyed || out.writableEnded) return cb(Object.assign(new Error('the destination closed early'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
      if (out.write(chunk)) return cb();
      const done = (err?: unknown) => {
        out.off('drain', done);
        out.off('close', closed);
        cb(err as Error | undefined);
      };
      const closed = () => done(Object.assign(new Error('the destination closed early'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
      out.once('drain', done);
      out.once('close', closed);
    },
    final(cb) {
      cb();
    },
  });
}
