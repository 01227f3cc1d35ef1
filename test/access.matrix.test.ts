import { describe, expect, it } from 'vitest';
import { createTestApp } from './helpers/app.js';
import { loginActors, useFixtureApp, ACTORS } from './helpers/fixture.js';
import { runMatrix, type Classification } from './helpers/matrix.js';
import { listRoutes } from './helpers/routes.js';
import { requireUser } from '../src/web/guards.js';

/**
 * Every route of the app must be classified here. A route added later without a line here fails the
 * "every route is classified" test by name until someone decides who may reach it.
 */
const CLASSIFICATION: Classification = {
  'GET /': { kind: 'public' },
  'GET /healthz': { kind: 'public' },
  'GET /readyz': { kind: 'public' },
  'GET /register': { kind: 'public' },
  'POST /register': { kind: 'public' },
  'GET /login': { kind: 'public' },
  'POST /login': { kind: 'public' },
  'POST /logout': { kind: 'public' },
  'GET /password/forgot': { kind: 'public' },
  'POST /password/forgot': { kind: 'public' },
  'GET /password/reset/:token': { kind: 'public' },
  'POST /password/reset/:token': { kind: 'public' },
  'POST /language': { kind: 'public' },
  'GET /dashboard': { kind: 'user' },
  'GET /profile': { kind: 'user' },
  'POST /profile': { kind: 'user' },
  'POST /profile/password': { kind: 'user' },
  'GET /groups': { kind: 'user' },
  'GET /groups/new': { kind: 'admin' },
  'POST /groups': { kind: 'admin' },
  'GET /groups/:id': { kind: 'group', act: 'member' },
  'GET /groups/:id/edit': { kind: 'group', act: 'admin' },
  'POST /groups/:id': { kind: 'group', act: 'admin' },
  'GET /groups/:id/delete': { kind: 'group', act: 'admin' },
  'POST /groups/:id/delete': { kind: 'group', act: 'admin' },
  'GET /groups/:id/candidates': { kind: 'group', act: 'admin' },
  'POST /groups/:id/members': { kind: 'group', act: 'admin' },
  'POST /groups/:id/members/:userId/role': { kind: 'group', act: 'admin' },
  'POST /groups/:id/members/:userId/remove': { kind: 'group', act: 'admin' },
  'GET /admin': { kind: 'admin' },
  'GET /admin/users': { kind: 'admin' },
  'GET /admin/jobs': { kind: 'admin' },
  'POST /admin/jobs/:queue/:id/retry': { kind: 'admin' },
  'GET /admin/users/:id': { kind: 'adminUser' },
  'POST /admin/users/:id/active': { kind: 'adminUser' },
  'POST /admin/users/:id/admin': { kind: 'adminUser' },
  'GET /leads': { kind: 'user' },
  'GET /leads/new': { kind: 'member' },
  'POST /leads': { kind: 'user' },
  'GET /leads/trash': { kind: 'manager' },
  'GET /leads/board': { kind: 'user' },
  'GET /leads/board/column': { kind: 'user' },
  'GET /leads/owner-options': { kind: 'user' },
  'GET /leads/:id': { kind: 'record', entity: 'lead', act: 'member' },
  'GET /leads/:id/edit': { kind: 'record', entity: 'lead', act: 'member' },
  'POST /leads/:id': { kind: 'record', entity: 'lead', act: 'member' },
  'POST /leads/:id/status': { kind: 'record', entity: 'lead', act: 'member' },
  'POST /leads/:id/delete': { kind: 'record', entity: 'lead', act: 'manager' },
  'POST /leads/:id/restore': { kind: 'record', entity: 'trashedLead', act: 'manager' },
  'POST /leads/:id/purge': { kind: 'record', entity: 'trashedLead', act: 'manager' },
  'GET /leads/:id/convert': { kind: 'record', entity: 'lead', act: 'member' },
  'POST /leads/:id/convert': { kind: 'record', entity: 'lead', act: 'member' },
  'POST /leads/:id/comments': { kind: 'record', entity: 'lead', act: 'member' },
  'POST /leads/:id/files': { kind: 'record', entity: 'lead', act: 'member' },
  'GET /leads/:id/files': { kind: 'record', entity: 'lead', act: 'member' },
  'GET /clients/:id/files': { kind: 'record', entity: 'client', act: 'member' },
  'GET /clients': { kind: 'user' },
  'GET /clients/new': { kind: 'member' },
  'POST /clients': { kind: 'user' },
  'GET /clients/trash': { kind: 'manager' },
  'GET /clients/:id': { kind: 'record', entity: 'client', act: 'member' },
  'GET /clients/:id/edit': { kind: 'record', entity: 'client', act: 'member' },
  'POST /clients/:id': { kind: 'record', entity: 'client', act: 'member' },
  'POST /clients/:id/delete': { kind: 'record', entity: 'client', act: 'manager' },
  'POST /clients/:id/restore': { kind: 'record', entity: 'trashedClient', act: 'manager' },
  'POST /clients/:id/comments': { kind: 'record', entity: 'client', act: 'member' },
  'POST /clients/:id/files': { kind: 'record', entity: 'client', act: 'member' },
  'GET /clients/export': { kind: 'manager' },
  'GET /exports': { kind: 'user' },
  'GET /exports/:id': { kind: 'own' },
  'POST /exports/:id/retry': { kind: 'own' },
  'GET /exports/:id/download': { kind: 'own' },
  'GET /comments/:id/edit': { kind: 'record', entity: 'comment', act: 'author' },
  'POST /comments/:id': { kind: 'record', entity: 'comment', act: 'author' },
  'POST /comments/:id/delete': { kind: 'record', entity: 'comment', act: 'author' },
  'GET /files/:id/download': { kind: 'record', entity: 'file', act: 'member' },
  'GET /files/:id/thumbnail': { kind: 'record', entity: 'file', act: 'member' },
  'POST /files/:id/delete': { kind: 'record', entity: 'file', act: 'author' },
  // API tokens on the profile page; revoking another user's token is 404 (the id is no actor's).
  'GET /profile/tokens': { kind: 'user' },
  'POST /profile/tokens': { kind: 'user' },
  'POST /profile/tokens/:id/revoke': { kind: 'own' },
  // Notifications: each user's own; reading someone else's is 404 (the id is no actor's). Email settings on the profile.
  'GET /notifications': { kind: 'user' },
  'GET /notifications/bell': { kind: 'user' },
  'POST /notifications/read-all': { kind: 'user' },
  'POST /notifications/:id/read': { kind: 'own' },
  'POST /profile/notifications': { kind: 'user' },
  // The JSON API: the same rules as the pages; anonymous gets 401 (matches() knows /api/ paths).
  'GET /api/openapi.json': { kind: 'public' },
  'GET /api/docs': { kind: 'public' },
  'GET /api/v1/me': { kind: 'user' },
  'GET /api/v1/users': { kind: 'admin' },
  'GET /api/v1/users/:id': { kind: 'adminUser' },
  'GET /api/v1/groups': { kind: 'user' },
  'POST /api/v1/groups': { kind: 'admin' },
  'GET /api/v1/groups/:id': { kind: 'group', act: 'member' },
  'PATCH /api/v1/groups/:id': { kind: 'group', act: 'admin' },
  'DELETE /api/v1/groups/:id': { kind: 'group', act: 'admin' },
  'POST /api/v1/groups/:id/members': { kind: 'group', act: 'admin' },
  'PATCH /api/v1/groups/:id/members/:userId': { kind: 'group', act: 'admin' },
  'DELETE /api/v1/groups/:id/members/:userId': { kind: 'group', act: 'admin' },
  'GET /api/v1/leads': { kind: 'user' },
  'POST /api/v1/leads': { kind: 'user' },
  'GET /api/v1/leads/:id': { kind: 'record', entity: 'lead', act: 'member' },
  'PATCH /api/v1/leads/:id': { kind: 'record', entity: 'lead', act: 'member' },
  'DELETE /api/v1/leads/:id': { kind: 'record', entity: 'lead', act: 'manager' },
  'POST /api/v1/leads/:id/convert': { kind: 'record', entity: 'lead', act: 'member' },
  'GET /api/v1/leads/:id/comments': { kind: 'record', entity: 'lead', act: 'member' },
  'POST /api/v1/leads/:id/comments': { kind: 'record', entity: 'lead', act: 'member' },
  'GET /api/v1/leads/:id/files': { kind: 'record', entity: 'lead', act: 'member' },
  'POST /api/v1/leads/:id/files': { kind: 'record', entity: 'lead', act: 'member' },
  'GET /api/v1/leads/:id/activity': { kind: 'record', entity: 'lead', act: 'member' },
  'GET /api/v1/clients': { kind: 'user' },
  'POST /api/v1/clients': { kind: 'user' },
  'GET /api/v1/clients/:id': { kind: 'record', entity: 'client', act: 'member' },
  'PATCH /api/v1/clients/:id': { kind: 'record', entity: 'client', act: 'member' },
  'DELETE /api/v1/clients/:id': { kind: 'record', entity: 'client', act: 'manager' },
  'GET /api/v1/clients/:id/comments': { kind: 'record', entity: 'client', act: 'member' },
  'POST /api/v1/clients/:id/comments': { kind: 'record', entity: 'client', act: 'member' },
  'GET /api/v1/clients/:id/files': { kind: 'record', entity: 'client', act: 'member' },
  'POST /api/v1/clients/:id/files': { kind: 'record', entity: 'client', act: 'member' },
  'GET /api/v1/clients/:id/activity': { kind: 'record', entity: 'client', act: 'member' },
  'PATCH /api/v1/comments/:id': { kind: 'record', entity: 'comment', act: 'author' },
  'DELETE /api/v1/comments/:id': { kind: 'record', entity: 'comment', act: 'author' },
  'GET /api/v1/files/:id': { kind: 'record', entity: 'file', act: 'member' },
  'GET /api/v1/files/:id/content': { kind: 'record', entity: 'file', act: 'member' },
  'DELETE /api/v1/files/:id': { kind: 'record', entity: 'file', act: 'author' },
  'GET /api/v1/dashboard': { kind: 'user' },
  // Notifications through the API: each user's own; another user's id is 404 (the id is no actor's).
  'GET /api/v1/notifications': { kind: 'user' },
  'GET /api/v1/notifications/unread-count': { kind: 'user' },
  'POST /api/v1/notifications/read-all': { kind: 'user' },
  'POST /api/v1/notifications/:id/read': { kind: 'own' },
  // Exports through the API: starting one as the page's export (managers and admins); reading one is its owner's only.
  'POST /api/v1/clients/exports': { kind: 'manager' },
  'GET /api/v1/exports': { kind: 'user' },
  'GET /api/v1/exports/:id': { kind: 'own' },
  'GET /api/v1/exports/:id/content': { kind: 'own' },
};

