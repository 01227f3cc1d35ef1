import type { TFunction } from 'i18next';
import type { Services } from '../../services.js';
import { requireUser } from '../../web/guards.js';
import type { ExportRow } from '../exports/exports.repository.js';
import { exportIdParam, parseExportQuery } from '../exports/exports.schemas.js';
import { bodyObject, type ApiRouter } from './http.js';
import { sendStored } from './records.api.js';
import type { Out } from './schemas.js';

const uuid = { type: 'string', format: 'uuid' };
const iso = (d: Date | null) => (d ? d.toISOString() : null);

function exportOut(r: ExportRow, t: TFunction): Out<'Export'> {
  return {
    id: r.id,
    status: r.status,
    format: r.format as Out<'Export'>['format'],
    filters: r.filters ?? {},
    total: r.total,
    processed: r.processed,
    error: r.error ? t(r.error) : null,
    createdAt: r.createdAt.toISOString(),
    finishedAt: iso(r.finishedAt),
    expiresAt: iso(r.expiresAt),
    downloadUrl: r.status === 'done' && r.storageName ? `/api/v1/exports/${r.id}/content` : null,
  };
}

/**
 * Client exports through the API, on the exports service: the same parser (unknown parameter or value → 400
 * naming the allowed ones), the same policy (managers and admins; a member → 403), the same rate limit (429)
 * and the same log as the HTML export.
 *
 * Every API export is a background export (the job exports.run) written to a file, whatever its size: the
 * HTML export streams small ones into the response, but an API client would then need two code paths, and a
 * long download cannot be retried. So the API answers 202 with the export and its Location; the client polls
 * it and downloads the file once `done` (kept 24 hours, for its owner only).
 */
export function exportsApi(api: ApiRouter, services: Services) {
  const { exports } = services;

  api.add(
    {
      method: 'post', path: '/api/v1/clients/exports', operationId: 'createClientExport', tag: 'Exports', summary: 'Export the client list', guard: requireUser,
      description: 'Managers (of the groups exported) and admins. The body takes the clients list\'s filters and order (`q`, `group`, `status`, `owner`, `fromLead`, `createdFrom`, `createdTo`, `sort`, `dir`) and a `format`; an unknown parameter or value is refused (400, the detail lists the allowed ones). Exactly the clients you would see in the list, in its order. Answers 202: poll the export at its Location until `status` is `done`, then download `downloadUrl`. Counts towards the limit of exports a user may start in 10 minutes (429 beyond).',
      body: { schema: 'ExportInput', optional: true }, idempotent: true,
      ok: { status: 202, description: 'The export, started', schema: 'Export', location: true }, errors: [404],
    },
    async (req, res) => {
      const request = parseExportQuery(bodyObject(req), res.locals.t);
      // Always to a file, as a background export job (see above), however few the rows.
      const plan = await exports.begin(req.actor!, request, { toFile: true });
      return { status: 202, body: exportOut(plan.row, res.locals.t), location: `/api/v1/exports/${plan.row.id}` };
    },
  );

  api.add(
    {
      method: 'get', path: '/api/v1/exports', operationId: 'listExports', tag: 'Exports', summary: 'Your exports', guard: requireUser,
      description: 'The last 50 exports you started (from the pages or the API), newest first.',
      ok: { status: 200, description: 'Your exports', schema: 'ExportList' }, errors: [],
    },
    async (req, res) => ({ body: { items: (await exports.list(req.user!.id)).map((r) => exportOut(r, res.locals.t)) } }),
  );

  api.add(
    {
      method: 'get', path: '/api/v1/exports/:id', operationId: 'getExport', tag: 'Exports', summary: 'An export\'s status and progress', guard: requireUser,
      description: 'Yours only: anyone else\'s export (an admin\'s view included) answers 404. `processed` of `total` rows while running.',
      pathParams: { id: uuid },
      ok: { status: 200, description: 'The export', schema: 'Export' }, errors: [404],
    },
    async (req, res) => ({ body: exportOut(await exports.get(req.user!.id, exportIdParam(req.params.id)), res.locals.t) }),
  );

  api.add(
    {
      method: 'get', path: '/api/v1/exports/:id/content', operationId: 'downloadExport', tag: 'Exports', summary: 'Download an export\'s file', guard: requireUser,
      description: 'Yours only (anyone else → 404). Not done yet → 409; expired (after 24 hours) → 410. Always an attachment.',
      pathParams: { id: uuid },
      ok: { status: 200, description: 'The file (CSV, XLSX or JSON)', binary: true }, errors: [404, 409, 410],
    },
    async (req, res) => {
      const file = await exports.download(req.user!.id, exportIdParam(req.params.id));
      await sendStored(req, res, { path: file.path, name: file.name, mimeType: file.contentType });
    },
  );
}
