import type { RequestHandler, Response } from 'express';
import { AppError, ForbiddenError, TooManyRequestsError } from '../../web/errors.js';
import type { UsersService } from '../users/users.service.js';
import type { RequestToken, TokensService } from './tokens.service.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set when the request was authenticated by `Authorization: Bearer` (API paths only). */
      apiToken?: RequestToken;
    }
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function refuse(res: Response, error: 'invalid_request' | 'invalid_token') {
  res.set('WWW-Authenticate', `Bearer realm="tandem", error="${error}"`);
  return new AppError(401, error === 'invalid_request' ? 'tokens.malformed' : 'tokens.invalid');
}

/**
 * `Authorization: Bearer <token>` on an /api/ path authenticates the request as the token's user: the same
 * actor (admin flag, memberships) as a session, so the same policy applies. It replaces any session user for
 * that request and carries no ambient credential, so the CSRF check skips it. Refused at once: a malformed,
 * unknown, revoked or expired token, or a deactivated user (401); a read-only token on a write (403); more
 * than the per-token rate limit (429 with Retry-After). Other paths ignore the header (pages use sessions).
 */
export function bearerAuth(tokens: TokensService, users: UsersService): RequestHandler {
  return async (req, res, next) => {
    if (!req.path.startsWith('/api/')) return next();
    const header = req.get('authorization');
    if (header === undefined) return next();
    const m = /^Bearer +([^\s]+) *$/i.exec(header);
    if (!m) return next(refuse(res, 'invalid_request'));
    const found = await tokens.authenticate(m[1]!);
    if (!found) return next(refuse(res, 'invalid_token'));

    const rate = await tokens.limiter.hit(found.token.id);
    res.set({ 'RateLimit-Limit': String(rate.limit), 'RateLimit-Remaining': String(rate.remaining), 'RateLimit-Reset': String(rate.resetSeconds) });
    if (!rate.ok) return next(new TooManyRequestsError(rate.resetSeconds, 'tokens.rateLimited'));
    if (found.token.scope === 'read' && !SAFE_METHODS.has(req.method)) return next(new ForbiddenError('tokens.readOnly'));

    req.user = found.user;
    req.actor = await users.actorFor(found.user);
    req.apiToken = found.token;
    next();
  };
}
