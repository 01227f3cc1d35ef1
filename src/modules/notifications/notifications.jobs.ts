import { z } from 'zod';
import type { Services } from '../../services.js';
import { DELIVER_JOB } from './notifications.service.js';

/**
 * notifications.deliver { notificationId }: emails a notification to its user (see the delivery guarantee in
 * notifications.service.ts). The same handler runs on BullMQ workers and in the in-process engine.
 */
export function registerNotificationJobs(services: Services) {
  services.jobs.define(DELIVER_JOB, {
    schema: z.object({ notificationId: z.number().int().positive() }).strict(),
    handler: ({ notificationId }) => services.notifications.deliver(notificationId),
  });
}
