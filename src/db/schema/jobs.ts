import { sql } from 'drizzle-orm';
import { bigserial, index, integer, jsonb, pgEnum, pgTable, text, timestamp, uniqueIndex, varchar } from 'drizzle-orm/pg-core';
import { users } from './users.js';

export const outboxStatus = pgEnum('job_outbox_status', ['pending', 'dispatched', 'done', 'failed']);

/**
 * The job outbox. A service writes the job in the same transaction as the change it follows, so a rolled-back
 * change enqueues nothing and a committed one cannot be lost while Redis is down. The dispatcher hands rows
 * to BullMQ (status dispatched), or — without Redis — runs them in-process (done / failed, with retries).
 */
export const jobOutbox = pgTable(
  'job_outbox',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    name: varchar('name', { length: 60 }).notNull(),
    payload: jsonb('payload').$type<Record<string, unknown>>().notNull(),
    /** Deterministic: the same work asked twice is one job (also BullMQ's jobId). */
    jobKey: varchar('job_key', { length: 200 }).notNull(),
    status: outboxStatus('status').notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    maxAttempts: integer('max_attempts').notNull().default(5),
    runAt: timestamp('run_at', { withTimezone: true }).notNull().defaultNow(),
    lastError: text('last_error'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('job_outbox_key').on(t.jobKey),
    index('job_outbox_due_idx').on(t.runAt).where(sql`${t.status} = 'pending'`),
  ],
);

export const NOTIFICATION_KINDS = ['assigned', 'commented', 'added_to_group', 'export_ready'] as const;

/** In-app notifications; the email copy is sent by the same job unless the user turned that kind off. */
export const notifications = pgTable(
  'notifications',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    userId: integer('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    kind: varchar('kind', { length: 30 }).notNull(),
    /** Translated when shown, in the reader's language. */
    data: jsonb('data').$type<Record<string, unknown>>().notNull().default({}),
    link: varchar('link', { length: 300 }),
    /** One notification per event whatever the retries: (user, dedupe key) is unique. */
    dedupeKey: varchar('dedupe_key', { length: 200 }).notNull(),
    readAt: timestamp('read_at', { withTimezone: true }),
    emailedAt: timestamp('emailed_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('notifications_dedupe_key').on(t.userId, t.dedupeKey),
    index('notifications_user_idx').on(t.userId, t.createdAt),
    index('notifications_unread_idx').on(t.userId).where(sql`${t.readAt} is null`),
  ],
);
