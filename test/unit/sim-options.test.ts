/** SimOptions switches and device-plane request handling not covered by a single docs/PROTOCOL.md §8 case. */
import { DEFAULT_SIM_OPTIONS } from '../../src/sim/service';
import { makeSim, only, S0, topicsOf } from './sim-harness';

describe('DEFAULT_SIM_OPTIONS', () => {
  it('follows the recommended readings of docs/PROTOCOL.md §10 and merges partial options', () => {
    expect(DEFAULT_SIM_OPTIONS).toMatchObject({
      throttlingStatus: 429,
      terminalUpdateCode: 'InvalidStateTransition',
      describeTerminal: 'return',
      allowRejectFromInProgress: false,
      allowTerminalFromQueued: true,
      statusDetailsMode: 'replace',
      maxStatusDetailsEntries: 10,
      mqttThingName: false,
      maxPendingListed: 10,
      unknownThingGetPending: 'empty',
      emptyPayload: 'object',
      bumpVersionOnServiceTransition: true,
      stepTimeoutOnRestart: false,
      namespaceNotifyForm: 'short',
      servicePublishPolicy: 'ignore',
      responsesToRequesterOnly: true,
      duplicateTerminalCheck: 'version-first',
      presignPlaceholders: true,
      presignedUrlStyle: 'virtual-hosted',
      statusDetailsControlChars: 'whitespace',
      answerQos: 0,
    });
    const sim = makeSim({ maxPendingListed: 3 });
    expect(sim.svc.options).toEqual({ ...DEFAULT_SIM_OPTIONS, maxPendingListed: 3 });
  });
});

describe('update status rules (docs/PROTOCOL.md §4.2)', () => {
  it.each([
    ['QUEUED', 'SUCCEEDED', {}, 'accepted'],
    ['QUEUED', 'FAILED', {}, 'accepted'],
    ['QUEUED', 'SUCCEEDED', { allowTerminalFromQueued: false }, 'InvalidStateTransition'],
    ['QUEUED', 'REJECTED', { allowTerminalFromQueued: false }, 'accepted'],
    ['QUEUED', 'QUEUED', {}, 'InvalidStateTransition'],
    ['IN_PROGRESS', 'QUEUED', {}, 'InvalidStateTransition'],
    ['QUEUED', 'CANCELED', {}, 'InvalidRequest'],
    ['QUEUED', 'TIMED_OUT', {}, 'InvalidRequest'],
    ['QUEUED', 'REMOVED', {}, 'InvalidRequest'],
    ['QUEUED', 'DONE', {}, 'InvalidRequest'],
    ['QUEUED', undefined, {}, 'InvalidRequest'],
    ['QUEUED', 3, {}, 'InvalidRequest'],
    ['SUCCEEDED', 'IN_PROGRESS', {}, 'InvalidStateTransition'],
  ])('%s → %s with %j: %s', (from, to, opts, outcome) => {
    const sim = makeSim(opts);
    sim.job('J1');
    if (from !== 'QUEUED') sim.mqtt('J1/update', { status: from });
    const p = sim.mqtt('J1/update', to === undefined ? {} : { status: to });
    if (outcome === 'accepted') expect(topicsOf(p)[0]).toBe('J1/update/accepted');
    else expect(only(p, 'rejected').code).toBe(outcome);
  });

  it('$next is not a job id for update; unknown job is ResourceNotFound', () => {
    const sim = makeSim();
    sim.job('J1');
    expect(only(sim.mqtt('$next/update', { status: 'SUCCEEDED' }), '$next/update/rejected').code).toBe('InvalidRequest');
    expect(only(sim.mqtt('J9/update', { status: 'SUCCEEDED' }), 'rejected').code).toBe('ResourceNotFound');
  });

  it('include flags add executionState (after the update) and jobDocument', () => {
    const sim = makeSim();
    sim.job('J1');
    const a = only(sim.mqtt('J1/update', { status: 'IN_PROGRESS', includeJobExecutionState: true, includeJobDocument: true }), 'accepted');
    expect(a).toEqual({ timestamp: S0, executionState: { status: 'IN_PROGRESS', versionNumber: 2 }, jobDocument: { op: 'J1' } });
  });

  it.each([
    ['replace' as const, { b: '2' }],
    ['merge' as const, { a: '1', b: '2' }],
  ])('statusDetailsMode %s', (mode, expected) => {
    const sim = makeSim({ statusDetailsMode: mode });
    sim.job('J1');
    sim.mqtt('J1/update', { status: 'IN_PROGRESS', statusDetails: { a: '1' } });
    sim.mqtt('J1/update', { status: 'IN_PROGRESS', statusDetails: { b: '2' } });
    sim.mqtt('J1/update', { status: 'IN_PROGRESS' });
    expect(only(sim.mqtt('J1/get', {}), 'accepted').execution.statusDetails).toEqual(expected);
  });
});

