import { Router, type Request } from 'express';
import type { Services } from '../../services.js';
import { formHandler, parseInput } from '../../web/forms.js';
import { requireAdmin, requireUser } from '../../web/guards.js';
import { flash } from '../../web/middleware.js';
import { idParam } from '../../web/params.js';
import { addMemberSchema, candidatesQuery, deleteGroupSchema, groupSchema, memberRoleSchema } from './groups.schemas.js';

/**
 * Group pages. Routes that name a group use requireUser and let the service decide: a group the actor is
 * not in answers 404, a group they are in but may not manage answers 403.
 */
export function groupsRoutes(services: Services): Router {
  const { groups } = services;
  const r = Router();
  const gid = (req: Request) => idParam(req.params.id);
  const showLocals = (req: Request) => groups.get(req.actor!, gid(req));

  r.get('/groups', requireUser, async (req, res) => {
    res.render('groups/index', { groups: await groups.list(req.actor!) });
  });

  r.get('/groups/new', requireAdmin, (_req, res) => res.render('groups/form', { values: { visibility: 'all' }, errors: {} }));
  r.post(
    '/groups',
    requireAdmin,
    formHandler('groups/form', async (req, res) => {
      const group = await groups.create(req.actor!, parseInput(groupSchema, req.body));
      flash(req, 'success', 'groups.created', { name: group.name });
      res.redirect(303, `/groups/${group.id}`);
    }),
  );

  r.get('/groups/:id', requireUser, async (req, res) => {
    res.render('groups/show', { ...(await groups.get(req.actor!, gid(req))), values: {}, errors: {} });
  });

  r.get('/groups/:id/edit', requireUser, async (req, res) => {
    const group = await groups.getForEdit(req.actor!, gid(req));
    res.render('groups/form', { group, values: group, errors: {} });
  });
  r.post(
    '/groups/:id',
    requireUser,
    formHandler(
      'groups/form',
      async (req, res) => {
        const id = gid(req);
        await groups.getForEdit(req.actor!, id);
        await groups.update(req.actor!, id, parseInput(groupSchema, req.body));
        flash(req, 'success', 'groups.saved');
        res.redirect(303, `/groups/${id}`);
      },
      async (req) => ({ group: await groups.getForEdit(req.actor!, gid(req)) }),
    ),
  );

  r.get('/groups/:id/delete', requireUser, async (req, res) => {
    res.render('groups/delete', { ...(await groups.deletePreview(req.actor!, gid(req))), values: {}, errors: {} });
  });
  r.post(
    '/groups/:id/delete',
    requireUser,
    formHandler(
      'groups/delete',
      async (req, res) => {
        const id = gid(req);
        await groups.getForEdit(req.actor!, id);
        const group = await groups.delete(req.actor!, id, parseInput(deleteGroupSchema, req.body));
        flash(req, 'success', 'groups.deleted', { name: group.name });
        res.redirect(303, '/groups');
      },
      (req) => groups.deletePreview(req.actor!, gid(req)),
    ),
  );

  // The member search behind the "add member" box (an htmx fragment).
  r.get('/groups/:id/candidates', requireUser, async (req, res) => {
    const id = gid(req);
    const { email } = candidatesQuery.parse(req.query);
    res.render('groups/_candidates.njk', { candidates: await groups.candidates(req.actor!, id, email), q: email });
  });

  r.post(
    '/groups/:id/members',
    requireUser,
    formHandler(
      'groups/show',
      async (req, res) => {
        const id = gid(req);
        await groups.getForEdit(req.actor!, id);
        const user = await groups.addMember(req.actor!, id, parseInput(addMemberSchema, req.body));
        flash(req, 'success', 'groups.memberAdded', { name: user.name });
        res.redirect(303, `/groups/${id}`);
      },
      showLocals,
    ),
  );

  r.post('/groups/:id/members/:userId/role', requireUser, async (req, res) => {
    const id = gid(req);
    await groups.getForEdit(req.actor!, id);
    await groups.setRole(req.actor!, id, idParam(req.params.userId), parseInput(memberRoleSchema, req.body).role);
    flash(req, 'success', 'groups.roleSaved');
    res.redirect(303, `/groups/${id}`);
  });

  r.post('/groups/:id/members/:userId/remove', requireUser, async (req, res) => {
    const id = gid(req);
    const unassigned = await groups.removeMember(req.actor!, id, idParam(req.params.userId));
    flash(req, 'success', unassigned ? 'groups.memberRemovedUnassigned' : 'groups.memberRemoved', { count: unassigned });
    res.redirect(303, `/groups/${id}`);
  });

  return r;
}
