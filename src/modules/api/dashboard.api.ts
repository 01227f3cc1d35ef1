import { z } from 'zod';
import type { Services } from '../../services.js';
import { requireUser } from '../../web/guards.js';
import type { ApiRouter } from './http.js';
import * as S from './serialize.js';

/** The dashboard page's query: one group, or all of yours. */
const dashboardQuery = z.object({ group: z.coerce.number().int().positive().optional().catch(undefined) });

export function dashboardApi(api: ApiRouter, services: Services) {
  api.add(
    {
      method: 'get', path: '/api/v1/dashboard', operationId: 'getDashboard', tag: 'Dashboard', summary: 'Dashboard figures', guard: requireUser,
      description: 'The figures of the dashboard page, counted over exactly what the lists show you: for one group (`group`) or all of yours.',
      query: { schema: dashboardQuery },
      ok: { status: 200, description: 'The figures', schema: 'Dashboard' }, errors: [404],
    },
    async (req) => {
      const { group } = dashboardQuery.parse(req.query);
      return { body: S.dashboard(await services.dashboard.get(req.actor!, group), group) };
    },
  );
}
