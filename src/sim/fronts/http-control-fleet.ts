/**
 * Control-plane routes for fleets, in the AWS IoT REST shape @aws-sdk/client-iot serialises: thing
 * groups and their memberships, UpdateJob, AssociateTargetsWithJob, DeleteJobExecution,
 * GetJobDocument and ListJobs. Query members are type-checked here; the service owns the rules.
 */
import { invalidRequest, queryBool, queryLong } from './http-util';
import type { Outcome, Route } from './http-util';
import type { JobsService } from '../service';
import type { Result, UpdateJobInput } from '../types';

export type FleetService = Pick<
  JobsService,
  | 'createThingGroup'
  | 'describeThingGroup'
  | 'updateThingGroup'
  | 'deleteThingGroup'
  | 'listThingGroups'
  | 'addThingToThingGroup'
  | 'removeThingFromThingGroup'
  | 'updateThingGroupsForThing'
  | 'listThingsInThingGroup'
  | 'listThingGroupsForThing'
  | 'updateJob'
  | 'associateTargetsWithJob'
  | 'deleteJobExecution'
  | 'getJobDocument'
  | 'listJobs'
>;

type Q = Record<string, string | number | boolean | undefined>;
type Kind = 'string' | 'long' | 'boolean';

/** The named query members, typed; any other query member is refused rather than ignored. */
function query(q: URLSearchParams, spec: Record<string, Kind>): Result<Q> {
  const out: Q = {};
  for (const k of new Set(q.keys())) if (!Object.hasOwn(spec, k)) return { ok: false, error: invalidRequest(`unknown query parameter ${JSON.stringify(k)}`) };
  for (const [k, kind] of Object.entries(spec)) {
    if (kind === 'string') {
      const v = q.get(k);
      if (v !== null) out[k] = v;
      continue;
    }
    const r = kind === 'long' ? queryLong(q, k) : queryBool(q, k);
    if (!r.ok) return r;
    if (r.value !== undefined) out[k] = r.value;
  }
  return { ok: true, value: out };
}

function withQuery(q: URLSearchParams, spec: Record<string, Kind>, fn: (v: Q) => Outcome): Outcome {
  const r = query(q, spec);
  return r.ok ? fn(r.value) : r;
}

const PAGE = { maxResults: 'long', nextToken: 'string' } as const;
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
const flag = (v: unknown): boolean | undefined => (typeof v === 'boolean' ? v : undefined);

function page(q: Q): { maxResults?: number; nextToken?: string } {
  const out: { maxResults?: number; nextToken?: string } = {};
  if (num(q.maxResults) !== undefined) out.maxResults = num(q.maxResults) as number;
  if (str(q.nextToken) !== undefined) out.nextToken = str(q.nextToken) as string;
  return out;
}

function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

export function fleetRoutes(s: FleetService): Route[] {
  const group = (r: { params: Record<string, string> }): string => r.params.thingGroupName ?? '';
  return [
    { method: 'PUT', path: ['thing-groups', 'addThingToThingGroup'], run: (r) => s.addThingToThingGroup(r.body) },
    { method: 'PUT', path: ['thing-groups', 'removeThingFromThingGroup'], run: (r) => s.removeThingFromThingGroup(r.body) },
    { method: 'PUT', path: ['thing-groups', 'updateThingGroupsForThing'], run: (r) => s.updateThingGroupsForThing(r.body) },
    { method: 'POST', path: ['thing-groups', ':thingGroupName'], run: (r) => s.createThingGroup(group(r), r.body) },
    { method: 'GET', path: ['thing-groups', ':thingGroupName'], run: (r) => s.describeThingGroup(group(r)) },
    { method: 'PATCH', path: ['thing-groups', ':thingGroupName'], run: (r) => s.updateThingGroup(group(r), r.body) },
    {
      method: 'DELETE',
      path: ['thing-groups', ':thingGroupName'],
      run: (r) => withQuery(r.query, { expectedVersion: 'long' }, (q) => s.deleteThingGroup(group(r), num(q.expectedVersion))),
    },
    {
      method: 'GET',
      path: ['thing-groups'],
      run: (r) =>
        withQuery(r.query, { ...PAGE, parentGroup: 'string', namePrefixFilter: 'string', recursive: 'boolean' }, (q) =>
          s.listThingGroups(defined({ ...page(q), parentGroup: str(q.parentGroup), namePrefixFilter: str(q.namePrefixFilter), recursive: flag(q.recursive) })),
        ),
    },
    {
      method: 'GET',
      path: ['thing-groups', ':thingGroupName', 'things'],
      run: (r) => withQuery(r.query, { ...PAGE, recursive: 'boolean' }, (q) => s.listThingsInThingGroup(group(r), defined({ ...page(q), recursive: flag(q.recursive) }))),
    },
    {
      method: 'GET',
      path: ['things', ':thing', 'thing-groups'],
      run: (r) => withQuery(r.query, PAGE, (q) => s.listThingGroupsForThing(r.params.thing ?? '', page(q))),
    },
    {
      method: 'PATCH',
      path: ['jobs', ':jobId'],
      run: (r) =>
        withQuery(r.query, { namespaceId: 'string' }, (q) =>
          s.updateJob(r.params.jobId ?? '', defined({ ...r.body, namespaceId: str(q.namespaceId) }) as UpdateJobInput),
        ),
    },
    {
      method: 'POST',
      path: ['jobs', ':jobId', 'targets'],
      run: (r) => withQuery(r.query, { namespaceId: 'string' }, (q) => s.associateTargetsWithJob(r.params.jobId ?? '', defined({ ...r.body, namespaceId: str(q.namespaceId) }))),
    },
    {
      method: 'DELETE',
      path: ['things', ':thing', 'jobs', ':jobId', 'executionNumber', ':executionNumber'],
      run: (r) =>
        withQuery(r.query, { force: 'boolean', namespaceId: 'string' }, (q) =>
          s.deleteJobExecution(r.params.jobId ?? '', r.params.thing ?? '', Number(r.params.executionNumber), defined({ force: flag(q.force), namespaceId: str(q.namespaceId) })),
        ),
    },
    {
      method: 'GET',
      path: ['jobs', ':jobId', 'job-document'],
      run: (r) => withQuery(r.query, { beforeSubstitution: 'boolean' }, (q) => s.getJobDocument(r.params.jobId ?? '', flag(q.beforeSubstitution) === true)),
    },
    {
      method: 'GET',
      path: ['jobs'],
      run: (r) =>
        withQuery(r.query, { ...PAGE, status: 'string', targetSelection: 'string', thingGroupName: 'string', thingGroupId: 'string', namespaceId: 'string' }, (q) =>
          s.listJobs(
            defined({
              ...page(q),
              status: str(q.status),
              targetSelection: str(q.targetSelection),
              thingGroupName: str(q.thingGroupName),
              thingGroupId: str(q.thingGroupId),
              namespaceId: str(q.namespaceId),
            }),
          ),
        ),
    },
  ];
}
