/** Queue names in one place. A job's name says which queue it goes to (its prefix). */
export const QUEUES = ['files', 'notifications', 'exports', 'maintenance'] as const;
export type QueueName = (typeof QUEUES)[number];

export const queueOf = (jobName: string): QueueName => {
  const q = jobName.split('.')[0] as QueueName;
  if (!QUEUES.includes(q)) throw new Error(`job ${jobName} names no known queue`);
  return q;
};

/** Default options: 5 attempts, exponential backoff from 2 s, completed and failed jobs kept for a while. */
export const DEFAULT_ATTEMPTS = 5;
export const BACKOFF_MS = 2000;
export const defaultJobOptions = {
  attempts: DEFAULT_ATTEMPTS,
  backoff: { type: 'exponential' as const, delay: BACKOFF_MS },
  removeOnComplete: { age: 24 * 3600, count: 1000 },
  removeOnFail: { age: 7 * 24 * 3600 },
};
