import { sql } from 'drizzle-orm';
import {
  bigint, boolean, check, index, integer, jsonb, numeric, pgEnum, pgTable, text, timestamp, uniqueIndex, varchar, type AnyPgColumn,
} from 'drizzle-orm/pg-core';
import { timestamps } from './columns.js';
import { groups } from './groups.js';
import { users } from './users.js';

export const LEAD_STATUSES = ['new', 'contacted', 'qualified', 'converted', 'lost'] as const;
export const leadStatus = pgEnum('lead_status', LEAD_STATUSES);
export const CLIENT_STATUSES = ['active', 'inactive'] as const;
export const clientStatus = pgEnum('client_status', CLIENT_STATUSES);

/** Columns every group record has: its group, owner, creator, and the trash marker. */
const recordColumns = {
  id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
  groupId: integer('group_id').notNull().references(() => groups.id, { onDelete: 'restrict' }),
  ownerId: integer('owner_id').references(() => users.id, { onDelete: 'set null' }),
  createdById: integer('created_by_id').references(() => users.id, { onDelete: 'set null' }),
  deletedAt: timestamp('deleted_at', { withTimezone: true }),
  deletedById: integer('deleted_by_id').references(() => users.id, { onDelete: 'set null' }),
};

// Lower-cased text the substring search runs on (pg_trgm GIN index, after the group id): one column, any script.
const searchText = (...cols: string[]) => sql.raw(`lower(${cols.map((c) => `coalesce(${c}, '')`).join(` || ' ' || `)})`);

export const leads = pgTable(
  'leads',
  {
    ...recordColumns,
    firstName: varchar('first_name', { length: 100 }).notNull().default(''),
    lastName: varchar('last_name', { length: 100 }).notNull(),
    email: varchar('email', { length: 254 }),
    phone: varchar('phone', { length: 40 }),
    company: varchar('company', { length: 200 }),
    source: varchar('source', { length: 40 }),
    status: leadStatus('status').notNull().default('new'),
    value: numeric('value', { precision: 14, scale: 2 }),
    description: text('description').notNull().default(''),
    clientId: integer('client_id').references((): AnyPgColumn => clients.id, { onDelete: 'set null' }),
    convertedAt: timestamp('converted_at', { withTimezone: true }),
    /** When anything last happened to the lead (any activity): the dashboard's "stale leads". */
    lastActivityAt: timestamp('last_activity_at', { withTimezone: true }).notNull().defaultNow(),
    search: text('search').generatedAlwaysAs(searchText('first_name', 'last_name', 'email', 'phone', 'company')),
    ...timestamps,
  },
  (t) => [
    // Each group's live leads newest first, with the scope's columns: a member's page by number reads each of
    // their groups' newest (offset + 25) here and merges them, instead of skipping through the date index where
    // their groups are a few percent of the entries (page 400: 63 → 3.7 ms for the bench member; F24).
    index('leads_group_live_created_idx').on(t.groupId, t.createdAt, t.id, t.status, t.ownerId, t.createdById).where(sql`${t.deletedAt} is null`),
    // The live (not trashed) leads of a group with every column the counts and the dashboard aggregate, so those
    // are index-only scans of one group's slice instead of heap reads (bench/RESULTS.md, F1 and F5). The id last:
    // a page filtered by status takes its ids from here too (it read every match from the table to sort, F19).
    index('leads_live_idx').on(t.groupId, t.status, t.createdAt, t.ownerId, t.lastActivityAt, t.value, t.id).where(sql`${t.deletedAt} is null`),
    index('leads_group_owner_idx').on(t.groupId, t.ownerId),
    // "Assigned to me" on the dashboard: someone's leads by last activity, newest first, read until ten are open
    // and in scope (the bench member owns 5,329: all of them were read and sorted, 11 ms on every view).
    index('leads_owner_activity_idx').on(t.ownerId, t.lastActivityAt),
    // Newest first over the live leads, with the scope's columns in the index: the page's ids (even at offset
    // 10,000) come from an index-only walk, and only the 25 rows shown are read from the table. The last activity
    // too, for the stale list (F29: the walk read 1,334 rows from the table for a member's page, 2 ms).
    index('leads_live_by_created_idx').on(t.createdAt, t.id, t.groupId, t.status, t.ownerId, t.createdById, t.lastActivityAt).where(sql`${t.deletedAt} is null`),
    index('leads_updated_idx').on(t.updatedAt),
    // The sorts and the owner filter over the live leads, each key with the id and the scope's columns, so an
    // admin's page walks an index instead of sorting a million rows (status 98 ms, value 149 ms, owner 242 ms
    // before; F28). Value: descending, the rows with a value, then those without (nullsLastIds). Owner: someone's
    // leads by group, newest first: the owner walk (ownerOrderIds) probes (owner, group) pairs, so an owner with no
    // rows in a member's groups costs one probe (F31); "owner = me" merges the groups' slices; owner_id null too.
    index('leads_live_status_idx').on(t.status, t.id, t.groupId, t.ownerId, t.createdById).where(sql`${t.deletedAt} is null`),
    index('leads_live_value_idx').on(t.value, t.id, t.groupId, t.status, t.ownerId, t.createdById).where(sql`${t.deletedAt} is null`),
    index('leads_live_owner_idx').on(t.ownerId, t.groupId, t.createdAt, t.id, t.status, t.createdById).where(sql`${t.deletedAt} is null`),
    // The board's columns: a status's leads, most recently active first (an admin's board sorted each column's
    // 200,000 leads; F29).
    index('leads_live_status_activity_idx').on(t.status, t.lastActivityAt, t.id, t.groupId, t.ownerId, t.createdById).where(sql`${t.deletedAt} is null`),
    index('leads_name_idx').on(sql`lower(${t.lastName})`, sql`lower(${t.firstName})`),
    // Group first (btree_gin): a member's search reads only the matches in their groups from the heap, not every
    // group's (868 of 10,077 for "петров" in the bench data). A search over all groups uses the second column alone.
    index('leads_group_search_idx').using('gin', t.groupId, sql`${t.search} gin_trgm_ops`),
    index('leads_group_activity_idx').on(t.groupId, t.lastActivityAt),
    index('leads_group_converted_idx').on(t.groupId, t.convertedAt),
    index('leads_deleted_idx').on(t.deletedAt).where(sql`${t.deletedAt} is not null`),
    check('leads_value_nonnegative', sql`${t.value} >= 0`),
  ],
);

