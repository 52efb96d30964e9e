/**
 * Thing-group control-plane calls in the AWS IoT REST shapes: CreateThingGroup, DescribeThingGroup,
 * UpdateThingGroup, DeleteThingGroup, ListThingGroups, AddThingToThingGroup,
 * RemoveThingFromThingGroup, UpdateThingGroupsForThing, ListThingsInThingGroup,
 * ListThingGroupsForThing. Membership changes reach continuous jobs through targets.ts.
 */
import { createHash } from 'node:crypto';
import type { Result } from '../types';
import { checkBody, str } from './fields';
import { groupNameCheck, groupTagsCheck, thingGroupPropertiesCheck } from './job-fields';
import type { GroupRecord } from '../registry/groups';
import { badRequest, ctlTime, err, groupArn, notFound } from './jobs';
import type { Names } from './jobs';
import { serviceError } from './options';
import { membershipChanged } from './targets';
import { validThing } from './validate';
import type { World } from './world';

type Obj = Record<string, unknown>;
type Props = { thingGroupDescription?: string; attributePayload?: { attributes?: Record<string, string>; merge?: boolean } };

const ARN_NAME = /^arn:aws[a-z-]*:iot:[a-z0-9-]*:\d*:(thing|thinggroup)\/(.+)$/;

function groupId(name: string): string {
  return createHash('sha256').update(`thinggroup:${name}`).digest('hex').slice(0, 36).replace(/^(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-');
}

export function createThingGroup(w: World, n: Names, name: string, b: Obj): Result<Obj> {
  const bad = checkBody(
    { thingGroupName: name, ...b },
    { fields: { thingGroupName: groupNameCheck, parentGroupName: groupNameCheck, thingGroupProperties: thingGroupPropertiesCheck, tags: groupTagsCheck } },
  );
  if (bad !== undefined) return err(bad);
  const parent = b.parentGroupName as string | undefined;
  const refused = w.groups.refuseCreate(name, parent);
  if (refused !== undefined) return err(serviceError(refused.name, refused.name === 'ResourceAlreadyExistsException' ? 409 : 400, refused.message));
  const props = (b.thingGroupProperties ?? {}) as Props;
  const g: GroupRecord = {
    name,
    arn: groupArn(n, name),
    id: groupId(name),
    createdAtMs: w.now(),
    children: new Set(),
    things: new Set(),
    version: 1,
    attributes: { ...(props.attributePayload?.attributes ?? {}) },
    ...(parent !== undefined ? { parent } : {}),
    ...(props.thingGroupDescription !== undefined ? { description: props.thingGroupDescription } : {}),
    ...(Array.isArray(b.tags) ? { tags: b.tags as GroupRecord['tags'] } : {}),
  };
  w.groups.add(g);
  return { ok: true, value: { thingGroupName: name, thingGroupArn: g.arn, thingGroupId: g.id } };
}

function group(w: World, name: string): Result<GroupRecord> {
  if (groupNameCheck(name, 'thingGroupName') !== undefined) return err(badRequest('thingGroupName must match [a-zA-Z0-9:_-]{1,128}'));
  const g = w.groups.get(name);
  return g === undefined ? err(notFound(`Thing group ${name} does not exist`)) : { ok: true, value: g };
}

export function describeThingGroup(w: World, name: string): Result<Obj> {
  const r = group(w, name);
  if (!r.ok) return r;
  const g = r.value;
  const lineage = w.groups.lineage(name).slice(1).reverse();
  const props: Obj = { attributePayload: { attributes: { ...g.attributes } } };
  if (g.description !== undefined) props.thingGroupDescription = g.description;
  const meta: Obj = { creationDate: ctlTime(g.createdAtMs), rootToParentThingGroups: lineage.map((l) => ({ groupName: l, groupArn: w.groups.get(l)?.arn })) };
  if (g.parent !== undefined) meta.parentGroupName = g.parent;
  return { ok: true, value: { thingGroupName: g.name, thingGroupId: g.id, thingGroupArn: g.arn, version: g.version, thingGroupProperties: props, thingGroupMetadata: meta } };
}

export function updateThingGroup(w: World, name: string, b: Obj): Result<Obj> {
  const bad = checkBody(b, { fields: { thingGroupProperties: thingGroupPropertiesCheck, expectedVersion: (v, p) => (Number.isSafeInteger(v) ? undefined : `${p} must be an integer`) }, required: ['thingGroupProperties'] });
  if (bad !== undefined) return err(bad);
  const r = group(w, name);
  if (!r.ok) return r;
  const g = r.value;
  if (b.expectedVersion !== undefined && b.expectedVersion !== g.version)
    return err(serviceError('VersionConflictException', 409, `expected version ${String(b.expectedVersion)} but the group is at version ${g.version}`));
  const props = b.thingGroupProperties as Props;
  if (props.thingGroupDescription !== undefined) g.description = props.thingGroupDescription;
  const attrs = props.attributePayload?.attributes;
  if (attrs !== undefined) {
    const merged: Record<string, string> = props.attributePayload?.merge === true ? { ...g.attributes, ...attrs } : { ...attrs };
    // An empty value removes the attribute when merging, as on AWS.
    g.attributes = Object.fromEntries(Object.entries(merged).filter(([, v]) => v !== ''));
  }
  g.version += 1;
  return { ok: true, value: { version: g.version } };
}

export function deleteThingGroup(w: World, name: string, expectedVersion: number | undefined): Result<Obj> {
  const g = w.groups.get(name);
  // Deleting a group that does not exist succeeds (idempotent delete).
  if (g === undefined) return { ok: true, value: {} };
  if (g.children.size > 0) return err(badRequest(`Cannot delete thing group ${name} when there are still child groups attached to it`));
  if (expectedVersion !== undefined && expectedVersion !== g.version)
    return err(serviceError('VersionConflictException', 409, `expected version ${expectedVersion} but the group is at version ${g.version}`));
  const members = [...g.things];
  const before = new Map(members.map((t) => [t, w.groups.closureOf(t)]));
  w.groups.drop(name);
  for (const t of members) membershipChanged(w, t, before.get(t) ?? new Set());
  return { ok: true, value: {} };
}

/** The group named by thingGroupName or thingGroupArn, the thing by thingName or thingArn. */
function pair(w: World, b: Obj): Result<{ group: string; thing: string }> {
  const bad = checkBody(b, {
    fields: { thingGroupName: groupNameCheck, thingGroupArn: str({ max: 2048 }), thingName: str({ min: 1, max: 128 }), thingArn: str({ max: 2048 }), overrideDynamicGroups: (v, p) => (typeof v === 'boolean' ? undefined : `${p} must be true or false`) },
  });
  if (bad !== undefined) return err(bad);
  const fromArn = (v: unknown, kind: string): string | undefined => {
    const m = typeof v === 'string' ? ARN_NAME.exec(v) : null;
    return m && m[1] === kind ? m[2] : undefined;
  };
  const groupName = (b.thingGroupName as string | undefined) ?? fromArn(b.thingGroupArn, 'thinggroup');
  const thing = (b.thingName as string | undefined) ?? fromArn(b.thingArn, 'thing');
  if (groupName === undefined) return err(badRequest('thingGroupName or thingGroupArn is required'));
  if (thing === undefined || !validThing(thing)) return err(badRequest('thingName or thingArn is required'));
  if (!w.groups.get(groupName)) return err(notFound(`Thing group ${groupName} does not exist`));
  if (!w.things.has(thing)) return err(notFound(`Thing ${thing} does not exist`));
  return { ok: true, value: { group: groupName, thing } };
}

export function addThingToThingGroup(w: World, b: Obj): Result<Obj> {
  const p = pair(w, b);
  if (!p.ok) return p;
  const why = w.groups.refuseJoin(p.value.thing, p.value.group);
  if (why !== undefined) return err(badRequest(why));
  const before = w.groups.closureOf(p.value.thing);
  w.groups.join(p.value.thing, p.value.group);
  membershipChanged(w, p.value.thing, before);
  return { ok: true, value: {} };
}

export function removeThingFromThingGroup(w: World, b: Obj): Result<Obj> {
  const p = pair(w, b);
  if (!p.ok) return p;
  const before = w.groups.closureOf(p.value.thing);
  w.groups.leave(p.value.thing, p.value.group);
  membershipChanged(w, p.value.thing, before);
  return { ok: true, value: {} };
}

/** UpdateThingGroupsForThing: removals first, then additions, checked before anything changes. */
export function updateThingGroupsForThing(w: World, b: Obj): Result<Obj> {
  const names = str({ min: 1, max: 128 });
  const listOf = (v: unknown, p: string): string | undefined =>
    Array.isArray(v) ? v.map((x, i) => groupNameCheck(x, `${p}[${i}]`)).find((m) => m !== undefined) : `${p} must be a list`;
  const bad = checkBody(b, { fields: { thingName: names, thingGroupsToAdd: listOf, thingGroupsToRemove: listOf, overrideDynamicGroups: (v, p) => (typeof v === 'boolean' ? undefined : `${p} must be true or false`) }, required: ['thingName'] });
  if (bad !== undefined) return err(bad);
  const thing = b.thingName as string;
  if (!w.things.has(thing)) return err(notFound(`Thing ${thing} does not exist`));
  const add = (b.thingGroupsToAdd ?? []) as string[];
  const remove = (b.thingGroupsToRemove ?? []) as string[];
  const missing = [...add, ...remove].find((g) => !w.groups.get(g));
  if (missing !== undefined) return err(notFound(`Thing group ${missing} does not exist`));
  const before = w.groups.closureOf(thing);
  const directBefore = w.groups.directGroupsOf(thing);
  for (const g of remove) w.groups.leave(thing, g);
  for (const g of add) {
    const why = w.groups.refuseJoin(thing, g);
    if (why !== undefined) {
      // The call changes nothing when any part of it is refused.
      for (const now of w.groups.directGroupsOf(thing)) w.groups.leave(thing, now);
      for (const was of directBefore) w.groups.join(thing, was);
      return err(badRequest(why));
    }
    w.groups.join(thing, g);
  }
  membershipChanged(w, thing, before);
  return { ok: true, value: {} };
}

export interface Page {
  maxResults?: number;
  nextToken?: string;
}

/** Offset pagination with an opaque token, as the execution listings do. */
export function paged<T>(items: T[], q: Page, key: string): Result<Obj> {
  let start = 0;
  if (q.nextToken !== undefined) {
    const raw = Buffer.from(q.nextToken, 'base64url').toString();
    const n = /^\d{1,9}$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(n) || n > items.length) return err(badRequest('nextToken is invalid'));
    start = n;
  }
  if (q.maxResults !== undefined && (!Number.isInteger(q.maxResults) || q.maxResults < 1 || q.maxResults > 250))
    return err(badRequest('maxResults must be between 1 and 250'));
  const end = start + (q.maxResults ?? 250);
  const out: Obj = { [key]: items.slice(start, end) };
  if (end < items.length) out.nextToken = Buffer.from(String(end)).toString('base64url');
  return { ok: true, value: out };
}

export function listThingsInThingGroup(w: World, name: string, q: Page & { recursive?: boolean }): Result<Obj> {
  const r = group(w, name);
  if (!r.ok) return r;
  return paged(w.groups.members(name, q.recursive === true), q, 'things');
}

export function listThingGroupsForThing(w: World, thing: string, q: Page): Result<Obj> {
  if (!validThing(thing)) return err(badRequest('thingName is invalid'));
  if (!w.things.has(thing)) return err(notFound(`Thing ${thing} does not exist`));
  const names = [...w.groups.closureOf(thing)];
  return paged(names.map((g) => ({ groupName: g, groupArn: w.groups.get(g)?.arn })), q, 'thingGroups');
}

export function listThingGroups(w: World, q: Page & { parentGroup?: string; namePrefixFilter?: string; recursive?: boolean }): Result<Obj> {
  let names: string[];
  if (q.parentGroup !== undefined) {
    const r = group(w, q.parentGroup);
    if (!r.ok) return r;
    names = q.recursive === true ? w.groups.descendants(q.parentGroup) : [...r.value.children];
  } else {
    names = [...w.groups.byName.keys()];
    // Without a parent, `recursive: false` lists the top-level groups only.
    if (q.recursive === false) names = names.filter((g) => w.groups.get(g)?.parent === undefined);
  }
  if (q.namePrefixFilter !== undefined) names = names.filter((g) => g.startsWith(q.namePrefixFilter as string));
  return paged(names.map((g) => ({ groupName: g, groupArn: w.groups.get(g)?.arn })), q, 'thingGroups');
}
