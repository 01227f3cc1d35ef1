import type { Services } from '../../services.js';
import { clientListQuery, type ClientInput } from '../clients/clients.schemas.js';
import type { ApiRouter } from './http.js';
import { cursorQueryDocs, listQueryDocs } from './leads.api.js';
import { recordCrudApi } from './records.crud.js';
import { PATCHABLE } from './schemas.js';
import * as S from './serialize.js';

/** Clients: the page's list, create, read, update and trash. */
export function clientsApi(api: ApiRouter, services: Services) {
  recordCrudApi(api, {
    plural: 'clients', singular: 'client', tag: 'Clients', service: services.clients,
    listQuery: clientListQuery,
    listQueryDocs: { ...listQueryDocs, ...cursorQueryDocs },
    schemas: { detail: 'Client', page: 'ClientPage', input: 'ClientInput', patch: 'ClientPatch' },
    patchable: PATCHABLE.client,
    summaryOf: S.clientSummary,
    detailOf: (d) => ({ body: S.client(d), row: d.client }),
    storedInput: (c): ClientInput => ({
      groupId: c.groupId, ownerId: undefined, name: c.name, company: c.company, email: c.email, phone: c.phone, address: c.address,
      website: c.website, status: c.status, notes: c.notes,
    }),
    docs: {
      list: 'The clients you can see, with the filters, sorting and pagination of the clients page.',
      createErrors: [],
      update: 'Changes the fields sent, with the rules of the edit form.',
    },
  });
}
