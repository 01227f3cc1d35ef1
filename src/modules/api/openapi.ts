import { z } from 'zod';
import type { Operation } from './http.js';
import { INPUTS, OUTPUTS } from './schemas.js';

/**
 * The OpenAPI 3.1 document, generated from the operations the router registered and the zod schemas they name
 * (z.toJSONSchema; OpenAPI 3.1 schemas are JSON Schema 2020-12). Nothing here is written by hand but the prose.
 */

type Json = Record<string, unknown>;
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** JSON Schema for every named schema: bodies as the input side, responses as the output side. */
function componentSchemas(): Record<string, Json> {
  const build = (named: Record<string, z.ZodType>, io: 'input' | 'output') => {
    const registry = z.registry<{ id: string }>();
    for (const [id, schema] of Object.entries(named)) registry.add(schema, { id });
    const { schemas } = z.toJSONSchema(registry, { io, unrepresentable: 'any', uri: (id) => `#/components/schemas/${id}` });
    return Object.fromEntries(Object.entries(schemas).map(([id, s]) => {
      const { $schema: _s, $id: _i, ...rest } = s as Json;
      return [id, rest];
    }));
  };
  const inputs = build(INPUTS, 'input');
  for (const [name, schema] of Object.entries(inputs)) {
    acceptNull(schema);
    // A PATCH changes only what it sends: the create defaults do not apply.
    if (name.endsWith('Patch')) for (const p of Object.values((schema.properties ?? {}) as Record<string, Json>)) delete p.default;
  }
  return { ...inputs, ...build(OUTPUTS, 'output') };
}

/** Optional fields that accept an empty string also accept null (both clear the field). */
function acceptNull(schema: Json) {
  const props = (schema.properties ?? {}) as Record<string, Json>;
  const required = new Set((schema.required ?? []) as string[]);
  const takesEmpty = (s: Json): boolean =>
    (s.type === 'string' && s.enum === undefined && s.pattern === undefined && !((s.minLength as number) > 0)) ||
    (Array.isArray(s.anyOf) && (s.anyOf as Json[]).some((x) => x.const === '' || x.type === 'null'));
  for (const [name, p] of Object.entries(props)) {
    if (required.has(name) || !takesEmpty(p)) continue;
    if (Array.isArray(p.anyOf)) {
      if (!(p.anyOf as Json[]).some((x) => x.type === 'null')) (p.anyOf as Json[]).push({ type: 'null' });
    } else {
      const { default: dflt, ...rest } = p;
      for (const k of Object.keys(p)) delete p[k];
      Object.assign(p, { anyOf: [rest, { type: 'null' }] }, dflt === undefined ? {} : { default: dflt });
    }
  }
}

/** The query string's parameters, from the same schema the page parses (every one is optional). */
function queryParameters(op: Operation): Json[] {
  if (!op.query) return [];
  const js = z.toJSONSchema(op.query.schema, { io: 'input', unrepresentable: 'any' }) as Json;
  return Object.entries((js.properties ?? {}) as Record<string, Json>).map(([name, schema]) => {
    const s = op.query!.docs?.[name] ?? schema;
    const isArray = (s as Json).type === 'array';
    return { name, in: 'query', required: false, schema: s, ...(isArray ? { style: 'form', explode: true } : {}) };
  });
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Malformed request: JSON that does not parse, or an export parameter or value that is not known (the detail lists the allowed ones)',
  401: 'No valid credentials: a missing, unknown, revoked or expired token, or no session',
  403: 'Not allowed: the policy refuses the action, a read-only token tried to write, or a session request lacks the CSRF header',
  404: 'Not found, or not visible to you (another group\'s record)',
  409: 'Conflict: the record changed since your If-Match ETag, a converted (read-only) lead, or an Idempotency-Key still in progress',
  410: 'Gone: the export file has expired (kept 24 hours)',
  413: 'Too large: the body, a file, or too many files',
  422: 'Validation failed: `errors` lists each field (unknown fields included)',
  415: 'The body is not application/json',
  429: 'Too many requests (for this token, or exports started in the last 10 minutes): see Retry-After',
};

