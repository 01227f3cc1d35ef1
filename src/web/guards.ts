import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { AppError, ForbiddenError } from './errors.js';

/**
 * Every route declares who may reach it with exactly one of these guards. The authorization matrix test
 * reads the tag from the router, so a route registered without a guard fails that test by name.
 * Finer rules (which group, which record) are decided in services by policy.authorize().
 */
export type PolicyTag = 'public' | 'user' | 'admin';
export type Guard = RequestHandler & { policy: PolicyTag };

const tag = (policy: PolicyTag, fn: RequestHandler): Guard => Object.assign(fn, { policy });

function unauthenticated(req: Request, res: Response, next: NextFunction) {
  if (req.path.startsWith('/api/')) return next(new AppError(401, 'errors.unauthenticated'));
  // htmx follows redirects inside the fragment; tell it to load the login page as a whole instead.
  const target = `/login?next=${encodeURIComponent(req.method === 'GET' ? req.originalUrl : '/dashboard')}`;
  if (req.get('HX-Request')) return void res.set('HX-Redirect', target).status(204).end();
  res.redirect(303, target);
}

/** Anyone, signed in or not (login, registration, probes). */
export const publicRoute = tag('public', (_req, _res, next) => next());

/** Any signed-in, active user. */
export const requireUser = tag('user', (req, res, next) => (req.user ? next() : unauthenticated(req, res, next)));

/** Administrators only; everyone else signed in gets 403 (admin pages are no secret). */
export const requireAdmin = tag('admin', (req, res, next) => {
  if (!req.user) return unauthenticated(req, res, next);
  if (!req.actor?.isAdmin) return next(new ForbiddenError());
  next();
});
