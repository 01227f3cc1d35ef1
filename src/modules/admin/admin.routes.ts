import { Router } from 'express';
import { z } from 'zod';
import { QUEUES } from '../../jobs/queues.js';
import { NotFoundError } from '../../web/errors.js';
import type { Services } from '../../services.js';
import { toPage } from '../../lib/pagination.js';
import { parseInput } from '../../web/forms.js';
import { requireAdmin } from '../../web/guards.js';
import { flash } from '../../web/middleware.js';
import { idParam } from '../../web/params.js';
import { setActiveSchema, setAdminSchema, userListQuery } from './admin.schemas.js';

export function adminRoutes(services: Services): Router {
  const { admin } = services;
  const r = Router();

  r.get('/admin', requireAdmin, (_req, res) => res.redirect('/admin/users'));

  r.get('/admin/users', requireAdmin, async (req, res) => {
    const q = userListQuery.parse(req.query);
    const { items, total } = await admin.listUsers(req.actor!, q);
    const page = toPage(items, total, q, '/admin/users', req.query);
    // htmx swaps only the results when the search box or a filter changes.
    res.render(req.get('HX-Request') ? 'admin/_users-table.njk' : 'admin/users', { q, page });
  });

  r.get('/admin/users/:id', requireAdmin, async (req, res) => {
    const { user, groups } = await admin.getUser(req.actor!, idParam(req.params.id));
    res.render('admin/user', { subject: user, groups });
  });

  r.post('/admin/users/:id/active', requireAdmin, async (req, res) => {
    const id = idParam(req.params.id);
    const { active } = parseInput(setActiveSchema, req.body);
    await admin.setActive(req.actor!, id, active);
    flash(req, 'success', active ? 'admin.activated' : 'admin.deactivated');
    res.redirect(303, `/admin/users/${id}`);
  });

  r.post('/admin/users/:id/admin', requireAdmin, async (req, res) => {
    const id = idParam(req.params.id);
    const { admin: makeAdmin } = parseInput(setAdminSchema, req.body);
    await admin.setAdmin(req.actor!, id, makeAdmin);
    flash(req, 'success', makeAdmin ? 'admin.promoted' : 'admin.demoted');
    res.redirect(303, `/admin/users/${id}`);
  });

  // Background jobs: counts per queue, failed jobs with their error, and retry.
  r.get('/admin/jobs', requireAdmin, async (_req, res) => {
    res.render('admin/jobs', { queues: await services.jobs.overview(), mode: services.jobs.mode });
  });

  r.post('/admin/jobs/:queue/:id/retry', requireAdmin, async (req, res) => {
    const queue = z.enum(QUEUES).safeParse(req.params.queue);
    if (!queue.success) throw new NotFoundError();
    const ok = await services.jobs.retry(queue.data, String(req.params.id));
    flash(req, ok ? 'success' : 'error', ok ? 'jobs.retried' : 'jobs.notFailed');
    res.redirect(303, '/admin/jobs');
  });

  return r;
}
