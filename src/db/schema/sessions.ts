import { index, json, pgTable, timestamp, varchar } from 'drizzle-orm/pg-core';

/** The table connect-pg-simple reads and writes (its own table.sql, created here by a migration). */
export const sessions = pgTable(
  'session',
  {
    sid: varchar('sid').primaryKey(),
    sess: json('sess').notNull(),
    expire: timestamp('expire', { precision: 6 }).notNull(),
  },
  (t) => [index('IDX_session_expire').on(t.expire)],
);
