import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import request from 'supertest';
import { createTestApp, register, resetDatabase, tokenFor, type TestApp } from './helpers/app.js';
import { formatters, fromAcceptLanguage, translator } from '../src/lib/i18n.js';

let t: TestApp;
beforeAll(async () => { t = await createTestApp(); });
afterAll(async () => { await t.close(); });
beforeEach(async () => { await resetDatabase(t.services); });

describe('languages', () => {
  it('texts with parameters follow every parameter, the plural form included, in both languages (they are remembered)', () => {
    const ru = translator('ru');
    const en = translator('en');
    for (let round = 0; round < 2; round++) {
      expect([1, 2, 5, 21].map((count) => ru('groups.memberCount', { count }))).toEqual(['1 участник', '2 участника', '5 участников', '21 участник']);
      expect([1, 2].map((count) => en('groups.memberCount', { count }))).toEqual(['1 member', '2 members']);
      expect(en('errors.badDate', { param: 'createdFrom', value: 'a' })).toBe('createdFrom: “a” is not a valid date. Use YYYY-MM-DD, for example 2026-01-31.');
      expect(en('errors.badDate', { param: 'createdTo', value: 'b' })).toContain('createdTo: “b”');
    }
    // A parameter that is not a plain value is passed through, not remembered by its text.
    const name = { toString: () => 'X' };
    expect(en('errors.badDate', { param: name as unknown as string, value: 'c' })).toContain('X: “c”');
  });

  it('renders a page in Russian from Accept-Language, English otherwise', async () => {
    const ru = await request(t.app).get('/login').set('Accept-Language', 'ru-RU,ru;q=0.9,en;q=0.5');
    expect(ru.text).toContain('<html lang="ru">');
    expect(ru.text).toContain('Вход');
    expect(ru.text).toContain('Забыли пароль?');
    const en = await request(t.app).get('/login').set('Accept-Language', 'de-DE,fr;q=0.8');
    expect(en.text).toContain('<html lang="en">');
    expect(en.text).toContain('Forgot your password?');
  });

  it('form errors come in Russian too, with the typed values kept', async () => {
    const agent = request.agent(t.app).set('Accept-Language', 'ru');
    const _csrf = await tokenFor(agent, '/register');
    const res = await agent.post('/register').type('form').send({ _csrf, name: 'Иван', email: 'плохой', password: '123', passwordConfirm: '123' });
    expect(res.status).toBe(422);
    expect(res.text).toContain('Введите корректный адрес электронной почты.');
    expect(res.text).toContain('Пароль должен содержать не меньше 8 символов.');
    expect(res.text).toContain('value="Иван"');
  });

  it('the switcher changes the language of an anonymous visitor', async () => {
    const agent = request.agent(t.app);
    const _csrf = await tokenFor(agent, '/login');
    const res = await agent.post('/language').type('form').send({ _csrf, locale: 'ru', next: '/login' });
    expect(res.headers.location).toBe('/login');
    expect((await agent.get('/login')).text).toContain('Вход');
  });

  it('the page right after the switch is already in the new language (the session is saved before the redirect)', async () => {
    const agent = request.agent(t.app);
    const _csrf = await tokenFor(agent, '/login');
    for (let i = 0; i < 20; i++) {
      const locale = i % 2 ? 'en' : 'ru';
      await agent.post('/language').type('form').send({ _csrf, locale, next: '/login' });
      expect((await agent.get('/login')).text).toContain(`<html lang="${locale}">`);
    }
  });

  it("the profile's language wins over the browser's and the switcher saves it to the profile", async () => {
    const agent = request.agent(t.app).set('Accept-Language', 'en');
    await register(agent, { email: 'lang@example.com' });
    const _csrf = await tokenFor(agent, '/profile');
    await agent.post('/language').type('form').send({ _csrf, locale: 'ru', next: '/profile' });
    const { rows } = await t.services.database.pool.query("select locale from users where email = 'lang@example.com'");
    expect(rows[0].locale).toBe('ru');
    expect((await agent.get('/dashboard')).text).toContain('Сводка');
  });

  it('formats dates and numbers for the language', () => {
    const d = new Date(Date.UTC(2026, 10, 26, 12, 0));
    expect(formatters('ru').date(d)).toMatch(/26 нояб\.? 2026/);
    expect(formatters('en').date(d)).toBe('26 Nov 2026');
    expect(formatters('ru').number(1234567.5)).toMatch(/^1\s234\s567,5$/);
    expect(formatters('en').number(1234567.5)).toBe('1,234,567.5');
  });

  it('gives the remembered texts Intl would give: the day just before and after local midnight, each minute', () => {
    for (const locale of ['ru', 'en'] as const) {
      const tag = locale === 'ru' ? 'ru-RU' : 'en-GB';
      const day = new Intl.DateTimeFormat(tag, { dateStyle: 'medium' });
      const minute = new Intl.DateTimeFormat(tag, { dateStyle: 'medium', timeStyle: 'short' });
      const f = formatters(locale);
      const midnight = new Date(2026, 10, 26).getTime();
      for (const ms of [midnight - 1, midnight, midnight + 59_999, midnight + 60_000, midnight + 86_399_999, midnight + 86_400_000]) {
        // Twice each: the second answer comes from memory.
        for (let i = 0; i < 2; i++) {
          expect(f.date(new Date(ms))).toBe(day.format(new Date(ms)));
          expect(f.dateTime(new Date(ms).toISOString())).toBe(minute.format(new Date(ms)));
        }
      }
      // -0 first: remembered under 0, it would show every later 0 as "-0".
      for (const n of [-0, 0, -5, 1234, 1234.5, 1e9]) {
        expect([f.number(n), f.number(String(n))]).toEqual([new Intl.NumberFormat(tag).format(n), new Intl.NumberFormat(tag).format(Number(String(n)))]);
      }
    }
  });

  it('picks the best supported language by q-value', () => {
    expect(fromAcceptLanguage('fr;q=1, ru;q=0.8, en;q=0.9')).toBe('en');
    expect(fromAcceptLanguage('de, ru-RU;q=0.5')).toBe('ru');
    expect(fromAcceptLanguage('de')).toBeUndefined();
  });

  it('every key exists in both catalogs', async () => {
    const en = (await import('../locales/en.json', { with: { type: 'json' } })).default;
    const ru = (await import('../locales/ru.json', { with: { type: 'json' } })).default;
    const keys = (o: object, p = ''): string[] =>
      Object.entries(o).flatMap(([k, v]) => (v && typeof v === 'object' ? keys(v, `${p}${k}.`) : [`${p}${k}`]));
    // Plural forms differ by language (Russian has one, few and many): compare the keys without them.
    const base = (o: object) => [...new Set(keys(o).map((k) => k.replace(/_(zero|one|two|few|many|other)$/, '')))].sort();
    expect(base(ru)).toEqual(base(en));
    // Every Russian plural key has all of Russian's forms.
    const plurals = keys(ru).filter((k) => k.endsWith('_one')).map((k) => k.slice(0, -4));
    for (const p of plurals) for (const form of ['few', 'many', 'other']) expect(keys(ru)).toContain(`${p}_${form}`);
  });
});
