import crypto from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { toPage, type PageQuery } from '../../lib/pagination.js';
import { AppError, ConflictError, ValidationError, type FieldErrors } from '../../web/errors.js';
import { fieldErrors } from '../../web/forms.js';
import type { Guard } from '../../web/guards.js';
import type { IdempotencyService } from './idempotency.js';
import { INPUTS, type InputName, type OutputName } from './schemas.js';

/**
 * A small layer over Express for the JSON API: each operation is declared once, with what the OpenAPI
 * document needs (schemas by name, statuses, headers), and registered on the router with its one guard.
 * The document is generated from the same declarations, so a route cannot exist undocumented.
 */

export type Method = 'get' | 'post' | 'patch' | 'delete';

export interface Operation {
  method: Method;
  /** Express path, e.g. /api/v1/leads/:id (path parameters are positive integer ids unless `pathParams` says otherwise). */
  path: string;
  /** JSON Schemas of path parameters that are not integer ids (an export's uuid). */
  pathParams?: Record<string, object>;
  operationId: string;
  tag: string;
  summary: string;
  description?: string;
  guard: Guard;
  /** The query string's schema (the page's own), with documentation overrides per parameter. */
  query?: { schema: z.ZodObject; docs?: Record<string, object> };
  /** A JSON request body; `optional` when an empty body means something (convert with the lead's values). */
  body?: { schema: InputName; optional?: boolean };
  /** A multipart upload in the field `files`. */
  multipart?: boolean;
  ok: { status: 200 | 201 | 202 | 204; description: string; schema?: OutputName; binary?: boolean; location?: boolean };
  /** Problem statuses this operation may answer (401/429 and 400/413 for bodies are added where they apply). */
  errors: number[];
  /** Honours `Idempotency-Key`. */
  idempotent?: boolean;
  /** Sends an ETag; an update honours `If-Match`. */
  etag?: 'returns' | 'checks';
}

export interface Reply {
  status?: number;
  body?: unknown;
  location?: string;
  etag?: string;
}

type Handler = (req: Request, res: Response) => Promise<Reply | void>;

/* ---------- bodies ---------- */

/** Per-field errors from zod issues; an unknown field is named with its own message. */
export function apiFieldErrors(error: z.ZodError): FieldErrors {
  const unknown: FieldErrors = {};
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') for (const k of issue.keys) unknown[[...issue.path, k].join('.')] = { key: 'api.unknownField' };
  }
  const rest = error.issues.filter((i) => i.code !== 'unrecognized_keys');
  return { ...(rest.length ? fieldErrors(new z.ZodError(rest)) : {}), ...unknown };
}

/**
 * The request body as an object. JSON `null` clears a field (the forms' empty string); the session's `_csrf`
 * field is not data. Anything but an object is refused.
 */
export function bodyObject(req: Request): Record<string, unknown> {
  const b: unknown = req.body;
  if (b === undefined || b === null) return {};
  if (typeof b !== 'object' || Array.isArray(b)) throw new ValidationError({ _form: { key: 'api.bodyNotObject' } });
  return Object.fromEntries(Object.entries(b).filter(([k]) => k !== '_csrf').map(([k, v]) => [k, v === null ? '' : v]));
}

export function parseBody<N extends InputName>(name: N, req: Request): z.output<(typeof INPUTS)[N]> {
  const r = INPUTS[name].safeParse(bodyObject(req));
  if (!r.success) throw new ValidationError(apiFieldErrors(r.error));
  return r.data as z.output<(typeof INPUTS)[N]>;
}

/** A PATCH body: only the fields sent, each parsed by the form schema (defaults are not filled in). */
export function parsePatch<S extends z.ZodObject>(schema: S, req: Request): Partial<z.output<S>> {
  const raw = bodyObject(req);
  const r = schema.partial().strict().safeParse(raw);
  if (!r.success) throw new ValidationError(apiFieldErrors(r.error));
  return Object.fromEntries(Object.entries(r.data as object).filter(([k]) => k in raw)) as Partial<z.output<S>>;
}

/* ---------- concurrency ---------- */

/** A strong ETag from a record's last change (updated_at, to the millisecond). */
export const etagOf = (d: Date) => `"${d.getTime().toString(36)}"`;

