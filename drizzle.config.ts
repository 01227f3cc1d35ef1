import { defineConfig } from 'drizzle-kit';

// Migrations are generated offline from src/db/schema and committed; they are never edited after they land.
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/db/schema/index.ts',
  out: './drizzle',
});
