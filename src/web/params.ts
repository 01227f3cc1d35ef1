import { NotFoundError } from './errors.js';

/** A numeric id from the URL; anything else is a page that does not exist. */
export function idParam(v: unknown): number {
  const n = typeof v === 'string' && /^\d{1,9}$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new NotFoundError();
  return n;
}
