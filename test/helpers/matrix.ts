import type { Express } from 'express';
import type { Services } from '../../src/services.js';
import { csrfFrom, type Agent } from './app.js';
import { ACTORS, GROUPS, RECORDS, USERS, restoreFixture, type ActorName } from './fixture.js';
import { listRoutes, routeKey } from './routes.js';

/**
 * How each route is protected, as DESIGN.md's table says:
 * - public: anyone;
 * - user: any signed-in user;
 * - admin: administrators; other signed-in users get 403;
 * - group: a route about one group (`:id`) or its members (`:userId`): `see` says who may see that group
 *   (its members, or admins), `act` who may do the action; seeing but not acting → 403, not seeing → 404;
 * - adminUser: an admin page about one user (`:id`);
 * - member / manager: any signed-in member (manager) of some group, or an admin; others get 403;
 * - record: a route about one lead, client, comment or file (`:id`) of a group: not seeing its group → 404;
 *   `act` is who may act: any member, a manager, or the author (the fixture's records are by someone else).
 * - own: a route about one object (`:id`) only its owner may reach (a user's export): anyone else, admins
 *   included, gets 404. The matrix asks for an id that is no actor's, so every signed-in actor gets 404.
 */
export type Rule =
  | { kind: 'public' }
  | { kind: 'user' }
  | { kind: 'admin' }
  | { kind: 'adminUser' }
  | { kind: 'member' }
  | { kind: 'manager' }
  | { kind: 'own' }
  | { kind: 'group'; act: 'member' | 'admin' }
  | { kind: 'record'; entity: keyof typeof RECORDS; act: 'member' | 'manager' | 'author' };

export type Classification = Record<string, Rule>;
type Subject = 'A' | 'B';
type Expected = 'login' | 'ok' | 403 | 404;

const SUBJECT_USER = { A: USERS.subjectA.id, B: USERS.subjectB.id } as const;

function memberOf(actor: ActorName, s: Subject) {
  return s === 'A' ? actor === 'memberA' || actor === 'managerA' : actor === 'memberB';
}

export function expected(rule: Rule, actor: ActorName, s: Subject): Expected {
  if (rule.kind === 'public') return 'ok';
  if (actor === 'anonymous') return 'login';
  if (rule.kind === 'user') return 'ok';
  if (rule.kind === 'admin' || rule.kind === 'adminUser') return actor === 'admin' ? 'ok' : 403;
  if (rule.kind === 'own') return 404;
  if (actor === 'admin') return 'ok';
  if (rule.kind === 'member') return actor === 'noGroup' ? 403 : 'ok';
  if (rule.kind === 'manager') return actor === 'managerA' ? 'ok' : 403;
  if (!memberOf(actor, s)) return 404;
  if (rule.act === 'member') return 'ok';
  return actor === 'managerA' && (rule.kind === 'record') ? 'ok' : 403;
}

/** The id an `own` route is asked for: well-formed, and no actor's. */
const NOT_YOURS = '00000000-0000-4000-8000-000000000000';

function fill(path: string, rule: Rule, s: Subject) {
  if (rule.kind === 'own') return path.replace(':id', NOT_YOURS);
  const id = rule.kind === 'adminUser' ? SUBJECT_USER[s] : rule.kind === 'record' ? RECORDS[rule.entity][s] : GROUPS[s].id;
  return path.replace(':id', String(id)).replace(':userId', String(SUBJECT_USER[s])).replace(':token', 'not-a-token').replace(':queue', 'files');
}

function matches(exp: Expected, status: number, location: string | undefined, isApi: boolean) {
  if (exp === 'login') return isApi ? status === 401 : (status === 303 || status === 302 || status === 204) && !!location?.startsWith('/login');
  if (exp === 'ok') return status < 500 && ![401, 403, 404].includes(status) && !(status === 303 && location?.startsWith('/login'));
  return status === exp;
}

export interface MatrixResult {
  cases: number;
  failures: string[];
  unclassified: string[];
  unguarded: string[];
}

/**
 * Sends every route × actor × subject and compares the status with the rule. Requests that may change data
 * carry a CSRF token and an empty body; after an allowed one the fixture is put back.
 */
export async function runMatrix(
  app: Express,
  services: Services,
  agents: Record<ActorName, Agent>,
  classification: Classification,
  only?: (key: string) => boolean,
): Promise<MatrixResult> {
  const routes = listRoutes(app).filter((r) => !only || only(routeKey(r)));
  const result: MatrixResult = { cases: 0, failures: [], unclassified: [], unguarded: [] };
  const tokens = new Map<ActorName, string>();
  for (const a of ACTORS) tokens.set(a, csrfFrom((await agents[a].get('/login').redirects(1)).text));

  for (const route of routes) {
    const key = routeKey(route);
    if (route.guards.length !== 1) result.unguarded.push(key);
    const rule = classification[key];
    if (!rule) {
      result.unclassified.push(key);
      continue;
    }
    // Logging out would end the actor's session for the rest of the run: it is checked on its own.
    if (key === 'POST /logout') continue;
    const subjects: Subject[] = route.path.includes(':') ? ['A', 'B'] : ['A'];
    for (const s of subjects) {
      for (const actor of ACTORS) {
        const exp = expected(rule, actor, s);
        const url = fill(route.path, rule, s);
        const agent = agents[actor];
        const req = route.method === 'GET' ? agent.get(url) : agent[route.method.toLowerCase() as 'post'](url).type('form').send({ _csrf: tokens.get(actor) });
        const res = await req;
        result.cases++;
        if (!matches(exp, res.status, res.headers.location, route.path.startsWith('/api/'))) {
          result.failures.push(`${key} as ${actor} on ${s}: expected ${exp}, got ${res.status}${res.headers.location ? ` → ${res.headers.location}` : ''}`);
        }
        if (route.method !== 'GET' && exp === 'ok') await restoreFixture(services);
      }
    }
  }
  return result;
}
