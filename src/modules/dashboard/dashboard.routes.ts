import { Router } from 'express';
import { z } from 'zod';
import type { Services } from '../../services.js';
import { requireUser } from '../../web/guards.js';

const dashboardQuery = z.object({ group: z.coerce.number().int().positive().optional().catch(undefined) });

export function dashboardRoutes(services: Services): Router {
  const r = Router();

  r.get('/dashboard', requireUser, async (req, res) => {
    const actor = req.actor!;
    // A user in no group has nothing to count: tell them what to do next instead of showing zeros.
    if (!actor.isAdmin && !actor.memberships.length) return res.render('home/no-group');
    const { group } = dashboardQuery.parse(req.query);
    const [data, groups] = await Promise.all([services.dashboard.get(actor, group), services.leads.groupChoices(actor)]);
    res.render('dashboard/index', { ...data, group, groups });
  });

  return r;
}
