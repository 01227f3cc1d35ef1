import { Router, type Request, type Response } from 'express';
import type { Services } from '../../services.js';
import { queryHref, toPage } from '../../lib/pagination.js';
import { ForbiddenError } from '../../web/errors.js';
import { options as optionsHtml } from '../../web/views.js';
import { formHandler, parseInput } from '../../web/forms.js';
import { requireUser } from '../../web/guards.js';
import { flash, safeNext } from '../../web/middleware.js';
import { BOARD_PAGE, BOARD_STATUSES, boardRepository } from './board.js';
import { idParam } from '../../web/params.js';
import { commentInput } from '../records/comments.js';
import { COUNT_CAP } from '../records/list.js';
import { recordHead } from '../records/records.js';
import { alreadyConverted, clientValuesFrom, readOnly } from './leads.service.js';
import { EDITABLE_STATUSES, LEAD_SORTS, LEAD_SOURCES, convertInput, leadInput, leadListQuery } from './leads.schemas.js';
import { LEAD_STATUSES } from '../../db/schema/index.js';
import { z } from 'zod';

const statusInput = z.object({ status: z.enum(EDITABLE_STATUSES, 'validation.invalid') });
const ownerFindQuery = z.object({ find: z.string().catch('').transform((s) => s.slice(0, 200)), owner: z.string().max(20).catch('') });
const boardQuery = z.object({ group: z.coerce.number().int().positive().optional().catch(undefined) });
// A column pages up to its count's cap ("10,000+"), as the list does: an OFFSET deeper reads every row it skips.
const boardColumnQuery = boardQuery.extend({ status: z.enum(BOARD_STATUSES), offset: z.coerce.number().int().min(0).max(COUNT_CAP).catch(0) });