/**
 * If-Match: without it the update goes ahead (last write wins, as in the forms); with it, the update goes
 * ahead only when the record has not changed since that ETag was read — else 409 (the lost-update refusal).
 */
export function checkIfMatch(req: Request, current: string) {
  const header = req.get('if-match');
  if (header === undefined || header.trim() === '*') return;
  const tags = header.split(',').map((s) => s.trim().replace(/^W\//, ''));
  if (!tags.includes(current)) throw new ConflictError('api.staleEtag');
}

/* ---------- lists ---------- */

/**
 * A page of results with the total and links that keep every filter (and a Link header, RFC 8288). `capped`:
 * the lists count at most COUNT_CAP rows (SEARCH_COUNT_CAP with a search; records/list.ts), so `total` is then a lower bound.
 */
export function pageReply<T>(req: Request, res: Response, items: T[], total: number, q: PageQuery, capped = false, keyset = false): Reply {
  // Past a capped total (10,000+, 1,000+) the API's pages go on (deep): `next` leads on while pages are full, to the end of
  // the rows, and `prev` is the page before (not the last counted page).
  const page = toPage(items, total, q, req.path, req.query as Record<string, unknown>, capped, { deep: true, keyset });
  const links = { self: req.originalUrl, next: page.nextHref ?? null, prev: page.prevHref ?? null };
  const header = [links.next && `<${links.next}>; rel="next"`, links.prev && `<${links.prev}>; rel="prev"`].filter(Boolean).join(', ');
  if (header) res.set('Link', header);
  return { body: { items, page: page.page, perPage: page.perPage, total: page.total, capped: page.capped, pages: page.pages, links } };
}

/* ---------- the router ---------- */

const KEY_RE = /^[\x21-\x7e]{1,200}$/;
const hasContent = (req: Request) => req.get('transfer-encoding') !== undefined || Number(req.get('content-length')) > 0;

export function createApiRouter(deps: { idempotency: IdempotencyService }) {
  const router = Router();
  const operations: Operation[] = [];

  /** Runs a create once per Idempotency-Key: a retry gets the stored response (and no second record). */
  async function idempotent(req: Request, res: Response, run: () => Promise<Reply | void>, okStatus: number): Promise<Reply | void> {
    const key = req.get('idempotency-key');
    if (key === undefined) return run();
    if (!KEY_RE.test(key)) throw new AppError(400, 'api.idempotencyKeyInvalid');
    const body = req.is('multipart/form-data') ? null : bodyObject(req);
    const fingerprint = crypto.createHash('sha256').update(JSON.stringify([req.method, req.path, body])).digest('hex');
    const claim = await deps.idempotency.claim(req.user!.id, key, fingerprint);
    if (claim.kind === 'mismatch') throw new AppError(422, 'api.idempotencyMismatch');
    if (claim.kind === 'busy') throw new ConflictError('api.idempotencyBusy');
    if (claim.kind === 'replay') {
      res.set('Idempotent-Replayed', 'true');
      return { status: claim.status, body: claim.body, location: claim.location ?? undefined };
    }
    try {
      const reply = await run();
      await deps.idempotency.complete(claim.id, reply?.status ?? okStatus, reply?.location ?? null, reply?.body);
      return reply;
    } catch (err) {
      await deps.idempotency.release(claim.id);
      throw err;
    }
  }

  function add(op: Operation, handler: Handler) {
    operations.push(op);
    router[op.method](op.path, op.guard, async (req: Request, res: Response) => {
      // A body the parsers did not read (merge-patch, XML, …) must not be taken for an empty one.
      if (op.body && hasContent(req) && !req.is(['json', 'urlencoded'])) throw new AppError(415, 'api.unsupportedMediaType');
      const reply = op.idempotent ? await idempotent(req, res, () => handler(req, res), op.ok.status) : await handler(req, res);
      if (!reply) return; // the handler answered itself (a download)
      const status = reply.status ?? op.ok.status;
      if (reply.location) res.location(reply.location);
      if (reply.etag) res.set('ETag', reply.etag);
      if (status === 204) return void res.status(204).end();
      res.status(status).json(reply.body);
    });
  }

  return { router, operations, add };
}
export type ApiRouter = ReturnType<typeof createApiRouter>;
