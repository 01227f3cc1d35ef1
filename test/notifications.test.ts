import { execSync, spawn, type ChildProcess } from 'node:child_process';
import net, { type AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import request from 'supertest';
import { SMTPServer } from 'smtp-server';
import type { Job, Worker } from 'bullmq';
import { createTestApp, csrfFrom, resetDatabase, type Agent, type TestApp } from './helpers/app.js';
import { GROUPS, RECORDS, USERS, loginActors, restoreFixture, type ActorName } from './helpers/fixture.js';
import { createMailer, type Mail, type Mailer } from '../src/lib/mailer.js';
import { createLogger } from '../src/lib/logger.js';
import { leadInput } from '../src/modules/leads/leads.schemas.js';
import { clientInput } from '../src/modules/clients/clients.schemas.js';
import type { Actor } from '../src/modules/access/policy.js';

/* ------------------------------------------------------------------------------------------------------------
 * A local SMTP server (the one thing outside the system): it collects what the app sends, and can refuse the
 * next N messages with a temporary error (451), as a busy mail server does.
 * ---------------------------------------------------------------------------------------------------------- */
interface Received { to: string; subject: string; text: string }
const inbox: Received[] = [];
let refuse = 0;
const smtp = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  onRcptTo(_address, _session, callback) {
    if (refuse > 0) {
      refuse--;
      return callback(Object.assign(new Error('Mailbox busy, try again later'), { responseCode: 451 }));
    }
    callback();
  },
  onData(stream, session, done) {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      inbox.push({ to: session.envelope.rcptTo.map((r) => r.address).join(','), ...parseMail(Buffer.concat(chunks).toString('latin1')) });
      done();
    });
  },
});
let SMTP_URL = '';
const APP_URL = 'http://127.0.0.1:3000';

/** Just enough RFC 5322/2047 to read what nodemailer writes: the Subject (encoded words) and a text body. */
function parseMail(raw: string): { subject: string; text: string } {
  const split = raw.search(/\r?\n\r?\n/);
  const headers = raw.slice(0, split).replace(/\r?\n[ \t]+/g, ' ');
  const body = raw.slice(split).replace(/^\r?\n\r?\n/, '');
  const header = (name: string) => new RegExp(`^${name}:[ \\t]*(.*)$`, 'im').exec(headers)?.[1] ?? '';
  const subject = header('Subject')
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/(?:=\?utf-8\?([bq])\?([^?]*)\?=)+/gi, (run) =>
      Buffer.concat(
        [...run.matchAll(/=\?utf-8\?([bq])\?([^?]*)\?=/gi)].map(([, enc, data]) =>
          enc!.toLowerCase() === 'b' ? Buffer.from(data!, 'base64') : qpBytes(data!.replace(/_/g, ' ')),
        ),
      ).toString('utf8'),
    );
  const cte = header('Content-Transfer-Encoding').toLowerCase();
  const bytes = cte === 'base64' ? Buffer.from(body.replace(/\s+/g, ''), 'base64') : cte === 'quoted-printable' ? qpBytes(body) : Buffer.from(body, 'latin1');
  return { subject, text: bytes.toString('utf8').replace(/\r\n/g, '\n') };
}
function qpBytes(s: string): Buffer {
  const flat = s.replace(/=\r?\n/g, '');
  const out: number[] = [];
  for (let i = 0; i < flat.length; i++) {
    if (flat[i] === '=' && /^[0-9A-F]{2}$/i.test(flat.slice(i + 1, i + 3))) {
      out.push(parseInt(flat.slice(i + 1, i + 3), 16));
      i += 2;
    } else out.push(flat.charCodeAt(i) & 0xff);
  }
  return Buffer.from(out);
}

