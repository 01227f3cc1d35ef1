import { z } from 'zod';
import { pageQuery } from '../../lib/pagination.js';

const flag = z.enum(['yes', 'no']).optional().catch(undefined);

export const userListQuery = pageQuery.extend({
  q: z.string().trim().max(200).optional().catch(undefined),
  active: flag,
  admin: flag,
});
export type UserListQuery = z.infer<typeof userListQuery>;

export const setActiveSchema = z.object({ active: z.enum(['true', 'false']).transform((v) => v === 'true') });
export const setAdminSchema = z.object({ admin: z.enum(['true', 'false']).transform((v) => v === 'true') });
