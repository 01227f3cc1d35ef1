/** Typed errors thrown by services; the one error handler maps them to a page or problem+json. */
export class AppError extends Error {
  /** Where the user can go next (the error page shows it as a link; problem+json as `links`). */
  action?: { href: string; labelKey: string };

  constructor(
    readonly status: number,
    /** An i18n key for the message shown to the user. */
    readonly messageKey: string,
    readonly params: Record<string, unknown> = {},
  ) {
    super(messageKey);
    this.name = new.target.name;
  }

  withAction(href: string, labelKey: string): this {
    this.action = { href, labelKey };
    return this;
  }
}

export class NotFoundError extends AppError {
  constructor() {
    super(404, 'errors.notFound');
  }
}

export class ForbiddenError extends AppError {
  constructor(messageKey = 'errors.forbidden') {
    super(403, messageKey);
  }
}

export class ConflictError extends AppError {
  constructor(messageKey: string, params: Record<string, unknown> = {}) {
    super(409, messageKey, params);
  }
}

export class TooManyRequestsError extends AppError {
  constructor(
    readonly retryAfterSeconds: number,
    messageKey = 'errors.tooManyRequests',
  ) {
    super(429, messageKey, { minutes: Math.max(1, Math.ceil(retryAfterSeconds / 60)) });
  }
}

/** Per-field messages as i18n keys (with params), keyed by field name. */
export type FieldErrors = Record<string, { key: string; params?: Record<string, unknown> }>;

export class ValidationError extends AppError {
  constructor(readonly fields: FieldErrors) {
    super(422, 'errors.validation');
  }
}

export class CsrfError extends AppError {
  constructor() {
    super(403, 'errors.csrf');
  }
}
