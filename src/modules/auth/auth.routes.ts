import { Router } from 'express';
import type { Services } from '../../services.js';
import { formHandler, parseInput } from '../../web/forms.js';
import { endSession, flash, safeNext, startSession } from '../../web/middleware.js';
import { publicRoute } from '../../web/guards.js';
import { forgotSchema, loginSchema, registerSchema, resetSchema } from './auth.schemas.js';

export function authRoutes(services: Services): Router {
  const { auth } = services;
  const r = Router();

  r.get('/register', publicRoute, (req, res) => (req.user ? res.redirect('/dashboard') : res.render('auth/register', { values: {}, errors: {} })));
  r.post(
    '/register',
    publicRoute,
    formHandler('auth/register', async (req, res) => {
      const input = parseInput(registerSchema, req.body);
      const user = await auth.register(input, req.locale);
      await startSession(req, user);
      flash(req, 'success', user.role === 'admin' ? 'auth.registeredAdmin' : 'auth.registered');
      res.redirect(303, '/dashboard');
    }),
  );

  r.get('/login', publicRoute, (req, res) =>
    req.user ? res.redirect(safeNext(req.query.next)) : res.render('auth/login', { values: { next: req.query.next }, errors: {} }),
  );
  r.post(
    '/login',
    publicRoute,
    formHandler('auth/login', async (req, res) => {
      const input = parseInput(loginSchema, req.body);
      const user = await auth.authenticate(input.email, input.password, req.ip ?? 'unknown');
      await startSession(req, user);
      res.redirect(303, safeNext(req.body.next));
    }),
  );

  r.post('/logout', publicRoute, async (req, res) => {
    await endSession(req);
    res.clearCookie(services.sessionCookieName, { path: '/' });
    res.redirect(303, '/login');
  });

  r.get('/password/forgot', publicRoute, (_req, res) => res.render('auth/forgot', { values: {}, errors: {} }));
  r.post(
    '/password/forgot',
    publicRoute,
    formHandler('auth/forgot', async (req, res) => {
      const { email } = parseInput(forgotSchema, req.body);
      await auth.requestPasswordReset(email, req.locale);
      flash(req, 'info', 'auth.resetSent');
      res.redirect(303, '/login');
    }),
  );

  r.get('/password/reset/:token', publicRoute, async (req, res) => {
    const usable = await auth.isResetTokenUsable(String(req.params.token));
    res.status(usable ? 200 : 410).render('auth/reset', { token: req.params.token, usable, values: {}, errors: {} });
  });
  r.post(
    '/password/reset/:token',
    publicRoute,
    formHandler(
      'auth/reset',
      async (req, res) => {
        const { password } = parseInput(resetSchema, req.body);
        if (!(await auth.resetPassword(req.params.token as string, password))) {
          return res.status(410).render('auth/reset', { token: req.params.token, usable: false, values: {}, errors: {} });
        }
        flash(req, 'success', 'auth.resetDone');
        res.redirect(303, '/login');
      },
      (req) => ({ token: req.params.token, usable: true }),
    ),
  );

  return r;
}