beforeAll(async () => {
  await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', () => r()));
  SMTP_URL = `smtp://127.0.0.1:${(smtp.server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((r) => smtp.close(() => r()));
});

const rows = async (t: TestApp, text: string, values: unknown[] = []) => (await t.services.database.pool.query(text, values)).rows;
const notificationsOf = (t: TestApp, userId: number) =>
  rows(t, 'select id, kind, data, link, read_at, emailed_at from notifications where user_id = $1 order by id', [userId]);
const actorOf = async (t: TestApp, id: number): Promise<Actor> => t.services.users.actorFor((await t.services.users.findActive(id))!);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Before each test: the access fixture, no notifications, default languages and email settings, an empty inbox. */
async function freshState(t: TestApp) {
  await restoreFixture(t.services);
  // delete, not truncate … restart identity: ids (and so BullMQ job ids) must not repeat within one Redis.
  await rows(t, 'delete from notifications');
  await rows(t, `update users set locale = null, email_off = '[]'`);
  inbox.length = 0;
  refuse = 0;
}

/* ============================================================================================================
 * In-process engine (no REDIS_URL): the same notifications.deliver handler, run from the outbox.
 * ========================================================================================================== */
describe('notifications with the in-process job engine', () => {
  let t: TestApp;
  let agents: Record<ActorName, Agent>;
  const tokens = new Map<ActorName, string>();
  async function post(actor: ActorName, url: string, body: Record<string, unknown> = {}) {
    if (!tokens.has(actor)) tokens.set(actor, csrfFrom((await agents[actor].get('/profile')).text));
    return agents[actor].post(url).type('form').send({ _csrf: tokens.get(actor), ...body });
  }
  const leadForm = (over: Record<string, unknown> = {}) => ({ groupId: GROUPS.A.id, firstName: 'Иван', lastName: 'Петров', email: '', phone: '', company: '', source: '', status: 'new', value: '', description: '', ...over });
  /** Runs every job that is due (retries included) until the outbox has nothing left to do. */
  const settle = async () => {
    await expect
      .poll(async () => {
        await t.services.jobs.settle();
        return (await rows(t, "select count(*)::int as n from job_outbox where status in ('pending', 'dispatched')"))[0].n;
      }, { timeout: 10_000, interval: 50 })
      .toBe(0);
  };

  beforeAll(async () => {
    // EXPORT_SYNC_LIMIT 0: every export runs in the background, so it ends with an export_ready notification.
    t = await createTestApp({ SMTP_URL, APP_URL, JOBS_BACKOFF_MS: '20', EXPORT_SYNC_LIMIT: '0' });
    await resetDatabase(t.services);
    await restoreFixture(t.services);
    agents = await loginActors(t.app);
  });
  afterAll(async () => { await t.close(); });
  beforeEach(async () => { await freshState(t); });

  it('runs in-process: no Redis, the outbox carries the delivery job', () => {
    expect(t.services.jobs.mode).toBe('inline');
  });

  it('(a) assigning a lead to another member: one notification, and one email in their language through SMTP', async () => {
    await rows(t, "update users set locale = 'ru' where id = $1", [USERS.memberA.id]);
    const res = await post('managerA', '/leads', leadForm({ ownerId: USERS.memberA.id }));
    expect(res.status, res.text.slice(0, 300)).toBe(303);
    const leadId = Number(res.headers.location!.split('/').pop());
    await settle();

    const mine = await notificationsOf(t, USERS.memberA.id);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ kind: 'assigned', link: `/leads/${leadId}`, read_at: null, data: { recordKind: 'lead', recordName: 'Иван Петров', actorName: 'managerA' } });
    expect(mine[0].emailed_at).toBeInstanceOf(Date);
    // The delivery went through the outbox, by the notification's id.
    expect(await rows(t, 'select name, job_key, status from job_outbox')).toEqual([
      { name: 'notifications.deliver', job_key: `notifications.deliver:${mine[0].id}`, status: 'done' },
    ]);

    expect(inbox).toHaveLength(1);
    expect(inbox[0]!.to).toBe(USERS.memberA.email);
    expect(inbox[0]!.subject).toBe('Tandem CRM: managerA назначает вам лид «Иван Петров»');
    expect(inbox[0]!.text).toContain('Здравствуйте, memberA!');
    expect(inbox[0]!.text).toContain(`${APP_URL}/leads/${leadId}`);
    // The person who acted hears nothing.
    expect(await notificationsOf(t, USERS.managerA.id)).toEqual([]);

    // Reassigned to someone who reads English: they get theirs in English; saving again without a change tells nobody.
    expect((await post('managerA', `/leads/${leadId}`, leadForm({ ownerId: USERS.subjectA.id }))).status).toBe(303);
    expect((await post('managerA', `/leads/${leadId}`, leadForm({ ownerId: USERS.subjectA.id, company: 'ООО Ромашка' }))).status).toBe(303);
    await settle();
    await t.services.jobs.settle();
    expect(await notificationsOf(t, USERS.subjectA.id)).toHaveLength(1);
    expect(inbox.map((m) => [m.to, m.subject])).toEqual([
      [USERS.memberA.email, 'Tandem CRM: managerA назначает вам лид «Иван Петров»'],
      [USERS.subjectA.email, 'Tandem CRM: managerA assigned the lead “Иван Петров” to you'],
    ]);
    expect(inbox[1]!.text).toContain('Hello subjectA,');
    expect(inbox[1]!.text).toContain(`${APP_URL}/leads/${leadId}`);
  });

  it('nobody is told about their own actions: a lead one creates for oneself, or takes over', async () => {
    const res = await post('memberA', '/leads', leadForm());
    expect(res.status).toBe(303);
    const leadId = Number(res.headers.location!.split('/').pop());
    await post('managerA', `/leads/${leadId}`, leadForm({ ownerId: USERS.managerA.id }));
    await settle();
    expect(await rows(t, 'select count(*)::int as n from notifications')).toEqual([{ n: 0 }]);
    expect(inbox).toEqual([]);
  });

  it('a client assigned, a comment on a record one owns, being added to a group: each tells its person', async () => {
    const manager = await actorOf(t, USERS.managerA.id);
    const client = await t.services.clients.create(manager, clientInput.parse({ groupId: String(GROUPS.A.id), ownerId: String(USERS.memberA.id), name: 'ООО «Вектор»' }));
    // memberA comments on the fixture's lead A, owned by subjectA.
    const commented = await post('memberA', `/leads/${RECORDS.lead.A}/comments`, { body: 'Позвоню завтра в 10:00' });
    expect(commented.status).toBe(303);
    // The owner commenting on their own lead: nothing.
    await t.services.comments.add(await actorOf(t, USERS.subjectA.id), { kind: 'lead', id: RECORDS.lead.A }, 'my own note');
    const admin = await actorOf(t, USERS.admin.id);
    await t.services.groups.addMember(admin, GROUPS.B.id, { userId: USERS.noGroup.id, role: 'manager' });
    await t.services.groups.addMember(admin, GROUPS.B.id, { userId: USERS.admin.id, role: 'member' });
    await settle();

    expect((await notificationsOf(t, USERS.memberA.id)).map((n) => [n.kind, n.link])).toEqual([['assigned', `/clients/${client.id}`]]);
    const [comment] = await notificationsOf(t, USERS.subjectA.id);
    expect(comment).toMatchObject({ kind: 'commented', link: `/leads/${RECORDS.lead.A}`, data: { excerpt: 'Позвоню завтра в 10:00', recordName: 'Lead A', actorName: 'memberA' } });
    expect((await notificationsOf(t, USERS.noGroup.id)).map((n) => [n.kind, n.link])).toEqual([['added_to_group', `/groups/${GROUPS.B.id}`]]);
    expect(await notificationsOf(t, USERS.admin.id)).toEqual([]);

    const byTo = Object.fromEntries(inbox.map((m) => [m.to, m]));
    expect(inbox).toHaveLength(3);
    expect(byTo[USERS.memberA.email]!.subject).toBe('Tandem CRM: managerA assigned the client “ООО «Вектор»” to you');
    expect(byTo[USERS.subjectA.email]!.subject).toBe('Tandem CRM: memberA commented on your lead “Lead A”');
    expect(byTo[USERS.subjectA.email]!.text).toContain('> Позвоню завтра в 10:00');
    expect(byTo[USERS.noGroup.email]!.subject).toBe('Tandem CRM: admin added you to the group “Group B” as a manager');
    expect(byTo[USERS.noGroup.email]!.text).toContain(`${APP_URL}/groups/${GROUPS.B.id}`);
  });

  it('an owner who has left the group is not told about comments on the record', async () => {
    await rows(t, 'delete from memberships where user_id = $1', [USERS.subjectA.id]);
    expect((await post('memberA', `/leads/${RECORDS.lead.A}/comments`, { body: 'secret plans' })).status).toBe(303);
    await settle();
    expect(await notificationsOf(t, USERS.subjectA.id)).toEqual([]);
  });

  it('a background export that finishes notifies its user (export_ready) instead of mailing them itself', async () => {
    const res = await agents.managerA.get('/clients/export?format=csv');
    expect(res.status).toBe(303);
    const exportId = res.headers.location!.split('/').pop();
    await t.services.exports.idle();
    await settle();
    const [n] = await notificationsOf(t, USERS.managerA.id);
    expect(n).toMatchObject({ kind: 'export_ready', link: `/exports/${exportId}`, data: { status: 'done' } });
    expect(inbox.map((m) => [m.to, m.subject])).toEqual([[USERS.managerA.email, 'Tandem CRM: Your export of clients is ready to download']]);
    expect(inbox[0]!.text).toContain(`${APP_URL}/exports/${exportId}`);
    expect(inbox[0]!.text).toContain('The file is kept for 24 hours.');
  });

  it('(b) a rolled-back change sends nothing: neither a notification nor a job nor a mail', async () => {
    const { db } = t.services.database;
    await db
      .transaction(async (tx) => {
        const id = await t.services.notifications.notify(tx, { userId: USERS.memberA.id, actorId: USERS.managerA.id, kind: 'assigned', data: { recordKind: 'lead', recordName: 'Ghost' }, link: '/leads/1', dedupeKey: 'rolled-back' });
        expect(id).toBeGreaterThan(0);
        tx.rollback();
      })
      .catch(() => undefined);
    // A lead whose owner is refused inside the create transaction (not a member of the group).
    const refused = await post('managerA', '/leads', leadForm({ ownerId: USERS.memberB.id }));
    expect(refused.status).toBe(422);
    t.services.notifications.kick();
    await settle();
    expect(await rows(t, 'select count(*)::int as n from notifications')).toEqual([{ n: 0 }]);
    expect(await rows(t, 'select count(*)::int as n from job_outbox')).toEqual([{ n: 0 }]);
    expect(inbox).toEqual([]);
  });

  it('(c) email off for a kind: the notification is in the app, no mail; other kinds still mail', async () => {
    // The profile shows one checkbox per kind, all on by default.
    const profile = await agents.memberA.get('/profile');
    for (const kind of ['assigned', 'commented', 'added_to_group', 'export_ready']) expect(profile.text).toMatch(new RegExp(`id="email-${kind}" name="email" value="${kind}" class="[^"]*" checked`));
    const saved = await post('memberA', '/profile/notifications', { email: ['commented'] });
    expect(saved.status).toBe(303);
    expect((await rows(t, 'select email_off from users where id = $1', [USERS.memberA.id]))[0].email_off).toEqual(['assigned', 'added_to_group', 'export_ready']);
    const after = await agents.memberA.get('/profile');
    expect(after.text).toMatch(/id="email-commented" name="email" value="commented" class="[^"]*" checked/);
    expect(after.text).toMatch(/id="email-assigned" name="email" value="assigned" class="[^"]*"\s*>/);

    const res = await post('managerA', '/leads', leadForm({ ownerId: USERS.memberA.id }));
    const leadId = Number(res.headers.location!.split('/').pop());
    await settle();
    const [n] = await notificationsOf(t, USERS.memberA.id);
    expect(n).toMatchObject({ kind: 'assigned', emailed_at: null });
    expect((await rows(t, 'select status from job_outbox'))[0].status).toBe('done');
    expect(inbox).toEqual([]);

    // Comments are still on: managerA comments on memberA's lead.
    expect((await post('managerA', `/leads/${leadId}/comments`, { body: 'Call them today' })).status).toBe(303);
    await settle();
    expect(inbox.map((m) => m.subject)).toEqual(['Tandem CRM: managerA commented on your lead “Иван Петров”']);

    // Everything off (no box ticked) is a valid choice too.
    await post('memberA', '/profile/notifications', {});
    expect((await rows(t, 'select email_off from users where id = $1', [USERS.memberA.id]))[0].email_off).toEqual(['assigned', 'commented', 'added_to_group', 'export_ready']);
  });

  it('a deactivated user gets the notification in the app but no mail', async () => {
    await rows(t, 'update users set active = false where id = $1', [USERS.subjectA.id]);
    await post('memberA', `/leads/${RECORDS.lead.A}/comments`, { body: 'hello' });
    await settle();
    expect(await notificationsOf(t, USERS.subjectA.id)).toHaveLength(1);
    expect(inbox).toEqual([]);
  });

  it('(d) a mail the SMTP server refuses is retried and then delivered once', async () => {
    refuse = 1;
    await post('managerA', '/leads', leadForm({ ownerId: USERS.memberA.id }));
    await settle();
    expect(inbox).toHaveLength(1);
    expect(refuse).toBe(0);
    expect(await rows(t, 'select status, attempts, last_error from job_outbox')).toEqual([{ status: 'done', attempts: 2, last_error: null }]);
    const [n] = await notificationsOf(t, USERS.memberA.id);
    expect(n.emailed_at).toBeInstanceOf(Date);
    // Running the job again (a duplicate delivery) sends nothing more.
    await t.services.notifications.deliver(n.id);
    await sleep(100);
    expect(inbox).toHaveLength(1);
    expect(await notificationsOf(t, USERS.memberA.id)).toHaveLength(1);
  });

  describe('(g) the bell, the page, reading', () => {
    async function seed(userId: number, count: number, prefix = 'seed', actorId: number = USERS.managerA.id) {
      await t.services.database.db.transaction(async (tx) => {
        for (let i = 0; i < count; i++) {
          await t.services.notifications.notify(tx, {
            userId, actorId, kind: 'assigned', data: { recordKind: 'lead', recordName: `${prefix} ${i}` }, link: `/leads/${RECORDS.lead.A}`, dedupeKey: `${prefix}:${i}`,
          });
        }
      });
      // Nobody needs these by email here.
      await rows(t, "update notifications set emailed_at = now() where emailed_at is null");
      await rows(t, 'delete from job_outbox');
    }
    const bell = (html: string) => /<a href="\/notifications" [^>]*data-testid="bell"[^>]*aria-label="([^"]*)"/.exec(html)?.[1];

    it('the bell says how many are unread; opening one marks it read and leads to its record; all read', async () => {
      await seed(USERS.memberA.id, 3);
      await seed(USERS.managerA.id, 1, 'theirs', USERS.memberA.id);
      const dash = await agents.memberA.get('/dashboard');
      expect(bell(dash.text)).toBe('Notifications, 3 unread');
      expect(dash.text).toMatch(/data-testid="bell-count">3</);

      const page = await agents.memberA.get('/notifications');
      expect(page.status).toBe(200);
      const items = [...page.text.matchAll(/data-notification="(\d+)"( data-unread)?/g)].map((m) => ({ id: Number(m[1]), unread: !!m[2] }));
      expect(items).toHaveLength(3);
      expect(items.every((i) => i.unread)).toBe(true);
      // Newest first.
      expect(page.text.indexOf('seed 2')).toBeLessThan(page.text.indexOf('seed 0'));
      expect(page.text).toContain('managerA assigned the lead “seed 1” to you');

      const opened = await post('memberA', `/notifications/${items[2]!.id}/read`);
      expect(opened.status).toBe(303);
      expect(opened.headers.location).toBe(`/leads/${RECORDS.lead.A}`);
      expect(bell((await agents.memberA.get('/dashboard')).text)).toBe('Notifications, 2 unread');
      expect((await agents.memberA.get('/notifications')).text).toMatch(new RegExp(`data-notification="${items[2]!.id}"\\s*>`));

      // Someone else's notification, or one that does not exist: 404, and nothing changes.
      const theirs = (await notificationsOf(t, USERS.managerA.id))[0]!;
      expect((await post('memberA', `/notifications/${theirs.id}/read`)).status).toBe(404);
      expect((await post('memberA', '/notifications/999999/read')).status).toBe(404);
      expect((await post('memberA', '/notifications/abc/read')).status).toBe(404);
      expect((await notificationsOf(t, USERS.managerA.id))[0]!.read_at).toBeNull();
      // Reading is a POST: a GET changes nothing.
      expect((await agents.memberA.get(`/notifications/${items[0]!.id}/read`)).status).toBe(404);

      const all = await post('memberA', '/notifications/read-all');
      expect(all.status).toBe(303);
      expect(all.headers.location).toBe('/notifications');
      expect(bell((await agents.memberA.get('/dashboard')).text)).toBe('Notifications, none unread');
      expect((await notificationsOf(t, USERS.memberA.id)).every((n) => n.read_at)).toBe(true);
      expect((await notificationsOf(t, USERS.managerA.id))[0]!.read_at).toBeNull();
      expect(bell((await agents.managerA.get('/dashboard')).text)).toBe('Notifications, 1 unread');
      // Signed out there is no bell.
      expect(bell((await request(t.app).get('/login')).text)).toBeUndefined();
    });

    it('the bell refreshes as a fragment: new notifications show, never anyone else\'s, and a poll leaves the session alone', async () => {
      const poll = (actor: ActorName, page = '/dashboard') =>
        agents[actor].get('/notifications/bell').set('HX-Request', 'true').set('HX-Current-URL', `http://127.0.0.1:3000${page}`);
      // memberA's session as stored: its data (seenAt, in ms) and its expiry (connect-pg-simple keeps whole seconds).
      const storedSession = async () => (await rows(t, `select sess::text as sess, expire from session where sess->>'userId' = $1`, [String(USERS.memberA.id)]))[0];
      await seed(USERS.memberA.id, 1, 'before');
      const first = await poll('memberA');
      expect(first.status).toBe(200);
      // Just the bell: no layout around it.
      expect(first.text).not.toContain('<html');
      expect(bell(first.text)).toBe('Notifications, 1 unread');
      expect(first.text).toContain('hx-get="/notifications/bell"');

      // Someone assigns two more: the next poll has them. Another user's pile never shows in memberA's bell.
      await seed(USERS.memberA.id, 2, 'after');
      await seed(USERS.managerA.id, 5, 'theirs', USERS.memberA.id);
      await seed(USERS.memberB.id, 7, 'group-b');
      const second = await poll('memberA');
      expect(bell(second.text)).toBe('Notifications, 3 unread');
      expect(second.text).toMatch(/data-testid="bell-count">3</);
      expect(bell((await poll('managerA')).text)).toBe('Notifications, 5 unread');
      expect(bell((await poll('memberB')).text)).toBe('Notifications, 7 unread');

      // A poll is not activity: even when the once-a-minute keep-alive is due, it sets no cookie and the
      // session's expiry in the store does not move (a tab left open must not keep the session alive).
      const lastSeenLongAgo = () =>
        rows(t, `update session set sess = jsonb_set(sess::jsonb, '{seenAt}', to_jsonb((extract(epoch from now()) * 1000 - 120000)::bigint))::json where sess->>'userId' = $1`, [String(USERS.memberA.id)]);
      await lastSeenLongAgo();
      const stored = await storedSession();
      expect(stored).toBeDefined();
      const quiet = await poll('memberA');
      expect(bell(quiet.text)).toBe('Notifications, 3 unread');
      expect(quiet.headers['set-cookie']).toBeUndefined();
      expect(await storedSession()).toEqual(stored);
      // A page is activity: the keep-alive writes the session and sends the cookie again.
      expect((await agents.memberA.get('/dashboard')).headers['set-cookie']).toBeDefined();
      expect((await storedSession()).sess).not.toBe(stored.sess);

      // "You are here" follows the page the bell is on, not the fragment's own path.
      expect(second.text).not.toContain('aria-current="page"');
      expect((await poll('memberA', '/notifications?page=2')).text).toContain('aria-current="page"');
      // Private to its reader: not stored by caches.
      expect(second.headers['cache-control']).toBe('no-store');

      // Signed out (the session ended meanwhile): htmx gets 204 and the page stays; a plain request goes to login.
      const anonymous = await request(t.app).get('/notifications/bell').set('HX-Request', 'true');
      expect(anonymous.status).toBe(204);
      expect(anonymous.headers['hx-redirect']).toBeUndefined();
      expect((await request(t.app).get('/notifications/bell')).status).toBe(303);
    });

    it('a poll counts once: the bell shows the count the signed-in user was loaded with, and asks for no other', async () => {
      await seed(USERS.memberA.id, 4, 'counted');
      const recount = vi.spyOn(t.services.notifications, 'unreadCount');
      try {
        const res = await agents.memberA.get('/notifications/bell').set('HX-Request', 'true');
        expect(bell(res.text)).toBe('Notifications, 4 unread');
        expect(res.text).toMatch(/data-testid="bell-count">4</);
        expect(recount).not.toHaveBeenCalled();
      } finally {
        recount.mockRestore();
      }
    });

    it('the page loads the script that keeps the bell fresh (no inline script: the CSP allows none)', async () => {
      const page = await agents.memberA.get('/dashboard');
      expect(page.text).toContain('<script src="/static/js/bell.js" defer></script>');
      expect(page.headers['content-security-policy']).toContain("script-src 'self'");
      const js = await request(t.app).get('/static/js/bell.js');
      expect(js.status).toBe(200);
      expect(js.text).toContain("'bell:refresh'");
      expect(js.text).toContain('visibilityState');
    });

    it('speaks Russian with Russian plurals, and caps the count at 99+', async () => {
      await rows(t, "update users set locale = 'ru' where id = $1", [USERS.memberA.id]);
      await seed(USERS.memberA.id, 1, 'one');
      expect(bell((await agents.memberA.get('/dashboard')).text)).toBe('Уведомления, 1 непрочитанное');
      await seed(USERS.memberA.id, 2, 'two');
      expect(bell((await agents.memberA.get('/dashboard')).text)).toBe('Уведомления, 3 непрочитанных');
      await seed(USERS.memberA.id, 120, 'many');
      const dash = await agents.memberA.get('/dashboard');
      expect(bell(dash.text)).toBe('Уведомления, 99+ непрочитанных');
      expect(dash.text).toMatch(/data-testid="bell-count">99\+</);
    });

    it('the page is paginated by 25, newest first', async () => {
      await seed(USERS.memberA.id, 30);
      const first = await agents.memberA.get('/notifications');
      expect([...first.text.matchAll(/data-notification="/g)]).toHaveLength(25);
      expect(first.text).toContain('“seed 29”');
      expect(first.text).not.toContain('“seed 4”');
      expect(first.text).toContain('href="/notifications?page=2" rel="next"');
      const second = await agents.memberA.get('/notifications?page=2');
      expect([...second.text.matchAll(/data-notification="/g)]).toHaveLength(5);
      expect(second.text).toContain('“seed 0”');
    });

    it('(h) the unread count is one query, whatever the number of notifications (no N+1)', async () => {
      const pool = t.services.database.pool;
      const original = pool.query;
      async function queriesFor(path: string) {
        const seen: string[] = [];
        pool.query = function (this: unknown, ...args: unknown[]) {
          const cfg = args[0] as string | { text?: string };
          seen.push(typeof cfg === 'string' ? cfg : cfg?.text ?? '');
          return (original as (...a: unknown[]) => unknown).apply(pool, args);
        } as typeof pool.query;
        try {
          expect((await agents.memberA.get(path)).status).toBe(200);
        } finally {
          pool.query = original;
        }
        return { all: seen.length, notifications: seen.filter((s) => /"notifications"/.test(s)) };
      }
      await seed(USERS.memberA.id, 1, 'few');
      const few = await queriesFor('/dashboard');
      const fewPage = await queriesFor('/notifications');
      await seed(USERS.memberA.id, 60, 'lots');
      const lots = await queriesFor('/dashboard');
      const lotsPage = await queriesFor('/notifications');
      expect(few.notifications).toHaveLength(1);
      expect(few.notifications[0]).toMatch(/count\(\*\).*read_at"? is null limit/s);
      expect(lots.notifications).toHaveLength(1);
      expect(lots.all).toBe(few.all);
      // The page itself: its rows, its total, and the bell — three queries for 1 or 25 rows shown.
      expect(fewPage.notifications).toHaveLength(3);
      expect(lotsPage.notifications).toHaveLength(3);
      expect(lotsPage.all).toBe(fewPage.all);
    });
  });
});

/* ============================================================================================================
 * BullMQ on a redis-server of the test's own (a free port), with the same handler.
 * ========================================================================================================== */
function spawnable(cmd: string) {
  try {
    return !!execSync(`command -v ${cmd}`, { stdio: 'pipe' }).toString().trim();
  } catch {
    return false;
  }
}
const hasRedis = spawnable('redis-server');
async function freePort() {
  return new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
async function startRedis(port: number): Promise<ChildProcess> {
  const p = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 300));
  return p;
}

describe.skipIf(!hasRedis)('notifications on Redis (BullMQ) — skipped when redis-server is not installed', () => {
  let t: TestApp;
  let redis: ChildProcess;
  /**
   * The test seam: a mailer in front of the real SMTP one. A test may hold the next send at a gate (the
   * handler waits there, mid-job) and then let it go on, or fail as a process that died would.
   */
  let calls = 0;
  let gate: { entered: () => void; outcome: Promise<'send' | 'die'> } | undefined;
  let real: Mailer;
  const mailer: Mailer = {
    async send(mail: Mail) {
      calls++;
      const g = gate;
      if (g) {
        gate = undefined;
        g.entered();
        if ((await g.outcome) === 'die') throw new Error('the worker process died before the mail went out');
      }
      await real.send(mail);
    },
    close: () => real.close(),
  };
  let running: Worker[] = [];
  /**
   * Short locks so a stalled job is noticed in about a second (the defaults are 30 s). Every worker of this
   * block uses them: a stalled check by any worker blocks the others' for its own stalledInterval.
   */
  const fast = { lockDuration: 1000, stalledInterval: 300 };
  const startWorkers = () => {
    const ws = t.services.jobs.startWorkers(1, fast);
    // A force-closed worker reports its lost lock as an error event: expected here.
    for (const w of ws) w.on('error', () => undefined);
    running.push(...ws);
    return ws.find((w) => w.name === 'notifications')!;
  };
  const assignLead = async (ownerId: number) => {
    const lead = await t.services.leads.create(await actorOf(t, USERS.managerA.id), leadInput.parse({ groupId: String(GROUPS.A.id), ownerId: String(ownerId), firstName: 'Анна', lastName: 'Смирнова' }));
    await t.services.jobs.settle(); // one dispatch pass: the outbox row goes to BullMQ
    return lead;
  };
  const nextEvent = (w: Worker, event: 'active' | 'completed') => new Promise<Job>((resolve) => w.once(event, (job: Job) => resolve(job)));

  beforeAll(async () => {
    const port = await freePort();
    redis = await startRedis(port);
    real = createMailer({ smtpUrl: SMTP_URL, from: 'Tandem CRM <no-reply@tandem.local>', logger: createLogger('silent') });
    t = await createTestApp({ REDIS_URL: `redis://127.0.0.1:${port}`, SMTP_URL, APP_URL }, { mailer });
    await resetDatabase(t.services);
  });
  afterAll(async () => {
    await t?.close();
    redis?.kill('SIGKILL');
  });
  beforeEach(async () => {
    await freshState(t);
    calls = 0;
    gate = undefined;
  });
  afterEach(async () => {
    await Promise.all(running.map((w) => w.close(true).catch(() => undefined)));
    running = [];
  });

  it('a notification job runs on a BullMQ worker and its email reaches the SMTP server, in Russian', async () => {
    expect(t.services.jobs.mode).toBe('bullmq');
    await rows(t, "update users set locale = 'ru' where id = $1", [USERS.memberA.id]);
    startWorkers();
    const lead = await assignLead(USERS.memberA.id);
    await expect.poll(() => inbox.length, { timeout: 10_000 }).toBe(1);
    expect(inbox[0]).toMatchObject({ to: USERS.memberA.email, subject: 'Tandem CRM: managerA назначает вам лид «Анна Смирнова»' });
    expect(inbox[0]!.text).toContain(`${APP_URL}/leads/${lead.id}`);
    await expect.poll(async () => (await notificationsOf(t, USERS.memberA.id))[0]?.emailed_at, { timeout: 5000 }).toBeInstanceOf(Date);
  });

  it('(d) a refused mail is retried by BullMQ (backoff) and then delivered once', async () => {
    refuse = 1;
    startWorkers();
    await assignLead(USERS.memberA.id);
    await expect.poll(() => inbox.length, { timeout: 15_000, interval: 200 }).toBe(1);
    expect(calls).toBe(2);
    await sleep(300);
    expect(inbox).toHaveLength(1);
    expect(await notificationsOf(t, USERS.memberA.id)).toHaveLength(1);
  });

  for (const outcome of ['send', 'die'] as const) {
    it(`(e) a worker closed with force mid-job: another worker runs the job again; one email, one notification (first attempt ${outcome === 'send' ? 'finishes its send' : 'dies before sending'})`, async () => {
      let letGo!: (o: 'send' | 'die') => void;
      const entered = new Promise<void>((resolve) => {
        gate = { entered: resolve, outcome: new Promise((r) => (letGo = r)) };
      });
      const first = startWorkers();
      const firstActive = nextEvent(first, 'active');
      await assignLead(USERS.memberA.id);
      const job = await firstActive;
      await entered; // the handler holds the notification's row and waits in the mailer

      await first.close(true);
      const second = startWorkers();
      const secondActive = nextEvent(second, 'active');
      const secondDone = nextEvent(second, 'completed');
      expect((await secondActive).id).toBe(job.id);

      // Now the first attempt ends: its mail goes out (or never does); the second waits for it on the row lock.
      letGo(outcome);
      expect((await secondDone).id).toBe(job.id);
      await sleep(300);

      expect(inbox).toHaveLength(1);
      expect(inbox[0]!.to).toBe(USERS.memberA.email);
      // The second attempt found the mail sent (and did not call the mailer), or sent it itself.
      expect(calls).toBe(outcome === 'send' ? 1 : 2);
      const mine = await notificationsOf(t, USERS.memberA.id);
      expect(mine).toHaveLength(1);
      expect(mine[0].emailed_at).toBeInstanceOf(Date);
    }, 30_000);
  }
});
