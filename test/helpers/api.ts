import request from 'supertest';
import type { Express } from 'express';
import { expect } from 'vitest';
import type { Services } from '../../src/services.js';
import { USERS, type ActorName } from './fixture.js';

/**
 * Helpers of the API tests (test/api*.test.ts): tokens, Bearer requests, and a small JSON Schema validator
 * for what the OpenAPI document uses, so a response can be checked against its documented schema.
 */

export type Json = Record<string, unknown>;
export interface OpenApi {
  openapi: string;
  paths: Record<string, Record<string, Json>>;
  components: { schemas: Record<string, Json>; responses: Record<string, Json> };
}

export async function tokenOf(services: Services, actor: Exclude<ActorName, 'anonymous'>, scope: 'read' | 'write' = 'write', expiresIn: '7' | '30' | 'never' = '30') {
  const { secret } = await services.tokens.create({ id: USERS[actor].id }, { tokenName: `${actor} ${scope}`, scope, expiresIn });
  return secret;
}

/** Requests with `Authorization: Bearer`. */
export function bearer(app: Express, token: string) {
  const auth = (r: request.Test) => r.set('Authorization', `Bearer ${token}`);
  const must = (url: string | undefined) => {
    if (!url) throw new Error('no URL');
    return url;
  };
  return {
    get: (url: string | undefined) => auth(request(app).get(must(url))),
    post: (url: string | undefined, body?: object) => (body === undefined ? auth(request(app).post(must(url))) : auth(request(app).post(must(url))).send(body)),
    patch: (url: string | undefined, body: object, headers: Record<string, string> = {}) => auth(request(app).patch(must(url))).set(headers).send(body),
    delete: (url: string | undefined) => auth(request(app).delete(must(url))),
    upload: (url: string) => auth(request(app).post(url)),
  };
}

const isType = (type: string, v: unknown) =>
  type === 'null' ? v === null
    : type === 'integer' ? Number.isInteger(v)
    : type === 'number' ? typeof v === 'number'
    : type === 'array' ? Array.isArray(v)
    : type === 'object' ? !!v && typeof v === 'object' && !Array.isArray(v)
    : typeof v === type;

export function schemaChecks(doc: OpenApi) {
  /** Validates a value against a schema of the document: type, enum, const, anyOf, $ref, properties, items, limits, patterns. */
  function validate(schema: Json, value: unknown, path = '$'): string[] {
    if (typeof schema.$ref === 'string') return validate(doc.components.schemas[schema.$ref.split('/').pop()!]!, value, path);
    if (Array.isArray(schema.anyOf)) {
      return (schema.anyOf as Json[]).some((s) => validate(s, value, path).length === 0) ? [] : [`${path}: matches none of ${JSON.stringify(schema.anyOf)}`];
    }
    if (schema.type !== undefined) {
      const types = ([] as string[]).concat(schema.type as string);
      if (!types.some((ty) => isType(ty, value))) return [`${path}: expected ${types.join('|')}, got ${JSON.stringify(value)}`];
    }
    const errors: string[] = [];
    if (schema.const !== undefined && value !== schema.const) errors.push(`${path}: expected ${JSON.stringify(schema.const)}`);
    if (Array.isArray(schema.enum) && !schema.enum.includes(value)) errors.push(`${path}: ${JSON.stringify(value)} not in enum`);
    if (typeof value === 'string') {
      if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value)) errors.push(`${path}: does not match ${schema.pattern}`);
      if (typeof schema.maxLength === 'number' && value.length > schema.maxLength) errors.push(`${path}: too long`);
      if (typeof schema.minLength === 'number' && value.length < schema.minLength) errors.push(`${path}: too short`);
      if (schema.format === 'date-time' && Number.isNaN(Date.parse(value))) errors.push(`${path}: not a date-time`);
    }
    if (typeof value === 'number') {
      if (typeof schema.minimum === 'number' && value < schema.minimum) errors.push(`${path}: below minimum`);
      if (typeof schema.maximum === 'number' && value > schema.maximum) errors.push(`${path}: above maximum`);
    }
    if (Array.isArray(value) && schema.items) value.forEach((v, i) => errors.push(...validate(schema.items as Json, v, `${path}[${i}]`)));
    if (isType('object', value)) {
      const obj = value as Json;
      const props = (schema.properties ?? {}) as Record<string, Json>;
      for (const r of (schema.required ?? []) as string[]) if (!(r in obj)) errors.push(`${path}.${r}: missing`);
      for (const [k, v] of Object.entries(obj)) {
        if (props[k]) errors.push(...validate(props[k]!, v, `${path}.${k}`));
        else if (schema.additionalProperties === false) errors.push(`${path}.${k}: not in the schema`);
        else if (schema.additionalProperties && typeof schema.additionalProperties === 'object') errors.push(...validate(schema.additionalProperties as Json, v, `${path}.${k}`));
      }
    }
    return errors;
  }

  /** The response matches the schema the document gives for this operation and status (problem+json included). */
  function expectDocumented(res: request.Response, method: string, path: string) {
    const op = doc.paths[path]?.[method];
    expect(op, `${method} ${path} is documented`).toBeTruthy();
    let response = (op!.responses as Record<string, Json>)[String(res.status)];
    expect(response, `${method} ${path} documents ${res.status}`).toBeTruthy();
    if (typeof response!.$ref === 'string') response = doc.components.responses[response!.$ref.split('/').pop()!];
    const content = response!.content as Record<string, { schema: Json }> | undefined;
    if (!content) return;
    const [type, media] = Object.entries(content)[0]!;
    expect(res.headers['content-type']).toContain(type);
    if (type.includes('json')) expect(validate(media.schema, res.body)).toEqual([]);
  }

  return { validate, expectDocumented };
}
