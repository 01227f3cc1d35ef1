import { beforeEach, describe, expect, it } from 'vitest';
import { useJourney } from './browser.js';

const PASSWORD = 'correct horse battery staple';

const j = useJourney();
beforeEach(async () => {
  await j.open();
});

describe('API tokens and docs in the browser', () => {
  it('the profile page loads the token section, makes a token shown once, and the token works on the API', async () => {
    const p = j.page!;
    await p.goto('/register');
    await p.getByLabel('Name').fill('Ada');
    await p.getByLabel('Email').fill('ada@example.com');
    await p.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await p.getByLabel('Confirm password').fill(PASSWORD);
    await Promise.all([p.waitForURL((u) => u.pathname !== '/register'), p.getByRole('button', { name: 'Create account' }).click()]);

    await p.goto('/profile');
    // htmx swaps the placeholder for the section with the list and the form.
    const section = p.getByTestId('api-tokens');
    await section.waitFor();
    await section.getByLabel('Name').fill('Reporting script');
    await section.getByLabel('Access').selectOption('write');
    await Promise.all([p.waitForURL('**/profile/tokens'), section.getByRole('button', { name: 'Create token' }).click()]);
    const secret = (await p.getByTestId('new-token').textContent())!.trim();
    expect(secret).toMatch(/^tdm_/);

    const me = await fetch(`${j.app.baseURL}/api/v1/me`, { headers: { Authorization: `Bearer ${secret}` } });
    expect(me.status).toBe(200);
    expect((await me.json()).token.name).toBe('Reporting script');

    // Reloading never shows the secret again; revoking asks first and takes effect at once.
    await p.goto('/profile/tokens');
    expect(await p.content()).not.toContain(secret);
    p.once('dialog', (d) => void d.accept());
    await Promise.all([p.waitForURL('**/profile/tokens'), p.getByRole('button', { name: /Revoke/ }).click()]);
    await p.getByText('You have no API tokens.').waitFor();
    expect((await fetch(`${j.app.baseURL}/api/v1/me`, { headers: { Authorization: `Bearer ${secret}` } })).status).toBe(401);
    expect(j.problems).toEqual({ cspViolations: [], pageErrors: [], failedAssets: [] });
  });

  it('the docs page renders under the strict CSP with nothing from outside', async () => {
    const p = j.page!;
    await p.goto('/api/docs');
    await p.getByRole('heading', { name: 'API documentation' }).waitFor();
    await p.locator('[data-operation="POST /api/v1/leads"]').waitFor();
    await p.locator('#schema-Lead details summary').click();
    expect(await p.locator('#schema-Lead pre').textContent()).toContain('"lastName"');
    expect(j.problems).toEqual({ cspViolations: [], pageErrors: [], failedAssets: [] });
  });
});
