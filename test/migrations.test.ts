import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const FOLDER = path.resolve('drizzle');
const journal = JSON.parse(fs.readFileSync(path.join(FOLDER, 'meta/_journal.json'), 'utf8')) as {
  entries: { idx: number; tag: string; when: number; breakpoints: boolean }[];
};
const statements = (tag: string) =>
  fs
    .readFileSync(path.join(FOLDER, `${tag}.sql`), 'utf8')
    .split('--> statement-breakpoint')
    .map((s) => s.trim())
    .filter(Boolean);

describe('migration files', () => {
  it('every SQL file is in the journal, in order, each applied after the one before', () => {
    const files = fs.readdirSync(FOLDER).filter((f) => f.endsWith('.sql')).map((f) => f.replace(/\.sql$/, '')).sort();
    expect(journal.entries.map((e) => e.tag)).toEqual(files);
    journal.entries.forEach((e, i) => {
      expect(e.idx).toBe(i);
      expect(e.breakpoints).toBe(true);
      // The migrator applies a file only when its `when` is later than the last applied one's.
      if (i > 0) expect(e.when).toBeGreaterThan(journal.entries[i - 1]!.when);
    });
  });

  // All pending migrations run in one transaction: a DROP INDEX holds its table's ACCESS EXCLUSIVE lock (no reads)
  // until that commits, so it must not come before index builds, which only block writes. From 0008 on; older
  // migrations are deployed and never edited.
  it('no DROP INDEX comes before a CREATE INDEX (from 0008 on)', () => {
    for (const { tag } of journal.entries.filter((e) => e.idx >= 8)) {
      const list = statements(tag);
      const kinds = list.map((s) => (/^CREATE (UNIQUE )?INDEX/i.test(s) ? 'create' : /^DROP INDEX/i.test(s) ? 'drop' : 'other'));
      const firstDrop = kinds.indexOf('drop');
      const lastCreate = kinds.lastIndexOf('create');
      if (firstDrop >= 0) expect({ tag, dropBeforeCreate: firstDrop < lastCreate }).toEqual({ tag, dropBeforeCreate: false });
    }
  });
});
