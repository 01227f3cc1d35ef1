import { Router, type Request } from 'express';
import type { Services } from '../../services.js';
import { changePasswordSchema, languageSchema, profileSchema } from '../auth/auth.schemas.js';
import { formHandler, parseInput } from '../../web/forms.js';
import { flash, safeNext } from '../../web/middleware.js';
import { publicRoute, requireUser } from '../../web/guards.js';

export function usersRoutes(services: Services): Router {
  const { users } = services;
  const r = Router();

  // The language switcher works signed in (saved to the profile) and signed out (kept in the session).
  r.post('/language', publicRoute, async (req, res) => {
    const { locale, next } = parseInput(languageSchema, req.body);
    if (req.user) await users.setLocale(req.user.id, locale);
    else req.session.locale = locale;
    res.redirect(303, safeNext(next, '/'));
  });

  r.get('/profile', requireUser, (req, res) => {
    res.render('users/profile', { values: profileValues(req), errors: {} });
  });
  r.post(
    '/profile',
    requireUser,
    formHandler('users/profile', async (req, res) => {
      const input = parseInput(profileSchema, req.body);
      await users.updateProfile(req.user!, input);
      flash(req, 'success', 'profile.saved');
      res.redirect(303, '/profile');
    }),
  );

  // A second form on the profile page: its fields have their own names, so one `errors` object serves both.
  r.post(
    '/profile/password',
    requireUser,
    formHandler(
      'users/profile',
      async (req, res) => {
        const input = parseInput(changePasswordSchema, req.body);
        req.session.sessionVersion = await users.changePassword(req.user!, input, req.sessionID);
        flash(req, 'success', 'profile.passwordChanged');
        res.redirect(303, '/profile');
      },
      (req) => ({ values: profileValues(req) }),
    ),
  );

  return r;
}

const profileValues = (req: Request) => ({ name: req.user!.name, email: req.user!.email, locale: req.user!.locale ?? req.locale });
