import { z } from 'zod';
import { CLIENT_STATUSES, EXPORT_FORMATS, FILE_STATUSES, LEAD_STATUSES, NOTIFICATION_KINDS, TOKEN_SCOPES, exportStatus } from '../../db/schema/index.js';
import { PAGE_SIZES } from '../../lib/pagination.js';
import { addMemberSchema, groupSchema, memberRoleSchema } from '../groups/groups.schemas.js';
import { LEAD_SOURCES, convertInput, leadInput } from '../leads/leads.schemas.js';
import { clientFilters, clientInput } from '../clients/clients.schemas.js';
import { commentInput } from '../records/comments.js';

/**
 * The API's schemas, each with the name the OpenAPI document gives it. Request bodies are the forms' own zod
 * schemas made strict (an unknown field is refused, never silently dropped); PATCH bodies are the same,
 * partial. Responses are described here and the JSON the routes emit is built to match (tests validate it).
 */

/* ---------- request bodies (documented as the input side of the schema) ---------- */

/**
 * An export's body: the client list's own filters and order (without the list's forgiving fallbacks) and a
 * format. Documentation only: the body is parsed by the HTML export's parser (parseExportQuery), so both
 * refuse the same things with the same 400.
 */
const ExportInput = z
  .object(Object.fromEntries(Object.entries(clientFilters.shape).map(([k, s]) => [k, (s instanceof z.ZodCatch ? (s.unwrap() as z.ZodType) : s).optional()])))
  // Only real calendar days, as the lists (which answer 400 to anything else too).
  .extend({ createdFrom: z.iso.date().optional(), createdTo: z.iso.date().optional(), format: z.enum(EXPORT_FORMATS).default('csv') })
  .strict();

export const INPUTS = {
  LeadInput: leadInput.strict(),
  LeadPatch: leadInput.partial().strict(),
  ConvertInput: convertInput.strict(),
  ClientInput: clientInput.strict(),
  ClientPatch: clientInput.partial().strict(),
  CommentInput: commentInput.strict(),
  GroupInput: groupSchema.strict(),
  GroupPatch: groupSchema.partial().strict(),
  MemberInput: addMemberSchema.strict(),
  MemberRoleInput: memberRoleSchema.strict(),
  ExportInput,
} as const;

/** The form schemas the PATCH bodies are made from (merged over the stored values, then parsed whole). */
export const PATCHABLE = { lead: leadInput, client: clientInput, group: groupSchema } as const;

/* ---------- responses ---------- */

const id = z.number().int();
const when = z.iso.datetime();
const text = z.string();

export const Problem = z.object({
  type: text,
  title: text,
  status: z.number().int(),
  detail: text,
  instance: text,
  requestId: text.optional(),
  errors: z.array(z.object({ field: text, message: text })).optional(),
  links: z.array(z.object({ href: text, title: text })).optional(),
  debug: text.optional(),
});

const Links = z.object({ self: text, next: text.nullable(), prev: text.nullable() });
const pageOf = <T extends z.ZodType>(item: T) =>
  z.object({
    items: z.array(item),
    page: z.number().int(),
    perPage: z.number().int(),
    total: z.number().int(),
    /** True when more rows match than the lists count (10,000; 1,000 with a text search): `total` is then a lower bound. */
    capped: z.boolean(),
    pages: z.number().int(),
    links: Links,
  });
const listOf = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item) });

export const Membership = z.object({ groupId: id, groupName: text, role: z.enum(['manager', 'member']), visibility: z.enum(['all', 'own']) });

export const Me = z.object({
  id,
  email: text,
  name: text,
  role: z.enum(['admin', 'user']),
  locale: text.nullable(),
  createdAt: when,
  memberships: z.array(Membership),
  /** The token this request came with; null for a session. */
  token: z.object({ id, name: text, scope: z.enum(TOKEN_SCOPES), expiresAt: when.nullable() }).nullable(),
});

export const UserSummary = z.object({ id, name: text, email: text, role: z.enum(['admin', 'user']), active: z.boolean(), lastLoginAt: when.nullable(), createdAt: when });
export const UserDetail = UserSummary.extend({ groups: z.array(z.object({ id, name: text, role: z.enum(['manager', 'member']) })) });

export const GroupSummary = z.object({ id, name: text, description: text, visibility: z.enum(['all', 'own']), memberCount: z.number().int() });
export const Member = z.object({ userId: id, name: text, email: text, active: z.boolean(), role: z.enum(['manager', 'member']) });
export const Group = z.object({
  id, name: text, description: text, visibility: z.enum(['all', 'own']), createdAt: when, updatedAt: when, roster: z.array(Member),
});

