import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { EnvError, parseEnv } from '../src/config/env.js';

describe('configuration', () => {
  it('lists every bad or missing variable in one message', () => {
    let error: unknown;
    try {
      parseEnv({ NODE_ENV: 'production', PORT: 'eighty', DATABASE_URL: 'mysql://x', TRUST_PROXY: 'true' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(EnvError);
    const msg = (error as EnvError).message;
    expect(msg).toContain('configuration is invalid');
    expect(msg).toMatch(/PORT \("eighty"\)/);
    expect(msg).toMatch(/DATABASE_URL \(given\): must be a postgres/);
    expect(msg).toMatch(/SESSION_SECRET \(unset\): is required in production/);
    expect(msg).toMatch(/TRUST_PROXY/);
    expect(msg).not.toContain('mysql://x');
  });

  it('has working defaults for development', () => {
    const env = parseEnv({});
    expect(env.PORT).toBe(3000);
    expect(env.DATABASE_URL).toBeUndefined();
    expect(env.APP_URL).toBe('http://localhost:3000');
    expect(env.ALLOWED_HOSTS).toContain('localhost');
    expect(env.TRUST_PROXY).toBe(false);
  });

  it('the server prints the message and exits 1 on bad configuration', () => {
    const res = spawnSync(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      env: { PATH: process.env.PATH, PORT: '-5', REDIS_URL: 'http://nope' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(res.status).toBe(1);
    expect(res.stderr).toContain('Tandem CRM cannot start: the configuration is invalid.');
    expect(res.stderr).toContain('PORT');
    expect(res.stderr).toContain('REDIS_URL');
    expect(res.stderr).not.toMatch(/at .*\.ts:\d+/);
  });
});
