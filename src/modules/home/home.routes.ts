import { Router } from 'express';
import type { Services } from '../../services.js';
import { publicRoute, requireUser } from '../../web/guards.js';

export function homeRoutes(services: Services): Router {
  const r = Router();
  r.get('/', publicRoute, (req, res) => res.redirect(req.user ? '/dashboard' : '/login'));

  // The group dashboard's figures arrive with the dashboard issue; until then this is the landing page,
  // and a user in no group is told what to do next instead of seeing empty lists.
  r.get('/dashboard', requireUser, (req, res) => {
    const actor = req.actor!;
    res.render(actor.isAdmin || actor.memberships.length ? 'home/dashboard' : 'home/no-group');
  });

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
