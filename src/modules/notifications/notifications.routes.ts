import { Router, type Request, type RequestHandler } from 'express';
import type { Services } from '../../services.js';
import { pageQuery } from '../../lib/pagination.js';
import { parseInput } from '../../web/forms.js';
import { requireUser } from '../../web/guards.js';
import { flash, safeNext } from '../../web/middleware.js';
import { idParam } from '../../web/params.js';
import { emailSettingsInput } from './notifications.schemas.js';

const quietWhenSignedOut: RequestHandler = (req, res, next) => (!req.user && req.get('HX-Request') ? void res.status(204).end() : next());

/** express-session saves, or touches, only the session it finds on the request at the end of the response. */
const leaveSessionAsItIs = (req: Request) => delete (req as { session?: unknown }).session;

const pathOf = (url: string | undefined) => {
  try {
    return url ? new URL(url, 'http://x').pathname : '';
  } catch {
    return '';
  }
};

/** The notifications page, reading them (POST: no GET changes anything), and the email settings of the profile. */
export function notificationsRoutes(services: Services): Router {
  const { notifications } = services;
  const r = Router();

  r.get('/notifications', requireUser, async (req, res) => {
    const q = pageQuery.parse({ page: req.query.page, perPage: 25 });
    res.render('notifications/index', { page: await notifications.list(req.user!.id, q) });
  });

  /**
   * The bell alone, for bell.js (every 30 s while the tab is visible). A poll is not the user's activity: it
   * neither saves nor touches the session (no Set-Cookie, no write to the store), so the idle timeout still
   * ends a session left open in a tab. When that has happened, htmx gets 204 and the page stays as it is
   * (no jump to the login page under a half-written form); the next thing the user does signs them in again.
   */
  r.get('/notifications/bell', quietWhenSignedOut, requireUser, async (req, res) => {
    leaveSessionAsItIs(req);
    // currentUser counted them with the user, in this request (capped as the bell shows them): no second count.
    const unreadCount = req.unreadCount ?? (await notifications.unreadCount(req.user!.id));
    // The page the bell is on (htmx says which): "you are here" when that is the notifications page.
    res.render('notifications/_bell', { unreadCount, bellPath: pathOf(req.get('HX-Current-URL')) });
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
