import nunjucks from 'nunjucks';
import { fromRoot } from '../lib/paths.js';
import type { Express } from 'express';

export const VIEWS_DIR = fromRoot('views');

/**
 * Templates as written, less the indentation at the start of each line: a list page's HTML was one seventh
 * leading spaces, all of it written to the socket on every request. A line break stays where there was one, so
 * what the browser renders is the same (runs of whitespace collapse), except inside <pre> and <textarea>,
 * which keep theirs.
 */
class IndentStrippingLoader extends nunjucks.FileSystemLoader {
  override getSource(name: string) {
    const source = super.getSource(name);
    if (source) source.src = stripIndentation(source.src);
    return source;
  }
}

export function stripIndentation(src: string): string {
  // split() returns text, element, tag name, text, …: the <pre>…</pre> and <textarea>…</textarea> elements are
  // kept as they are, the captured tag names dropped.
  return src
    .split(/(<(pre|textarea)\b[\s\S]*?<\/\2>)/i)
    .map((part, i) => (i % 3 === 0 ? part.replace(/\n[ \t]+/g, '\n') : i % 3 === 1 ? part : ''))
    .join('');
}

/**
 * Nunjucks' Frame#set splits every name on '.' (to allow `loop.index`), and a `for` sets seven loop variables
 * per item: on a list page those splits were 5% of the render. The same assignment, with each name's parts
 * remembered (the names are the templates' own, a few hundred at most).
 */
type Frame = { variables: Record<string, unknown>; resolve(name: string, forWrite: boolean): Frame | undefined; set(name: string, val: unknown, resolveUp?: boolean): void };
const FrameClass = (nunjucks.runtime as unknown as { Frame: { prototype: Frame } }).Frame;
const nameParts = new Map<string, string[]>();
FrameClass.prototype.set = function set(this: Frame, name: string, val: unknown, resolveUp?: boolean) {
  let parts = nameParts.get(name);
  if (!parts) nameParts.set(name, (parts = name.split('.')));
  if (resolveUp) {
    const frame = this.resolve(parts[0]!, true);
    if (frame) return frame.set(name, val);
  }
  let obj = this.variables;
  for (let i = 0; i < parts.length - 1; i++) {
    if (!obj[parts[i]!]) obj[parts[i]!] = {};
    obj = obj[parts[i]!] as Record<string, unknown>;
  }
  obj[parts[parts.length - 1]!] = val;
};

// Escaping every output: most values hold nothing to escape, and a test is cheaper than a replace that
// calls back for each match (the same characters as Nunjucks' own escape, which does the work when needed).
const nunjucksLib = nunjucks.lib as unknown as { escape(s: string): string };
const escapeAll = nunjucksLib.escape;
const NEEDS_ESCAPE = /[&"'<>\\]/;
nunjucksLib.escape = (s: string) => (NEEDS_ESCAPE.test(s) ? escapeAll(s) : s);

/** Nunjucks with autoescape on: every value is escaped unless a template marks it safe. */
export function setupViews(app: Express, opts: { watch: boolean }) {
  const env = new nunjucks.Environment(new IndentStrippingLoader(VIEWS_DIR, { noCache: opts.watch }), { autoescape: true, throwOnUndefined: false });
  env.express(app);
  app.set('view engine', 'njk');
  env.addFilter('linkify', linkify);
  env.addGlobal('options', options);
  return env;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

/**
 * The <option>s of a select, escaped, the selected value marked (compared as text: query values are strings
 * or numbers). One loop in JavaScript instead of a template loop: Nunjucks sets seven loop variables per item,
 * which was 12% of an admin's list page (500 owners in the filter). The owner and group choices are cached
 * arrays (the same object until the directory changes), so their options are remembered per array and
 * selection: escaping 500 names on every page was another 3%.
 */
export function options(items: Record<string, unknown>[], valueKey: string, labelKey: string, selected?: unknown): nunjucks.runtime.SafeString {
  const chosen = selected === undefined || selected === null ? undefined : String(selected);
  const key = `${valueKey}\u0000${labelKey}\u0000${chosen ?? ''}`;
  const remembered = items ? renderedOptions.get(items) : undefined;
  const hit = remembered?.get(key);
  if (hit) return hit;
  let out = '';
  for (const item of items ?? []) {
    const value = String(item[valueKey] ?? '');
    out += `<option value="${escapeHtml(value)}"${value === chosen ? ' selected' : ''}>${escapeHtml(String(item[labelKey] ?? ''))}</option>`;
  }
  const safe = new nunjucks.runtime.SafeString(out);
  // Only lists long enough to matter, and a few selections each (a filter's choices, the form's owner).
  if (items && items.length >= 20) {
    const byKey = remembered ?? new Map<string, nunjucks.runtime.SafeString>();
    if (byKey.size >= 16) byKey.clear();
    byKey.set(key, safe);
    if (!remembered) renderedOptions.set(items, byKey);
  }
  return safe;
}
const renderedOptions = new WeakMap<object, Map<string, nunjucks.runtime.SafeString>>();

/**
 * Plain text for display: everything escaped, line breaks kept (the element uses whitespace-pre-line),
 * and only http(s) URLs turned into links, so `javascript:` or markup stays inert text.
 */
export function linkify(text: unknown): nunjucks.runtime.SafeString {
  const s = String(text ?? '');
  const out: string[] = [];
  let last = 0;
  for (const m of s.matchAll(/\bhttps?:\/\/[^\s<>"']+/gi)) {
    // Trailing punctuation usually ends the sentence, not the URL.
    const url = m[0].replace(/[.,;:!?)\]]+$/, '');
    out.push(escapeHtml(s.slice(last, m.index)));
    out.push(`<a href="${escapeHtml(url)}" class="btn-link break-all" rel="noopener noreferrer nofollow" target="_blank">${escapeHtml(url)}</a>`);
    last = m.index + url.length;
  }
  out.push(escapeHtml(s.slice(last)));
  return new nunjucks.runtime.SafeString(out.join(''));
}
