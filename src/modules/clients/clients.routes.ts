import { Router, type Request } from 'express';
import type { Services } from '../../services.js';
import { queryHref, toPage } from '../../lib/pagination.js';
import { ForbiddenError } from '../../web/errors.js';
import { formHandler, parseInput } from '../../web/forms.js';
import { requireUser } from '../../web/guards.js';
import { flash } from '../../web/middleware.js';
import { idParam } from '../../web/params.js';
import { CLIENT_STATUSES, EXPORT_FORMATS } from '../../db/schema/index.js';
import { CLIENT_SORTS, clientInput, clientListQuery } from './clients.schemas.js';
import { commentInput } from '../records/comments.js';
import { recordHead } from '../records/records.js';

export function clientsRoutes(services: Services): Router {
  const { clients, comments, activity, leads } = services;
  const r = Router();
  const cid = (req: Request) => idParam(req.params.id);
  const constants = { statuses: CLIENT_STATUSES, sorts: CLIENT_SORTS, exportFormats: EXPORT_FORMATS };
  // Group and owner choices are the same as for leads: the actor's groups and their members.
  const formLocals = async (req: Request) => ({ ...(await leads.formOptions(req.actor!)), ...constants });

  r.get('/clients', requireUser, async (req, res) => {
    const q = clientListQuery.parse(req.query);
    const [{ items, total, capped, keyset }, options] = await Promise.all([clients.list(req.actor!, q), leads.listOptions(req.actor!, q.owner)]);
    const page = toPage(items, total, q, '/clients', req.query, capped, { keyset });
    const sortHref = (key: string) => queryHref('/clients', req.query, { sort: key, dir: q.sort === key && q.dir === 'desc' ? 'asc' : 'desc' });
    // The export form carries exactly the list's filters and order (not the page).
    const { page: _p, perPage: _pp, after: _a, before: _b, ...filters } = q;
    const locals = { q, page, sortHref, filters, ...options, ...constants, query: req.query };
    res.render(req.get('HX-Request') && req.get('HX-Target') === 'client-results' ? 'clients/_results.njk' : 'clients/index', locals);
  });

  r.get('/clients/new', requireUser, async (req, res) => {
    const options = await formLocals(req);
    if (!options.groups.length) throw new ForbiddenError('leads.noGroup');
    const groupId = options.groups.length === 1 ? options.groups[0]!.groupId : '';
    res.render('clients/form', { ...options, values: { groupId, ownerId: req.actor!.id, status: 'active' }, errors: {} });
  });

  r.post(
    '/clients',
    requireUser,
    formHandler(
      'clients/form',
      async (req, res) => {
        const client = await clients.create(req.actor!, parseInput(clientInput, req.body));
        flash(req, 'success', 'clients.created');
        res.redirect(303, `/clients/${client.id}`);
      },
      formLocals,
    ),
  );

  r.get('/clients/trash', requireUser, async (req, res) => {
    const actor = req.actor!;
    if (!actor.isAdmin && !actor.memberships.some((m) => m.role === 'manager')) throw new ForbiddenError();
    res.render('clients/trash', { items: await clients.trashList(actor) });
  });

  r.get('/clients/:id/edit', requireUser, async (req, res) => {
    const { client } = await clients.get(req.actor!, cid(req));
    res.render('clients/form', { ...(await formLocals(req)), client, values: client, errors: {} });
  });

  r.post(
    '/clients/:id',
    requireUser,
    formHandler(
      'clients/form',
      async (req, res) => {
        const id = cid(req);
        await clients.get(req.actor!, id);
        await clients.update(req.actor!, id, parseInput(clientInput, req.body));
        flash(req, 'success', 'clients.saved');
        res.redirect(303, `/clients/${id}`);
      },
      async (req) => ({ ...(await formLocals(req)), client: (await clients.get(req.actor!, cid(req))).client }),
    ),
  );

  r.post('/clients/:id/delete', requireUser, async (req, res) => {
    await clients.trash(req.actor!, cid(req));
    flash(req, 'success', 'clients.trashed');
    res.redirect(303, '/clients');
  });

  r.post('/clients/:id/restore', requireUser, async (req, res) => {
    const id = cid(req);
    await clients.restore(req.actor!, id);
    flash(req, 'success', 'clients.restored');
    res.redirect(303, `/clients/${id}`);
  });

  /** The client page: details, the timeline (with the lead's history), comments and files. */
  async function pageLocals(req: Request) {
    const actor = req.actor!;
    const data = await clients.get(actor, cid(req));
    const head = recordHead(actor, { client: data.client }, 'record.view');
    const [timeline, commentList, fileSection] = await Promise.all([
      activity.timeline(head),
      comments.listFor(actor, head),
      services.files.section(actor, head),
    ]);
    return { ...data, head, ...fileSection, timeline, comments: commentList };
  }

  r.get('/clients/:id', requireUser, async (req, res) => {
    res.render('clients/show', { ...(await pageLocals(req)), values: {}, errors: {} });
  });

  r.post(
    '/clients/:id/comments',
    requireUser,
    formHandler(
      'clients/show',
      async (req, res) => {
        const id = cid(req);
        await clients.get(req.actor!, id);
        await comments.add(req.actor!, { kind: 'client', id }, parseInput(commentInput, req.body).body);
        res.redirect(303, `/clients/${id}#comments`);
      },
      pageLocals,
    ),
  );

  return r;
}
