/** docs/PROTOCOL.md §8 tricky cases 10–18, one describe per case. */
import { makeSim, only, S0, topicsOf } from './sim-harness';

function walk(v: unknown, visit: (x: unknown, path: string) => void, path = ''): void {
  visit(v, path);
  if (Array.isArray(v)) v.forEach((x, i) => walk(x, visit, `${path}[${i}]`));
  else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) walk(x, visit, `${path}.${k}`);
}

/** A busy scenario touching every response and notification kind. */
function busy(clockOffsetMs = 0) {
  const sim = makeSim();
  sim.clock.advance(clockOffsetMs);
  sim.job('J1', { timeoutConfig: { inProgressTimeoutInMinutes: 30 } });
  sim.job('J2');
  sim.mqtt('get', { clientToken: 'a' });
  sim.mqtt('$next/get', { clientToken: 'b' });
  sim.clock.advance(1333);
  sim.mqtt('start-next', { clientToken: 'c', stepTimeoutInMinutes: 3 });
  sim.mqtt('J1/get', { clientToken: 'd' });
  sim.mqtt('J1/update', { clientToken: 'e', status: 'IN_PROGRESS', expectedVersion: 2, includeJobExecutionState: true, includeJobDocument: true });
  sim.mqtt('J1/update', { clientToken: 'f', status: 'IN_PROGRESS', expectedVersion: 1 });
  sim.clock.advance(777);
  sim.mqtt('J1/update', { clientToken: 'g', status: 'SUCCEEDED' });
  sim.mqtt('J2/update', { clientToken: 'h', status: 'FAILED', statusDetails: { why: 'x' } });
  sim.mqtt('$next/get', { clientToken: 'i' });
  sim.mqtt('start-next', { clientToken: 'j' });
  return sim;
}

describe('§8 case 10: clients may not publish to response or notify topics', () => {
  it.each([
    'get/accepted',
    'get/rejected',
    'start-next/accepted',
    'J1/update/accepted',
    'J1/get/rejected',
    'notify',
    'notify-next',
    'notify-namespace-ns1',
    'notify-next-namespace-ns1',
    'J1/notify-namespace-ns1/',
  ])('%s is ignored (no response, no state change)', (suffix) => {
    const sim = makeSim();
    sim.job('J1');
    expect(sim.mqtt(suffix, { status: 'SUCCEEDED', clientToken: 'x' })).toEqual([]);
    expect(sim.svc.history()).toHaveLength(1);
    expect(sim.svc.options.servicePublishPolicy).toBe('ignore');
  });

  it('topics outside the jobs prefix are not answered at all', () => {
    const sim = makeSim();
    expect(sim.during(() => sim.svc.handleMqtt('c', '$aws/things/t1/shadow/get', Buffer.from('{}')))).toEqual([]);
    expect(sim.during(() => sim.svc.handleMqtt('c', 'devices/t1/jobs/get', Buffer.from('{}')))).toEqual([]);
  });
});

describe('§8 case 11: jobDocument type differs by transport', () => {
  it('object on MQTT, string on HTTPS', () => {
    const sim = makeSim();
    const doc = { operation: 'exec', args: ['a', 1] };
    sim.job('J1', { document: JSON.stringify(doc) });
    expect(only(sim.mqtt('J1/get', {}), 'accepted').execution.jobDocument).toEqual(doc);
    const h = sim.svc.httpDescribe('t1', 'J1', {});
    expect(h.ok && h.value.execution?.jobDocument).toBe(JSON.stringify(doc));
    const s = sim.svc.httpStartNext('t1', {});
    expect(s.ok && typeof s.value.execution?.jobDocument).toBe('string');
    const u = sim.svc.httpUpdate('t1', 'J1', { status: 'SUCCEEDED', includeJobDocument: true });
    expect(u.ok && u.value.jobDocument).toBe(JSON.stringify(doc));
    expect(only(sim.mqtt('J1/update', { status: 'SUCCEEDED', includeJobDocument: true }), 'rejected').code).toBe('InvalidStateTransition');
  });
});

