import { z } from 'zod';

export const groupSchema = z.object({
  name: z.string().trim().min(1, 'validation.required').max(120),
  description: z.string().trim().max(2000).default(''),
  visibility: z.enum(['all', 'own'], 'validation.invalid').default('all'),
});

export const addMemberSchema = z
  .object({
    userId: z.coerce.number().int().positive().optional().catch(undefined),
    email: z.string().trim().toLowerCase().max(254).optional(),
    role: z.enum(['manager', 'member'], 'validation.invalid').default('member'),
  })
  .refine((v) => v.userId || v.email, { path: ['email'], message: 'validation.required' });

export const memberRoleSchema = z.object({ role: z.enum(['manager', 'member'], 'validation.invalid') });

export const deleteGroupSchema = z.object({
  confirmName: z.string().trim().max(200),
  records: z.enum(['move', 'delete']).optional(),
  targetGroupId: z.coerce.number().int().positive().optional().catch(undefined),
});

// The search box is the form's email field, so htmx sends its text as `email`.
export const candidatesQuery = z.object({ email: z.string().trim().max(200).catch('') });
