import { Router } from 'express';
import type { Services } from '../../services.js';
import { publicRoute } from '../../web/guards.js';

export function homeRoutes(_services: Services): Router {
  const r = Router();
  r.get('/', publicRoute, (req, res) => res.redirect(req.user ? '/dashboard' : '/login'));

  return r;
}

/** Liveness and readiness: mounted before the Host check, since probes often call by IP. */
export function probeRoutes(services: Services): Router {
  const r = Router();
  r.get('/healthz', publicRoute, (_req, res) => res.json({ status: 'ok' }));
  r.get('/readyz', publicRoute, async (_req, res) => {
    const checks = await services.readiness();
    const ok = Object.values(checks).every((c) => c === 'ok');
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'unavailable', checks });
  });
  return r;
}
