import { Router, type Request, type Response } from 'express';
import type { Services } from '../../services.js';
import { ValidationError } from '../../web/errors.js';
import { keptValues, parseInput } from '../../web/forms.js';
import { requireUser } from '../../web/guards.js';
import { flash } from '../../web/middleware.js';
import { idParam } from '../../web/params.js';
import { TOKEN_SCOPES } from '../../db/schema/index.js';
import { TOKEN_EXPIRY, tokenInput } from './tokens.schemas.js';

/**
 * The API token section of the profile page. /profile includes views/users/_tokens.njk, which loads this
 * section with htmx (or links here without JavaScript); the forms post here and land on /profile/tokens,
 * where a new token's secret is shown once.
 */
export function tokensRoutes(services: Services): Router {
  const { tokens } = services;
  const r = Router();

  async function render(req: Request, res: Response, locals: Record<string, unknown> = {}) {
    const apiTokens = (await tokens.list(req.user!.id)).map((tk) => ({ ...tk, expired: !!tk.expiresAt && tk.expiresAt <= new Date() }));
    const view = req.get('HX-Request') ? 'users/_tokens.njk' : 'tokens/index';
    res.render(view, { apiTokens, scopes: TOKEN_SCOPES, expiries: TOKEN_EXPIRY, values: { scope: 'read', expiresIn: '90' }, errors: {}, ...locals });
  }

  r.get('/profile/tokens', requireUser, (req, res) => render(req, res));

  r.post('/profile/tokens', requireUser, async (req, res) => {
    try {
      const { secret, token } = await tokens.create(req.user!, parseInput(tokenInput, req.body));
      res.status(201);
      await render(req, res, { newToken: { secret, name: token.name } });
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      res.status(422);
      await render(req, res, { values: keptValues(req.body), errors: err.fields });
    }
  });

  r.post('/profile/tokens/:id/revoke', requireUser, async (req, res) => {
    const { name } = await tokens.revoke(req.user!.id, idParam(req.params.id));
    flash(req, 'success', 'tokens.revoked', { name });
    res.redirect(303, '/profile/tokens');
  });

  return r;
}
