import { once } from 'node:events';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import QueryStream from 'pg-query-stream';
import { copyOut, inlineParams, WriteBatch } from './copy-out.js';
import { EXCEL_BOM, columnsFor, csvCopyStatement, csvTransform, jsonTransform, xlsxConsumer, type ExportFormat, type XlsxStats } from './exports.format.js';

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

/** A Drizzle query, or anything else that gives its SQL and parameters. */
export interface SqlQuery {
  toSQL(): { sql: string; params: unknown[] };
}

/** What the streamer needs of a Drizzle select: its SQL and the names of its fields, in order. */
export interface ExportQuery extends SqlQuery {
  readonly _: { readonly selectedFields: Record<string, unknown> };
}

export interface StreamResult {
  rows: number;
  /** Rows per group name: the groups the export touched (the activity log gets one entry per group). */
  groups: Map<string, number>;
}

export interface StreamOptions {
  /** Aborts the stream (client gone, shutdown); the cursor or COPY is ended and the connection released. */
  signal?: AbortSignal;
  /** Called every `progressEvery` rows with the rows written so far. Must not wait for the database. */
  onProgress?: (rows: number) => void;
  progressEvery?: number;
  /** Filled in by the XLSX writer: how much it buffered (tests, benchmark). */
  xlsxStats?: XlsxStats;
  /**
   * Write CSV (both formats) with COPY rather than through the cursor. `groupCounts` selects (group name, rows)
   * with the export query's WHERE: COPY's rows are not parsed, so StreamResult.groups is counted by it.
   */
  copy?: { groupCounts: SqlQuery };
}

// Rows fetched from the cursor per round trip; also the stream's buffer, so memory stays flat.
const BATCH_SIZE = 1000;
// A cursor that cannot be closed within this time (a dead server) gets its connection discarded.
const CLOSE_TIMEOUT_MS = 5000;

const prematureClose = () => Object.assign(new Error('the destination closed early'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });

/**
 * Streams the rows of `query` as `format` into `out` on one pooled connection, so memory stays flat whatever
 * the row count and backpressure reaches the database:
 * - CSV with `opts.copy`: PostgreSQL writes the file (`COPY … TO STDOUT`, see copyCsv), and Node only hands
 *   it on; Node parsing and formatting every cell made the export run at about half of COPY's rate.
 * - otherwise (JSON, XLSX, and CSV on the embedded database): rows are read from a cursor (pg-query-stream)
 *   and formatted by exports.format.ts, through stream.pipeline.
 * The connection is released in every path: done, failed, or aborted (client gone), once the cursor is
 * closed or, for COPY, by closing the connection. No second connection is used while streaming (the embedded
 * database has one connection: a second one would deadlock).
 *
 * `out` is NOT ended: the caller ends it once this has returned, i.e. after the connection is back in the
 * pool. Ending a response can itself need the pool (express-session saves the session as the response
 * ends): with the embedded database's single connection still held by the cursor, that would wait for it
 * forever. On failure the error is thrown and `out` is left to the caller (destroy a response, remove a
 * temp file).
 */
export async function streamExport(pool: pg.Pool, query: ExportQuery, format: ExportFormat, out: Writable, opts: StreamOptions = {}): Promise<StreamResult> {
  if (opts.signal?.aborted) throw opts.signal.reason ?? new Error('aborted');
  const every = opts.progressEvery ?? 1000;
  const progress = (rows: number) => {
    if (opts.onProgress && rows % every === 0) opts.onProgress(rows);
  };

  // One signal for everything that ends the stream early: the caller's, and `out` failing or closing early.
  const ac = new AbortController();
  const onAbort = () => ac.abort(opts.signal!.reason);
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const onOutError = (err: unknown) => ac.abort(err);
  const onOutClose = () => {
    if (!out.writableFinished) ac.abort(prematureClose());
  };
  out.on('error', onOutError);
  out.on('close', onOutClose);
  try {
    const csv = format === 'csv' || format === 'csv_excel';
    return opts.copy && csv
      ? await copyCsv(pool, query, format === 'csv_excel', opts.copy.groupCounts, out, progress, ac)
      : await fromCursor(pool, query, format, out, progress, ac.signal, opts.xlsxStats);
  } catch (err) {
    throw ac.signal.aborted && ac.signal.reason instanceof Error ? ac.signal.reason : err;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    out.off('error', onOutError);
    out.off('close', onOutClose);
  }
}

