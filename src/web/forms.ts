import type { Request, Response } from 'express';
import type { z } from 'zod';
import { ValidationError, type FieldErrors } from './errors.js';

/**
 * Turns zod issues into per-field i18n keys. Schemas give explicit keys (`validation.*`) where the
 * default would be unclear; otherwise the issue code picks a generic message.
 */
export function fieldErrors(error: z.ZodError): FieldErrors {
  const out: FieldErrors = {};
  for (const issue of error.issues) {
    const field = String(issue.path[0] ?? '_form');
    if (out[field]) continue;
    if (issue.message.startsWith('validation.')) {
      out[field] = { key: issue.message, params: 'minimum' in issue ? { min: issue.minimum } : 'maximum' in issue ? { max: issue.maximum } : {} };
    } else if (issue.code === 'too_small') {
      out[field] = Number(issue.minimum) <= 1 && issue.origin === 'string' ? { key: 'validation.required' } : { key: 'validation.tooShort', params: { min: issue.minimum } };
    } else if (issue.code === 'too_big') {
      out[field] = { key: 'validation.tooLong', params: { max: issue.maximum } };
    } else if (issue.code === 'invalid_format' && issue.format === 'email') {
      out[field] = { key: 'validation.email' };
    } else if (issue.code === 'invalid_type' && issue.input === undefined) {
      out[field] = { key: 'validation.required' };
    } else {
      out[field] = { key: 'validation.invalid' };
    }
  }
  return out;
}

/** Parses input with a schema or throws ValidationError carrying per-field messages. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input ?? {});
  if (!result.success) throw new ValidationError(fieldErrors(result.error));
  return result.data;
}

/** What the user typed, to put back into the form: never a password, never the CSRF token. */
export function keptValues(body: unknown): Record<string, unknown> {
  if (!body || typeof body !== 'object') return {};
  return Object.fromEntries(
    Object.entries(body as Record<string, unknown>).filter(([k]) => !/password|^_csrf$/i.test(k)),
  );
}

type Handler = (req: Request, res: Response) => Promise<unknown> | unknown;

/**
 * Wraps a form's POST handler: a ValidationError re-renders the form with status 422, the values kept and
 * each field's message, so every form in the app behaves the same way on bad input.
 */
export function formHandler(view: string, handler: Handler, locals: (req: Request, res: Response) => Promise<object> | object = () => ({})) {
  return async (req: Request, res: Response) => {
    try {
      await handler(req, res);
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      // locals may override `values` (a page with two forms keeps the other form's stored values).
      res.status(422).render(view, { values: keptValues(req.body), ...(await locals(req, res)), errors: err.fields });
    }
  };
}
