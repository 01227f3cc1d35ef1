import { Router, type Request, type Response } from 'express';
import { create as contentDisposition } from 'content-disposition';
import type { Services } from '../../services.js';
import { NotFoundError } from '../../web/errors.js';
import { requireUser } from '../../web/guards.js';
import { flash } from '../../web/middleware.js';
import { FORMAT_INFO, exportFileName } from './exports.format.js';
import { exportIdParam, parseExportQuery } from './exports.schemas.js';

/** Headers every export file goes out with: an attachment, never sniffed or rendered, never cached. */
function attachmentHeaders(res: Response, contentType: string, name: string) {
  // setHeader, not res.set: Express would rewrite the charset parameter of text types.
  res.setHeader('Content-Type', contentType);
  res.setHeader('Content-Disposition', contentDisposition(name));
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Cache-Control', 'private, no-store');
  res.setHeader('Content-Security-Policy', "default-src 'none'; sandbox");
}

function dropAttachmentHeaders(res: Response) {
  for (const h of ['Content-Type', 'Content-Disposition', 'Content-Security-Policy']) res.removeHeader(h);
}

/**
 * Exports of the client list and the user's export log. Mounted before the clients router: its
 * `/clients/:id` would otherwise take `/clients/export`. Every route uses requireUser; the service decides
 * the rest (export right, own exports only: anyone else's is a 404, an admin's view included).
 */
export function exportsRoutes(services: Services): Router {
  const { exports } = services;
  const r = Router();
  const isHtmx = (req: Request) => !!req.get('HX-Request');

  /** The list's filters and order, as CSV, Excel CSV, XLSX or JSON: streamed now, or a background export. */
  r.get('/clients/export', requireUser, async (req, res) => {
    const request = parseExportQuery(req.query as Record<string, unknown>, res.locals.t);
    // Express sends HEAD here too. It must not export (a log row, a use of the rate limit, a stream for
    // nobody): the same checks and the file's headers, nothing else.
    if (req.method === 'HEAD') {
      exports.check(req.actor!, request);
      attachmentHeaders(res, FORMAT_INFO[request.format].contentType, exportFileName(request.format));
      return void res.status(200).end();
    }
    const plan = await exports.begin(req.actor!, request);
    if (plan.mode === 'background') {
      flash(req, 'info', 'exports.queued', { count: plan.row.total, n: res.locals.fmt.number(plan.row.total) });
      return res.redirect(303, `/exports/${plan.row.id}`);
    }
    const { format } = request;
    attachmentHeaders(res, FORMAT_INFO[format].contentType, exportFileName(format));
    try {
      await exports.streamSync(plan, res);
    } catch (err) {
      // Nothing sent yet (the query failed at once): the error page must not go out as the file.
      if (!res.headersSent) dropAttachmentHeaders(res);
      throw err;
    }
  });

  r.get('/exports', requireUser, async (req, res) => {
    res.render('exports/index', { items: await exports.list(req.actor!.id) });
  });

  /** The export's status; htmx polls it (a fragment) while it is pending or running. */
  r.get('/exports/:id', requireUser, async (req, res) => {
    const item = await exports.get(req.actor!.id, exportIdParam(req.params.id));
    res.render(isHtmx(req) ? 'exports/_status.njk' : 'exports/show', { item });
  });

  r.post('/exports/:id/retry', requireUser, async (req, res) => {
    const id = exportIdParam(req.params.id);
    await exports.retry(req.actor!.id, id);
    flash(req, 'info', 'exports.requeued');
    res.redirect(303, `/exports/${id}`);
  });

  r.get('/exports/:id/download', requireUser, async (req, res) => {
    const file = await exports.download(req.actor!.id, exportIdParam(req.params.id));
    attachmentHeaders(res, file.contentType, file.name);
    await new Promise<void>((resolve, reject) => {
      // The path is server-made and absolute; UPLOAD_DIR itself may sit under a dot-folder.
      res.sendFile(file.path, { cacheControl: false, dotfiles: 'allow' }, (err?: Error) => {
        if (!err) return resolve();
        const e = err as NodeJS.ErrnoException;
        if (res.headersSent || e.code === 'ECONNABORTED' || e.code === 'ECONNRESET') return resolve();
        dropAttachmentHeaders(res);
        if (e.code === 'ENOENT') {
          req.log.error({ exportId: req.params.id }, 'export file is missing from disk');
          return reject(new NotFoundError());
        }
        reject(err);
      });
    });
  });

  return r;
}
