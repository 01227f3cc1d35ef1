import fs from 'node:fs';
import http from 'node:http';
import crypto from 'node:crypto';

/**
 * The app runs in production mode, where the session cookie is Secure: like behind the TLS-terminating proxy
 * of a real deployment (TRUST_PROXY names it), every request says it came over HTTPS.
 */
export const PROXY_HEADERS = { 'x-forwarded-proto': 'https' };

export interface Session {
  cookie: string;
  csrf: string;
}

/** The `name=value` of the first Set-Cookie. */
function cookieOf(res: Response): string | undefined {
  return res.headers.getSetCookie()[0]?.split(';')[0];
}

export function csrfFrom(html: string): string {
  const m = /<meta name="csrf-token" content="([^"]+)"/.exec(html);
  if (!m?.[1]) throw new Error('no csrf token in the page');
  return m[1];
}

/** A fresh anonymous session with its CSRF token, as a browser gets from the login page. */
export async function anonymousSession(base: string): Promise<Session> {
  const res = await fetch(`${base}/login`, { headers: PROXY_HEADERS, redirect: 'manual' });
  const html = await res.text();
  const cookie = cookieOf(res);
  if (res.status !== 200 || !cookie) throw new Error(`GET /login answered ${res.status}${cookie ? '' : ' without a session cookie'}`);
  return { cookie, csrf: csrfFrom(html) };
}

export const loginBody = (s: Session, email: string, password: string) =>
  new URLSearchParams({ _csrf: s.csrf, email, password }).toString();

/** Signs in through the login form; returns the signed-in session (with the CSRF token of its pages). */
export async function login(base: string, email: string, password: string): Promise<Session> {
  const anon = await anonymousSession(base);
  const res = await fetch(`${base}/login`, {
    method: 'POST',
    headers: { ...PROXY_HEADERS, cookie: anon.cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: loginBody(anon, email, password),
    redirect: 'manual',
  });
  await res.arrayBuffer();
  const cookie = cookieOf(res);
  if (res.status !== 303 || !cookie) throw new Error(`login as ${email} answered ${res.status} (expected 303 with a new session cookie)`);
  const page = await fetch(`${base}/dashboard`, { headers: { ...PROXY_HEADERS, cookie }, redirect: 'manual' });
  const html = await page.text();
  if (page.status !== 200) throw new Error(`GET /dashboard as ${email} answered ${page.status}`);
  return { cookie, csrf: csrfFrom(html) };
}

/** One GET, for probing a route: its status and content type. */
export async function probe(base: string, path: string, session?: Session) {
  const res = await fetch(`${base}${path}`, { headers: { ...PROXY_HEADERS, ...(session ? { cookie: session.cookie } : {}) }, redirect: 'manual' });
  await res.arrayBuffer();
  return { status: res.status, type: res.headers.get('content-type') ?? '', location: res.headers.get('location') ?? undefined };
}

/** Streams a GET to nowhere: status, bytes, newlines, seconds to the last byte. */
export function download(port: number, path: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; type: string; bytes: number; lines: number; seconds: number }>((resolve, reject) => {
    const started = process.hrtime.bigint();
    const req = http.get({ host: '127.0.0.1', port, path, headers }, (res) => {
      let bytes = 0;
      let lines = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), bytes, lines, seconds: Number(process.hrtime.bigint() - started) / 1e9 }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/** Writes a text file of `mb` MiB (lines of plain text: a .txt the upload accepts). */
export async function makeTextFile(file: string, mb: number): Promise<void> {
  const line = 'Tandem CRM benchmark upload: plain text, line after line, nothing to see here. 0123456789\n';
  const block = Buffer.from(line.repeat(Math.ceil((1024 * 1024) / line.length))).subarray(0, 1024 * 1024);
  const out = fs.createWriteStream(file);
  for (let i = 0; i < mb; i++) if (!out.write(block)) await new Promise<void>((r) => out.once('drain', () => r()));
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

/** POSTs one file as multipart/form-data (field `files`), streamed from disk with a Content-Length. */
export function uploadFile(port: number, path: string, file: string, name: string, headers: Record<string, string>) {
  return new Promise<{ status: number; location?: string; seconds: number; body: string }>((resolve, reject) => {
    const boundary = `----tandembench${crypto.randomBytes(8).toString('hex')}`;
    const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="files"; filename="${name}"\r\nContent-Type: text/plain\r\n\r\n`);
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    const size = fs.statSync(file).size;
    const started = process.hrtime.bigint();
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        headers: { ...headers, 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(head.length + size + tail.length) },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (s: string) => (body += s.length < 2000 ? s : ''));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, seconds: Number(process.hrtime.bigint() - started) / 1e9, body }));
      },
    );
    req.on('error', reject);
    req.write(head);
    const stream = fs.createReadStream(file);
    stream.on('error', reject);
    stream.on('end', () => req.end(tail));
    stream.pipe(req, { end: false });
  });
}
