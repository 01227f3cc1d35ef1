import type { Request } from 'express';
import type { z } from 'zod';
import { requireUser } from '../../web/guards.js';
import { idParam } from '../../web/params.js';
import type { Actor } from '../access/policy.js';
import { checkIfMatch, etagOf, pageReply, parseBody, parsePatch, type ApiRouter } from './http.js';
import type { InputName, OutputName } from './schemas.js';

/**
 * The list, create, read, update and trash of a kind of record (leads, clients): one shape, declared once.
 * Each kind gives its service, schemas, serializers and prose; the handlers are the same for both.
 */

interface Service<Row, Input, Detail, Item, Q> {
  list(actor: Actor, q: Q, opts?: { deep?: boolean }): Promise<{ items: Item[]; total: number; capped?: boolean; keyset?: boolean }>;
  create(actor: Actor, input: Input): Promise<{ id: number }>;
  get(actor: Actor, id: number): Promise<Detail>;
  /** With a function of the locked row: the If-Match check and the merge run under the row lock. */
  update(actor: Actor, id: number, change: (current: Row) => Input): Promise<unknown>;
  trash(actor: Actor, id: number): Promise<unknown>;
}

export interface RecordKindSpec<Row extends { updatedAt: Date }, Input, Detail, Item, Q extends { page: number; perPage: number }> {
  /** URL segment and operation names: `leads` → /api/v1/leads, listLeads, createLead, … */
  plural: string;
  singular: string;
  tag: string;
  service: Service<Row, Input, Detail, Item, Q>;
  /** The list page's own query schema, and documentation overrides of its parameters. */
  listQuery: z.ZodType<Q> & z.ZodObject;
  listQueryDocs: Record<string, object>;
  schemas: { detail: OutputName; page: OutputName; input: InputName; patch: InputName };
  /** The form schema the PATCH body is parsed with (partial). */
  patchable: z.ZodObject;
  summaryOf(item: Item): unknown;
  /** The detail's JSON and the row it was read from (its updated_at makes the ETag). */
  detailOf(d: Detail): { body: unknown; row: Row };
  /** The stored record as the form's input: what a PATCH merges the fields it sends over. */
  storedInput(row: Row): Input;
  docs: { list: string; create?: string; update: string; createErrors: number[] };
}

export function recordCrudApi<Row extends { updatedAt: Date }, Input, Detail, Item, Q extends { page: number; perPage: number }>(
  api: ApiRouter,
  spec: RecordKindSpec<Row, Input, Detail, Item, Q>,
) {
  const { plural, singular, tag, service, schemas } = spec;
  const Plural = plural[0]!.toUpperCase() + plural.slice(1);
  const Singular = singular[0]!.toUpperCase() + singular.slice(1);
  const base = `/api/v1/${plural}`;
  const idOf = (req: Request) => idParam(req.params.id);
  const detail = async (actor: Actor, id: number) => {
    const { body, row } = spec.detailOf(await service.get(actor, id));
    return { body, etag: etagOf(row.updatedAt) };
  };

  api.add(
    {
      method: 'get', path: base, operationId: `list${Plural}`, tag, summary: `List ${plural}`, guard: requireUser,
      description: spec.docs.list,
      query: { schema: spec.listQuery, docs: spec.listQueryDocs },
      ok: { status: 200, description: `A page of ${plural}`, schema: schemas.page }, errors: [],
    },
    async (req, res) => {
      const q = spec.listQuery.parse(req.query);
      const { items, total, capped, keyset } = await service.list(req.actor!, q, { deep: true });
      return pageReply(req, res, items.map(spec.summaryOf), total, q, capped, keyset);
    },
  );

  api.add(
    {
      method: 'post', path: base, operationId: `create${Singular}`, tag, summary: `Create a ${singular}`, guard: requireUser,
      description: spec.docs.create,
      body: { schema: schemas.input }, idempotent: true, etag: 'returns',
      ok: { status: 201, description: `The new ${singular}`, schema: schemas.detail, location: true }, errors: spec.docs.createErrors,
    },
    async (req) => {
      const made = await service.create(req.actor!, parseBody(schemas.input, req) as Input);
      return { ...(await detail(req.actor!, made.id)), status: 201, location: `${base}/${made.id}` };
    },
  );

  api.add(
    {
      method: 'get', path: `${base}/:id`, operationId: `get${Singular}`, tag, summary: `Read a ${singular}`, guard: requireUser, etag: 'returns',
      ok: { status: 200, description: `The ${singular}`, schema: schemas.detail }, errors: [404],
    },
    async (req) => detail(req.actor!, idOf(req)),
  );

  api.add(
    {
      method: 'patch', path: `${base}/:id`, operationId: `update${Singular}`, tag, summary: `Update a ${singular}`, guard: requireUser,
      description: spec.docs.update,
      body: { schema: schemas.patch }, etag: 'checks',
      ok: { status: 200, description: `The ${singular} as saved`, schema: schemas.detail }, errors: [404, 409],
    },
    async (req) => {
      const actor = req.actor!;
      const id = idOf(req);
      await service.get(actor, id);
      const patch = parsePatch(spec.patchable, req);
      // Under the service's row lock: the If-Match check and the merge over the stored values.
      await service.update(actor, id, (row) => {
        checkIfMatch(req, etagOf(row.updatedAt));
        return { ...spec.storedInput(row), ...patch };
      });
      return detail(actor, id);
    },
  );

  api.add(
    {
      method: 'delete', path: `${base}/:id`, operationId: `delete${Singular}`, tag, summary: `Move a ${singular} to the trash`, guard: requireUser,
      description: 'Managers and admins; restorable from the trash page for 30 days.',
      ok: { status: 204, description: 'Trashed' }, errors: [404],
    },
    async (req) => {
      await service.trash(req.actor!, idOf(req));
      return { status: 204 };
    },
  );
}
