import type { Services } from '../../services.js';
import { requireAdmin, requireUser } from '../../web/guards.js';
import { idParam } from '../../web/params.js';
import { userListQuery } from '../admin/admin.schemas.js';
import { pageReply, type ApiRouter } from './http.js';
import { listQueryDocs } from './leads.api.js';
import type { Out } from './schemas.js';

const iso = (d: Date) => d.toISOString();
const userSummary = (u: { id: number; name: string; email: string; role: 'admin' | 'user'; active: boolean; lastLoginAt: Date | null; createdAt: Date }): Out<'UserSummary'> => ({
  id: u.id, name: u.name, email: u.email, role: u.role, active: u.active, lastLoginAt: u.lastLoginAt ? iso(u.lastLoginAt) : null, createdAt: iso(u.createdAt),
});

/** Who you are; and, for admins, the users. */
export function usersApi(api: ApiRouter, services: Services) {
  const { admin } = services;

  api.add(
    {
      method: 'get', path: '/api/v1/me', operationId: 'getMe', tag: 'Users', summary: 'Who you are', guard: requireUser,
      description: 'Your account, your groups with your role in each, and the token the request came with.',
      ok: { status: 200, description: 'You', schema: 'Me' }, errors: [],
    },
    async (req) => {
      const u = req.user!;
      const tk = req.apiToken;
      const body: Out<'Me'> = {
        id: u.id, email: u.email, name: u.name, role: u.role, locale: u.locale, createdAt: iso(u.createdAt),
        memberships: req.actor!.memberships.map((m) => ({ groupId: m.groupId, groupName: m.groupName, role: m.role, visibility: m.visibility })),
        token: tk ? { id: tk.id, name: tk.name, scope: tk.scope, expiresAt: tk.expiresAt ? iso(tk.expiresAt) : null } : null,
      };
      return { body };
    },
  );

  api.add(
    {
      method: 'get', path: '/api/v1/users', operationId: 'listUsers', tag: 'Users', summary: 'List users (admins)', guard: requireAdmin,
      query: { schema: userListQuery, docs: listQueryDocs },
      ok: { status: 200, description: 'A page of users, by name', schema: 'UserPage' }, errors: [],
    },
    async (req, res) => {
      const q = userListQuery.parse(req.query);
      const { items, total } = await admin.listUsers(req.actor!, q);
      return pageReply(req, res, items.map(userSummary), total, q);
    },
  );

  api.add(
    {
      method: 'get', path: '/api/v1/users/:id', operationId: 'getUser', tag: 'Users', summary: 'Read a user (admins)', guard: requireAdmin,
      ok: { status: 200, description: 'The user and their groups', schema: 'UserDetail' }, errors: [404],
    },
    async (req) => {
      const { user, groups } = await admin.getUser(req.actor!, idParam(req.params.id));
      const body: Out<'UserDetail'> = { ...userSummary(user), groups: groups.map((g) => ({ id: g.id, name: g.name, role: g.role })) };
      return { body };
    },
  );
}
