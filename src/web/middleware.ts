import crypto from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Env } from '../config/env.js';
import { DEFAULT_LOCALE, formatters, fromAcceptLanguage, isLocale, translator, type Locale } from '../lib/i18n.js';
import type { User, UserWithMemberships } from '../modules/users/users.repository.js';
import type { UsersService } from '../modules/users/users.service.js';
import type { Actor } from '../modules/access/policy.js';
import { AppError, CsrfError } from './errors.js';
import { NOTIFICATION_KINDS } from '../db/schema/jobs.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      user?: User;
      /** The signed-in user as the access policy sees them: admin flag and group memberships. */
      actor?: Actor;
      /** The signed-in user's unread notifications, counted up to UNREAD_CAP + 1 (the bell). */
      unreadCount?: number;
      locale: Locale;
    }
  }
}

/** Refuses requests whose Host is not configured (DNS rebinding, poisoned absolute links). */
export function allowedHosts(env: Env): RequestHandler {
  const allowed = new Set(env.ALLOWED_HOSTS);
  return (req, _res, next) => {
    const host = (req.hostname ?? '').toLowerCase();
    if (allowed.has('*') || allowed.has(host)) return next();
    next(new AppError(400, 'errors.badHost'));
  };
}

/**
 * Loads the signed-in user on every request. A session whose user is gone, deactivated, or whose
 * password changed since (session version), or which outlived the absolute timeout, is ended here.
 */
export function currentUser(env: Env, users: UsersService): RequestHandler {
  const absoluteMs = env.SESSION_ABSOLUTE_HOURS * 3_600_000;
  return async (req, _res, next) => {
    const s = req.session;
    if (!s?.userId) return next();
    // Read with the session when the store brought it (one round trip for both), else on its own.
    const companion = req.sessionCompanion as UserWithMemberships | undefined;
    req.sessionCompanion = undefined; // used once: a session changed later in the request is not what it described
    const found = companion ? users.activeActorOf(companion) : await users.findActiveActor(s.userId);
    const expired = !s.loginAt || Date.now() - s.loginAt > absoluteMs;
    if (!found || found.user.sessionVersion !== s.sessionVersion || expired) {
      await new Promise<void>((resolve, reject) => s.regenerate((err) => (err ? reject(err) : resolve())));
      return next();
    }
    req.user = found.user;
    req.actor = found.actor;
    req.unreadCount = found.unreadCount;
    next();
  };
}

/** Language: the profile's, else the one chosen in this session, else Accept-Language, else English. */
export function locale(): RequestHandler {
  return (req, _res, next) => {
    const fromUser = req.user?.locale;
    req.locale = isLocale(fromUser) ? fromUser : req.session?.locale ?? fromAcceptLanguage(req.get('accept-language')) ?? DEFAULT_LOCALE;
    next();
  };
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function tokensEqual(a: string, b: string) {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

/**
 * Synchronizer-token CSRF protection: one random token per session, sent back in the `_csrf` field or the
 * `x-csrf-token` header (htmx reads it from <meta name="csrf-token">). Every unsafe method is checked.
 */
export function csrf(): RequestHandler {
  return (req, res, next) => {
    const token = () => (req.session.csrfToken ??= crypto.randomBytes(32).toString('base64url'));
    res.locals.csrfToken = token;
    // A request authenticated by a Bearer token (modules/tokens) carries no ambient credential: nothing to forge.
    if (req.apiToken) return next();
    if (SAFE_METHODS.has(req.method)) return next();
    // Multipart bodies are parsed later (by the upload route), so uploads send the token in the header
    // (htmx) or, for the plain-form fallback, in the query string.
    const multipart = req.is('multipart/form-data');
    const fromBody = req.body && typeof req.body === 'object' ? req.body._csrf : undefined;
    const sent = fromBody ?? req.get('x-csrf-token') ?? (multipart ? req.query._csrf : undefined);
    const expected = req.session.csrfToken;
    if (typeof sent !== 'string' || !expected || !tokensEqual(sent, expected)) return next(new CsrfError());
    next();
  };
}

export function flash(req: Request, type: 'success' | 'error' | 'info', key: string, params?: Record<string, unknown>) {
  (req.session.flash ??= []).push({ type, key, params });
}

/** What every template can use: the translator, formatters, the user, flash messages, the navigation. */
export function viewLocals(env: Env): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const t = translator(req.locale);
    const f = formatters(req.locale);
    // One URL may answer a whole page or an htmx fragment; caches must keep them apart. Signed-in pages are
    // not stored at all, so Back after logging out shows nothing private.
    res.vary('HX-Request');
    if (req.user) res.set('Cache-Control', 'no-store');
    res.locals.t = t;
    res.locals.fmt = f;
    res.locals.locale = req.locale;
    res.locals.currentUser = req.user;
    res.locals.actor = req.actor;
    res.locals.isAdmin = req.user?.role === 'admin';
    res.locals.currentPath = req.originalUrl;
    res.locals.appName = 'Tandem CRM';
    res.locals.isProduction = env.isProduction;
    // Flash messages are read once, by the next page rendered.
    res.locals.flashes = () => {
      const list = req.session?.flash ?? [];
      if (req.session?.flash) delete req.session.flash;
      return list;
    };
    res.locals.notificationKinds = NOTIFICATION_KINDS;
    // The bell's unread count came with the user (currentUser: one query for user, memberships and count).
    res.locals.unreadCount = req.unreadCount;
    next();
  };
}

/** Regenerates the session id at login (fixation) and records what the session checks later. */
export function startSession(req: Request, user: User): Promise<void> {
  const keepLocale = req.session.locale;
  return new Promise((resolve, reject) =>
    req.session.regenerate((err) => {
      if (err) return reject(err);
      req.session.userId = user.id;
      req.session.sessionVersion = user.sessionVersion;
      req.session.loginAt = Date.now();
      if (keepLocale) req.session.locale = keepLocale;
      req.session.save((e) => (e ? reject(e) : resolve()));
    }),
  );
}

export function endSession(req: Request): Promise<void> {
  return new Promise((resolve, reject) => req.session.destroy((err) => (err ? reject(err) : resolve())));
}

/** Only local paths are followed after login or a language switch (no open redirect). */
export function safeNext(next: unknown, fallback = '/dashboard'): string {
  return typeof next === 'string' && /^\/(?![/\\])/.test(next) ? next : fallback;
}
