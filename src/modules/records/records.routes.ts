import { Router } from 'express';
import type { Services } from '../../services.js';
import { formHandler, parseInput } from '../../web/forms.js';
import { requireUser } from '../../web/guards.js';
import { flash } from '../../web/middleware.js';
import { idParam } from '../../web/params.js';
import { commentInput } from './comments.js';
import { recordPath } from './records.js';

/** Editing and deleting comments: the same routes whichever record the comment is on. */
export function recordsRoutes(services: Services): Router {
  const { comments } = services;
  const r = Router();

  r.get('/comments/:id/edit', requireUser, async (req, res) => {
    const { comment, head } = await comments.get(req.actor!, idParam(req.params.id));
    res.render('records/comment-edit', { comment, back: recordPath(head), values: { body: comment.body }, errors: {} });
  });

  r.post(
    '/comments/:id',
    requireUser,
    formHandler(
      'records/comment-edit',
      async (req, res) => {
        const id = idParam(req.params.id);
        await comments.get(req.actor!, id);
        const head = await comments.edit(req.actor!, id, parseInput(commentInput, req.body).body);
        flash(req, 'success', 'comments.saved');
        res.redirect(303, `${recordPath(head)}#comment-${id}`);
      },
      async (req) => {
        const { comment, head } = await comments.get(req.actor!, idParam(req.params.id));
        return { comment, back: recordPath(head) };
      },
    ),
  );

  r.post('/comments/:id/delete', requireUser, async (req, res) => {
    const head = await comments.remove(req.actor!, idParam(req.params.id));
    flash(req, 'success', 'comments.deleted');
    res.redirect(303, `${recordPath(head)}#comments`);
  });

  return r;
}
