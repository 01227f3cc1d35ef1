import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { EXPORT_FORMATS } from '../../db/schema/index.js';

/**
 * The export file formats: column headers, how a database row becomes cells, and the writers. Rows arrive as
 * arrays (pg rowMode 'array') in the order of the export query's selected fields; nothing here touches the
 * database, so the same writers serve the download and the background job. CSV on PostgreSQL is written by
 * the server instead (`COPY … TO STDOUT`, see exports.stream.ts): csvCopyStatement says in SQL what
 * csvCells and csvRecord say here, and the tests hold the two to the same bytes.
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

/**
 * A cell of csvCells computed by PostgreSQL. Text: neutralised as neutralise() does (ascii() is the first
 * character's code point, 0 for ''), and '' made NULL, since COPY quotes an empty string ("") to tell it from
 * NULL while csvRecord writes both as nothing. Timestamps (timestamptz): ISO 8601 UTC with milliseconds as
 * timestampToIso writes them; to_char's MS truncates the microseconds as it does. (Years outside 1–9999 and
 * ±infinity would differ from Date#toISOString; created_at and updated_at are set by now().) Integers: COPY's
 * text is JavaScript's.
 */
function copyCell(col: string, kind: Kind): string {
  if (kind === 'int') return col;
  if (kind === 'time') return `to_char(${col} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
  const text = `${col}::text`;
  return `case when ascii(${text}) in (61, 43, 45, 64, 9, 13) then '''' || ${text} else nullif(${text}, '') end`;
}

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * The COPY statement that writes `select` (the export query, parameters written in) as csvTransform does,
 * but with LF ending each record (COPY has no other; the reader turns it into CRLF). Quoting is csvRecord's:
 * COPY quotes a value that holds the delimiter, a quote, CR or LF, doubling quotes, and nothing else here
 * (leading or trailing spaces stay bare; a lone `\.` is quoted only in a one-column COPY). The select's
 * columns are renamed by position (c1, c2, …; several are called "name"), each cell is computed from its
 * column and named by its header. A subquery with ORDER BY is never flattened into the outer query
 * (PostgreSQL's is_simple_subquery), and a projection of its scan keeps its rows' order: the file is in the
 * list's order.
 */
export function csvCopyStatement(cols: Column[], select: string, excel: boolean): string {
  const names = cols.map((_, i) => `c${i + 1}`);
  const cells = cols.map((c, i) => `${copyCell(names[i]!, c.kind)} as ${quoteIdent(c.header)}`);
  const options = excel ? `FORMAT csv, HEADER, DELIMITER ';'` : 'FORMAT csv, HEADER';
  return `COPY (select ${cells.join(', ')} from (${select}) as e(${names.join(', ')})) TO STDOUT (${options})`;
}

/** Column letters of the sheet: A, B, … Z, AA, AB, … */
function columnLetter(i: number): string {
  let out = '';
  for (let n = i + 1; n > 0; n = Math.floor((n - 1) / 26)) out = String.fromCharCode(65 + ((n - 1) % 26)) + out;
  return out;
}

// What XML 1.0 text cannot hold as is: markup characters (escaped) and control characters (dropped), as exceljs does.
const XML_SPECIAL = /[<>&'"\x7F\x00-\x08\x0B\x0C\x0E-\x1F]/;
const XML_SPECIAL_ALL = /[<>&'"\x7F\x00-\x08\x0B\x0C\x0E-\x1F]/g;
const XML_ENTITY: Record<string, string> = { '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' };
export const xmlText = (s: string): string => (XML_SPECIAL.test(s) ? s.replace(XML_SPECIAL_ALL, (c) => XML_ENTITY[c] ?? '') : s);

/**
 * One row of the sheet as SpreadsheetML, exactly as exceljs's streaming writer writes a row without shared
 * strings (`t="str"` text, numbers as numbers, empty cells left out): numbers stay numbers, text is
 * neutralised, timestamps are ISO 8601 text. Written here rather than through exceljs's Row and Cell objects,
 * which cost several objects per cell: at 250,000 rows that garbage alone grew the heap by ~80 MiB.
 */
function xlsxRowXml(row: unknown[], cols: Column[], refs: string[], r: number): string {
  let xml = `<row r="${r}" spans="1:${cols.length}" x14ac:dyDescent="0.25">`;
  for (let i = 0; i < cols.length; i++) {
    const v = row[i];
    if (v === null || v === undefined) continue;
    const kind = cols[i]!.kind;
    if (kind === 'int') {
      const n = Number(v);
      if (Number.isFinite(n)) {
        xml += `<c r="${refs[i]}${r}"><v>${n}</v></c>`;
        continue;
      }
    }
    const text = kind === 'time' ? iso(v)! : kind === 'int' ? String(v) : neutralise(String(v));
    xml += `<c r="${refs[i]}${r}" t="str"><v>${xmlText(text)}</v></c>`;
  }
  return xml + '</row>';
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

/** What a CSV for Excel starts with: Excel needs the BOM to read the file as UTF-8. */
export const EXCEL_BOM = '\uFEFF';

/** CSV, RFC 4180 and UTF-8: a header record, then one record per row, each ending in CRLF. */
export function csvTransform(cols: Column[], excel: boolean, onRow: RowTap) {
  const delimiter = excel ? ';' : ',';
  return async function* (rows: AsyncIterable<unknown[]>): AsyncGenerator<string> {
    // Excel (in Russian locales, where `,` is the decimal separator) reads `;` and needs the BOM to see UTF-8.
    yield (excel ? EXCEL_BOM : '') + csvRecord(cols.map((c) => c.header), delimiter);
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

/** What the XLSX writer reports about its buffering (tests and the benchmark read it). */
export interface XlsxStats {
  /** The most sheet XML, in bytes, that waited for the compressor at any one time. */
  maxBuffered: number;
  /** How many times the writer stopped reading rows until the zip (or `out`) caught up. */
  waits: number;
}

/**
 * The most sheet XML allowed to wait for the compressor before the writer stops reading rows. (exceljs hands
 * the XML on in 64 KiB chunks, so up to one chunk more may wait.)
 */
export const XLSX_MAX_BUFFERED = 256 * 1024;

/**
 * XLSX through exceljs's streaming writer (no shared strings, no styles: nothing is kept per row), writing
 * straight into `out`, each row committed as it comes. Resolves when `out` has finished; rejects (never
 * hangs) when `signal` aborts.
 *
 * Backpressure: exceljs takes no notice of it. A committed row's XML goes into the sheet's buffer
 * (exceljs's StreamBuf), which hands it, ignoring write()'s answer, to the PassThrough that archiver reads
 * the sheet from as it compresses; and archiver pipes the zip into `out`. So after each row the writer
 * waits while more than XLSX_MAX_BUFFERED bytes of sheet wait for the compressor, or while `out` asks to
 * drain: the cursor is then read no faster than the zip is written. Without this, a fast cursor piles the
 * whole sheet up in memory (≈ 190 MB of XML for 250,000 rows). The PassThrough is exceljs's private state
 * (a readable-stream v2 stream); if a future version hides it, the writer refuses to run rather than
 * buffer without limit.
 */
export function xlsxConsumer(cols: Column[], onRow: RowTap, out: Writable, signal: AbortSignal, stats?: XlsxStats) {
  return async (rows: AsyncIterable<unknown[]>): Promise<void> => {
    signal.throwIfAborted();
    // Loaded on the first XLSX export: ~27 MiB of resident memory that CSV and JSON never use.
    const { default: ExcelJS } = await import('exceljs');
    const wb = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: out, useSharedStrings: false, useStyles: false });
    const ws = wb.addWorksheet('Clients');
    ws.addRow(cols.map((c) => c.header)).commit();
    const sheet = (ws as unknown as { _stream?: { pipes?: LegacyStream[] } })._stream?.pipes?.[0];
    if (!sheet?._writableState || !sheet._readableState) throw new Error('exceljs: the sheet stream is not where the XLSX writer expects it');
    const buffered = () => sheet._writableState!.length + sheet._readableState!.length;
    // 'drain' comes once the sheet's buffer has emptied into the compressor. (No 'data' listener here: on a
    // stream not yet piped it would start the flow before archiver reads, and lose the XML.)
    const sheetDrained = () => (sheet._writableState!.needDrain ? once(sheet as unknown as Writable, 'drain', { signal }) : new Promise((r) => setImmediate(r)));

    // The header went through exceljs (which opens <sheetData>); the rows go straight into the sheet's stream.
    const sheetXml = (ws as unknown as { stream: { write(s: string): unknown } }).stream;
    const refs = cols.map((_, i) => columnLetter(i));
    let r = 1;
    for await (const row of rows) {
      onRow(row);
      sheetXml.write(xlsxRowXml(row, cols, refs, ++r));
      const n = buffered();
      if (stats && n > stats.maxBuffered) stats.maxBuffered = n;
      if (n > XLSX_MAX_BUFFERED) {
        if (stats) stats.waits++;
        await sheetDrained();
      }
      if (out.writableNeedDrain) {
        if (stats) stats.waits++;
        await once(out, 'drain', { signal });
      }
    }
    ws.commit();
    // The zip finishes into `out`; an abort on the way must not leave this waiting for it.
    await new Promise<void>((resolve, reject) => {
      const abort = () => reject(signal.reason ?? new Error('aborted'));
      signal.addEventListener('abort', abort, { once: true });
      wb.commit().then(
        () => {
          signal.removeEventListener('abort', abort);
          resolve();
        },
        (err: unknown) => {
          signal.removeEventListener('abort', abort);
          reject(err as Error);
        },
      );
    });
  };
}

/** What the writer reads of exceljs's sheet stream (readable-stream v2: no writableLength there). */
interface LegacyStream {
  _writableState?: { length: number; needDrain: boolean };
  _readableState?: { length: number };
}

/** The file name offered for download, e.g. clients-2026-11-26.csv. */
export function exportFileName(format: ExportFormat, date: Date = new Date()): string {
  return `clients-${date.toISOString().slice(0, 10)}.${FORMAT_INFO[format].ext}`;
}