export const clients = pgTable(
  'clients',
  {
    ...recordColumns,
    name: varchar('name', { length: 200 }).notNull(),
    company: varchar('company', { length: 200 }),
    email: varchar('email', { length: 254 }),
    phone: varchar('phone', { length: 40 }),
    address: text('address').notNull().default(''),
    website: varchar('website', { length: 300 }),
    status: clientStatus('status').notNull().default('active'),
    notes: text('notes').notNull().default(''),
    leadId: integer('lead_id').references((): AnyPgColumn => leads.id, { onDelete: 'set null' }),
    search: text('search').generatedAlwaysAs(searchText('name', 'company', 'email', 'phone')),
    ...timestamps,
  },
  (t) => [
    // One client per lead, whatever happens: the database refuses a second conversion.
    uniqueIndex('clients_lead_key').on(t.leadId),
    index('clients_group_created_idx').on(t.groupId, t.createdAt),
    index('clients_live_idx').on(t.groupId, t.status, t.createdAt, t.ownerId).where(sql`${t.deletedAt} is null`),
    index('clients_group_owner_idx').on(t.groupId, t.ownerId),
    index('clients_created_idx').on(t.createdAt),
    index('clients_name_idx').on(sql`lower(${t.name})`),
    // As for leads (F28, F31): the sorts an index did not serve, and someone's clients by group, newest first.
    index('clients_live_updated_idx').on(t.updatedAt, t.id, t.groupId, t.ownerId, t.createdById).where(sql`${t.deletedAt} is null`),
    index('clients_live_status_idx').on(t.status, t.id, t.groupId, t.ownerId, t.createdById).where(sql`${t.deletedAt} is null`),
    index('clients_live_company_idx').on(sql`lower(${t.company})`, t.id, t.groupId, t.ownerId, t.createdById).where(sql`${t.deletedAt} is null`),
    // The trash, newest first (as leads_deleted_idx): it read the whole table (45 ms at 250,000 clients).
    index('clients_deleted_idx').on(t.deletedAt).where(sql`${t.deletedAt} is not null`),
    index('clients_live_owner_idx').on(t.ownerId, t.groupId, t.createdAt, t.id, t.status, t.createdById).where(sql`${t.deletedAt} is null`),
    index('clients_group_search_idx').using('gin', t.groupId, sql`${t.search} gin_trgm_ops`),
  ],
);

