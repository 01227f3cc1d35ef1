import type { Request } from 'express';
import type { Services } from '../../services.js';
import { LEAD_STATUSES } from '../../db/schema/index.js';
import { requireUser } from '../../web/guards.js';
import { idParam } from '../../web/params.js';
import { leadListQuery, type LeadInput } from '../leads/leads.schemas.js';
import { bodyObject, etagOf, parseBody, type ApiRouter } from './http.js';
import { recordCrudApi } from './records.crud.js';
import { PATCHABLE, PER_PAGE } from './schemas.js';
import * as S from './serialize.js';

export const listQueryDocs = {
  perPage: { type: 'integer', enum: [...PER_PAGE], default: 25 },
  page: { type: 'integer', minimum: 1, default: 1 },
};

/** The keyset links' parameters (leads and clients lists only). */
export const cursorQueryDocs = {
  after: { type: 'integer', minimum: 1, description: 'Set by links.next: the id of the row this page continues after (keyset paging, in the default order by creation without a text search; otherwise page counts). An id the token cannot see is ignored.' },
  before: { type: 'integer', minimum: 1, description: 'Set by links.prev: the id of the row this page ends before (as after).' },
};

/** Leads: the page's list (filters, sorting, pagination), create, read, update, trash — and convert. */
export function leadsApi(api: ApiRouter, services: Services) {
  const { leads, clients } = services;
  const lid = (req: Request) => idParam(req.params.id);

  recordCrudApi(api, {
    plural: 'leads', singular: 'lead', tag: 'Leads', service: leads,
    listQuery: leadListQuery,
    listQueryDocs: { ...listQueryDocs, ...cursorQueryDocs, status: { type: 'array', items: { type: 'string', enum: [...LEAD_STATUSES] } } },
    schemas: { detail: 'Lead', page: 'LeadPage', input: 'LeadInput', patch: 'LeadPatch' },
    patchable: PATCHABLE.lead,
    summaryOf: S.leadSummary,
    detailOf: (d) => ({ body: S.lead(d), row: d.lead }),
    storedInput: (l): LeadInput => ({
      groupId: l.groupId, ownerId: undefined, firstName: l.firstName, lastName: l.lastName, email: l.email, phone: l.phone, company: l.company,
      source: l.source as LeadInput['source'], status: l.status as LeadInput['status'], value: l.value, description: l.description,
    }),
    docs: {
      list: 'The leads you can see, with the filters, sorting and pagination of the leads page. Converted leads are left out unless `converted=1` or a status filter asks for them. Repeat `status` for several.',
      create: 'In a group you belong to. Without `ownerId` you own it; `ownerId` null (or "") leaves it unassigned.',
      createErrors: [409],
      update: 'Changes the fields sent, with the rules of the edit form (moving to another group or changing the owner needs a manager). A converted lead is read-only (409).',
    },
  });

  api.add(
    {
      method: 'post', path: '/api/v1/leads/:id/convert', operationId: 'convertLead', tag: 'Leads', summary: 'Convert a lead into a client', guard: requireUser,
      description: 'One transaction: the client is made (from the body, or from the lead when the body is empty), the lead\'s comments, files and history show on it, and the lead becomes read-only. Converting twice answers 409.',
      body: { schema: 'ConvertInput', optional: true }, idempotent: true, etag: 'returns',
      ok: { status: 201, description: 'The new client', schema: 'Client', location: true }, errors: [404, 409],
    },
    async (req) => {
      const actor = req.actor!;
      const input = Object.keys(bodyObject(req)).length ? parseBody('ConvertInput', req) : undefined;
      const made = await leads.convert(actor, lid(req), input);
      const d = await clients.get(actor, made.id);
      return { status: 201, body: S.client(d), etag: etagOf(d.client.updatedAt), location: `/api/v1/clients/${made.id}` };
    },
  );
}
