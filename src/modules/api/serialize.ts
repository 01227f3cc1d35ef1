import type { Lead as LeadRow } from '../leads/leads.repository.js';
import type { Client as ClientRow } from '../clients/clients.repository.js';
import type { LeadsService } from '../leads/leads.service.js';
import type { ClientsService } from '../clients/clients.service.js';
import type { GroupsService } from '../groups/groups.service.js';
import type { CommentsService } from '../records/comments.js';
import type { FileItem } from '../files/files.service.js';
import type { DashboardService } from '../dashboard/dashboard.service.js';
import type { Out } from './schemas.js';

/** Builders of the JSON the API emits: each returns exactly its documented schema (see schemas.ts). */

const iso = (d: Date) => d.toISOString();
const isoOrNull = (d: Date | null | undefined) => (d ? d.toISOString() : null);

type LeadListItem = Awaited<ReturnType<LeadsService['list']>>['items'][number];
type LeadDetail = Awaited<ReturnType<LeadsService['get']>>;
type ClientListItem = Awaited<ReturnType<ClientsService['list']>>['items'][number];
type ClientDetail = Awaited<ReturnType<ClientsService['get']>>;
type GroupListItem = Awaited<ReturnType<GroupsService['list']>>[number];
type GroupDetail = Awaited<ReturnType<GroupsService['get']>>;
type CommentListItem = Awaited<ReturnType<CommentsService['listFor']>>[number];
type DashboardData = Awaited<ReturnType<DashboardService['get']>>;

type Source = Out<'Lead'>['source'];

export function leadSummary(l: LeadListItem): Out<'LeadSummary'> {
  return {
    id: l.id, groupId: l.groupId, groupName: l.groupName, ownerId: l.ownerId, ownerName: l.ownerName, firstName: l.firstName, lastName: l.lastName,
    email: l.email, phone: l.phone, company: l.company, source: l.source as Source, status: l.status, value: l.value, clientId: l.clientId,
    createdAt: iso(l.createdAt), updatedAt: iso(l.updatedAt),
  };
}

export function lead(d: Pick<LeadDetail, 'lead' | 'groupName' | 'ownerName' | 'creatorName'>): Out<'Lead'> {
  const l: LeadRow = d.lead;
  return {
    ...leadSummary({ ...l, groupName: d.groupName, ownerName: d.ownerName }),
    createdById: l.createdById,
    creatorName: d.creatorName,
    description: l.description,
    convertedAt: isoOrNull(l.convertedAt),
    lastActivityAt: iso(l.lastActivityAt),
  };
}

export function clientSummary(c: ClientListItem): Out<'ClientSummary'> {
  return {
    id: c.id, name: c.name, company: c.company, email: c.email, phone: c.phone, status: c.status, groupName: c.groupName, ownerName: c.ownerName,
    leadId: c.leadId, createdAt: iso(c.createdAt),
  };
}

export function client(d: Pick<ClientDetail, 'client' | 'groupName' | 'ownerName'>): Out<'Client'> {
  const c: ClientRow = d.client;
  return {
    id: c.id, groupId: c.groupId, groupName: d.groupName, ownerId: c.ownerId, ownerName: d.ownerName, createdById: c.createdById,
    name: c.name, company: c.company, email: c.email, phone: c.phone, address: c.address, website: c.website, status: c.status, notes: c.notes,
    leadId: c.leadId, createdAt: iso(c.createdAt), updatedAt: iso(c.updatedAt),
  };
}

export function groupSummary(g: GroupListItem): Out<'GroupSummary'> {
  return { id: g.id, name: g.name, description: g.description, visibility: g.visibility, memberCount: g.memberCount };
}

export function group(d: GroupDetail): Out<'Group'> {
  const g = d.group;
  return {
    id: g.id, name: g.name, description: g.description, visibility: g.visibility, createdAt: iso(g.createdAt), updatedAt: iso(g.updatedAt),
    roster: d.roster.map(member),
  };
}

export function member(m: GroupDetail['roster'][number]): Out<'Member'> {
  return { userId: m.userId, name: m.name, email: m.email, active: m.active, role: m.role };
}

export function comment(c: Pick<CommentListItem, 'id' | 'body' | 'authorId' | 'authorName' | 'createdAt' | 'editedAt'>): Out<'Comment'> {
  return { id: c.id, body: c.body, authorId: c.authorId, authorName: c.authorName, createdAt: iso(c.createdAt), editedAt: isoOrNull(c.editedAt) };
}

/** A file; `status` is pending until the background check has run (the content is downloadable once ready). */
export function file(f: FileItem & { status?: Out<'FileMeta'>['status'] }): Out<'FileMeta'> {
  return {
    id: f.id, name: f.originalName, size: f.size, mimeType: f.mimeType, status: f.status ?? 'ready', uploaderId: f.uploaderId, uploaderName: f.uploaderName,
    createdAt: iso(f.createdAt), downloadUrl: `/api/v1/files/${f.id}/content`,
  };
}

export function activity(a: { id: number; action: string; data: Record<string, unknown>; actorName: string | null; leadId: number | null; clientId: number | null; createdAt: Date }): Out<'Activity'> {
  return { id: a.id, action: a.action, data: a.data, actorName: a.actorName, leadId: a.leadId, clientId: a.clientId, createdAt: iso(a.createdAt) };
}

export function dashboard(d: DashboardData, group: number | undefined): Out<'Dashboard'> {
  const c = d.cards;
  return {
    group: group ?? null,
    figures: {
      openLeads: c.open.n,
      newLeadsThisWeek: c.newThisWeek.n,
      newLeadsPrevWeek: c.newThisWeek.prev,
      newLeadsThisMonth: c.newThisMonth.n,
      newLeadsPrevMonth: c.newThisMonth.prev,
      clients: c.clients.n,
      newClientsThisMonth: c.clients.newThisMonth,
      staleLeads: c.stale.n,
      conversion30: { rate: c.conversion30.rate, converted: c.conversion30.converted, created: c.conversion30.created },
      conversion90: { rate: c.conversion90.rate, converted: c.conversion90.converted, created: c.conversion90.created },
    },
    funnel: d.funnel.map((f) => ({ status: f.status as Out<'Lead'>['status'], count: f.n, value: f.value })),
    weeks: d.weeks.map((w) => ({ start: w.start, leads: w.leads, clients: w.clients })),
    owners: d.owners.map((o) => ({ ownerId: o.ownerId, ownerName: o.ownerName, open: o.open, converted: o.converted, lost: o.lost })),
  };
}
