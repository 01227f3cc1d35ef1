import type { Request } from 'express';
import type { Services } from '../../services.js';
import { requireUser } from '../../web/guards.js';
import { idParam } from '../../web/params.js';
import type { Actor } from '../access/policy.js';
import { clientListQuery, type ClientInput } from '../clients/clients.schemas.js';
import { checkIfMatch, etagOf, pageReply, parseBody, parsePatch, type ApiRouter } from './http.js';
import { listQueryDocs } from './leads.api.js';
import { PATCHABLE } from './schemas.js';
import * as S from './serialize.js';

/** Clients: the page's list, create, read, update and trash. */
export function clientsApi(api: ApiRouter, services: Services) {
  const { clients } = services;
  const cid = (req: Request) => idParam(req.params.id);
  const detail = async (actor: Actor, id: number) => {
    const d = await clients.get(actor, id);
    return { body: S.client(d), etag: etagOf(d.client.updatedAt) };
  };

  api.add(
    {
      method: 'get', path: '/api/v1/clients', operationId: 'listClients', tag: 'Clients', summary: 'List clients', guard: requireUser,
      description: 'The clients you can see, with the filters, sorting and pagination of the clients page.',
      query: { schema: clientListQuery, docs: listQueryDocs },
      ok: { status: 200, description: 'A page of clients', schema: 'ClientPage' }, errors: [],
    },
    async (req, res) => {
      const q = clientListQuery.parse(req.query);
      const { items, total } = await clients.list(req.actor!, q);
      return pageReply(req, res, items.map(S.clientSummary), total, q);
    },
  );

  api.add(
    {
      method: 'post', path: '/api/v1/clients', operationId: 'createClient', tag: 'Clients', summary: 'Create a client', guard: requireUser,
      body: { schema: 'ClientInput' }, idempotent: true, etag: 'returns',
      ok: { status: 201, description: 'The new client', schema: 'Client', location: true }, errors: [],
    },
    async (req) => {
      const client = await clients.create(req.actor!, parseBody('ClientInput', req));
      return { ...(await detail(req.actor!, client.id)), status: 201, location: `/api/v1/clients/${client.id}` };
    },
  );

  api.add(
    {
      method: 'get', path: '/api/v1/clients/:id', operationId: 'getClient', tag: 'Clients', summary: 'Read a client', guard: requireUser, etag: 'returns',
      ok: { status: 200, description: 'The client', schema: 'Client' }, errors: [404],
    },
    async (req) => detail(req.actor!, cid(req)),
  );

  api.add(
    {
      method: 'patch', path: '/api/v1/clients/:id', operationId: 'updateClient', tag: 'Clients', summary: 'Update a client', guard: requireUser,
      description: 'Changes the fields sent, with the rules of the edit form.',
      body: { schema: 'ClientPatch' }, etag: 'checks',
      ok: { status: 200, description: 'The client as saved', schema: 'Client' }, errors: [404, 409],
    },
    async (req) => {
      const actor = req.actor!;
      const id = cid(req);
      await clients.get(actor, id);
      const patch = parsePatch(PATCHABLE.client, req);
      // Under the service's row lock: the If-Match check and the merge over the stored values.
      await clients.update(actor, id, (c) => {
        checkIfMatch(req, etagOf(c.updatedAt));
        const stored: ClientInput = {
          groupId: c.groupId, ownerId: undefined, name: c.name, company: c.company, email: c.email, phone: c.phone, address: c.address,
          website: c.website, status: c.status, notes: c.notes,
        };
        return { ...stored, ...patch };
      });
      return detail(actor, id);
    },
  );

  api.add(
    {
      method: 'delete', path: '/api/v1/clients/:id', operationId: 'deleteClient', tag: 'Clients', summary: 'Move a client to the trash', guard: requireUser,
      description: 'Managers and admins; restorable from the trash page for 30 days.',
      ok: { status: 204, description: 'Trashed' }, errors: [404],
    },
    async (req) => {
      await clients.trash(req.actor!, cid(req));
      return { status: 204 };
    },
  );
}
