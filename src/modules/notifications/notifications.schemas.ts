import { z } from 'zod';
import { NOTIFICATION_KINDS } from './notifications.messages.js';

/**
 * The profile's email settings: one checkbox `email` per kind; the kinds sent are on, the others off.
 * Unknown values are ignored (an old form, a hand-made request), never an error.
 */
export const emailSettingsInput = z.object({
  email: z
    .union([z.string(), z.array(z.string())])
    .optional()
    .transform((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]))
    .transform((list) => NOTIFICATION_KINDS.filter((k) => list.includes(k))),
});