const leadCore = {
  id,
  groupId: id,
  groupName: text,
  ownerId: id.nullable(),
  ownerName: text.nullable(),
  firstName: text,
  lastName: text,
  email: text.nullable(),
  phone: text.nullable(),
  company: text.nullable(),
  source: z.enum(LEAD_SOURCES).nullable(),
  status: z.enum(LEAD_STATUSES),
  /** A decimal as a string ("12500.00"), never a float. */
  value: text.nullable(),
  clientId: id.nullable(),
  createdAt: when,
  updatedAt: when,
};
export const LeadSummary = z.object(leadCore);
export const Lead = z.object({
  ...leadCore,
  createdById: id.nullable(),
  creatorName: text.nullable(),
  description: text,
  convertedAt: when.nullable(),
  lastActivityAt: when,
});

export const ClientSummary = z.object({
  id, name: text, company: text.nullable(), email: text.nullable(), phone: text.nullable(), status: z.enum(CLIENT_STATUSES),
  groupName: text, ownerName: text.nullable(), leadId: id.nullable(), createdAt: when,
});
export const Client = z.object({
  id, groupId: id, groupName: text, ownerId: id.nullable(), ownerName: text.nullable(), createdById: id.nullable(),
  name: text, company: text.nullable(), email: text.nullable(), phone: text.nullable(), address: text, website: text.nullable(),
  status: z.enum(CLIENT_STATUSES), notes: text, leadId: id.nullable(), createdAt: when, updatedAt: when,
});

export const Comment = z.object({ id, body: text, authorId: id.nullable(), authorName: text.nullable(), createdAt: when, editedAt: when.nullable() });

export const FileMeta = z.object({
  id, name: text, size: z.number().int(), mimeType: text, status: z.enum(FILE_STATUSES), uploaderId: id.nullable(), uploaderName: text.nullable(), createdAt: when, downloadUrl: text,
});

export const Activity = z.object({
  id, action: text, data: z.record(z.string(), z.unknown()), actorName: text.nullable(), leadId: id.nullable(), clientId: id.nullable(), createdAt: when,
});

const count = z.number().int();
const rate = z.object({ rate: z.number().nullable(), converted: count, created: count });
export const Dashboard = z.object({
  group: id.nullable(),
  figures: z.object({
    openLeads: count,
    newLeadsThisWeek: count,
    newLeadsPrevWeek: count,
    newLeadsThisMonth: count,
    newLeadsPrevMonth: count,
    clients: count,
    newClientsThisMonth: count,
    staleLeads: count,
    conversion30: rate,
    conversion90: rate,
  }),
  funnel: z.array(z.object({ status: z.enum(LEAD_STATUSES), count, value: z.number() })),
  weeks: z.array(z.object({ start: z.iso.date(), leads: count, clients: count })),
  owners: z.array(z.object({ ownerId: id.nullable(), ownerName: text.nullable(), open: count, converted: count, lost: count })),
});

export const Notification = z.object({
  id,
  kind: z.enum(NOTIFICATION_KINDS),
  /** The text the bell shows, in your language. */
  message: text,
  /** Names and details as they were at the time of the event (actorName, recordName, groupName, excerpt, …). */
  data: z.record(z.string(), z.unknown()),
  /** The page it is about (a local path), if any. */
  link: text.nullable(),
  read: z.boolean(),
  readAt: when.nullable(),
  createdAt: when,
});
export const Export = z.object({
  id: z.uuid(),
  status: z.enum(exportStatus.enumValues),
  format: z.enum(EXPORT_FORMATS),
  /** The filters that narrowed the set, as sent. */
  filters: z.record(z.string(), z.unknown()),
  /** Rows to write, and written so far (the progress while running). */
  total: count,
  processed: count,
  /** Why it failed, in your language. */
  error: text.nullable(),
  createdAt: when,
  finishedAt: when.nullable(),
  /** The file is kept until then (24 hours). */
  expiresAt: when.nullable(),
  /** Where to download the file once done; null before, and for an export that was streamed by the page. */
  downloadUrl: text.nullable(),
});
export const UnreadCount = z.object({ unread: count });
export const MarkedRead = z.object({ marked: count });

export const OUTPUTS = {
  Problem,
  Me,
  Membership,
  UserSummary,
  UserDetail,
  UserPage: pageOf(UserSummary),
  GroupSummary,
  GroupList: listOf(GroupSummary),
  Member,
  Group,
  LeadSummary,
  Lead,
  LeadPage: pageOf(LeadSummary),
  ClientSummary,
  Client,
  ClientPage: pageOf(ClientSummary),
  Comment,
  CommentList: listOf(Comment),
  FileMeta,
  FileList: listOf(FileMeta),
  Activity,
  ActivityList: listOf(Activity),
  Dashboard,
  Notification,
  NotificationPage: pageOf(Notification),
  UnreadCount,
  MarkedRead,
  Export,
  ExportList: listOf(Export),
} as const;

export type InputName = keyof typeof INPUTS;
export type OutputName = keyof typeof OUTPUTS;
export type Out<N extends OutputName> = z.input<(typeof OUTPUTS)[N]>;

/** Allowed page sizes, for the docs of `perPage`. */
export const PER_PAGE = PAGE_SIZES;
