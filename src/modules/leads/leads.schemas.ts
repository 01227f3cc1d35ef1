import { z } from 'zod';
import { LEAD_STATUSES } from '../../db/schema/index.js';
import { cursorQuery, pageQuery } from '../../lib/pagination.js';
import { AppError } from '../../web/errors.js';

export const LEAD_SOURCES = ['website', 'referral', 'cold_call', 'email', 'event', 'partner', 'social', 'other'] as const;
/** Statuses a user sets by hand; "converted" only comes from a conversion. */
export const EDITABLE_STATUSES = ['new', 'contacted', 'qualified', 'lost'] as const;
export const STALE_DAYS = 14;
/**
 * Where "stale" begins: STALE_DAYS before the start of today (UTC, the days the lists' date filters use): a lead
 * is stale when nothing happened to it on any of the last STALE_DAYS days nor today. The list, its count and the
 * dashboard take the same boundary, so the dashboard's figure and the list it links to agree, and it moves once a
 * day: a page of stale leads is kept like any other list page (memoizedPage, F37), and the dashboard's figures
 * of a group are kept until that group changes or the day turns (F43). It was the start of the minute (F37), which
 * made every admin dashboard recount a million leads each minute; a rule counted in days needs no more than days.
 */
export function staleBefore(now = Date.now()): Date {
  return new Date(Math.floor(now / 86_400_000) * 86_400_000 - STALE_DAYS * 86_400_000);
}
export const OPEN_STATUSES = ['new', 'contacted', 'qualified'] as const;
export const LEAD_SORTS = ['created', 'updated', 'name', 'status', 'value', 'owner'] as const;

const optionalText = (max: number) =>
  z.string().trim().max(max).transform((v) => (v === '' ? null : v)).nullable().optional();

export const optionalEmail = z
  .string()
  .trim()
  .max(254)
  .transform((v) => v.toLowerCase())
  .pipe(z.union([z.literal(''), z.email('validation.email')]))
  .transform((v) => (v === '' ? null : v))
  .optional();

// Digits with the usual separators and an optional leading +; at least 5 digits.
export const optionalPhone = z
  .string()
  .trim()
  .max(40)
  .refine((v) => v === '' || (/^\+?[\d\s().-]+$/.test(v) && (v.match(/\d/g)?.length ?? 0) >= 5), 'validation.phone')
  .transform((v) => (v === '' ? null : v))
  .optional();

/** Money as typed by people: "12 500,50" or "12500.50"; empty means unknown. Never negative. */
export const optionalMoney = z
  .string()
  .trim()
  .max(30)
  .transform((v) => v.replace(/[\s\u00a0]/g, '').replace(',', '.'))
  .refine((v) => v === '' || /^-?\d{1,12}(\.\d{1,2})?$/.test(v), 'validation.money')
  .refine((v) => v === '' || Number(v) >= 0, 'validation.nonNegative')
  .transform((v) => (v === '' ? null : v))
  .optional();

/** An id from a select; empty means none. */
export const optionalId = z
  .union([z.literal(''), z.coerce.number().int().positive()])
  .transform((v) => (v === '' ? null : v))
  .optional();

export const leadInput = z.object({
  groupId: z.coerce.number({ error: 'validation.required' }).int().positive('validation.required'),
  ownerId: optionalId,
  firstName: z.string().trim().max(100).default(''),
  lastName: z.string().trim().min(1, 'validation.required').max(100),
  email: optionalEmail,
  phone: optionalPhone,
  company: optionalText(200),
  source: z.union([z.literal(''), z.enum(LEAD_SOURCES)], 'validation.invalid').transform((v) => (v === '' ? null : v)).optional(),
  status: z.enum(EDITABLE_STATUSES, 'validation.invalid').default('new'),
  value: optionalMoney,
  description: z.string().trim().max(10_000).default(''),
});
export type LeadInput = z.output<typeof leadInput>;

const many = <T extends z.ZodType>(item: T) =>
  z.preprocess((v) => (v === undefined || v === '' ? [] : Array.isArray(v) ? v : [v]), z.array(z.unknown()))
    .transform((arr) => arr.flatMap((x) => { const r = item.safeParse(x); return r.success ? [r.data as z.output<T>] : []; }));

/**
 * A real calendar day as YYYY-MM-DD, not just its shape (2026-13-45 and 2026-02-30 are not days), in years
 * PostgreSQL and the list's end-of-day bound can both hold.
 */
export function isRealDate(v: string): boolean {
  const m = /^(\d{4})-\d{2}-\d{2}$/.exec(v);
  if (!m || Number(m[1]) < 1 || Number(m[1]) > 9998) return false;
  const d = new Date(`${v}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === v;
}

/**
 * A bound of a list's created range. Unlike the other filters, a wrong one is not dropped: the list would
 * then show more than was asked for while looking filtered. Empty means no bound; anything else must be a
 * real day, or the request is a 400 that names the parameter (a browser's date field only sends real ones).
 * The lists of leads and clients and their API counterparts all parse through this.
 */
export const listDate = (param: string) =>
  z
    .string()
    .transform((v) => {
      const day = v.trim();
      if (!day) return undefined;
      if (!isRealDate(day)) throw new AppError(400, 'errors.badDate', { param, value: day.slice(0, 40) });
      return day;
    })
    .optional();
const money = z
  .string()
  .trim()
  .transform((v) => (v === '' ? undefined : Number(v.replace(/[\s\u00a0]/g, '').replace(',', '.'))))
  .refine((n) => n === undefined || (Number.isFinite(n) && n >= 0))
  .optional()
  .catch(undefined);

/**
 * The list's query string. Anything outside the allow-lists is dropped (a bookmarked URL with an old or
 * crafted value still opens the list); sort and direction never reach SQL as text.
 */
export const leadListQuery = pageQuery.extend({
  ...cursorQuery,
  q: z.string().trim().max(200).optional().catch(undefined),
  group: z.coerce.number().int().positive().optional().catch(undefined),
  status: many(z.enum(LEAD_STATUSES)),
  owner: z.union([z.enum(['me', 'none']), z.coerce.number().int().positive()]).optional().catch(undefined),
  source: z.enum(LEAD_SOURCES).optional().catch(undefined),
  createdFrom: listDate('createdFrom'),
  createdTo: listDate('createdTo'),
  valueMin: money,
  valueMax: money,
  converted: z.enum(['1']).optional().catch(undefined),
  /** Open leads with no activity for STALE_DAYS days (the dashboard links here). */
  stale: z.enum(['1']).optional().catch(undefined),
  sort: z.enum(LEAD_SORTS).catch('created'),
  dir: z.enum(['asc', 'desc']).catch('desc'),
});
export type LeadListQuery = z.output<typeof leadListQuery>;

export const convertInput = z.object({
  name: z.string().trim().min(1, 'validation.required').max(200),
  company: optionalText(200),
  email: optionalEmail,
  phone: optionalPhone,
  address: z.string().trim().max(1000).default(''),
  website: optionalText(300),
  notes: z.string().trim().max(10_000).default(''),
});
export type ConvertInput = z.output<typeof convertInput>;
