import { z } from 'zod';
import type { Services } from '../../services.js';
import { DELIVER_JOB } from './notifications.service.js';

/**
 * Mails in flight at once per process. A send holds a database connection (the notification's row lock) while
 * the SMTP server answers; the worker runs 32 notification jobs at once (most of them find nothing to send),
 * and a slow mail server must not take the whole pool from the other queues' jobs.
 */
export const SENDING_AT_ONCE = 4;

/** Runs at most `n` of the functions given at once; the others wait their turn (first come, first served). */
export function limiter(n: number) {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active < n) active++;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await fn();
    } finally {
      // The slot passes straight to the next in line, so a newcomer cannot slip in between.
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  };
}

/**
 * notifications.deliver { notificationId }: emails a notification to its user (see the delivery guarantee in
 * notifications.service.ts). The same handler runs on BullMQ workers and in the in-process engine.
 */
export function registerNotificationJobs(services: Services) {
  const sending = limiter(SENDING_AT_ONCE);
  services.jobs.define(DELIVER_JOB, {
    schema: z.object({ notificationId: z.number().int().positive() }).strict(),
    async handler({ notificationId }) {
      await services.notifications.deliver(notificationId, sending);
    },
  });
}
