import fs from 'node:fs';
import i18next, { type TFunction } from 'i18next';
import { fromRoot } from './paths.js';

export const LOCALES = ['en', 'ru'] as const;
export type Locale = (typeof LOCALES)[number];
export const DEFAULT_LOCALE: Locale = 'en';

const LOCALES_DIR = fromRoot('locales');

function loadCatalog(locale: Locale) {
  return JSON.parse(fs.readFileSync(`${LOCALES_DIR}/${locale}.json`, 'utf8'));
}

/** One i18next instance for the process; per-request translators come from getFixedT. */
const instance = i18next.createInstance();
await instance.init({
  resources: Object.fromEntries(LOCALES.map((l) => [l, { translation: loadCatalog(l) }])),
  lng: DEFAULT_LOCALE,
  fallbackLng: DEFAULT_LOCALE,
  supportedLngs: [...LOCALES],
  // Nunjucks escapes on output; escaping here too would double-escape.
  interpolation: { escapeValue: false },
  returnNull: false,
  initAsync: false,
});

export function isLocale(v: unknown): v is Locale {
  return typeof v === 'string' && (LOCALES as readonly string[]).includes(v);
}

/**
 * One translator per locale. Texts without parameters (labels, headings: most calls a page makes) are looked up
 * once and remembered; i18next's own lookup was about a tenth of a dashboard's CPU. Catalogs never change
 * while the process runs.
 */
const translators = new Map<Locale, TFunction>();
export function translator(locale: Locale): TFunction {
  let t = translators.get(locale);
  if (!t) translators.set(locale, (t = fastTranslator(locale)));
  return t;
}

/** The memo key of a text with parameters, if they are all plain values (else the text is not memoised). */
function paramsKey(key: string, params: Record<string, unknown>): string | undefined {
  for (const k in params) {
    const v = params[k];
    if (v !== null && v !== undefined && typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') return undefined;
  }
  return `${key}\u0000${JSON.stringify(params)}`;
}
/** Texts with parameters remembered per locale, at most this many (then forgotten all at once). */
const MAX_WITH_PARAMS = 10_000;

function fastTranslator(locale: Locale): TFunction {
  const fixed = instance.getFixedT(locale) as unknown as (...a: unknown[]) => string;
  const plain = new Map<string, string>();
  const withParams = new Map<string, string>();
  const t = (key: unknown, ...rest: unknown[]) => {
    // With parameters (counts, names): i18next's own t with the language set, which skips getFixedT's copy of
    // every i18next option on each call. Its interpolation and plural rules were a tenth of the dashboard's CPU
    // (the same figures and names on every view): the text is remembered by its key and parameters.
    if (rest.length === 1 && typeof key === 'string' && rest[0] && typeof rest[0] === 'object') {
      const params = rest[0] as Record<string, unknown>;
      const memoKey = paramsKey(key, params);
      if (memoKey === undefined) return instance.t(key, { ...params, lng: locale });
      let text = withParams.get(memoKey);
      if (text === undefined) {
        if (withParams.size >= MAX_WITH_PARAMS) withParams.clear();
        withParams.set(memoKey, (text = instance.t(key, { ...params, lng: locale }) as string));
      }
      return text;
    }
    if (rest.length || typeof key !== 'string') return fixed(key, ...rest);
    let text = plain.get(key);
    if (text === undefined) plain.set(key, (text = fixed(key)));
    return text;
  };
  return t as unknown as TFunction;
}

/** Picks the best supported language from an Accept-Language header (q-values honoured). */
export function fromAcceptLanguage(header: string | undefined): Locale | undefined {
  if (!header) return undefined;
  const ranked = header
    .split(',')
    .map((part) => {
      const [tag = '', ...params] = part.trim().split(';');
      const q = params.find((p) => p.trim().startsWith('q='));
      return { lang: tag.trim().toLowerCase().split('-')[0], q: q ? Number(q.trim().slice(2)) : 1 };
    })
    .filter((x) => x.q > 0)
    .sort((a, b) => b.q - a.q);
  return ranked.map((r) => r.lang).find(isLocale);
}

/**
 * Formatting by the request's language: dates, date-times and numbers. Built once per locale: three Intl
 * formatters per request were 2–3% of a list page's CPU.
 */
const formattersByLocale = new Map<Locale, ReturnType<typeof makeFormatters>>();
export function formatters(locale: Locale) {
  let f = formattersByLocale.get(locale);
  if (!f) formattersByLocale.set(locale, (f = makeFormatters(locale)));
  return f;
}

function makeFormatters(locale: Locale) {
  const tag = locale === 'ru' ? 'ru-RU' : 'en-GB';
  const date = new Intl.DateTimeFormat(tag, { dateStyle: 'medium' });
  const dateTime = new Intl.DateTimeFormat(tag, { dateStyle: 'medium', timeStyle: 'short' });
  const utcDate = new Intl.DateTimeFormat(tag, { dateStyle: 'medium', timeZone: 'UTC' });
  const number = new Intl.NumberFormat(tag);
  const toDate = (v: unknown) => (v instanceof Date ? v : typeof v === 'string' || typeof v === 'number' ? new Date(v) : null);
  // Each Intl format call costs 1–3 µs, and a list page makes two per row (a sixth of its render): the texts
  // are remembered, a date by its day in the server's time zone (the one Intl uses), a date-time by its minute.
  const byDay = remembered<number>();
  const byMinute = remembered<number>();
  const byNumber = remembered<number>();
  return {
    date: (v: unknown) => {
      const d = toDate(v);
      return d && !isNaN(+d) ? byDay(d.getFullYear() * 512 + d.getMonth() * 32 + d.getDate(), () => date.format(d)) : '';
    },
    /** The UTC day of a boundary counted in UTC days (the lists' date filters, "stale"), whatever the server's zone. */
    utcDate: (v: unknown) => {
      const d = toDate(v);
      return d && !isNaN(+d) ? utcDate.format(d) : '';
    },
    dateTime: (v: unknown) => {
      const d = toDate(v);
      return d && !isNaN(+d) ? byMinute(Math.floor(+d / 60_000), () => dateTime.format(d)) : '';
    },
    number: (v: unknown) => {
      if (v === null || v === undefined || v === '') return '';
      const n = Number(v);
      // A Map takes -0 for 0, which Intl writes as "-0".
      return Object.is(n, -0) ? number.format(n) : byNumber(n, () => number.format(n));
    },
  };
}

/** A text remembered by key, at most 5,000 of them (then all forgotten at once). */
function remembered<K>(): (key: K, make: () => string) => string {
  const texts = new Map<K, string>();
  return (key, make) => {
    let text = texts.get(key);
    if (text === undefined) {
      if (texts.size >= 5000) texts.clear();
      texts.set(key, (text = make()));
    }
    return text;
  };
}
