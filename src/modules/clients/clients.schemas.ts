import { z } from 'zod';
import { CLIENT_STATUSES } from '../../db/schema/index.js';
import { cursorQuery, pageQuery } from '../../lib/pagination.js';
import { listDate, optionalEmail, optionalId, optionalPhone } from '../leads/leads.schemas.js';

export const CLIENT_SORTS = ['created', 'updated', 'name', 'company', 'status', 'owner'] as const;

const optionalText = (max: number) => z.string().trim().max(max).transform((v) => (v === '' ? null : v)).nullable().optional();
const optionalUrl = z
  .string()
  .trim()
  .max(300)
  .refine((v) => v === '' || /^https?:\/\/[^\s]+\.[^\s]+$/i.test(v), 'validation.url')
  .transform((v) => (v === '' ? null : v))
  .optional();

export const clientInput = z.object({
  groupId: z.coerce.number({ error: 'validation.required' }).int().positive('validation.required'),
  ownerId: optionalId,
  name: z.string().trim().min(1, 'validation.required').max(200),
  company: optionalText(200),
  email: optionalEmail,
  phone: optionalPhone,
  address: z.string().trim().max(1000).default(''),
  website: optionalUrl,
  status: z.enum(CLIENT_STATUSES, 'validation.invalid').default('active'),
  notes: z.string().trim().max(10_000).default(''),
});
export type ClientInput = z.output<typeof clientInput>;

/** Filters of the client list; the export uses the very same object, so it exports what the list shows. */
export const clientFilters = z.object({
  q: z.string().trim().max(200).optional().catch(undefined),
  group: z.coerce.number().int().positive().optional().catch(undefined),
  status: z.enum(CLIENT_STATUSES).optional().catch(undefined),
  owner: z.union([z.enum(['me', 'none']), z.coerce.number().int().positive()]).optional().catch(undefined),
  fromLead: z.enum(['yes', 'no']).optional().catch(undefined),
  createdFrom: listDate('createdFrom'),
  createdTo: listDate('createdTo'),
  sort: z.enum(CLIENT_SORTS).catch('created'),
  dir: z.enum(['asc', 'desc']).catch('desc'),
});
export type ClientFilters = z.output<typeof clientFilters>;
export const clientListQuery = pageQuery.extend({ ...cursorQuery, ...clientFilters.shape });
export type ClientListQuery = z.output<typeof clientListQuery>;
