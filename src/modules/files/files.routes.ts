import { Router, type Request, type Response } from 'express';
import { create as contentDisposition } from 'content-disposition';
import type { Services } from '../../services.js';
import { AppError, NotFoundError } from '../../web/errors.js';
import { requireUser } from '../../web/guards.js';
import { flash } from '../../web/middleware.js';
import { idParam } from '../../web/params.js';
import { recordPath, type RecordKind } from '../records/records.js';
import { createUploadReceiver } from './files.upload.js';

const PARTIAL = 'records/_files.njk';
/** Refusals an htmx upload shows inside the files section instead of as an error page. */
const SHOWN_IN_SECTION = new Set([409, 413, 422]);

/**
 * Attachments of leads and clients. Every route uses requireUser and lets the service decide by the record:
 * another group's record or file answers 404, an action the actor may not take 403.
 */
export function filesRoutes(services: Services): Router {
  const { files } = services;
  const r = Router();
  const receive = createUploadReceiver({ tempDir: files.tempDir, ...files.limits });
  const isHtmx = (req: Request) => !!req.get('HX-Request');

  /**
   * Upload one or more files (multipart field `files`). The record is checked before a byte is read:
   * 404/403 as the policy says, 409 for a converted lead. htmx gets the files section back (with the
   * refusal shown in it, status 413/422/409); a plain form is redirected to the record with a message.
   */
  const upload = (kind: RecordKind) => async (req: Request, res: Response) => {
    const actor = req.actor!;
    const ref = { kind, id: idParam(req.params.id) };
    try {
      const head = await files.headForUpload(actor, ref);
      const temps = await receive(req, res);
      const { count } = await files.upload(actor, head, temps);
      if (isHtmx(req)) {
        return res.render(PARTIAL, { ...(await files.section(actor, head)), fileNotice: { key: 'files.uploaded', params: { count } } });
      }
      flash(req, 'success', 'files.uploaded', { count });
      res.redirect(303, `${recordPath(head)}#files`);
    } catch (err) {
      if (!(isHtmx(req) && err instanceof AppError && SHOWN_IN_SECTION.has(err.status))) throw err;
      const head = await files.headForView(actor, ref);
      res.status(err.status).render(PARTIAL, await files.section(actor, head, { key: err.messageKey, params: err.params }));
    }
  };
  r.post('/leads/:id/files', requireUser, upload('lead'));
  r.post('/clients/:id/files', requireUser, upload('client'));

  // The files section alone: the page polls it (htmx) while a file is still being checked by the job.
  const section = (kind: RecordKind) => async (req: Request, res: Response) => {
    const head = await files.headForView(req.actor!, { kind, id: idParam(req.params.id) });
    res.render(PARTIAL, await files.section(req.actor!, head));
  };
  r.get('/leads/:id/files', requireUser, section('lead'));
  r.get('/clients/:id/files', requireUser, section('client'));

  /** Always an attachment, never rendered by the browser: nosniff, a sandboxing CSP, not cached. */
  r.get('/files/:id/download', requireUser, async (req, res) => {
    const file = await files.download(req.actor!, idParam(req.params.id));
    // setHeader, not res.set: Express would add a charset to text types we cannot vouch for.
    res.setHeader('Content-Type', file.mimeType);
    res.setHeader('Content-Disposition', contentDisposition(file.name));
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Cache-Control', 'private, no-store');
    res.setHeader('Content-Security-Policy', "default-src 'none'; sandbox");
    await new Promise<void>((resolve, reject) => {
      // The path is server-made and absolute; UPLOAD_DIR itself may sit under a dot-folder.
      res.sendFile(file.path, { cacheControl: false, dotfiles: 'allow' }, (err?: Error) => {
        if (!err) return resolve();
        const e = err as NodeJS.ErrnoException;
        if (res.headersSent || e.code === 'ECONNABORTED' || e.code === 'ECONNRESET') return resolve();
        // The error page must not go out as the file's type or as an attachment.
        res.removeHeader('Content-Type');
        res.removeHeader('Content-Disposition');
        if (e.code === 'ENOENT') {
          req.log.error({ fileId: req.params.id }, 'stored file is missing from disk');
          return reject(new NotFoundError());
        }
        reject(err);
      });
    });
  });

  // An image's preview, shown in the files list (same access rule as the download).
  r.get('/files/:id/thumbnail', requireUser, async (req, res) => {
    const path = await files.thumbnail(req.actor!, idParam(req.params.id));
    res.setHeader('Cache-Control', 'private, max-age=3600');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    await new Promise<void>((resolve, reject) =>
      res.sendFile(path, { cacheControl: false, dotfiles: 'allow', headers: { 'Content-Type': 'image/webp' } }, (err?: Error) =>
        !err || res.headersSent ? resolve() : reject((err as NodeJS.ErrnoException).code === 'ENOENT' ? new NotFoundError() : err),
      ),
    );
  });

  r.post('/files/:id/delete', requireUser, async (req, res) => {
    const actor = req.actor!;
    const { head, name } = await files.remove(actor, idParam(req.params.id));
    if (isHtmx(req)) {
      return res.render(PARTIAL, { ...(await files.section(actor, head)), fileNotice: { key: 'files.deleted', params: { name } } });
    }
    flash(req, 'success', 'files.deleted', { name });
    res.redirect(303, `${recordPath(head)}#files`);
  });

  return r;
}
