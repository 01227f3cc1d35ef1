import nunjucks from 'nunjucks';
import { fromRoot } from '../lib/paths.js';
import type { Express } from 'express';

export const VIEWS_DIR = fromRoot('views');

/** Nunjucks with autoescape on: every value is escaped unless a template marks it safe. */
export function setupViews(app: Express, opts: { watch: boolean }) {
  const env = nunjucks.configure(VIEWS_DIR, { autoescape: true, express: app, noCache: opts.watch, throwOnUndefined: false });
  app.set('view engine', 'njk');
  // Links in plain text stay text; only http(s) URLs become anchors, everything else is escaped.
  env.addFilter('json', (v: unknown) => JSON.stringify(v));
  return env;
}
