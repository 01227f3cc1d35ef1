import type { ErrorRequestHandler, Request, Response } from 'express';
import { ZodError } from 'zod';
import type { Env } from '../config/env.js';
import { translator, formatters, DEFAULT_LOCALE } from '../lib/i18n.js';
import { AppError, TooManyRequestsError, ValidationError } from './errors.js';

function wantsJson(req: Request) {
  return req.path.startsWith('/api/') || (!req.accepts('html') && !!req.accepts('json'));
}

/** Errors from the body parsers and other libraries, mapped to the status they mean. */
function toAppError(err: unknown): AppError | undefined {
  if (err instanceof AppError) return err;
  // A query string that fails its schema is a bad request, not a server error.
  if (err instanceof ZodError) return new AppError(400, 'errors.badRequest');
  const e = err as { type?: string; status?: number; statusCode?: number };
  if (e?.type === 'entity.too.large') return new AppError(413, 'errors.tooLarge');
  if (e?.type === 'entity.parse.failed') return new AppError(400, 'errors.badRequest');
  const status = e?.status ?? e?.statusCode;
  if (status && status >= 400 && status < 500) return new AppError(status, 'errors.badRequest');
  return undefined;
}

/**
 * The one error handler: an HTML page or an RFC 9457 problem+json. Unknown errors are logged with the
 * request id and shown as a generic 500; details (stack, message) only outside production.
 */
export function errorHandler(env: Env): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const known = toAppError(err);
    const status = known?.status ?? 500;
    if (!known) req.log?.error({ err }, 'unhandled error');
    if (res.headersSent) return void res.end();
    if (!res.locals.t) bareLocals(req, res);
    const t = res.locals.t;
    const key = known?.messageKey ?? 'errors.internal';
    const message = t(key, known?.params ?? {});
    if (known instanceof TooManyRequestsError) res.set('Retry-After', String(known.retryAfterSeconds));
    const debug = !env.isProduction && !known && err instanceof Error ? err.stack : undefined;
    if (wantsJson(req)) {
      res.status(status).type('application/problem+json').json({
        type: 'about:blank',
        title: t(`errors.title.${status}`, { defaultValue: message }),
        status,
        detail: message,
        instance: req.originalUrl,
        requestId: req.id,
        ...(known instanceof ValidationError
          ? { errors: Object.entries(known.fields).map(([field, e]) => ({ field, message: t(e.key, e.params ?? {}) })) }
          : {}),
        ...(known?.action ? { links: [{ href: known.action.href, title: t(known.action.labelKey) }] } : {}),
        ...(debug ? { debug } : {}),
      });
      return;
    }
    render(res, status, message, debug, req.id as string | undefined, known?.action, !!req.get('HX-Request'));
  };
}

/** Errors raised before viewLocals ran (bad host, oversized body) still get a translated page. */
function bareLocals(req: Request, res: Response) {
  const locale = req.locale ?? DEFAULT_LOCALE;
  res.locals.t = translator(locale);
  res.locals.fmt = formatters(locale);
  res.locals.locale = locale;
  res.locals.appName = 'Tandem CRM';
  res.locals.currentPath = req.originalUrl;
  res.locals.csrfToken = () => req.session?.csrfToken ?? '';
  res.locals.flashes = () => [];
}

function render(res: Response, status: number, message: string, debug: string | undefined, requestId: string | undefined, action: AppError['action'] | undefined, htmx: boolean) {
  // The marker tells public/js/app.js the body is this app's escaped fragment (a proxy's error page is not).
  if (htmx) res.set('X-Error-Fragment', '1');
  res.status(status).render(htmx ? 'errors/_htmx.njk' : 'errors/error', { status, message, debug, requestId, action }, (renderErr, html) => {
    // A broken template must not hide the original error behind a second one.
    if (renderErr) return void res.type('text').send(`${status} ${message}`);
    res.send(html);
  });
}

export function notFound(_req: Request, _res: Response, next: (err: unknown) => void) {
  next(new AppError(404, 'errors.notFound'));
}
