import session from 'express-session';
import type { RequestHandler } from 'express';
import type { Env } from '../config/env.js';
import type { Database } from '../db/client.js';
import type { Locale } from '../lib/i18n.js';
import { usersRepository, type UserWithMemberships } from '../modules/users/users.repository.js';
import { PgSessionStore } from './session-store.js';

declare module 'express-session' {
  interface SessionData {
    userId: number;
    /** users.session_version when this session logged in; a mismatch ends the session. */
    sessionVersion: number;
    /** When the login happened (ms): the absolute timeout counts from here. */
    loginAt: number;
    csrfToken: string;
    locale: Locale;
    flash: { type: 'success' | 'error' | 'info'; key: string; params?: Record<string, unknown> }[];
    /** When the idle deadline was last pushed forward (ms); see keepAlive. */
    seenAt: number;
  }
}

/** The cookie's name: `__Host-` in production binds it to this exact host, over HTTPS, at path /. */
export const sessionCookieName = (env: Env) => (env.isProduction ? '__Host-tandem.sid' : 'tandem.sid');

/**
 * express-session flushes a response's headers (a redirect's Location) before its store has saved a
 * session changed by that request, so a browser following the redirect at once could read the old session
 * (a language just chosen, a flash message). Every redirect therefore waits for the save.
 */
export const saveBeforeRedirect: RequestHandler = (req, res, next) => {
  const redirect = res.redirect.bind(res) as (...args: unknown[]) => void;
  res.redirect = ((...args: unknown[]) => {
    if (!req.session) return redirect(...args);
    // express-session moves the cookie's expiry forward only when the response ends, after this save: without
    // the touch the stored expiry stayed the old one while the browser got the new (signed out too early).
    req.session.touch();
    req.session.save((err) => (err ? next(err) : redirect(...args)));
  }) as typeof res.redirect;
  next();
};

/** The store: sessions in PostgreSQL, each read bringing the signed-in user along (req.sessionCompanion). */
export function sessionStore(database: Database) {
  const read = usersRepository.sessionWithUser(database.db, !database.embedded);
  return new PgSessionStore<UserWithMemberships>(
    database.pool,
    async (sid) => {
      const [row] = await read.execute({ sid });
      return row && { sess: row.sess, companion: row };
    },
    15 * 60,
  );
}

export function sessionMiddleware(env: Env, database: Database): RequestHandler {
  return session({
    name: sessionCookieName(env),
    secret: env.SESSION_SECRET,
    // No store write per request (connect-pg-simple's touch was an UPDATE on every page): keepAlive below
    // pushes the idle deadline forward at most once a minute.
    store: sessionStore(database),
    resave: false,
    saveUninitialized: false,
    rolling: false,
    cookie: {
      httpOnly: true,
      sameSite: 'lax',
      secure: env.isProduction,
      path: '/',
      maxAge: env.SESSION_IDLE_MINUTES * 60_000,
    },
  });
}

export const KEEPALIVE_MS = 60_000;

/**
 * Idle timeout: a signed-in session's deadline (store row and cookie) moves forward when it is used, but at
 * most once a minute, by marking the session changed so express-session saves it and re-sends the cookie. A
 * session left alone expires in the store SESSION_IDLE_MINUTES (less up to a minute) after its last use.
 */
export const keepAlive: RequestHandler = (req, _res, next) => {
  const s = req.session;
  if (s?.userId && !(Date.now() - (s.seenAt ?? 0) < KEEPALIVE_MS)) s.seenAt = Date.now();
  next();
};