export function leadsRoutes(services: Services): Router {
  const { leads, comments, activity } = services;
  const r = Router();
  const lid = (req: Request) => idParam(req.params.id);
  const constants = { statuses: LEAD_STATUSES, editableStatuses: EDITABLE_STATUSES, sources: LEAD_SOURCES, sorts: LEAD_SORTS };

  /** Everything the lead page shows: details, timeline, comments and files, in a fixed number of queries. */
  async function pageLocals(req: Request) {
    const actor = req.actor!;
    const data = await leads.get(actor, lid(req));
    const head = recordHead(actor, { lead: data.lead }, 'record.view');
    const [timeline, commentList, fileSection] = await Promise.all([
      activity.timeline(head),
      comments.listFor(actor, head),
      services.files.section(actor, head),
    ]);
    return { ...data, ...constants, head, ...fileSection, timeline, comments: commentList };
  }

  const formLocals = async (req: Request) => ({ ...(await leads.formOptions(req.actor!)), ...constants });

  r.get('/leads', requireUser, async (req, res) => {
    const q = leadListQuery.parse(req.query);
    const [{ items, total, capped, keyset }, options] = await Promise.all([leads.list(req.actor!, q), leads.listOptions(req.actor!, q.owner)]);
    const page = toPage(items, total, q, '/leads', req.query, capped, { keyset });
    const sortHref = (key: string) => queryHref('/leads', req.query, { sort: key, dir: q.sort === key && q.dir === 'desc' ? 'asc' : 'desc' });
    const locals = { q, page, sortHref, ...options, ...constants, query: req.query, exportHref: null };
    // htmx swaps only the results when a filter changes; the URL (with every filter) is pushed by the form.
    res.render(req.get('HX-Request') && req.get('HX-Target') === 'lead-results' ? 'leads/_results.njk' : 'leads/index', locals);
  });

  // The owner filter's people found by typing, when they are too many for one select (lead and client lists):
  // the select's new options, a line for screen readers and the first person found (Enter takes them), as JSON
  // (public/js/owner-find.js).
  r.get('/leads/owner-options', requireUser, async (req, res) => {
    const { find, owner } = ownerFindQuery.parse(req.query);
    const { people, total, more, first } = await leads.findOwners(req.actor!, find, owner);
    const html = await new Promise<string>((resolve, reject) =>
      res.render('records/_owner-options.njk', { people, selected: owner, more }, (err, out) => (err ? reject(err) : resolve(out))));
    res.json({ html, status: res.locals.t('leads.ownerFindStatus', { count: total }), first });
  });

  r.get('/leads/new', requireUser, async (req, res) => {
    const choices = await formLocals(req);
    if (!choices.groups.length) throw new ForbiddenError('leads.noGroup');
    const groupId = req.query.group ?? (choices.groups.length === 1 ? choices.groups[0]!.groupId : '');
    res.render('leads/form', { ...choices, values: { groupId, ownerId: req.actor!.id, status: 'new' }, errors: {} });
  });

  r.post(
    '/leads',
    requireUser,
    formHandler(
      'leads/form',
      async (req, res) => {
        const lead = await leads.create(req.actor!, parseInput(leadInput, req.body));
        flash(req, 'success', 'leads.created');
        res.redirect(303, `/leads/${lead.id}`);
      },
      formLocals,
    ),
  );

  /** What every card's "move to" form shares, made once per page (see views/leads/_board-card.njk). */
  const cardForm = (res: Response, group: number | undefined) => {
    const t = res.locals.t as (key: string) => string;
    const statusChoices = BOARD_STATUSES.map((s) => ({ value: s, label: t(`leads.status.${s}`) }));
    return {
      csrf: (res.locals.csrfToken as () => string)(),
      next: queryHref('/leads/board', { group }),
      label: t('board.moveTo'),
      button: t('board.move'),
      unassigned: t('leads.unassigned'),
      number: (res.locals.fmt as { number: (v: unknown) => string }).number,
      options: Object.fromEntries(BOARD_STATUSES.map((s) => [s, optionsHtml(statusChoices, 'value', 'label', s)])),
    };
  };

  // The board: a column per status, a page of cards each, drag-and-drop or a "move to" form per card.
  r.get('/leads/board', requireUser, async (req, res) => {
    const actor = req.actor!;
    const { group } = boardQuery.parse(req.query);
    const db = services.database.db;
    const [counts, choices, ...columns] = await Promise.all([
      boardRepository.counts(db, actor, group),
      leads.formOptions(actor),
      ...BOARD_STATUSES.map((s) => boardRepository.cards(db, actor, s, group, 0)),
    ]);
    res.render('leads/board', {
      group, groups: choices.groups, pageSize: BOARD_PAGE,
      columns: BOARD_STATUSES.map((s, i) => ({ status: s, count: counts[s].total, capped: counts[s].capped, cards: columns[i], listHref: queryHref('/leads', { status: s, group }) })),
      move: cardForm(res, group),
    });
  });

  r.get('/leads/board/column', requireUser, async (req, res) => {
    const { group, status, offset } = boardColumnQuery.parse(req.query);
    const cards = await boardRepository.cards(services.database.db, req.actor!, status, group, offset);
    res.render('leads/_board-more.njk', { cards, status, group, next: offset + BOARD_PAGE, hasMore: cards.length === BOARD_PAGE && offset + BOARD_PAGE < COUNT_CAP, move: cardForm(res, group) });
  });

  r.get('/leads/trash', requireUser, async (req, res) => {
    const actor = req.actor!;
    if (!actor.isAdmin && !actor.memberships.some((m) => m.role === 'manager')) throw new ForbiddenError();
    res.render('leads/trash', { items: await leads.trashList(actor) });
  });

  r.get('/leads/:id', requireUser, async (req, res) => {
    res.render('leads/show', { ...(await pageLocals(req)), values: {}, errors: {} });
  });

  r.get('/leads/:id/edit', requireUser, async (req, res) => {
    const { lead } = await leads.get(req.actor!, lid(req));
    if (lead.status === 'converted') throw readOnly(lead);
    res.render('leads/form', { ...(await formLocals(req)), lead, values: { ...lead, value: lead.value ?? '' }, errors: {} });
  });

  r.post(
    '/leads/:id',
    requireUser,
    formHandler(
      'leads/form',
      async (req, res) => {
        const id = lid(req);
        await leads.get(req.actor!, id);
        await leads.update(req.actor!, id, parseInput(leadInput, req.body));
        flash(req, 'success', 'leads.saved');
        res.redirect(303, `/leads/${id}`);
      },
      async (req) => ({ ...(await formLocals(req)), lead: (await leads.get(req.actor!, lid(req))).lead }),
    ),
  );

  // From the lead page, the board's "move to" form, or a drag on the board (fetch/htmx: 204, no page).
  r.post('/leads/:id/status', requireUser, async (req, res) => {
    const id = lid(req);
    await leads.get(req.actor!, id);
    await leads.setStatus(req.actor!, id, parseInput(statusInput, req.body).status);
    if (req.get('HX-Request')) return void res.status(204).end();
    flash(req, 'success', 'leads.saved');
    res.redirect(303, safeNext(req.body.next, `/leads/${id}`));
  });

  r.post('/leads/:id/delete', requireUser, async (req, res) => {
    await leads.trash(req.actor!, lid(req));
    flash(req, 'success', 'leads.trashed');
    res.redirect(303, '/leads');
  });

  r.post('/leads/:id/restore', requireUser, async (req, res) => {
    const id = lid(req);
    await leads.restore(req.actor!, id);
    flash(req, 'success', 'leads.restored');
    res.redirect(303, `/leads/${id}`);
  });

  r.post('/leads/:id/purge', requireUser, async (req, res) => {
    await leads.purge(req.actor!, lid(req));
    flash(req, 'success', 'leads.purged');
    res.redirect(303, '/leads/trash');
  });

  // Conversion: the page offers the client form prefilled from the lead; the button on the lead page posts
  // without fields and takes the lead's values. Both go through leads.convert.
  r.get('/leads/:id/convert', requireUser, async (req, res) => {
    const { lead } = await leads.get(req.actor!, lid(req));
    if (lead.status === 'converted') throw alreadyConverted(lead);
    res.render('leads/convert', { lead, values: clientValuesFrom(lead), errors: {} });
  });
  r.post(
    '/leads/:id/convert',
    requireUser,
    formHandler(
      'leads/convert',
      async (req, res) => {
        const id = lid(req);
        await leads.get(req.actor!, id);
        const input = req.body && 'name' in req.body ? parseInput(convertInput, req.body) : undefined;
        const client = await leads.convert(req.actor!, id, input);
        flash(req, 'success', 'leads.converted', { name: client.name });
        res.redirect(303, `/clients/${client.id}`);
      },
      async (req) => ({ lead: (await leads.get(req.actor!, lid(req))).lead }),
    ),
  );

  r.post(
    '/leads/:id/comments',
    requireUser,
    formHandler(
      'leads/show',
      async (req, res) => {
        const id = lid(req);
        await leads.get(req.actor!, id);
        await comments.add(req.actor!, { kind: 'lead', id }, parseInput(commentInput, req.body).body);
        res.redirect(303, `/leads/${id}#comments`);
      },
      pageLocals,
    ),
  );

  return r;
}
