import { z } from 'zod';
import { TOKEN_SCOPES } from '../../db/schema/index.js';

/** Lifetimes offered on the profile page, in days; "never" means no expiry. */
export const TOKEN_EXPIRY = ['7', '30', '90', '365', 'never'] as const;

/** `tokenName`, not `name`: the form sits on the profile page beside the profile's own name field. */
export const tokenInput = z.object({
  tokenName: z.string().trim().min(1, 'validation.required').max(100),
  scope: z.enum(TOKEN_SCOPES, 'validation.invalid').default('read'),
  expiresIn: z.enum(TOKEN_EXPIRY, 'validation.invalid').default('90'),
});
export type TokenInput = z.output<typeof tokenInput>;
