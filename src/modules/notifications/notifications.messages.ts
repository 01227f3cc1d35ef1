import type { TFunction } from 'i18next';
import { NOTIFICATION_KINDS } from '../../db/schema/index.js';

export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];
export { NOTIFICATION_KINDS };

/**
 * What a notification says, as an i18n key and its parameters. The row stores only data (names as they were
 * at the time of the event); the words come from the reader's language when the page or the email is made.
 */
export interface Message {
  key: string;
  params: { actor: string; name: string; group: string; excerpt: string; rows: number };
}

export function messageOf(n: { kind: string; data: Record<string, unknown> }): Message {
  const d = n.data ?? {};
  const record = d.recordKind === 'client' ? 'Client' : 'Lead';
  const params = {
    actor: str(d.actorName),
    name: str(d.recordName),
    group: str(d.groupName),
    excerpt: str(d.excerpt),
    rows: typeof d.rows === 'number' ? d.rows : 0,
  };
  switch (n.kind) {
    case 'assigned':
      return { key: `notifications.text.assigned${record}`, params };
    case 'commented':
      return { key: `notifications.text.commented${record}`, params };
    case 'added_to_group':
      return { key: `notifications.text.addedToGroup${d.role === 'manager' ? 'AsManager' : ''}`, params };
    case 'export_ready':
      return { key: d.status === 'failed' ? 'notifications.text.exportFailed' : 'notifications.text.exportReady', params };
    default:
      return { key: 'notifications.text.unknown', params };
  }
}

/** The email of a notification, in the recipient's language: a subject and a plain-text body with the link. */
export function mailOf(
  t: TFunction,
  n: { kind: string; data: Record<string, unknown>; link: string | null },
  recipient: { name: string },
  appUrl: string,
): { subject: string; text: string } {
  const base = appUrl.replace(/\/+$/, '');
  const { key, params } = messageOf(n);
  const message = t(key, params);
  // A comment's first words travel with it, quoted the way mail clients quote; an export says how long it is kept.
  const details = params.excerpt
    ? `\n\n> ${params.excerpt.replace(/\n/g, '\n> ')}`
    : key === 'notifications.text.exportReady'
      ? `\n${t('notifications.mail.exportKept')}`
      : '';
  const link = `${base}${n.link ?? '/notifications'}`;
  return {
    subject: t('notifications.mail.subject', { message: oneLine(message) }),
    text: t('notifications.mail.body', { name: recipient.name, message, details, link, settings: `${base}/profile#notification-settings` }),
  };
}

const str = (v: unknown) => (typeof v === 'string' ? v : v == null ? '' : String(v));
/** Subjects are one line and not too long (a comment excerpt can be 140 characters). */
const oneLine = (s: string) => {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > 150 ? `${flat.slice(0, 149)}…` : flat;
};
