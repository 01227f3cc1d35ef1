import { once } from 'node:events';
import type { Writable } from 'node:stream';
import ExcelJS from 'exceljs';
import { EXPORT_FORMATS } from '../../db/schema/index.js';

/**
 * The export file formats: column headers, how a database row becomes cells, and the writers. Rows arrive as
 * arrays (pg rowMode 'array') in the order of the export query's selected fields; nothing here touches the
 * database, so the same writers serve the download and the background job.
 */

export type ExportFormat = (typeof EXPORT_FORMATS)[number];
export { EXPORT_FORMATS };

/** What each format is sent as and saved as. */
export const FORMAT_INFO: Record<ExportFormat, { ext: string; contentType: string }> = {
  csv: { ext: 'csv', contentType: 'text/csv; charset=utf-8; header=present' },
  csv_excel: { ext: 'csv', contentType: 'text/csv; charset=utf-8; header=present' },
  xlsx: { ext: 'xlsx', contentType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' },
  json: { ext: 'json', contentType: 'application/json; charset=utf-8' },
};

type Kind = 'int' | 'text' | 'time';

/**
 * The export's columns by the key the export query selects them under (clientExportQuery): the CSV/XLSX
 * header (snake_case, stable for re-import, not translated) and the JSON key (camelCase).
 */
const COLUMN_DEFS: Record<string, { header: string; key: string; kind: Kind }> = {
  id: { header: 'id', key: 'id', kind: 'int' },
  name: { header: 'name', key: 'name', kind: 'text' },
  company: { header: 'company', key: 'company', kind: 'text' },
  email: { header: 'email', key: 'email', kind: 'text' },
  phone: { header: 'phone', key: 'phone', kind: 'text' },
  address: { header: 'address', key: 'address', kind: 'text' },
  website: { header: 'website', key: 'website', kind: 'text' },
  status: { header: 'status', key: 'status', kind: 'text' },
  notes: { header: 'notes', key: 'notes', kind: 'text' },
  group: { header: 'group', key: 'group', kind: 'text' },
  ownerName: { header: 'owner_name', key: 'ownerName', kind: 'text' },
  ownerEmail: { header: 'owner_email', key: 'ownerEmail', kind: 'text' },
  createdAt: { header: 'created_at', key: 'createdAt', kind: 'time' },
  updatedAt: { header: 'updated_at', key: 'updatedAt', kind: 'time' },
  leadId: { header: 'source_lead_id', key: 'sourceLeadId', kind: 'int' },
};

export interface Column {
  header: string;
  key: string;
  kind: Kind;
}

/** The columns for a query's selected field names, in that order. A field added to the query is exported too. */
export function columnsFor(fieldNames: string[]): Column[] {
  return fieldNames.map((f) => COLUMN_DEFS[f] ?? { header: f, key: f, kind: 'text' });
}

/**
 * Formula injection (CSV and XLSX): a cell starting with = + - @, a tab or a carriage return could be run as
 * a formula by a spreadsheet; it is prefixed with a single quote. The trade-off: such values (a phone
 * "+7 916 …") come back with the quote when the file is re-imported. JSON is data, not a sheet: untouched.
 */
export const neutralise = (s: string): string => {
  const c = s.charCodeAt(0);
  // = + - @ TAB CR
  return c === 61 || c === 43 || c === 45 || c === 64 || c === 9 || c === 13 ? `'${s}` : s;
};

/** Timestamps arrive as ISO text already (see exports.stream.ts); a Date is written the same way. */
const iso = (v: unknown): string | null => {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  const d = v instanceof Date ? v : new Date(String(v));
  return Number.isNaN(d.getTime()) ? String(v) : d.toISOString();
};
const int = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/** One row as spreadsheet text cells (CSV): neutralised, timestamps ISO 8601, null as an empty cell. */
function csvCells(row: unknown[], cols: Column[]): string[] {
  const out = new Array<string>(cols.length);
  for (let i = 0; i < cols.length; i++) {
    const v = row[i];
    const kind = cols[i]!.kind;
    if (v === null || v === undefined) out[i] = '';
    else if (kind === 'time') out[i] = iso(v)!;
    else if (kind === 'int') out[i] = String(v);
    else out[i] = neutralise(String(v));
  }
  return out;
}

/** One row as XLSX cells: numbers stay numbers, text neutralised, timestamps as ISO 8601 text. */
function xlsxCells(row: unknown[], cols: Column[]): (string | number | null)[] {
  return cols.map((c, i) => {
    const v = row[i];
    if (v === null || v === undefined) return null;
    if (c.kind === 'time') return iso(v);
    if (c.kind === 'int') return int(v);
    return neutralise(String(v));
  });
}

/** One row as a JSON object with camelCase keys; values as stored (not neutralised). */
function jsonObject(row: unknown[], cols: Column[]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (let i = 0; i < cols.length; i++) {
    const c = cols[i]!;
    const v = row[i];
    o[c.key] = v === undefined ? null : c.kind === 'time' ? iso(v) : c.kind === 'int' ? int(v) : v;
  }
  return o;
}

/** Called with every row as it is written (counting, progress). */
export type RowTap = (row: unknown[]) => void;

// Rows are formatted in batches: one string per batch keeps stream overhead per row low.
const BATCH = 500;

/**
 * One CSV record (RFC 4180): cells joined by the delimiter, a cell quoted (inner quotes doubled) when it
 * holds the delimiter, a quote or a line break, CRLF at the end. Written by hand rather than with
 * csv-stringify: this is the export's hot loop, and csv-stringify's per-cell option handling costs ten times
 * more than the quoting itself (≈ 20 µs a row), which alone would make a 250,000-row export several times
 * slower than PostgreSQL's COPY. The tests check this output against csv-stringify's, byte for byte.
 */
export function csvRecord(cells: string[], delimiter: ',' | ';'): string {
  const special = delimiter === ';' ? NEEDS_QUOTES_SEMICOLON : NEEDS_QUOTES_COMMA;
  let line = '';
  for (let i = 0; i < cells.length; i++) {
    const v = cells[i]!;
    if (i) line += delimiter;
    line += special.test(v) ? `"${v.replace(QUOTE, '""')}"` : v;
  }
  return line + '\r\n';
}
const NEEDS_QUOTES_COMMA = /[",\r\n]/;
const NEEDS_QUOTES_SEMICOLON = /[";\r\n]/;
const QUOTE = /"/g;

/** CSV, RFC 4180 and UTF-8: a header record, then one record per row, each ending in CRLF. */
export function csvTransform(cols: Column[], excel: boolean, onRow: RowTap) {
  const delimiter = excel ? ';' : ',';
  return async function* (rows: AsyncIterable<unknown[]>): AsyncGenerator<string> {
    // Excel (in Russian locales, where `,` is the decimal separator) reads `;` and needs the BOM to see UTF-8.
    yield (excel ? '\uFEFF' : '') + csvRecord(cols.map((c) => c.header), delimiter);
    let chunk = '';
    let n = 0;
    for await (const row of rows) {
      onRow(row);
      chunk += csvRecord(csvCells(row, cols), delimiter);
      if (++n % BATCH === 0) {
        yield chunk;
        chunk = '';
      }
    }
    if (chunk) yield chunk;
  };
}

/** A JSON array of objects, streamed: `[`, rows separated by `,\n`, `]`. */
export function jsonTransform(cols: Column[], onRow: RowTap) {
  return async function* (rows: AsyncIterable<unknown[]>): AsyncGenerator<string> {
    let first = true;
    let chunk = '[';
    let n = 0;
    for await (const row of rows) {
      onRow(row);
      chunk += (first ? '\n' : ',\n') + JSON.stringify(jsonObject(row, cols));
      first = false;
      if (++n % BATCH === 0) {
        yield chunk;
        chunk = '';
      }
    }
    yield chunk + (first ? ']\n' : '\n]\n');
  };
}

/**
 * XLSX through exceljs's streaming writer (no shared strings, no styles: nothing is kept per row), writing
 * straight into `out`, each row committed as it comes. exceljs does not wait for the destination, so after a
 * row the writer waits for `out` to drain when its buffer is full: the cursor is read no faster than `out`
 * takes the bytes. Resolves when `out` has finished; rejects (never hangs) when `signal` aborts.
 */
export function xlsxConsumer(cols: Column[], onRow: RowTap, out: Writable, signal: AbortSignal) {
  return async (rows: AsyncIterable<unknown[]>): Promise<void> => {
    const aborted = new Promise<never>((_, reject) => {
      const fail = () => reject(signal.reason ?? new Error('aborted'));
      if (signal.aborted) fail();
      else signal.addEventListener('abort', fail, { once: true });
    });
    aborted.catch(() => undefined);
    const wb = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: out, useSharedStrings: false, useStyles: false });
    const ws = wb.addWorksheet('Clients');
    ws.addRow(cols.map((c) => c.header)).commit();
    // The sheet's XML goes through a stream into the zip, which compresses it asynchronously and takes no
    // notice of how much is waiting: without a check here, a fast cursor piles the whole sheet up in memory.
    // exceljs keeps that stream private (a readable-stream v2 PassThrough, whose buffer state is
    // _writableState); if it is not found (another version), the loop only yields to I/O now and then.
    const sheetPipe = (ws as unknown as { _stream?: { pipes?: LegacyWritable[] } })._stream?.pipes?.[0];
    const sheetFull = () => !!sheetPipe && (sheetPipe.writableNeedDrain ?? sheetPipe._writableState?.needDrain ?? false);
    let n = 0;
    for await (const row of rows) {
      onRow(row);
      ws.addRow(xlsxCells(row, cols)).commit();
      if (out.writableNeedDrain) await Promise.race([once(out, 'drain', { signal }), aborted]);
      if (++n % 100 === 0) {
        if (sheetFull()) await Promise.race([once(sheetPipe as unknown as Writable, 'drain', { signal }), aborted]);
        else if (!sheetPipe) await new Promise((r) => setImmediate(r));
      }
    }
    ws.commit();
    await Promise.race([wb.commit(), aborted]);
  };
}

/** What the check above reads of a stream from readable-stream v2 (no writableNeedDrain there). */
interface LegacyWritable {
  writableNeedDrain?: boolean;
  _writableState?: { needDrain?: boolean };
}

/** The file name offered for download, e.g. clients-2026-11-26.csv. */
export function exportFileName(format: ExportFormat, date: Date = new Date()): string {
  return `clients-${date.toISOString().slice(0, 10)}.${FORMAT_INFO[format].ext}`;
}
