import { bigserial, index, integer, jsonb, pgEnum, pgTable, smallint, timestamp, uniqueIndex, varchar } from 'drizzle-orm/pg-core';
import { users } from './users.js';

export const TOKEN_SCOPES = ['read', 'write'] as const;
export const tokenScope = pgEnum('api_token_scope', TOKEN_SCOPES);

/**
 * Personal access tokens for the JSON API. Only the SHA-256 of the secret is stored; the secret is shown once.
 * `prefix` (the first characters of the secret) lets the owner tell tokens apart without revealing them.
 */
export const apiTokens = pgTable(
  'api_tokens',
  {
    id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
    userId: integer('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    name: varchar('name', { length: 100 }).notNull(),
    tokenHash: varchar('token_hash', { length: 64 }).notNull(),
    prefix: varchar('prefix', { length: 16 }).notNull(),
    scope: tokenScope('scope').notNull().default('read'),
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('api_tokens_hash_key').on(t.tokenHash), index('api_tokens_user_idx').on(t.userId, t.createdAt)],
);

/**
 * Idempotency keys of API creates: (user, key) is unique. The first request claims the key (status null while
 * it runs); its response is stored so a retry gets the same answer (and the same record) instead of a second one.
 * `fingerprint` is the hash of method, path and body: the same key with another request is refused.
 */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    userId: integer('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    key: varchar('key', { length: 200 }).notNull(),
    fingerprint: varchar('fingerprint', { length: 64 }).notNull(),
    status: smallint('status'),
    location: varchar('location', { length: 300 }),
    body: jsonb('body').$type<unknown>(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('idempotency_keys_user_key').on(t.userId, t.key),
    index('idempotency_keys_created_idx').on(t.createdAt),
  ],
);
