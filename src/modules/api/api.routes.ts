import { Router } from 'express';
import type { Services } from '../../services.js';
import { publicRoute } from '../../web/guards.js';
import { clientsApi } from './clients.api.js';
import { dashboardApi } from './dashboard.api.js';
import { exportsApi } from './exports.api.js';
import { groupsApi } from './groups.api.js';
import { createApiRouter } from './http.js';
import { leadsApi } from './leads.api.js';
import { notificationsApi } from './notifications.api.js';
import { buildOpenApi, docsModel } from './openapi.js';
import { recordsApi } from './records.api.js';
import { usersApi } from './users.api.js';

/**
 * The JSON API (/api/v1) and its description: /api/openapi.json, generated from the registered operations
 * and their zod schemas, and /api/docs, a page the app renders itself from that document (no CDN, no script).
 */
export function apiRoutes(services: Services): Router {
  const api = createApiRouter({ idempotency: services.idempotency });
  usersApi(api, services);
  groupsApi(api, services);
  leadsApi(api, services);
  clientsApi(api, services);
  recordsApi(api, services);
  dashboardApi(api, services);
  notificationsApi(api, services);
  exportsApi(api, services);

  const document = buildOpenApi(api.operations);
  const docs = docsModel(document);

  const r = Router();
  r.get('/api/openapi.json', publicRoute, (_req, res) => {
    res.set('Cache-Control', 'no-cache').json(document);
  });
  r.get('/api/docs', publicRoute, (_req, res) => {
    res.render('api/docs', { docs });
  });
  r.use(api.router);
  return r;
}
