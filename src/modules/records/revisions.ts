import type { Actor } from '../access/policy.js';

const parsed = new WeakMap<Actor, Map<number, string>>();

/**
 * The revision of the given groups' leads and clients (all the actor sees when `groupIds` is undefined), from
 * what the signed-in user's query read before anything else of the request (actor.groupRevisions): a value
 * computed afterwards and stored under it is never older than it says. Undefined when the actor came without
 * revisions (API tokens): callers then read the revision or skip their cache.
 */
export function scopeRevision(actor: Actor, groupIds?: number[]): string | undefined {
  const all = actor.groupRevisions;
  if (all === undefined || !groupIds) return all;
  let byGroup = parsed.get(actor);
  if (!byGroup) parsed.set(actor, (byGroup = revisionsByGroup(all)));
  // As the database spells it (dashboard.repository.ts, revision): groups without a revision are left out.
  return [...groupIds].sort((a, b) => a - b).flatMap((g) => (byGroup.has(g) ? [`${g}:${byGroup.get(g)}`] : [])).join(',');
}

/** Each group's revision in a scope revision as scopeRevision spells it ("1:17,4:20"). */
export const revisionsByGroup = (spelled: string): Map<number, string> =>
  new Map(spelled ? spelled.split(',').map((e) => e.split(':') as [string, string]).map(([g, r]) => [Number(g), r]) : []);

/** The groups a list filtered to `group` can show (every group in the actor's scope without one), for scopeRevision. */
export const groupsOf = (group: number | undefined) => (group ? [group] : undefined);

/**
 * scopeRevision with the directory's revision after it, for values that also show or sort by names (owners,
 * groups), which move with the directory. Undefined when either is missing.
 */
export function namedScopeRevision(actor: Actor, groupIds?: number[]): string | undefined {
  const scope = scopeRevision(actor, groupIds);
  return scope === undefined || actor.directoryRevision === undefined ? undefined : `${scope}|${actor.directoryRevision}`;
}

/**
 * A value per key, recomputed when the revision it was computed under moves or after `ttlMs`. Per process:
 * every request brings the current revision from PostgreSQL, so no process serves a value older than a change.
 * Misses for the same key and revision share one computation; past `maxEntries` the least recently used goes.
 */
export function revisionMemo<T>(opts: { ttlMs: number; maxEntries: number }) {
  const entries = new Map<string, { revision: string; at: number; value: Promise<T> }>();
  /** The kept value, if there is one for this revision and it is young enough. */
  const peek = (key: string, revision: string, now = Date.now()): Promise<T> | undefined => {
    const hit = entries.get(key);
    if (!hit || hit.revision !== revision || now - hit.at >= opts.ttlMs) return undefined;
    // Used again: last to go (least recently used first).
    entries.delete(key);
    entries.set(key, hit);
    return hit.value;
  };
  const memo = (key: string, revision: string, compute: () => Promise<T>, now = Date.now()): Promise<T> => {
    const hit = peek(key, revision, now);
    if (hit) return hit;
    const value = compute();
    entries.delete(key);
    if (entries.size >= opts.maxEntries) entries.delete(entries.keys().next().value!);
    const entry = { revision, at: now, value };
    entries.set(key, entry);
    value.catch(() => entries.get(key) === entry && entries.delete(key));
    return value;
  };
  return Object.assign(memo, { peek });
}