describe('payload and topic errors', () => {
  it.each([
    ['not JSON', '{'],
    ['JSON array', '[{"clientToken":"a"}]'],
    ['JSON string', '"x"'],
    ['JSON null', 'null'],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0x7d])],
  ])('%s → InvalidJson without a token', (_n, payload) => {
    const sim = makeSim();
    expect(only(sim.mqtt('get', payload), 'get/rejected')).toEqual({ code: 'InvalidJson', message: expect.any(String), timestamp: S0 });
  });

  it.each([
    ['object' as const, 'get/accepted'],
    ['InvalidJson' as const, 'get/rejected'],
  ])('emptyPayload %s', (mode, topic) => {
    const sim = makeSim({ emptyPayload: mode });
    expect(topicsOf(sim.mqtt('get', Buffer.alloc(0)))).toEqual([topic]);
  });

  it.each(['J1/delete', 'J1/update/extra', 'namespace-ns1/start-next', 'get/', 'x'.repeat(65) + '/get'])('InvalidTopic for %s, token echoed', (suffix) => {
    const sim = makeSim();
    const p = sim.mqtt(suffix, { clientToken: 'it' });
    expect(p).toEqual([
      {
        topic: `$aws/things/t1/jobs/${suffix}/rejected`,
        to: 'c1',
        thing: 't1',
        kind: 'response',
        payload: { code: 'InvalidTopic', message: expect.any(String), clientToken: 'it', timestamp: S0 },
      },
    ]);
  });

  it('clientToken longer than 64 characters or not a string → InvalidRequest, echoed', () => {
    const sim = makeSim();
    expect(only(sim.mqtt('get', { clientToken: 'x'.repeat(64) }), 'get/accepted').clientToken).toHaveLength(64);
    expect(only(sim.mqtt('get', { clientToken: 'x'.repeat(65) }), 'get/rejected')).toMatchObject({ code: 'InvalidRequest', clientToken: 'x'.repeat(65) });
    expect(only(sim.mqtt('get', { clientToken: 7 }), 'get/rejected')).toMatchObject({ code: 'InvalidRequest', clientToken: 7 });
  });

  it('a prototype-polluting payload changes nothing', () => {
    const sim = makeSim();
    sim.job('J1');
    const p = sim.mqtt('J1/update', '{"__proto__":{"status":"SUCCEEDED"},"status":"IN_PROGRESS","statusDetails":{"__proto__":"x"}}');
    expect(topicsOf(p)).toEqual(['J1/update/accepted']);
    expect(only(sim.mqtt('J1/get', {}), 'accepted').execution.statusDetails).toEqual(JSON.parse('{"__proto__":"x"}'));
    expect(({} as any).status).toBeUndefined();
  });
});

describe('unknownThingGetPending', () => {
  it.each([
    ['empty' as const, true],
    ['ResourceNotFound' as const, false],
  ])('%s', (mode, accepted) => {
    const sim = makeSim({ unknownThingGetPending: mode });
    const p = only(sim.mqtt('get', {}, { thing: 'ghost' }), accepted ? 'get/accepted' : 'get/rejected');
    if (accepted) expect(p).toMatchObject({ inProgressJobs: [], queuedJobs: [] });
    else expect(p.code).toBe('ResourceNotFound');
    expect(sim.svc.httpGetPending('ghost').ok).toBe(accepted);
    sim.svc.createThing('ghost');
    expect(sim.svc.httpGetPending('ghost')).toEqual({ ok: true, value: { inProgressJobs: [], queuedJobs: [] } });
  });
});

