import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compileApp } from './compile.js';

/**
 * The app as the bench tools run it on their own (transpiled, production mode, behind the pretend TLS proxy of
 * PROXY_HEADERS) on a random port against `databaseUrl`, once /healthz answers. `nodeArgs` go before the entry
 * (say, a CPU profile into `dir`, the run's own temporary directory, which also holds DATA_DIR).
 */
export async function startToolApp(name: string, databaseUrl: string, nodeArgs: (dir: string) => string[] = () => []): Promise<{ base: string; child: ChildProcess; dir: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tandem-${name}-`));
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [...nodeArgs(dir), compileApp()], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      PATH: process.env.PATH ?? '', NODE_ENV: 'production', HOST: '127.0.0.1', PORT: String(port), APP_URL: base, ALLOWED_HOSTS: '127.0.0.1',
      TRUST_PROXY: '127.0.0.1', SESSION_SECRET: `${name}-`.repeat(8), DATABASE_URL: databaseUrl, DATA_DIR: path.join(dir, 'data'), LOG_LEVEL: 'warn',
    },
  });
  for (let i = 0; i < 200; i++) {
    if (await fetch(`${base}/healthz`).then((r) => r.ok, () => false)) break;
    await new Promise((r) => setTimeout(r, 300));
  }
  return { base, child, dir };
}
