import { z } from 'zod';
import type { TFunction } from 'i18next';
import { EXPORT_FORMATS } from '../../db/schema/index.js';
import { AppError, NotFoundError } from '../../web/errors.js';
import { clientFilters, type ClientFilters } from '../clients/clients.schemas.js';
import { isRealDate } from '../leads/leads.schemas.js';
import type { ExportFormat } from './exports.format.js';

/**
 * The export's query string, parsed strictly. The list forgives a bad filter (it falls back to "all"); an
 * export must not: exporting more than the user asked for is a leak, so an unknown parameter or value is a
 * 400 that names the parameter and its allowed values. The filters are the list's own (clientFilters), so
 * a filter added to the list is known here too.
 */

const unwrap = (s: z.ZodType): z.ZodType => (s instanceof z.ZodCatch ? (s.unwrap() as z.ZodType) : s);

const filterKeys = Object.keys(clientFilters.shape) as (keyof typeof clientFilters.shape)[];


const strictFilters = z.object(
  Object.fromEntries(
    filterKeys.map((k) => {
      let s = unwrap(clientFilters.shape[k]);
      if (k === 'createdFrom' || k === 'createdTo') s = z.string().refine(isRealDate);
      return [k, s.optional()];
    }),
  ),
);

const strictQuery = strictFilters.extend({ format: z.enum(EXPORT_FORMATS).default('csv') }).strict();

/** Parameters the list's export form may carry that mean nothing to an export (the page of the list). */
const IGNORED = new Set(['page', 'perPage', 'after', 'before']);

/** How the allowed values of a parameter are described when they are not a short list. */
const HINTS: Record<string, string> = {
  q: 'exports.allowed.text',
  group: 'exports.allowed.id',
  owner: 'exports.allowed.owner',
  createdFrom: 'exports.allowed.date',
  createdTo: 'exports.allowed.date',
};

function allowedValues(key: string, t: TFunction): string {
  const shape = strictQuery.shape as Record<string, z.ZodType>;
  let s: z.ZodType | undefined = shape[key];
  // Peel optional/default wrappers down to an enum, if there is one.
  for (let i = 0; i < 3 && s && !(s instanceof z.ZodEnum); i++) {
    s = s instanceof z.ZodOptional || s instanceof z.ZodDefault ? (s.unwrap() as z.ZodType) : undefined;
  }
  if (s instanceof z.ZodEnum) return (s.options as string[]).join(', ');
  return HINTS[key] ? t(HINTS[key]) : '';
}

export interface ExportRequest {
  format: ExportFormat;
  filters: ClientFilters;
}

/** Parses `req.query`; throws a 400 whose message lists every bad parameter with its allowed values. */
export function parseExportQuery(query: Record<string, unknown>, t: TFunction): ExportRequest {
  const input: Record<string, unknown> = {};
  const problems: string[] = [];
  const known = new Set([...Object.keys(strictQuery.shape)]);
  for (const [key, value] of Object.entries(query)) {
    if (IGNORED.has(key)) continue;
    if (!known.has(key)) {
      problems.push(t('exports.errors.unknownParam', { param: key.slice(0, 40), allowed: [...known].join(', ') }));
      continue;
    }
    if (Array.isArray(value)) {
      problems.push(t('exports.errors.repeatedParam', { param: key }));
      continue;
    }
    // An empty field of the list's form ("any status") means no filter.
    if (value === '' || value === undefined) continue;
    input[key] = value;
  }
  const parsed = strictQuery.safeParse(input);
  if (!parsed.success) {
    const seen = new Set<string>();
    for (const issue of parsed.error.issues) {
      const key = String(issue.path[0] ?? '');
      if (!key || seen.has(key)) continue;
      seen.add(key);
      const value = String(input[key] ?? '').slice(0, 50);
      problems.push(t('exports.errors.badValue', { param: key, value, allowed: allowedValues(key, t) }));
    }
  }
  if (problems.length || !parsed.success) throw new AppError(400, 'exports.errors.badQuery', { details: problems.join(' ') });
  const { format, ...filters } = parsed.data;
  // Defaults (sort, direction) exactly as the list applies them.
  return { format: format as ExportFormat, filters: clientFilters.parse(filters) };
}

/** The stored filters of an export (jsonb), read back through the list's schema. */
export const storedFilters = (raw: unknown): ClientFilters => clientFilters.parse(raw ?? {});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** An export id from the URL; anything else is a page that does not exist. */
export function exportIdParam(v: unknown): string {
  if (typeof v !== 'string' || !UUID.test(v)) throw new NotFoundError();
  return v;
}

/** Only the filters that narrow the set: what the log and the activity record keep. */
export function activeFilters(f: ClientFilters): Record<string, unknown> {
  return Object.fromEntries(Object.entries(f).filter(([, v]) => v !== undefined && v !== null && v !== ''));
}