describe('presigned URL placeholders (docs/PROTOCOL.md §2.6, §10.22)', () => {
  const doc = JSON.stringify({ url: '${aws:iot:s3-presigned-url:https://s3.amazonaws.com/bucket/key}' });
  const QUERY =
    /\?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Content-Sha256=UNSIGNED-PAYLOAD&X-Amz-Credential=ASIA[0-9A-F]{16}%2F\d{8}%2F[a-z0-9-]+%2Fs3%2Faws4_request&X-Amz-Date=\d{8}T\d{6}Z&X-Amz-Expires=\d+&X-Amz-Security-Token=[0-9A-Za-z]+&X-Amz-Signature=[0-9a-f]{64}&X-Amz-SignedHeaders=host&response-content-disposition=attachment%3B%20filename%3D[^&]+$/;
  const urlOf = (placeholder: string, options: Parameters<typeof makeSim>[0] = {}): string => {
    const sim = makeSim(options);
    return only(sim.job('J1', { document: JSON.stringify({ url: placeholder }) }), 'notify-next').execution.jobDocument.url as string;
  };

  it('substituted freshly on every delivery when enabled (default), on MQTT and HTTPS alike', () => {
    const sim = makeSim();
    const nn = only(sim.job('J1', { document: doc }), 'notify-next').execution.jobDocument.url as string;
    const d1 = only(sim.mqtt('J1/get', {}), 'accepted').execution.jobDocument.url as string;
    const sn = only(sim.mqtt('start-next', {}), 'accepted').execution.jobDocument.url as string;
    const h = sim.svc.httpDescribe('t1', 'J1', {});
    const d2 = JSON.parse((h.ok && (h.value.execution?.jobDocument as string)) || '{}').url as string;
    for (const u of [nn, d1, sn, d2]) expect(u).toMatch(new RegExp(`^https://bucket\\.s3\\.amazonaws\\.com/key${QUERY.source.slice(0)}`));
    expect(new Set([nn, d1, sn, d2]).size).toBe(4);
  });

  it.each([
    ['v1, path-style with region', '${aws:iot:s3-presigned-url:https://s3.eu-west-1.amazonaws.com/my-bucket/dir/fw.bin}', 'https://my-bucket.s3.eu-west-1.amazonaws.com/dir/fw.bin', 'eu-west-1'],
    ['v2, path-style (the developer guide form)', '${aws:iot:s3-presigned-url-v2:https://s3.us-west-2.amazonaws.com/my-bucket/fw.bin}', 'https://my-bucket.s3.us-west-2.amazonaws.com/fw.bin', 'us-west-2'],
    ['v2, virtual-hosted', '${aws:iot:s3-presigned-url-v2:https://my-bucket.s3.us-west-2.amazonaws.com/fw.bin}', 'https://my-bucket.s3.us-west-2.amazonaws.com/fw.bin', 'us-west-2'],
    ['v2, bucket with dots stays path-style', '${aws:iot:s3-presigned-url-v2:https://s3.us-west-2.amazonaws.com/my.bucket/fw.bin}', 'https://s3.us-west-2.amazonaws.com/my.bucket/fw.bin', 'us-west-2'],
  ])('%s → %s', (_n, placeholder, base, region) => {
    const url = urlOf(placeholder);
    expect(url.slice(0, url.indexOf('?'))).toBe(base);
    expect(url.slice(url.indexOf('?'))).toMatch(QUERY);
    expect(url).toContain(`%2F${region}%2Fs3%2Faws4_request`);
  });

  it('presignedUrlStyle=as-written keeps a path-style URL path-style', () => {
    const url = urlOf('${aws:iot:s3-presigned-url-v2:https://s3.us-west-2.amazonaws.com/my-bucket/fw.bin}', { presignedUrlStyle: 'as-written' });
    expect(url.slice(0, url.indexOf('?'))).toBe('https://s3.us-west-2.amazonaws.com/my-bucket/fw.bin');
  });

  it('presignedUrlConfig.expiresInSec sets X-Amz-Expires', () => {
    const sim = makeSim();
    const r = sim.svc.createJob({ jobId: 'J1', targets: ['t1'], document: doc, presignedUrlConfig: { roleArn: 'arn:aws:iam::123456789012:role/r', expiresInSec: 120 } });
    expect(r.ok).toBe(true);
    expect(only(sim.mqtt('J1/get', {}), 'accepted').execution.jobDocument.url).toContain('&X-Amz-Expires=120&');
  });

  it('left as is when disabled', () => {
    const sim = makeSim({ presignPlaceholders: false });
    sim.job('J1', { document: doc });
    expect(only(sim.mqtt('J1/get', {}), 'accepted').execution.jobDocument).toEqual(JSON.parse(doc));
  });
});

describe('queue order within one second', () => {
  it('keeps creation order for equal timestamps and sub-second order across the second boundary', () => {
    const sim = makeSim();
    sim.clock.advance(900);
    sim.job('B');
    sim.job('A');
    sim.clock.advance(50);
    sim.job('C');
    const q = only(sim.mqtt('get', {}), 'accepted').queuedJobs.map((j: any) => j.jobId);
    expect(q).toEqual(['B', 'A', 'C']);
    expect(only(sim.mqtt('start-next', {}), 'accepted').execution.jobId).toBe('B');
  });

  it('a clock moved backwards still yields a sorted order', () => {
    const sim = makeSim();
    sim.clock.advance(10_000);
    sim.job('Late');
    sim.clock.set(sim.clock.now() - 5_000);
    sim.job('Early');
    expect(only(sim.mqtt('get', {}), 'accepted').queuedJobs.map((j: any) => j.jobId)).toEqual(['Early', 'Late']);
  });
});

describe('multiple things', () => {
  it('notifications are per thing and carry the thing name', () => {
    const sim = makeSim();
    const p = sim.job('J1', { targets: ['a', 'b'] });
    expect(p.map((x) => `${x.thing}:${x.topic}`)).toEqual([
      'a:$aws/things/a/jobs/notify',
      'a:$aws/things/a/jobs/notify-next',
      'b:$aws/things/b/jobs/notify',
      'b:$aws/things/b/jobs/notify-next',
    ]);
  });
});

describe('a large backlog', () => {
  it('drains 5,000 queued jobs through MQTT in order (its speed is measured by the benchmark)', () => {
    const sim = makeSim();
    for (let i = 0; i < 5000; i++) sim.svc.createJob({ jobId: `J${i}`, targets: ['t1'], document: '{}' });
    for (let i = 0; i < 5000; i++) {
      const e = only(sim.mqtt('start-next', {}), 'accepted').execution;
      expect(e.jobId).toBe(`J${i}`);
      sim.mqtt(`J${i}/update`, { status: 'SUCCEEDED', expectedVersion: 2 });
    }
    expect(only(sim.mqtt('get', {}), 'accepted')).toMatchObject({ inProgressJobs: [], queuedJobs: [] });
  });
});
