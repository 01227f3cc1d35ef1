import path from 'node:path';
import crypto from 'node:crypto';
import express, { type Express } from 'express';
import helmet from 'helmet';
import { pinoHttp } from 'pino-http';
import type { Services } from './services.js';
import { errorHandler, notFound } from './web/error-handler.js';
import { allowedHosts, csrf, currentUser, locale, viewLocals } from './web/middleware.js';
import { keepAlive, saveBeforeRedirect, sessionMiddleware } from './web/session.js';
import { setupViews } from './web/views.js';
import { authRoutes } from './modules/auth/auth.routes.js';
import { usersRoutes } from './modules/users/users.routes.js';
import { homeRoutes, probeRoutes } from './modules/home/home.routes.js';
import { groupsRoutes } from './modules/groups/groups.routes.js';
import { dashboardRoutes } from './modules/dashboard/dashboard.routes.js';
import { adminRoutes } from './modules/admin/admin.routes.js';
import { filesRoutes } from './modules/files/files.routes.js';
import { leadsRoutes } from './modules/leads/leads.routes.js';
import { clientsRoutes } from './modules/clients/clients.routes.js';
import { exportsRoutes } from './modules/exports/exports.routes.js';
import { recordsRoutes } from './modules/records/records.routes.js';
import { bearerAuth } from './modules/tokens/tokens.middleware.js';
import { tokensRoutes } from './modules/tokens/tokens.routes.js';
import { apiRoutes } from './modules/api/api.routes.js';
import { notificationsRoutes } from './modules/notifications/notifications.routes.js';

import { ROOT } from './lib/paths.js';

/** The whole middleware order, in one place. */
export function createApp(services: Services, opts: { extraRoutes?: (app: Express) => void } = {}): Express {
  const { env, logger } = services;
  const app = express();
  app.disable('x-powered-by');
  // No automatic ETag (a SHA-1 of every response body): pages are no-store, and API records send their own.
  app.set('etag', false);
  app.set('trust proxy', env.TRUST_PROXY);
  setupViews(app, { watch: env.NODE_ENV === 'development' });

  // 1. A request id on every log line, echoed to the client for support.
  app.use(
    pinoHttp({
      logger,
      genReqId: (req, res) => {
        const incoming = req.headers['x-request-id'];
        const id = typeof incoming === 'string' && /^[\w-]{1,64}$/.test(incoming) ? incoming : crypto.randomUUID();
        res.setHeader('x-request-id', id);
        return id;
      },
      serializers: {
        // Plain-form uploads carry the CSRF token in the query string: never write it to the log.
        req: (req) => ({ id: req.id, method: req.method, url: req.url?.replace(/([?&]_csrf=)[^&]*/, '$1[redacted]') }),
        res: (res) => ({ statusCode: res.statusCode }),
      },
      // 4xx are the user's business and logged at info; 5xx are already logged with the error by the handler.
      customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : 'info'),
      autoLogging: { ignore: (req) => req.url === '/healthz' || req.url?.startsWith('/static/') === true },
    }),
  );

  // 2. Security headers: a strict CSP (no inline script or style anywhere in the views).
  app.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'", 'data:'],
          fontSrc: ["'self'"],
          connectSrc: ["'self'"],
          formAction: ["'self'"],
          objectSrc: ["'none'"],
          baseUri: ["'none'"],
          frameAncestors: ["'none'"],
          ...(env.isProduction ? { upgradeInsecureRequests: [] } : {}),
        },
      },
      strictTransportSecurity: env.isProduction,
      referrerPolicy: { policy: 'same-origin' },
    }),
  );

  // 3. Probes and static files need no host check, session or body.
  app.use('/static', express.static(path.join(ROOT, 'public'), { maxAge: env.isProduction ? '1h' : 0 }));
  app.use('/static/vendor/htmx', express.static(path.join(ROOT, 'node_modules/htmx.org/dist'), { maxAge: env.isProduction ? '1d' : 0 }));
  app.use('/static/vendor/sortable', express.static(path.join(ROOT, 'node_modules/sortablejs'), { maxAge: env.isProduction ? '1d' : 0 }));
  app.use(probeRoutes(services));
  app.use(allowedHosts(env));

  // 4. Bodies: forms and JSON, with a size limit (over it: 413).
  app.use(express.urlencoded({ extended: false, limit: env.BODY_LIMIT }));
  app.use(express.json({ limit: env.BODY_LIMIT }));

  // 5. Session (PostgreSQL), then who is signed in, their language, CSRF, and what every view needs.
  app.use(sessionMiddleware(env, services.database));
  app.use(saveBeforeRedirect);
  app.use(keepAlive);
  app.use(currentUser(env, services.users));
  // On /api/ paths, `Authorization: Bearer <token>` authenticates as the token's user (before CSRF, which it skips).
  app.use(bearerAuth(services.tokens, services.users));
  app.use(locale());
  app.use(csrf());
  app.use(viewLocals(env));

  // 6. Features. Every router is mounted at the root and spells out full paths, so the authorization matrix
  // test can list every route from app.router, and each route names its guard (web/guards.ts).
  app.use(homeRoutes(services));
  app.use(dashboardRoutes(services));
  app.use(authRoutes(services));
  app.use(usersRoutes(services));
  app.use(groupsRoutes(services));
  app.use(adminRoutes(services));
  app.use(filesRoutes(services));
  app.use(leadsRoutes(services));
  // Before clientsRoutes: its /clients/:id would otherwise take /clients/export.
  app.use(exportsRoutes(services));
  app.use(clientsRoutes(services));
  app.use(recordsRoutes(services));
  app.use(tokensRoutes(services));
  app.use(notificationsRoutes(services));
  app.use(apiRoutes(services));
  // A seam for tests that need a route of their own in the real middleware stack.
  opts.extraRoutes?.(app);

  // 7. Nothing matched, then every error.
  app.use(notFound);
  app.use(errorHandler(env));
  return app;
}
