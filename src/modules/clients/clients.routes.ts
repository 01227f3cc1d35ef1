import { Router, type Request } from 'express';
import type { Services } from '../../services.js';
import { formHandler, parseInput } from '../../web/forms.js';
import { requireUser } from '../../web/guards.js';
import { idParam } from '../../web/params.js';
import { commentInput } from '../records/comments.js';
import { loadRecordHead } from '../records/records.js';

export function clientsRoutes(services: Services): Router {
  const { clients, comments, activity } = services;
  const r = Router();
  const cid = (req: Request) => idParam(req.params.id);

  /** The client page: details, the timeline (with the lead's history), comments and files. */
  async function pageLocals(req: Request) {
    const actor = req.actor!;
    const data = await clients.get(actor, cid(req));
    const head = await loadRecordHead(services.database.db, actor, { kind: 'client', id: data.client.id }, 'record.view');
    const [timeline, commentList, fileList] = await Promise.all([
      activity.timeline(head),
      comments.listFor(actor, head),
      services.recordFiles(actor, head),
    ]);
    return { ...data, head, record: { kind: 'client', id: head.id, path: `/clients/${head.id}`, readOnly: false }, timeline, comments: commentList, files: fileList };
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