describe('§8 case 12: timestamps are whole seconds', () => {
  it('every number on the device plane is an integer, seconds not milliseconds', () => {
    const sim = busy(1999);
    expect(sim.out.length).toBeGreaterThan(10);
    for (const p of sim.out)
      walk(p.payload, (x, path) => {
        if (typeof x === 'number') {
          expect([path, Number.isInteger(x)]).toEqual([path, true]);
          if (/(timestamp|At)$/.test(path)) expect(x).toBeGreaterThanOrEqual(S0 + 1);
          if (/(timestamp|At)$/.test(path)) expect(x).toBeLessThan(S0 + 10);
        }
      });
  });

  it('floor, not round: 1.999 s after T0 is T0+1', () => {
    const sim = makeSim();
    sim.clock.advance(1999);
    expect(only(sim.job('J1'), 'notify').jobs.QUEUED[0].queuedAt).toBe(S0 + 1);
  });
});

describe('§8 case 13: omit, do not null', () => {
  it('no null or undefined values anywhere; absent fields are left out', () => {
    const sim = busy();
    for (const p of sim.out)
      walk(p.payload, (x, path) => {
        expect([path, x === null || x === undefined]).toEqual([path, false]);
      });
    const queued = makeSim();
    queued.job('J1');
    const e = only(queued.mqtt('J1/get', {}), 'accepted').execution;
    expect(e).not.toHaveProperty('startedAt');
    expect(e).not.toHaveProperty('statusDetails');
    expect(e).not.toHaveProperty('approximateSecondsBeforeTimedOut');
  });
});

describe('§8 case 14: thingName absent from MQTT executions, present on HTTPS', () => {
  it.each([
    [{}, false],
    [{ mqttThingName: true }, true],
  ])('options %j → MQTT thingName %s', (opts, present) => {
    const sim = makeSim(opts);
    const nn = only(sim.job('J1'), 'notify-next').execution;
    const sn = only(sim.mqtt('start-next', {}), 'accepted').execution;
    const d = only(sim.mqtt('J1/get', {}), 'accepted').execution;
    for (const e of [nn, sn, d]) expect('thingName' in e).toBe(present);
    const h = sim.svc.httpDescribe('t1', 'J1', {});
    expect(h.ok && h.value.execution?.thingName).toBe('t1');
  });
});

describe('§8 case 15: expectedVersion as a numeric string', () => {
  it.each([
    ['1', 'accepted', undefined],
    [1, 'accepted', undefined],
    ['2', 'rejected', 'VersionMismatch'],
    ['x', 'rejected', 'InvalidRequest'],
    ['1.0', 'rejected', 'InvalidRequest'],
    [1.5, 'rejected', 'InvalidRequest'],
    [true, 'rejected', 'InvalidRequest'],
  ])('expectedVersion %j → %s %s', (ev, kind, code) => {
    const sim = makeSim();
    sim.job('J1');
    const p = sim.mqtt('J1/update', { status: 'IN_PROGRESS', expectedVersion: ev });
    expect(topicsOf(p)[0]).toBe(`J1/update/${kind}`);
    if (code) expect((p[0]!.payload as any).code).toBe(code);
  });

  it('HTTPS accepts it too', () => {
    const sim = makeSim();
    sim.job('J1');
    expect(sim.svc.httpUpdate('t1', 'J1', { status: 'IN_PROGRESS', expectedVersion: '1' }).ok).toBe(true);
  });
});

describe('§8 case 16: extra request fields are ignored', () => {
  it.each([
    ['J1/get', { thingName: 'other', jobId: 'J9', extra: { a: 1 } }],
    ['$next/get', { thingName: 't1', jobId: '$next' }],
    ['J1/update', { status: 'IN_PROGRESS', thingName: 'other', jobId: 'J9', whatever: [1, 2] }],
    ['start-next', { thingName: 'x', foo: null }],
    ['get', { thingName: 'x', jobId: 'y' }],
  ])('%s with %j is accepted', (suffix, body) => {
    const sim = makeSim();
    sim.job('J1');
    expect(topicsOf(sim.mqtt(suffix, body))[0]).toBe(`${suffix}/accepted`);
  });
});

