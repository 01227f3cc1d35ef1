import type { Request, Response } from 'express';
import { create as contentDisposition } from 'content-disposition';
import type { Services } from '../../services.js';
import { NotFoundError } from '../../web/errors.js';
import { requireUser } from '../../web/guards.js';
import { idParam } from '../../web/params.js';
import { createUploadReceiver } from '../files/files.upload.js';
import { fileMeta } from './files.meta.js';
import type { RecordKind, RecordRef } from '../records/records.js';
import { checkIfMatch, etagOf, parseBody, type ApiRouter } from './http.js';
import * as S from './serialize.js';

/** Comments, files and history of leads and clients: one implementation for both kinds, as in the pages. */
export function recordsApi(api: ApiRouter, services: Services) {
  const { comments, files, activity } = services;
  const receive = createUploadReceiver({ tempDir: files.tempDir, ...files.limits });
  const refOf = (kind: RecordKind, req: Request): RecordRef => ({ kind, id: idParam(req.params.id) });

  for (const kind of ['lead', 'client'] as const) {
    const plural = kind === 'lead' ? 'leads' : 'clients';
    const Kind = kind === 'lead' ? 'Lead' : 'Client';
    const tag = kind === 'lead' ? 'Leads' : 'Clients';
    const base = `/api/v1/${plural}/:id`;

    api.add(
      {
        method: 'get', path: `${base}/comments`, operationId: `list${Kind}Comments`, tag, summary: `List a ${kind}'s comments`, guard: requireUser,
        ok: { status: 200, description: 'Oldest first', schema: 'CommentList' }, errors: [404],
      },
      async (req) => {
        const head = await files.headForView(req.actor!, refOf(kind, req));
        return { body: { items: (await comments.listFor(req.actor!, head)).map(S.comment) } };
      },
    );

    api.add(
      {
        method: 'post', path: `${base}/comments`, operationId: `create${Kind}Comment`, tag, summary: `Comment on a ${kind}`, guard: requireUser,
        description: kind === 'lead' ? 'A converted lead is read-only (409): comment on its client.' : undefined,
        body: { schema: 'CommentInput' }, idempotent: true, etag: 'returns',
        ok: { status: 201, description: 'The new comment', schema: 'Comment' }, errors: [404, 409],
      },
      async (req) => {
        const actor = req.actor!;
        const ref = refOf(kind, req);
        await files.headForView(actor, ref);
        const row = await comments.add(actor, ref, parseBody('CommentInput', req).body);
        return { status: 201, body: S.comment({ ...row, authorName: req.user!.name }), etag: etagOf(row.createdAt) };
      },
    );

    api.add(
      {
        method: 'get', path: `${base}/files`, operationId: `list${Kind}Files`, tag, summary: `List a ${kind}'s files`, guard: requireUser,
        ok: { status: 200, description: 'Newest first', schema: 'FileList' }, errors: [404],
      },
      async (req) => {
        const head = await files.headForView(req.actor!, refOf(kind, req));
        return { body: { items: (await files.listFor(head, req.actor!)).map(S.file) } };
      },
    );

    api.add(
      {
        method: 'post', path: `${base}/files`, operationId: `upload${Kind}Files`, tag, summary: `Upload files to a ${kind}`, guard: requireUser,
        description: `Multipart, field \`files\` (one or more). All or nothing: a file that is too large (413), of a type not allowed or whose content does not match its name (422) refuses the batch. Limits: ${files.limits.maxFileMb} MB a file, ${files.limits.maxFiles} files.`,
        multipart: true, idempotent: true,
        ok: { status: 201, description: 'The files as stored', schema: 'FileList' }, errors: [404, 409],
      },
      async (req, res) => {
        const actor = req.actor!;
        const head = await files.headForUpload(actor, refOf(kind, req));
        const { count } = await files.upload(actor, head, await receive(req, res));
        // The newest files by this uploader on this record are the ones just stored.
        const mine = (await files.listFor(head, actor)).filter((f) => f.uploaderId === actor.id).slice(0, count);
        return { status: 201, body: { items: mine.map(S.file) } };
      },
    );

    api.add(
      {
        method: 'get', path: `${base}/activity`, operationId: `list${Kind}Activity`, tag, summary: `A ${kind}'s history`, guard: requireUser,
        description: kind === 'client' ? 'Includes the history of the lead it came from.' : undefined,
        ok: { status: 200, description: 'Newest first (the last 200 events)', schema: 'ActivityList' }, errors: [404],
      },
      async (req) => {
        const head = await files.headForView(req.actor!, refOf(kind, req));
        return { body: { items: (await activity.timeline(head)).map(S.activity) } };
      },
    );
  }

  /** A comment as listed, with its author's name. */
  async function commentReply(req: Request, id: number) {
    const { head } = await comments.get(req.actor!, id);
    const row = (await comments.listFor(req.actor!, head)).find((c) => c.id === id);
    if (!row) throw new NotFoundError();
    return { body: S.comment(row), etag: etagOf(row.editedAt ?? row.createdAt) };
  }

  api.add(
    {
      method: 'patch', path: '/api/v1/comments/:id', operationId: 'updateComment', tag: 'Comments', summary: 'Edit a comment', guard: requireUser,
      description: 'Its author, the group\'s managers and admins. The ETag is the comment\'s last edit.',
      body: { schema: 'CommentInput' }, etag: 'checks',
      ok: { status: 200, description: 'The comment as saved', schema: 'Comment' }, errors: [404, 409],
    },
    async (req) => {
      const id = idParam(req.params.id);
      const { comment } = await comments.get(req.actor!, id);
      checkIfMatch(req, etagOf(comment.editedAt ?? comment.createdAt));
      await comments.edit(req.actor!, id, parseBody('CommentInput', req).body);
      return commentReply(req, id);
    },
  );

  api.add(
    {
      method: 'delete', path: '/api/v1/comments/:id', operationId: 'deleteComment', tag: 'Comments', summary: 'Delete a comment', guard: requireUser,
      description: 'Its author, the group\'s managers and admins.',
      ok: { status: 204, description: 'Deleted' }, errors: [404, 409],
    },
    async (req) => {
      await comments.remove(req.actor!, idParam(req.params.id));
      return { status: 204 };
    },
  );

  api.add(
    {
      method: 'get', path: '/api/v1/files/:id', operationId: 'getFile', tag: 'Files', summary: 'A file\'s metadata', guard: requireUser,
      description: 'A new upload is `pending` until its background check has run; its content can be downloaded once `ready`.',
      ok: { status: 200, description: 'The file', schema: 'FileMeta' }, errors: [404],
    },
    async (req) => ({ body: S.file(await fileMeta(services, req.actor!, idParam(req.params.id))) }),
  );

  api.add(
    {
      method: 'get', path: '/api/v1/files/:id/content', operationId: 'downloadFile', tag: 'Files', summary: 'Download a file', guard: requireUser,
      description: 'Always as an attachment, with its stored type and `nosniff`.',
      ok: { status: 200, description: 'The bytes', binary: true }, errors: [404],
    },
    async (req, res) => {
      const file = await files.download(req.actor!, idParam(req.params.id));
      await sendStored(req, res, file);
    },
  );

  api.add(
    {
      method: 'delete', path: '/api/v1/files/:id', operationId: 'deleteFile', tag: 'Files', summary: 'Delete a file', guard: requireUser,
      description: 'Its uploader, the group\'s managers and admins.',
      ok: { status: 204, description: 'Deleted' }, errors: [404, 409],
    },
    async (req) => {
      await files.remove(req.actor!, idParam(req.params.id));
      return { status: 204 };
    },
  );
}

/** Sends a stored file as an attachment, as the page's download does (files and exports). */
export function sendStored(req: Request, res: Response, file: { path: string; name: string; mimeType: string }) {
  res.setHeader('Content-Type', file.mimeType);
  res.setHeader('Content-Disposition', contentDisposition(file.name));
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Cache-Control', 'private, no-store');
  res.setHeader('Content-Security-Policy', "default-src 'none'; sandbox");
  return new Promise<void>((resolve, reject) => {
    res.sendFile(file.path, { cacheControl: false, dotfiles: 'allow' }, (err?: Error) => {
      if (!err) return resolve();
      const e = err as NodeJS.ErrnoException;
      if (res.headersSent || e.code === 'ECONNABORTED' || e.code === 'ECONNRESET') return resolve();
      res.removeHeader('Content-Type');
      res.removeHeader('Content-Disposition');
      if (e.code === 'ENOENT') {
        req.log.error({ fileId: req.params.id }, 'stored file is missing from disk');
        return reject(new NotFoundError());
      }
      reject(err);
    });
  });
}