/**
 * Comments, files and activity attach to a lead, a client, or both: conversion sets client_id on the lead's
 * rows, so they show on the client without being copied (nothing duplicated, nothing lost).
 */
const attachedTo = {
  id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
  groupId: integer('group_id').notNull().references(() => groups.id, { onDelete: 'cascade' }),
  leadId: integer('lead_id').references(() => leads.id, { onDelete: 'cascade' }),
  clientId: integer('client_id').references(() => clients.id, { onDelete: 'cascade' }),
};

export const comments = pgTable(
  'comments',
  {
    ...attachedTo,
    authorId: integer('author_id').references(() => users.id, { onDelete: 'set null' }),
    body: text('body').notNull(),
    editedAt: timestamp('edited_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('comments_lead_idx').on(t.leadId, t.createdAt), index('comments_client_idx').on(t.clientId, t.createdAt)],
);

export const FILE_STATUSES = ['pending', 'ready', 'rejected'] as const;
export const fileStatus = pgEnum('file_status', FILE_STATUSES);

export const files = pgTable(
  'files',
  {
    ...attachedTo,
    uploaderId: integer('uploader_id').references(() => users.id, { onDelete: 'set null' }),
    originalName: varchar('original_name', { length: 255 }).notNull(),
    storageName: varchar('storage_name', { length: 80 }).notNull().unique(),
    mimeType: varchar('mime_type', { length: 120 }).notNull(),
    size: bigint('size', { mode: 'number' }).notNull(),
    sha256: varchar('sha256', { length: 64 }),
    /** pending until the files.process job has checked it; rejected files are never served. */
    status: fileStatus('status').notNull().default('pending'),
    rejectReason: varchar('reject_reason', { length: 200 }),
    /** Images: their size in pixels and a small preview made by the job. */
    width: integer('width'),
    height: integer('height'),
    thumbStorageName: varchar('thumb_storage_name', { length: 80 }),
    processedAt: timestamp('processed_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('files_lead_idx').on(t.leadId, t.createdAt), index('files_client_idx').on(t.clientId, t.createdAt)],
);

export const activities = pgTable(
  'activities',
  {
    ...attachedTo,
    actorId: integer('actor_id').references(() => users.id, { onDelete: 'set null' }),
    /** created, updated, status_changed, owner_changed, commented, file_added, file_deleted, converted, … */
    action: varchar('action', { length: 40 }).notNull(),
    /** For edits: { field: [old, new] }; otherwise what the event needs to be shown. */
    data: jsonb('data').$type<Record<string, unknown>>().notNull().default({}),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('activities_lead_idx').on(t.leadId, t.createdAt),
    index('activities_client_idx').on(t.clientId, t.createdAt),
    index('activities_group_idx').on(t.groupId, t.createdAt),
    // "The last 20 events" over several groups (or all, for admins): walked backwards, newest first.
    index('activities_created_idx').on(t.createdAt, t.id),
  ],
);

/**
 * A revision per group, raised by statement triggers (migration 0009) whenever any lead or client of the group
 * is inserted, updated or deleted, by any code path (forms, API, jobs, group deletion, raw SQL; TRUNCATE moves all).
 * Values come from one global sequence that TRUNCATE does not reset, so a number never comes back; the
 * dashboard keys its cached aggregates, and the lists their counts, on the revisions of the groups in view (read
 * with the signed-in user: src/modules/users/users.repository.ts). No
 * foreign key: a deleted group's row is harmless and keeps its number.
 */
export const groupRevisions = pgTable('group_revisions', {
  groupId: integer('group_id').primaryKey(),
  revision: bigint('revision', { mode: 'number' }).notNull(),
});

/**
 * The directory's revision (one row, migration 0009): raised by every change to memberships, groups, or users'
 * names and active flags. The owner and group choices of list and form pages are cached under it
 * (src/modules/leads/leads.service.ts); the signed-in user's query reads it with the user.
 */
export const directoryRevision = pgTable('directory_revision', {
  id: boolean('id').primaryKey().default(true),
  revision: bigint('revision', { mode: 'number' }).notNull(),
});
