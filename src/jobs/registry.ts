import type { Services } from '../services.js';
import { registerMaintenanceJobs } from './maintenance.js';
import { registerFileJobs } from '../modules/files/files.jobs.js';
import { registerNotificationJobs } from '../modules/notifications/notifications.jobs.js';
import { registerExportJobs } from '../modules/exports/exports.jobs.js';

/** Every job of the app. Feature modules add theirs here (their <feature>.jobs.ts). */
export function registerJobs(services: Services) {
  registerMaintenanceJobs(services);
  registerFileJobs(services);
  registerNotificationJobs(services);
  registerExportJobs(services);
}
