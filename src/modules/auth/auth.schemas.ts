import { z } from 'zod';
import { isCommonPassword } from '../../lib/passwords.js';
import { LOCALES } from '../../lib/i18n.js';

export const email = z
  .string()
  .trim()
  .min(1, 'validation.required')
  .max(254)
  .pipe(z.email('validation.email'))
  .transform((e) => e.toLowerCase());

export const name = z.string().trim().min(1, 'validation.required').max(120);

/** 8–128 characters, not in the common-password list; no composition rules (NIST SP 800-63B). */
export const newPassword = z
  .string()
  .min(8, 'validation.passwordTooShort')
  .max(128, 'validation.passwordTooLong')
  .refine((p) => !isCommonPassword(p), 'validation.passwordCommon');

const confirmed = <T extends { password: string; passwordConfirm: string }>(v: T, ctx: z.RefinementCtx) => {
  if (v.password !== v.passwordConfirm) ctx.addIssue({ code: 'custom', path: ['passwordConfirm'], message: 'validation.passwordMismatch' });
};

export const registerSchema = z
  .object({ name, email, password: newPassword, passwordConfirm: z.string() })
  .superRefine(confirmed);

export const loginSchema = z.object({
  email: z.string().trim().min(1, 'validation.required').max(254).transform((e) => e.toLowerCase()),
  password: z.string().min(1, 'validation.required').max(1024),
});

export const forgotSchema = z.object({ email });

export const resetSchema = z.object({ password: newPassword, passwordConfirm: z.string() }).superRefine(confirmed);

export const profileSchema = z.object({ name, email, locale: z.enum(LOCALES, 'validation.invalid') });

export const changePasswordSchema = z
  .object({ currentPassword: z.string().min(1, 'validation.required').max(1024), password: newPassword, passwordConfirm: z.string() })
  .superRefine(confirmed);

export const languageSchema = z.object({ locale: z.enum(LOCALES), next: z.string().optional() });
