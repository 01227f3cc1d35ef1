import type { Request } from 'express';
import type { Services } from '../../services.js';
import { LEAD_STATUSES } from '../../db/schema/index.js';
import { requireUser } from '../../web/guards.js';
import { idParam } from '../../web/params.js';
import type { Actor } from '../access/policy.js';
import { leadListQuery, type LeadInput } from '../leads/leads.schemas.js';
import { bodyObject, checkIfMatch, etagOf, pageReply, parseBody, parsePatch, type ApiRouter } from './http.js';
import { PATCHABLE, PER_PAGE } from './schemas.js';
import * as S from './serialize.js';

export const listQueryDocs = {
  perPage: { type: 'integer', enum: [...PER_PAGE], default: 25 },
  page: { type: 'integer', minimum: 1, default: 1 },
};

/** Leads: the page's list (filters, sorting, pagination), create, read, update, trash and convert. */
export function leadsApi(api: ApiRouter, services: Services) {
  const { leads, clients } = services;
  const lid = (req: Request) => idParam(req.params.id);
  const detail = async (actor: Actor, id: number) => {
    const d = await leads.get(actor, id);
    return { body: S.lead(d), etag: etagOf(d.lead.updatedAt) };
  };

  api.add(
    {
      method: 'get', path: '/api/v1/leads', operationId: 'listLeads', tag: 'Leads', summary: 'List leads', guard: requireUser,
      description: 'The leads you can see, with the filters, sorting and pagination of the leads page. Converted leads are left out unless `converted=1` or a status filter asks for them. Repeat `status` for several.',
      query: { schema: leadListQuery, docs: { ...listQueryDocs, status: { type: 'array', items: { type: 'string', enum: [...LEAD_STATUSES] } } } },
      ok: { status: 200, description: 'A page of leads', schema: 'LeadPage' }, errors: [],
    },
    async (req, res) => {
      const q = leadListQuery.parse(req.query);
      const { items, total } = await leads.list(req.actor!, q);
      return pageReply(req, res, items.map(S.leadSummary), total, q);
    },
  );

  api.add(
    {
      method: 'post', path: '/api/v1/leads', operationId: 'createLead', tag: 'Leads', summary: 'Create a lead', guard: requireUser,
      description: 'In a group you belong to. Without `ownerId` you own it; `ownerId` null (or "") leaves it unassigned.',
      body: { schema: 'LeadInput' }, idempotent: true, etag: 'returns',
      ok: { status: 201, description: 'The new lead', schema: 'Lead', location: true }, errors: [409],
    },
    async (req) => {
      const lead = await leads.create(req.actor!, parseBody('LeadInput', req));
      return { ...(await detail(req.actor!, lead.id)), status: 201, location: `/api/v1/leads/${lead.id}` };
    },
  );

  api.add(
    {
      method: 'get', path: '/api/v1/leads/:id', operationId: 'getLead', tag: 'Leads', summary: 'Read a lead', guard: requireUser, etag: 'returns',
      ok: { status: 200, description: 'The lead', schema: 'Lead' }, errors: [404],
    },
    async (req) => detail(req.actor!, lid(req)),
  );

  api.add(
    {
      method: 'patch', path: '/api/v1/leads/:id', operationId: 'updateLead', tag: 'Leads', summary: 'Update a lead', guard: requireUser,
      description: 'Changes the fields sent, with the rules of the edit form (moving to another group or changing the owner needs a manager). A converted lead is read-only (409).',
      body: { schema: 'LeadPatch' }, etag: 'checks',
      ok: { status: 200, description: 'The lead as saved', schema: 'Lead' }, errors: [404, 409],
    },
    async (req) => {
      const actor = req.actor!;
      const id = lid(req);
      await leads.get(actor, id);
      const patch = parsePatch(PATCHABLE.lead, req);
      // Under the service's row lock: the If-Match check and the merge over the stored values.
      await leads.update(actor, id, (l) => {
        checkIfMatch(req, etagOf(l.updatedAt));
        const stored: LeadInput = {
          groupId: l.groupId, ownerId: undefined, firstName: l.firstName, lastName: l.lastName, email: l.email, phone: l.phone, company: l.company,
          source: l.source as LeadInput['source'], status: l.status as LeadInput['status'], value: l.value, description: l.description,
        };
        return { ...stored, ...patch };
      });
      return detail(actor, id);
    },
  );

  api.add(
    {
      method: 'delete', path: '/api/v1/leads/:id', operationId: 'deleteLead', tag: 'Leads', summary: 'Move a lead to the trash', guard: requireUser,
      description: 'Managers and admins; restorable from the trash page for 30 days.',
      ok: { status: 204, description: 'Trashed' }, errors: [404],
    },
    async (req) => {
      await leads.trash(req.actor!, lid(req));
      return { status: 204 };
    },
  );

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
