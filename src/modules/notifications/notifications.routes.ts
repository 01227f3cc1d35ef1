import { Router } from 'express';
import type { Services } from '../../services.js';
import { pageQuery } from '../../lib/pagination.js';
import { parseInput } from '../../web/forms.js';
import { requireUser } from '../../web/guards.js';
import { flash, safeNext } from '../../web/middleware.js';
import { idParam } from '../../web/params.js';
import { emailSettingsInput } from './notifications.schemas.js';

/** The notifications page, reading them (POST: no GET changes anything), and the email settings of the profile. */
export function notificationsRoutes(services: Services): Router {
  const { notifications } = services;
  const r = Router();

  r.get('/notifications', requireUser, async (req, res) => {
    const q = pageQuery.parse({ page: req.query.page, perPage: 25 });
    res.render('notifications/index', { page: await notifications.list(req.user!.id, q) });
  });

  // Declared before /notifications/:id/read so "read-all" is never taken for an id (it would be a 404 anyway).
  r.post('/notifications/read-all', requireUser, async (req, res) => {
    await notifications.markAllRead(req.user!.id);
    flash(req, 'success', 'notifications.allRead');
    res.redirect(303, '/notifications');
  });

  /** Opening a notification: marked read, then on to what it is about. Someone else's: 404. */
  r.post('/notifications/:id/read', requireUser, async (req, res) => {
    const link = await notifications.open(req.user!.id, idParam(req.params.id));
    // Links are local paths written by the app; safeNext keeps it that way.
    res.redirect(303, safeNext(link, '/notifications'));
  });

  r.post('/profile/notifications', requireUser, async (req, res) => {
    const { email } = parseInput(emailSettingsInput, req.body);
    await notifications.setEmailKinds(req.user!.id, email);
    flash(req, 'success', 'notifications.settings.saved');
    res.redirect(303, '/profile#notification-settings');
  });

  return r;
}
