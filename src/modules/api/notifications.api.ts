import type { Response } from 'express';
import { z } from 'zod';
import type { Services } from '../../services.js';
import { pageQuery } from '../../lib/pagination.js';
import { requireUser } from '../../web/guards.js';
import { idParam } from '../../web/params.js';
import type { Message } from '../notifications/notifications.messages.js';
import type { Notification as Row } from '../notifications/notifications.repository.js';
import { pageReply, type ApiRouter } from './http.js';
import { listQueryDocs } from './leads.api.js';
import type { Out } from './schemas.js';

/** The notifications page's query, plus `unread` (the page shows all; the bell's readers want only new ones). */
const notificationListQuery = pageQuery.extend({
  unread: z.enum(['1', 'true', '0', 'false']).optional().catch(undefined).transform((v) => v === '1' || v === 'true'),
});

const notification = (res: Response, n: Row & { message: Message }): Out<'Notification'> => ({
  id: n.id,
  kind: n.kind as Out<'Notification'>['kind'],
  message: res.locals.t(n.message.key, n.message.params),
  data: n.data ?? {},
  link: n.link,
  read: n.readAt !== null,
  readAt: n.readAt ? n.readAt.toISOString() : null,
  createdAt: n.createdAt.toISOString(),
});

/**
 * The caller's own notifications, through the same service as the notifications page: every query is scoped
 * to the user, so another user's notification id answers 404.
 */
export function notificationsApi(api: ApiRouter, services: Services) {
  const { notifications } = services;

  api.add(
    {
      method: 'get', path: '/api/v1/notifications', operationId: 'listNotifications', tag: 'Notifications', summary: 'List your notifications', guard: requireUser,
      description: 'Newest first, paginated like the other lists. `unread=1` keeps only the unread ones. Reading the list marks nothing read.',
      query: { schema: notificationListQuery, docs: { ...listQueryDocs, unread: { type: 'string', enum: ['1', 'true', '0', 'false'], default: '0' } } },
      ok: { status: 200, description: 'A page of notifications', schema: 'NotificationPage' }, errors: [],
    },
    async (req, res) => {
      const q = notificationListQuery.parse(req.query);
      const { items, total } = await notifications.listFiltered(req.user!.id, q, { unread: q.unread });
      return pageReply(req, res, items.map((n) => notification(res, n)), total, q);
    },
  );

  api.add(
    {
      method: 'get', path: '/api/v1/notifications/unread-count', operationId: 'countUnreadNotifications', tag: 'Notifications', summary: 'How many are unread',
      description: 'The exact number (the bell in the pages shows "99+" beyond 99).', guard: requireUser,
      ok: { status: 200, description: 'The count', schema: 'UnreadCount' }, errors: [],
    },
    async (req) => ({ body: { unread: await notifications.unreadTotal(req.user!.id) } }),
  );

  api.add(
    {
      method: 'post', path: '/api/v1/notifications/read-all', operationId: 'markAllNotificationsRead', tag: 'Notifications', summary: 'Mark all read', guard: requireUser,
      ok: { status: 200, description: 'How many were unread and are now read', schema: 'MarkedRead' }, errors: [],
    },
    async (req) => ({ body: { marked: await notifications.markAllRead(req.user!.id) } }),
  );

  api.add(
    {
      method: 'post', path: '/api/v1/notifications/:id/read', operationId: 'markNotificationRead', tag: 'Notifications', summary: 'Mark one read', guard: requireUser,
      description: 'Yours only: anyone else\'s notification answers 404. Marking a read one again keeps its first read time.',
      ok: { status: 204, description: 'Marked read' }, errors: [404],
    },
    async (req) => {
      await notifications.open(req.user!.id, idParam(req.params.id));
      return { status: 204 };
    },
  );
}