/** Any format from a cursor, formatted here (exports.format.ts). */
async function fromCursor(
  pool: pg.Pool, query: ExportQuery, format: ExportFormat, out: Writable, progress: (rows: number) => void, signal: AbortSignal, xlsxStats?: XlsxStats,
): Promise<StreamResult> {
  const { sql: text, params } = query.toSQL();
  const fields = Object.keys(query._.selectedFields);
  const cols = columnsFor(fields);
  const groupAt = fields.indexOf('group');

  const result: StreamResult = { rows: 0, groups: new Map() };
  const onRow = (row: unknown[]) => {
    result.rows++;
    if (groupAt >= 0) {
      const g = String(row[groupAt]);
      result.groups.set(g, (result.groups.get(g) ?? 0) + 1);
    }
    progress(result.rows);
  };

  // The formats write here; everything it accepts has been handed to `out`, and it never ends `out`.
  const sink = forwardTo(out);
  const client = await pool.connect();
  let dbError: Error | undefined;
  const rows = new QueryStream(text, params as unknown[], { rowMode: 'array', batchSize: BATCH_SIZE, types: EXPORT_TYPES });
  rows.on('error', (err) => {
    // Errors that came from the database (not from our own destroy after an abort) taint the connection.
    if (!signal.aborted && (err as { code?: string }).code !== 'ABORT_ERR') dbError ??= err;
  });
  try {
    client.query(rows);
    if (format === 'xlsx') {
      await pipeline(rows, xlsxConsumer(cols, onRow, sink, signal, xlsxStats), { signal });
    } else {
      const transform = format === 'json' ? jsonTransform(cols, onRow) : csvTransform(cols, format === 'csv_excel', onRow);
      await pipeline(rows, transform, sink, { signal });
    }
    return result;
  } catch (err) {
    if (!rows.destroyed) rows.destroy();
    sink.destroy();
    throw err;
  } finally {
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
 * CSV written by PostgreSQL: the export query inside `COPY (…) TO STDOUT` (csvCopyStatement; COPY takes no
 * parameters, so they are written in as literals). Node neither parses nor formats a cell, and the server
 * goes on writing rows while Node hands the last ones on (a cursor's batches take turns with Node instead).
 * The COPY and the count of rows per group run in one REPEATABLE READ transaction: both see one snapshot.
 */
async function copyCsv(
  pool: pg.Pool, query: ExportQuery, excel: boolean, groupCounts: SqlQuery, out: Writable, progress: (rows: number) => void, ac: AbortController,
): Promise<StreamResult> {
  const cols = columnsFor(Object.keys(query._.selectedFields));
  const { sql, params } = query.toSQL();
  const client = await pool.connect();
  let clean = false;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    // COPY sends text in the connection's encoding, which pg leaves to the server's default; the file is UTF-8.
    await client.query("SET LOCAL client_encoding = 'UTF8'");
    ac.signal.throwIfAborted();
    const statement = csvCopyStatement(cols, inlineParams(sql, params, (s) => client.escapeLiteral(s)), excel);
    const rows = await copyRows(client, statement, excel ? Buffer.from(EXCEL_BOM) : undefined, out, progress, ac);
    const groups = await rowsPerGroup(client, groupCounts);
    await client.query('COMMIT');
    clean = true;
    return { rows, groups };
  } finally {
    // A connection left inside the COPY or the transaction (aborted, failed) is closed, not pooled: the
    // server then ends the COPY and rolls back by itself.
    client.release(clean ? undefined : true);
  }
}

/**
 * Runs the COPY and hands its records to `out` (after `prefix`) in writes of about 64 KiB: a write per row
 * costs more than the row. While `out` asks to drain, the connection is not read, so the server waits.
 * Resolves with the rows written (the header not counted).
 */
async function copyRows(
  client: pg.PoolClient, statement: string, prefix: Buffer | undefined, out: Writable, progress: (rows: number) => void, ac: AbortController,
): Promise<number> {
  const batch = new WriteBatch(prefix);
  let messages = 0;
  let paused = false;
  const resume = () => {
    paused = false;
    copy.resume();
  };
  const write = (chunk: Buffer) => {
    if (out.destroyed || out.writableEnded) throw prematureClose();
    return out.write(chunk);
  };
  const copy = copyOut(client, statement, (record) => {
    if (ac.signal.aborted) return;
    try {
      // COPY ends each record with LF; csvRecord's end in CRLF.
      if (record[record.length - 1] !== LF) throw new Error('a COPY message that does not end a record');
      const full = batch.add(record.subarray(0, record.length - 1), CRLF);
      if (full && !write(full) && !paused) {
        paused = true;
        copy.pause();
        out.once('drain', resume);
      }
      // The first record is the header.
      if (messages++) progress(messages - 1);
    } catch (err) {
      ac.abort(err);
    }
  });
  try {
    const reported = await Promise.race([copy.done, rejectOnAbort(ac.signal)]);
    const rows = messages - 1;
    // Differs only if a message ever held other than one record: its line ends would be wrong too.
    if (reported !== rows) throw new Error(`COPY reported ${reported} rows but sent ${messages} messages`);
    const rest = batch.take();
    if (rest) write(rest);
    return rows;
  } finally {
    out.off('drain', resume);
    // The COPY may end while `out` is draining: the connection must be read again for what follows it.
    if (paused) copy.resume();
  }
}

const rejectOnAbort = (signal: AbortSignal) =>
  new Promise<never>((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });

/** Rows per group name, from a (group name, rows) query. */
async function rowsPerGroup(client: pg.PoolClient, query: SqlQuery): Promise<Map<string, number>> {
  const { sql, params } = query.toSQL();
  const { rows } = await client.query<[unknown, unknown]>({ text: sql, values: params, rowMode: 'array' });
  return new Map(rows.map(([name, n]) => [String(name), Number(n)]));
}

const CRLF = Buffer.from('\r\n');
const LF = 0x0a;

/**
 * A writable that hands every chunk to `out`, waiting for `out` to drain when it asks to (backpressure), and
 * finishes without ending `out`.
 */
function forwardTo(out: Writable): Writable {
  return new Writable({
    highWaterMark: 64 * 1024,
    write(chunk: Buffer, _encoding, cb) {
      if (out.destroyed || out.writableEnded) return cb(prematureClose());
      if (out.write(chunk)) return cb();
      const done = (err?: unknown) => {
        out.off('drain', done);
        out.off('close', closed);
        cb(err as Error | undefined);
      };
      const closed = () => done(prematureClose());
      out.once('drain', done);
      out.once('close', closed);
    },
    final(cb) {
      cb();
    },
  });
}
