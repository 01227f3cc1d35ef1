import { Router } from 'express';
import type { Services } from '../../services.js';
import { requireUser } from '../../web/middleware.js';

export function homeRoutes(services: Services): Router {
  const r = Router();
  r.get('/', (req, res) => res.redirect(req.user ? '/dashboard' : '/login'));

  // The group dashboard's figures arrive with the dashboard issue; until then this is the landing page,
  // and a user in no group is told what to do next instead of seeing empty lists.
  r.get('/dashboard', requireUser, async (req, res) => {
    const user = req.user!;
    const inGroup = user.role === 'admin' || (await services.users.isInAnyGroup(user.id));
    res.render(inGroup ? 'home/dashboard' : 'home/no-group');
  });

  r.get('/healthz', (_req, res) => res.json({ status: 'ok' }));
  r.get('/readyz', async (_req, res) => {
    const checks = await services.readiness();
    const ok = Object.values(checks).every((c) => c === 'ok');
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'unavailable', checks });
  });
  return r;
}