const f = useFixtureApp();

describe('authorization matrix', () => {
  it('every route of the router is classified and names exactly one guard', () => {
    const routes = listRoutes(f.t.app);
    expect(routes.length).toBeGreaterThan(20);
    const keys = routes.map((r) => `${r.method} ${r.path}`);
    expect(keys.filter((k) => !CLASSIFICATION[k])).toEqual([]);
    expect(routes.filter((r) => r.guards.length !== 1).map((r) => `${r.method} ${r.path}`)).toEqual([]);
    // A classification for a route that no longer exists is stale.
    expect(Object.keys(CLASSIFICATION).filter((k) => !keys.includes(k))).toEqual([]);
  });

  it('routes × actors × subjects answer as the policy says', async () => {
    const agents = await loginActors(f.t.app);
    const result = await runMatrix(f.t.app, f.t.services, agents, CLASSIFICATION);
    expect(result.failures).toEqual([]);
    expect(result.unclassified).toEqual([]);
    const routes = listRoutes(f.t.app).length;
    // Printed for the closing note: routes × actors × subjects actually sent.
    console.info(`authorization matrix: ${routes} routes × ${ACTORS.length} actors × up to 2 subjects = ${result.cases} requests`);
    expect(result.cases).toBeGreaterThan(routes * ACTORS.length);
  }, 600_000);

  it('fails loudly for a route registered without a guard and without a policy check', async () => {
    const leaky = await createTestApp({}, {
      extraRoutes: (app) => app.get('/groups/:id/leak', async (req, res) => res.json({ group: req.params.id })),
    });
    try {
      const agents = await loginActors(leaky.app);
      const result = await runMatrix(leaky.app, leaky.services, agents, { ...CLASSIFICATION, 'GET /groups/:id/leak': { kind: 'group', act: 'member' } }, (k) => k.includes('/leak'));
      expect(result.unguarded).toEqual(['GET /groups/:id/leak']);
      expect(result.failures).toContain('GET /groups/:id/leak as anonymous on A: expected login, got 200');
      expect(result.failures).toContain('GET /groups/:id/leak as memberB on A: expected 404, got 200');
      expect(result.failures).toContain('GET /groups/:id/leak as noGroup on B: expected 404, got 200');

      // Unclassified, the same route is reported by name.
      const bare = await runMatrix(leaky.app, leaky.services, agents, CLASSIFICATION, (k) => k.includes('/leak'));
      expect(bare.unclassified).toEqual(['GET /groups/:id/leak']);
    } finally {
      await leaky.close();
    }
  });

  it('a guard alone is not enough: a group route that skips the service check is caught too', async () => {
    const halfway = await createTestApp({}, {
      extraRoutes: (app) => app.get('/groups/:id/half', requireUser, async (req, res) => res.json({ group: req.params.id })),
    });
    try {
      const agents = await loginActors(halfway.app);
      const result = await runMatrix(halfway.app, halfway.services, agents, { ...CLASSIFICATION, 'GET /groups/:id/half': { kind: 'group', act: 'member' } }, (k) => k.includes('/half'));
      expect(result.unguarded).toEqual([]);
      expect(result.failures).toContain('GET /groups/:id/half as memberA on B: expected 404, got 200');
    } finally {
      await halfway.close();
    }
  });
});
