/**
 * The local Jobs service at fleet scale, in this process: N things in a nested group hierarchy
 * (a root with ten child groups), one CONTINUOUS job over the root, then group membership changes
 * and pages of ListJobExecutionsForJob — through the state machine and, for the page, through the
 * HTTP control plane as @aws-sdk/client-iot calls it. Every notification is JSON-encoded, as a
 * front would, so its cost is in the figures.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { systemClock } from '../../src/lib/clock';
import { startControlPlane } from '../../src/sim/fronts/http-control-plane';
import { JobsService } from '../../src/sim/service';
import { round } from '../support/stats';

export interface SimScaleRun {
  things: number;
  groups: number;
  /** Heap taken by the things, groups, memberships and the job's executions, MB. */
  heapMb: number;
  rssMb: number;
  addToGroupsMs: number;
  createJobMs: number;
  notificationsOnCreate: number;
  /** One thing leaving a target group and joining another (REMOVED + a new execution), per change. */
  membershipChangeP50Ms: number;
  membershipChangeMaxMs: number;
  /** One 250-execution page of ListJobExecutionsForJob, in the service and over HTTP. */
  listPageP50Ms: number;
  listPageHttpP50Ms: number;
}

function gcNow(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};

function ms(fn: () => void): number {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

export async function simScaleRun(things: number, changes: number): Promise<SimScaleRun> {
  gcNow();
  const heap0 = process.memoryUsage().heapUsed;
  let notifications = 0;
  const service = new JobsService({
    clock: systemClock,
    publish: (p) => {
      JSON.stringify(p.payload);
      notifications += 1;
    },
  });
  const groups = 10;
  service.createThingGroup('fleet', {});
  for (let g = 0; g < groups; g++) service.createThingGroup(`site-${g}`, { parentGroupName: 'fleet' });
  const names = Array.from({ length: things }, (_, i) => `dev-${String(i).padStart(5, '0')}`);
  for (const n of names) service.createThing(n);
  const addToGroupsMs = ms(() => {
    names.forEach((n, i) => service.addThingToThingGroup({ thingGroupName: `site-${i % groups}`, thingName: n }));
  });
  notifications = 0;
  const createJobMs = ms(() => {
    const r = service.createJob({ jobId: 'fleet-wide', targets: ['arn:aws:iot:us-east-1:123456789012:thinggroup/fleet'], document: '{"operation":"exec","command":["true"]}', targetSelection: 'CONTINUOUS' });
    if (!r.ok) throw new Error(r.error.message);
  });
  const notificationsOnCreate = notifications;
  gcNow();
  const mem = process.memoryUsage();
  const change: number[] = [];
  for (let i = 0; i < changes; i++) {
    const n = names[i % names.length] as string;
    const from = `site-${i % groups}`;
    const to = `site-${(i + 1) % groups}`;
    change.push(ms(() => service.removeThingFromThingGroup({ thingGroupName: from, thingName: n })) + ms(() => service.addThingToThingGroup({ thingGroupName: to, thingName: n })));
    // Put it back so the next round finds the hierarchy as it was.
    service.removeThingFromThingGroup({ thingGroupName: to, thingName: n });
    service.addThingToThingGroup({ thingGroupName: from, thingName: n });
  }
  const pages: number[] = [];
  let token: string | undefined;
  do {
    let next: string | undefined;
    pages.push(
      ms(() => {
        const r = service.listJobExecutionsForJob('fleet-wide', { maxResults: 250, ...(token ? { nextToken: token } : {}) });
        next = r.ok ? r.value.nextToken : undefined;
      }),
    );
    token = next;
  } while (token !== undefined);
  const http: number[] = [];
  const server = await startControlPlane({ service, host: '127.0.0.1', port: 0 });
  try {
    let t: string | undefined;
    do {
      const started = process.hrtime.bigint();
      const res = await fetch(`http://127.0.0.1:${server.port}/jobs/fleet-wide/things?maxResults=250${t ? `&nextToken=${t}` : ''}`);
      const body = (await res.json()) as { nextToken?: string };
      http.push(Number(process.hrtime.bigint() - started) / 1e6);
      t = body.nextToken;
    } while (t !== undefined);
  } finally {
    await server.close();
  }
  return {
    things,
    groups: groups + 1,
    heapMb: round((mem.heapUsed - heap0) / 2 ** 20),
    rssMb: round(mem.rss / 2 ** 20),
    addToGroupsMs: round(addToGroupsMs),
    createJobMs: round(createJobMs),
    notificationsOnCreate,
    membershipChangeP50Ms: round(median(change), 3),
    membershipChangeMaxMs: round(Math.max(...change), 3),
    listPageP50Ms: round(median(pages), 3),
    listPageHttpP50Ms: round(median(http), 3),
  };
}
