import { index, integer, jsonb, pgEnum, pgTable, text, timestamp, uuid, varchar } from 'drizzle-orm/pg-core';
import { users } from './users.js';

export const EXPORT_FORMATS = ['csv', 'csv_excel', 'xlsx', 'json'] as const;
export const exportStatus = pgEnum('export_status', ['pending', 'running', 'done', 'failed']);

/**
 * Exports that run in the background (over the synchronous limit), and the log of every export: who asked,
 * with which filters, how many rows. The file is kept for 24 hours and only its owner may download it.
 */
export const exportsTable = pgTable(
  'exports',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: integer('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    kind: varchar('kind', { length: 20 }).notNull().default('clients'),
    format: varchar('format', { length: 20 }).notNull(),
    filters: jsonb('filters').$type<Record<string, unknown>>().notNull().default({}),
    status: exportStatus('status').notNull().default('pending'),
    /** Background exports: rows to write, rows written so far (the progress bar). */
    total: integer('total').notNull().default(0),
    processed: integer('processed').notNull().default(0),
    storageName: varchar('storage_name', { length: 80 }),
    error: text('error'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
    expiresAt: timestamp('expires_at', { withTimezone: true }),
  },
  (t) => [index('exports_user_created_idx').on(t.userId, t.createdAt)],
);
