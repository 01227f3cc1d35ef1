import type { Request } from 'express';
import type { Services } from '../../services.js';
import { requireAdmin, requireUser } from '../../web/guards.js';
import { NotFoundError, ValidationError } from '../../web/errors.js';
import { idParam } from '../../web/params.js';
import type { Actor } from '../access/policy.js';
import { deleteGroupSchema } from '../groups/groups.schemas.js';
import { apiFieldErrors, checkIfMatch, etagOf, parseBody, parsePatch, type ApiRouter } from './http.js';
import { PATCHABLE } from './schemas.js';
import * as S from './serialize.js';

const deleteQuery = deleteGroupSchema.omit({ confirmName: true });

/**
 * Groups and their members. Routes about one group use requireUser and let the service decide, as the pages
 * do: a group you are not in answers 404; one you are in but may not manage, 403.
 */
export function groupsApi(api: ApiRouter, services: Services) {
  const { groups } = services;
  const gid = (req: Request) => idParam(req.params.id);
  const detail = async (actor: Actor, id: number) => {
    const d = await groups.get(actor, id);
    return { body: S.group(d), etag: etagOf(d.group.updatedAt) };
  };
  const memberReply = async (actor: Actor, id: number, userId: number) => {
    const m = (await groups.get(actor, id)).roster.find((r) => r.userId === userId);
    if (!m) throw new NotFoundError();
    return { body: S.member(m) };
  };

  api.add(
    {
      method: 'get', path: '/api/v1/groups', operationId: 'listGroups', tag: 'Groups', summary: 'List groups', guard: requireUser,
      description: 'Your groups; every group for an admin.',
      ok: { status: 200, description: 'The groups, by name', schema: 'GroupList' }, errors: [],
    },
    async (req) => ({ body: { items: (await groups.list(req.actor!)).map(S.groupSummary) } }),
  );

  api.add(
    {
      method: 'post', path: '/api/v1/groups', operationId: 'createGroup', tag: 'Groups', summary: 'Create a group (admins)', guard: requireAdmin,
      body: { schema: 'GroupInput' }, idempotent: true, etag: 'returns',
      ok: { status: 201, description: 'The new group', schema: 'Group', location: true }, errors: [],
    },
    async (req) => {
      const group = await groups.create(req.actor!, parseBody('GroupInput', req));
      return { ...(await detail(req.actor!, group.id)), status: 201, location: `/api/v1/groups/${group.id}` };
    },
  );

  api.add(
    {
      method: 'get', path: '/api/v1/groups/:id', operationId: 'getGroup', tag: 'Groups', summary: 'Read a group with its roster', guard: requireUser, etag: 'returns',
      ok: { status: 200, description: 'The group and its members', schema: 'Group' }, errors: [404],
    },
    async (req) => detail(req.actor!, gid(req)),
  );

  api.add(
    {
      method: 'patch', path: '/api/v1/groups/:id', operationId: 'updateGroup', tag: 'Groups', summary: 'Rename or describe a group (admins)', guard: requireUser,
      body: { schema: 'GroupPatch' }, etag: 'checks',
      ok: { status: 200, description: 'The group as saved', schema: 'Group' }, errors: [404, 409],
    },
    async (req) => {
      const actor = req.actor!;
      const id = gid(req);
      const g = await groups.getForEdit(actor, id);
      checkIfMatch(req, etagOf(g.updatedAt));
      const patch = parsePatch(PATCHABLE.group, req);
      await groups.update(actor, id, { name: g.name, description: g.description, visibility: g.visibility, ...patch });
      return detail(actor, id);
    },
  );

  api.add(
    {
      method: 'delete', path: '/api/v1/groups/:id', operationId: 'deleteGroup', tag: 'Groups', summary: 'Delete a group (admins)', guard: requireUser,
      description: 'A group with leads or clients needs `records=move` with `targetGroupId`, or `records=delete` (422 otherwise). All in one transaction.',
      query: { schema: deleteQuery },
      ok: { status: 204, description: 'Deleted' }, errors: [404, 422],
    },
    async (req) => {
      const actor = req.actor!;
      const id = gid(req);
      const g = await groups.getForEdit(actor, id);
      // The page asks for the name typed back; an API call names the group by its id.
      const choice = deleteQuery.safeParse(req.query);
      if (!choice.success) throw new ValidationError(apiFieldErrors(choice.error));
      await groups.delete(actor, id, { confirmName: g.name, ...choice.data });
      return { status: 204 };
    },
  );

  api.add(
    {
      method: 'post', path: '/api/v1/groups/:id/members', operationId: 'addGroupMember', tag: 'Groups', summary: 'Add a member (admins)', guard: requireUser,
      description: 'By `userId` or `email`.',
      body: { schema: 'MemberInput' }, idempotent: true,
      ok: { status: 201, description: 'The member', schema: 'Member' }, errors: [404],
    },
    async (req) => {
      const actor = req.actor!;
      const id = gid(req);
      await groups.getForEdit(actor, id);
      const user = await groups.addMember(actor, id, parseBody('MemberInput', req));
      return { ...(await memberReply(actor, id, user.id)), status: 201 };
    },
  );

  api.add(
    {
      method: 'patch', path: '/api/v1/groups/:id/members/:userId', operationId: 'setGroupMemberRole', tag: 'Groups', summary: 'Change a member\'s role (admins)', guard: requireUser,
      body: { schema: 'MemberRoleInput' },
      ok: { status: 200, description: 'The member', schema: 'Member' }, errors: [404],
    },
    async (req) => {
      const actor = req.actor!;
      const id = gid(req);
      const userId = idParam(req.params.userId);
      await groups.getForEdit(actor, id);
      await groups.setRole(actor, id, userId, parseBody('MemberRoleInput', req).role);
      return memberReply(actor, id, userId);
    },
  );

  api.add(
    {
      method: 'delete', path: '/api/v1/groups/:id/members/:userId', operationId: 'removeGroupMember', tag: 'Groups', summary: 'Remove a member (admins); the leads and clients they own in the group become unassigned', guard: requireUser,
      ok: { status: 204, description: 'Removed' }, errors: [404],
    },
    async (req) => {
      await groups.removeMember(req.actor!, gid(req), idParam(req.params.userId));
      return { status: 204 };
    },
  );
}
