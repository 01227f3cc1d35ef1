import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { createTestApp, register, resetDatabase, tokenFor, type TestApp } from './helpers/app.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
  await resetDatabase(t.services);
});
afterAll(async () => { await t.close(); });

describe('security headers', () => {
  it('sends a strict CSP without unsafe-inline, nosniff and frame-ancestors none', async () => {
    const res = await request(t.app).get('/login');
    const csp = res.headers['content-security-policy'] as string;
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("object-src 'none'");
    expect(csp).toContain("base-uri 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-powered-by']).toBeUndefined();
    expect(res.headers['x-request-id']).toMatch(/^[\w-]+$/);
  });

  it('the pages contain no inline script or style, which the CSP would block', async () => {
    const res = await request(t.app).get('/register');
    expect(res.text).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(res.text).not.toMatch(/<style/);
    expect(res.text).not.toMatch(/\sstyle="/);
    expect(res.text).not.toMatch(/\son[a-z]+="/);
  });

  it('serves the stylesheet and htmx from the app itself', async () => {
    const css = await request(t.app).get('/static/app.css');
    expect(css.status).toBe(200);
    expect(css.headers['content-type']).toContain('text/css');
    const htmx = await request(t.app).get('/static/vendor/htmx/htmx.min.js');
    expect(htmx.status).toBe(200);
    expect(htmx.text).toContain('htmx');
  });
});

describe('CSRF', () => {
  it('a POST without a token is refused with 403 and a page that says to reload', async () => {
    const agent = request.agent(t.app);
    await agent.get('/login');
    const res = await agent.post('/login').type('form').send({ email: 'a@example.com', password: 'whatever1234' });
    expect(res.status).toBe(403);
    expect(res.text).toContain('Reload the page');
  });

  it('a token from another session is refused; the header form works for htmx', async () => {
    const other = await tokenFor(request.agent(t.app));
    const agent = request.agent(t.app);
    const mine = await tokenFor(agent);
    const res = await agent.post('/language').type('form').send({ _csrf: other, locale: 'ru' });
    expect(res.status).toBe(403);
    const ok = await agent.post('/language').set('x-csrf-token', mine).type('form').send({ locale: 'ru', next: '/login' });
    expect(ok.status).toBe(303);
  });

  it('a JSON client without a token gets problem+json', async () => {
    const res = await request(t.app).post('/logout').set('Accept', 'application/json').send({});
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.body).toMatchObject({ status: 403, type: 'about:blank' });
  });
});

describe('bad requests', () => {
  it('an unknown route shows a 404 page', async () => {
    const res = await request(t.app).get('/no/such/page');
    expect(res.status).toBe(404);
    expect(res.text).toContain('Page not found');
  });

  it('a body over the limit answers 413', async () => {
    const agent = request.agent(t.app);
    const _csrf = await tokenFor(agent);
    const res = await agent.post('/login').type('form').send({ _csrf, email: 'a@example.com', password: 'x'.repeat(200_000) });
    expect(res.status).toBe(413);
  });

  it('a Host that is not allowed answers 400', async () => {
    const res = await request(t.app).get('/login').set('Host', 'evil.example');
    expect(res.status).toBe(400);
  });
});

describe('production', () => {
  it('uses a __Host- Secure cookie and hides internals on error pages', async () => {
    const prod = await createTestApp({ NODE_ENV: 'production', SESSION_SECRET: 'x'.repeat(40), APP_URL: 'https://crm.example.com', TRUST_PROXY: '1' });
    try {
      const res = await request(prod.app).get('/login').set('Host', 'crm.example.com').set('X-Forwarded-Proto', 'https');
      const cookie = (res.headers['set-cookie'] as unknown as string[])[0]!;
      expect(cookie).toMatch(/^__Host-tandem\.sid=/);
      expect(cookie).toContain('Secure');
      expect(cookie).toContain('HttpOnly');
      expect(cookie).toContain('SameSite=Lax');
      expect(cookie).toContain('Path=/');
      expect(res.headers['strict-transport-security']).toBeDefined();
      // Only the configured host is served in production; probes answer whatever the Host (load balancers call by IP).
      expect((await request(prod.app).get('/login').set('Host', 'localhost')).status).toBe(400);
      expect((await request(prod.app).get('/healthz').set('Host', '10.1.2.3')).status).toBe(200);
      // Force an internal error: the database pool is closed under the app.
      const broken = await createTestApp({ NODE_ENV: 'production', SESSION_SECRET: 'x'.repeat(40), APP_URL: 'https://crm.example.com' });
      await broken.services.database.pool.end();
      const err = await request(broken.app).get('/readyz').set('Host', 'crm.example.com');
      expect(err.status).toBe(503);
      const page = await request(broken.app).get('/password/reset/some-token').set('Host', 'crm.example.com');
      expect(page.status).toBe(500);
      expect(page.text).toContain('An unexpected error happened');
      expect(page.text).not.toMatch(/at .*\.(ts|js):\d+/);
      expect(page.text).not.toContain('pool');
      broken.services.redis?.disconnect();
    } finally {
      await prod.close();
    }
  });
});

describe('caching', () => {
  it('signed-in pages are never stored; fragments and pages are kept apart by Vary', async () => {
    await resetDatabase(t.services);
    const agent = request.agent(t.app);
    await register(agent, { email: 'cache@example.com' });
    const res = await agent.get('/dashboard');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers.vary).toMatch(/HX-Request/i);
  });
});

describe('no group yet', () => {
  it('a user in no group sees a page telling them to ask an admin', async () => {
    await resetDatabase(t.services);
    await register(request.agent(t.app), { email: 'admin@example.com' });
    const agent = request.agent(t.app);
    await register(agent, { name: 'Newbie', email: 'newbie@example.com' });
    const res = await agent.get('/dashboard');
    expect(res.status).toBe(200);
    expect(res.text).toContain('ask an administrator to add you');
  });
});
