import session from 'express-session';
import connectPgSimple from 'connect-pg-simple';
import type { Request } from 'express';
import type pg from 'pg';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** What the session store read together with this request's session (see PgSessionStore). */
      sessionCompanion?: unknown;
    }
  }
}

/** The session's row as `read` returns it: its data and whatever came along in the same query. */
export interface SessionRow<C> {
  sess: unknown;
  companion: C;
}

type Callback = (err?: unknown) => void;
const PgStore = connectPgSimple(session);

/**
 * connect-pg-simple's table and its expiry and pruning, with two changes that matter on every request:
 * - The read can bring a companion in the same round trip (`read`; the app brings the signed-in user, their
 *   memberships and unread count): the session and then the user were two round trips per page. The
 *   companion reaches the request as `req.sessionCompanion`.
 * - Saving a session that was read from the store only updates its row. connect-pg-simple upserts, so a
 *   request still running when its user logged out (or an admin ended the session) wrote the row back and
 *   the session lived on. New sessions (login, a language chosen while signed out) are still inserted.
 */
export class PgSessionStore<C> extends PgStore {
  private readonly companions = new WeakMap<object, C>();
  private readonly fromStore = new WeakSet<object>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly read: (sid: string) => Promise<SessionRow<C> | undefined>,
    pruneSeconds: number,
  ) {
    // No touch: with rolling off, express-session would touch (UPDATE) the row on every unchanged request.
    super({ pool, tableName: 'session', createTableIfMissing: false, pruneSessionInterval: pruneSeconds, disableTouch: true });
  }

  override get(sid: string, fn: (err: unknown, sess?: session.SessionData | null) => void) {
    this.read(sid).then(
      (row) => {
        if (!row) return fn(null, null);
        const sess = (typeof row.sess === 'string' ? JSON.parse(row.sess) : row.sess) as session.SessionData;
        this.companions.set(sess, row.companion);
        fn(null, sess);
      },
      (err) => fn(err),
    );
  }

  /** express-session turns what get() gave into req.session here: remember that it came from the store. */
  override createSession(req: Request, data: session.SessionData) {
    const companion = this.companions.get(data);
    const created = super.createSession(req, data);
    this.fromStore.add(created);
    if (companion !== undefined) req.sessionCompanion = companion;
    return created;
  }

  override set(sid: string, sess: session.SessionData, fn?: Callback) {
    if (!this.fromStore.has(sess)) return super.set(sid, sess, fn);
    const expires = sess.cookie?.expires ? new Date(sess.cookie.expires).valueOf() : Date.now() + 86_400_000;
    this.pool
      .query(`update "session" set sess = $2, expire = to_timestamp($3) where sid = $1`, [sid, JSON.stringify(sess), Math.ceil(expires / 1000)])
      .then(() => fn?.(), (err) => fn?.(err));
  }
}