describe('§8 case 17: statusDetails validation', () => {
  const long = 'x'.repeat(1025);
  const eleven = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`k${i}`, 'v']));
  const refused = (options: Parameters<typeof makeSim>[0], details: unknown): void => {
    const sim = makeSim(options);
    sim.job('J1');
    for (const [suffix, body] of [
      ['J1/update', { status: 'IN_PROGRESS', statusDetails: details }],
      ['start-next', { statusDetails: details }],
    ] as const) {
      expect(only(sim.mqtt(suffix, { ...body, clientToken: 'z' }), 'rejected')).toMatchObject({ code: 'InvalidRequest', clientToken: 'z' });
    }
    expect(only(sim.mqtt('J1/get', {}), 'accepted').execution).toMatchObject({ status: 'QUEUED', versionNumber: 1 });
    const h = sim.svc.httpUpdate('t1', 'J1', { status: 'IN_PROGRESS', statusDetails: details });
    expect(h.ok ? 'ok' : h.error.name).toBe('InvalidRequestException');
  };

  // The Device Client's terminal update carries the command's output with its line feeds, and its
  // integration test against AWS IoT expects SUCCEEDED for it (docs/PROTOCOL.md §10.23).
  it.each([
    ['line feed', { stdout: 'Hello World\n' }],
    ['carriage return and line feed', { stdout: 'a\r\nb\r\n' }],
    ['tab', { a: 'a\tb' }],
  ])('%s → accepted by default (statusDetailsControlChars=whitespace), kept as sent', (_n, details) => {
    const sim = makeSim();
    sim.job('J1');
    only(sim.mqtt('J1/update', { status: 'SUCCEEDED', statusDetails: details }), 'accepted');
    expect(only(sim.mqtt('J1/get', {}), 'accepted').execution).toMatchObject({ status: 'SUCCEEDED', statusDetails: details });
  });

  it.each([
    ['line feed', { a: 'line\nbreak' }],
    ['carriage return', { a: 'a\rb' }],
    ['tab', { a: 'a\tb' }],
  ])('%s → InvalidRequest under statusDetailsControlChars=strict', (_n, details) => refused({ statusDetailsControlChars: 'strict' }, details));

  it.each([
    ['NUL', { a: 'a\u0000b' }],
    ['vertical tab', { a: 'a\u000bb' }],
    ['escape', { a: '\u001b[31mred' }],
    ['zero-width space (format char)', { a: 'a\u200bb' }],
    ['private use char', { a: '\ue000' }],
    ['lone surrogate', { a: '\ud800' }],
    ['empty value', { a: '' }],
    ['value over 1024 chars', { a: long }],
    ['key with a space', { 'a b': 'v' }],
    ['key with a dot', { 'a.b': 'v' }],
    ['empty key', { '': 'v' }],
    ['non-string value', { a: 1 }],
    ['object value', { a: { b: 'c' } }],
    ['array instead of map', ['a']],
    ['string instead of map', 'a=b'],
    ['more than 10 entries', eleven],
  ])('%s → InvalidRequest under either reading, no state change', (_n, details) => {
    refused({}, details);
    refused({ statusDetailsControlChars: 'strict' }, details);
  });

  it.each([
    ['1024 chars', { a: 'y'.repeat(1024) }],
    ['1024 astral chars', { a: '😀'.repeat(1024) }],
    ['unicode letters and symbols', { 'k:1_-': 'Grüße — ok ✓' }],
    ['10 entries', Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, 'v']))],
    ['empty map', {}],
  ])('%s is accepted', (_n, details) => {
    const sim = makeSim();
    sim.job('J1');
    const p = sim.mqtt('J1/update', { status: 'IN_PROGRESS', statusDetails: details, includeJobExecutionState: true });
    expect(only(p, 'accepted').executionState.versionNumber).toBe(2);
  });

  it('maxStatusDetailsEntries is configurable', () => {
    const sim = makeSim({ maxStatusDetailsEntries: 2 });
    sim.job('J1');
    expect(only(sim.mqtt('J1/update', { status: 'IN_PROGRESS', statusDetails: { a: '1', b: '2', c: '3' } }), 'rejected').code).toBe(
      'InvalidRequest',
    );
  });
});

describe('§8 case 18: ordering of response and notifications', () => {
  it('the response comes first, then notify and notify-next', () => {
    const sim = makeSim();
    sim.job('J1');
    sim.job('J2');
    const p = sim.mqtt('J1/update', { status: 'SUCCEEDED' });
    expect(p[0]!.kind).toBe('response');
    expect(topicsOf(p.slice(1)).sort()).toEqual(['notify', 'notify-next']);
  });
});