function operationObject(op: Operation): Json {
  const id = { name: 'id', in: 'path', required: true, schema: { type: 'integer', minimum: 1 } };
  const params: Json[] = [...op.path.matchAll(/:(\w+)/g)].map((m) => ({ ...id, name: m[1], ...(op.pathParams?.[m[1]!] ? { schema: op.pathParams[m[1]!] } : {}) }));
  params.push(...queryParameters(op));
  if (op.etag === 'checks') {
    params.push({ name: 'If-Match', in: 'header', required: false, schema: { type: 'string' }, description: 'The ETag you read. If the record changed since, the update is refused with 409. Without it, the update goes ahead.' });
  }
  if (op.idempotent) {
    params.push({ name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', minLength: 1, maxLength: 200 }, description: 'Any unique string. A retry with the same key and body returns the first response (header Idempotent-Replayed: true) instead of creating again; the same key with another body → 422. Kept 24 hours.' });
  }

  const writes = op.method !== 'get';
  const hasBody = !!op.body || !!op.multipart;
  const statuses = new Set(op.errors);
  if (op.guard.policy !== 'public') [401, 429].forEach((s) => statuses.add(s));
  if (writes) statuses.add(403);
  if (op.guard.policy === 'admin') statuses.add(403);
  if (hasBody) [400, 413, 422].forEach((s) => statuses.add(s));
  if (op.body) statuses.add(415);

  const okHeaders: Json = {};
  if (op.etag) okHeaders.ETag = { description: 'The version of the record: send it back in If-Match to update safely', schema: { type: 'string' } };
  if (op.ok.location) okHeaders.Location = { description: 'The new resource', schema: { type: 'string' } };
  if (op.ok.schema?.endsWith('Page')) okHeaders.Link = { description: 'next and prev pages (RFC 8288)', schema: { type: 'string' } };

  const ok: Json = { description: op.ok.description };
  if (Object.keys(okHeaders).length) ok.headers = okHeaders;
  if (op.ok.schema) ok.content = { 'application/json': { schema: ref(op.ok.schema) } };
  if (op.ok.binary) ok.content = { 'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } };

  const responses: Json = { [String(op.ok.status)]: ok };
  for (const s of [...statuses].sort()) responses[String(s)] = { $ref: `#/components/responses/Problem${s}` };

  const out: Json = {
    operationId: op.operationId,
    tags: [op.tag],
    summary: op.summary,
    ...(op.description ? { description: op.description } : {}),
    parameters: params,
    responses,
  };
  if (op.body) out.requestBody = { required: !op.body.optional, content: { 'application/json': { schema: ref(op.body.schema) } } };
  if (op.multipart) {
    out.requestBody = {
      required: true,
      content: {
        'multipart/form-data': {
          schema: { type: 'object', properties: { files: { type: 'array', items: { type: 'string', contentMediaType: 'application/octet-stream' } } }, required: ['files'] },
        },
      },
    };
  }
  if (op.guard.policy === 'public') out.security = [];
  return out;
}

export function buildOpenApi(operations: Operation[]): Json {
  const paths: Record<string, Json> = {};
  for (const op of operations) {
    const p = op.path.replace(/:(\w+)/g, '{$1}');
    (paths[p] ??= {})[op.method] = operationObject(op);
  }
  const problems = Object.fromEntries(
    Object.entries(STATUS_TEXT).map(([s, description]) => [`Problem${s}`, { description, content: { 'application/problem+json': { schema: ref('Problem') } } }]),
  );
  return {
    openapi: '3.1.0',
    info: {
      title: 'Tandem CRM API',
      version: '1',
      description: [
        'The JSON API of Tandem CRM. Authenticate with a personal access token (made on your profile page) as `Authorization: Bearer <token>`;',
        'a read-only token may only read. Same-origin calls with the session cookie work too, with the `x-csrf-token` header on writes.',
        'You see exactly what the pages show you: another group\'s record answers 404. Errors are RFC 9457 problem+json.',
        'Lists take the same filters, sorting and pagination as the pages and answer the total with next/prev links.',
        'Each token may send 600 requests a minute (RateLimit-* headers; 429 with Retry-After beyond).',
      ].join(' '),
    },
    servers: [{ url: '/' }],
    security: [{ bearerToken: [] }, { sessionCookie: [] }],
    tags: [...new Set(operations.map((o) => o.tag))].map((name) => ({ name })),
    paths,
    components: {
      securitySchemes: {
        bearerToken: { type: 'http', scheme: 'bearer', description: 'A personal access token from the profile page' },
        sessionCookie: { type: 'apiKey', in: 'cookie', name: 'tandem.sid', description: 'The browser session (same origin; writes need the x-csrf-token header)' },
      },
      schemas: componentSchemas(),
      responses: problems,
    },
  };
}

/* ---------- the docs page ---------- */

/** A short type label for a schema: "string", "integer | null", "Lead[]", "\"new\" | \"lost\"". */
export function typeLabel(s: Json | undefined): string {
  if (!s) return 'any';
  if (typeof s.$ref === 'string') return s.$ref.split('/').pop()!;
  if (Array.isArray(s.anyOf)) return (s.anyOf as Json[]).map(typeLabel).join(' | ');
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (Array.isArray(s.enum)) return (s.enum as unknown[]).map((v) => JSON.stringify(v)).join(' | ');
  if (s.type === 'array') return `${typeLabel(s.items as Json)}[]`;
  if (Array.isArray(s.type)) return (s.type as string[]).join(' | ');
  if (s.type === 'object' && s.additionalProperties && typeof s.additionalProperties === 'object') return 'object';
  if (typeof s.format === 'string') return `${s.type} (${s.format})`;
  return typeof s.type === 'string' ? s.type : 'any';
}

/** Limits worth a reader's eye: lengths, minimums, defaults. */
function constraints(s: Json): string {
  const parts: string[] = [];
  if (s.minLength !== undefined) parts.push(`min length ${s.minLength}`);
  if (s.maxLength !== undefined) parts.push(`max length ${s.maxLength}`);
  if (typeof s.minimum === 'number' && s.minimum > -1e15) parts.push(`≥ ${s.minimum}`);
  if (typeof s.exclusiveMinimum === 'number') parts.push(`> ${s.exclusiveMinimum}`);
  if (typeof s.maximum === 'number' && s.maximum < 1e15) parts.push(`≤ ${s.maximum}`);
  if (s.default !== undefined) parts.push(`default ${JSON.stringify(s.default)}`);
  if (Array.isArray(s.anyOf)) for (const x of s.anyOf as Json[]) { const c = constraints(x); if (c) parts.push(c); }
  return parts.join(', ');
}

/** What views/api/docs.njk renders: the document, flattened into tables. */
export function docsModel(doc: Json) {
  const paths = doc.paths as Record<string, Record<string, Json>>;
  const components = doc.components as { schemas: Record<string, Json> };
  const byTag = new Map<string, Json[]>();
  for (const [path, methods] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const tag = (op.tags as string[])[0]!;
      const body = op.requestBody as { content: Record<string, { schema: Json }> } | undefined;
      const [mediaType, media] = body ? Object.entries(body.content)[0]! : [undefined, undefined];
      const responses = Object.entries(op.responses as Record<string, Json>).map(([status, r]) => {
        const content = r.content as Record<string, { schema: Json }> | undefined;
        const first = content ? Object.entries(content)[0] : undefined;
        return { status, isProblem: typeof r.$ref === 'string', type: first ? typeLabel(first[1].schema) : '', mediaType: first?.[0] ?? '', description: (r.description as string) ?? '' };
      });
      (byTag.get(tag) ?? byTag.set(tag, []).get(tag)!).push({
        anchor: op.operationId,
        method: method.toUpperCase(),
        path,
        summary: op.summary,
        description: op.description ?? '',
        public: Array.isArray(op.security) && (op.security as unknown[]).length === 0,
        parameters: ((op.parameters ?? []) as Json[]).map((p) => ({
          name: p.name, in: p.in, required: !!p.required, type: typeLabel(p.schema as Json), constraints: constraints(p.schema as Json), description: p.description ?? '',
        })),
        body: media ? { mediaType, type: typeLabel(media.schema), ref: typeof media.schema.$ref === 'string' ? typeLabel(media.schema) : null, required: !!(body as Json & { required?: boolean }).required } : null,
        responses,
      });
    }
  }
  const schemas = Object.entries(components.schemas).map(([name, s]) => {
    const required = new Set((s.required ?? []) as string[]);
    return {
      name,
      properties: Object.entries((s.properties ?? {}) as Record<string, Json>).map(([prop, ps]) => ({ name: prop, type: typeLabel(ps), required: required.has(prop), constraints: constraints(ps) })),
      closed: s.additionalProperties === false,
      json: JSON.stringify(s, null, 2),
    };
  });
  const info = doc.info as Json;
  return { info, tags: [...byTag.entries()].map(([name, operations]) => ({ name, operations })), schemas, problemStatuses: Object.keys(STATUS_TEXT).map((s) => ({ status: s, description: STATUS_TEXT[Number(s)] })) };
}
