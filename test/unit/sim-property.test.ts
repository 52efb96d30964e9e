/** Property: random topics and payloads never make handleMqtt throw, and every request gets exactly one response. */
import fc from 'fast-check';
import { isServiceOnlyTopic, parseRequestTopic } from '../../src/jobs/topics';
import { makeSim } from './sim-harness';

const things = fc.constantFrom('t1', 't2', 'ns:thing', 'bad thing', 't/1', '');
const jobs = fc.constantFrom('J1', 'J2', '$next', 'get', 'start-next', 'notify', 'x'.repeat(65), 'J 1', '');
const suffix = fc.oneof(
  fc.constantFrom('get', 'start-next', 'notify', 'notify-next', 'get/accepted', 'namespace-ns1/get', 'start-next-namespace-ns1'),
  fc.tuple(jobs, fc.constantFrom('get', 'update', 'namespace-ns1/get', 'namespace-ns1/update', 'delete', 'update/accepted', 'get/rejected')).map(
    ([j, op]) => `${j}/${op}`,
  ),
  fc.string({ maxLength: 30 }),
);
const topic = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(things, suffix).map(([t, s]) => `$aws/things/${t}/jobs/${s}`) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: things.map((t) => `$aws/things/${t}/shadow/update`) },
);

const scalar = fc.oneof(fc.string({ maxLength: 12 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null));
const anyValue = fc.oneof(scalar, fc.array(scalar, { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 5 }), scalar, { maxKeys: 3 }));
const request = fc.record(
  {
    clientToken: fc.oneof({ weight: 5, arbitrary: fc.string({ maxLength: 70 }) }, { weight: 1, arbitrary: anyValue }),
    status: fc.oneof(fc.constantFrom('QUEUED', 'IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'REJECTED', 'CANCELED', 'TIMED_OUT', 'REMOVED'), anyValue),
    statusDetails: fc.oneof(fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 }), { maxKeys: 12 }), anyValue),
    expectedVersion: fc.oneof(fc.integer({ min: -1, max: 6 }), fc.constantFrom('1', '2', 'x'), anyValue),
    executionNumber: fc.oneof(fc.integer({ min: 0, max: 3 }), anyValue),
    stepTimeoutInMinutes: fc.oneof(fc.integer({ min: -2, max: 10081 }), anyValue),
    includeJobDocument: fc.oneof(fc.boolean(), anyValue),
    includeJobExecutionState: fc.oneof(fc.boolean(), anyValue),
  },
  { requiredKeys: [] },
);
const payload = fc.oneof(
  { weight: 6, arbitrary: request.map((r) => Buffer.from(JSON.stringify(r))) },
  { weight: 1, arbitrary: fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v))) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }).map((s) => Buffer.from(s)) },
  { weight: 1, arbitrary: fc.constant(Buffer.alloc(0)) },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(
        '{"__proto__":{"clientToken":"p","status":"SUCCEEDED"}}',
        '{"clientToken":"c","statusDetails":{"__proto__":"x","constructor":"y"},"status":"IN_PROGRESS"}',
        '{"clientToken":"c","status":"toString"}',
        '[{"clientToken":"a"}]',
        '\ufeff{"clientToken":"bom"}',
        '{"clientToken":"dup","clientToken":"second"}',
      )
      .map((s) => Buffer.from(s)),
  },
);

type Setup = { kind: 'job'; id: string; ns: boolean } | { kind: 'advance'; ms: number } | { kind: 'cancel'; force: boolean };
const setup: fc.Arbitrary<Setup> = fc.oneof(
  fc.record({ kind: fc.constant('job' as const), id: fc.constantFrom('J1', 'J2'), ns: fc.boolean() }),
  fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 3_600_000 }) }),
  fc.record({ kind: fc.constant('cancel' as const), force: fc.boolean() }),
);

function decodedToken(buf: Buffer): { has: boolean; value?: unknown } {
  try {
    const v: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(buf));
    if (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.hasOwn(v, 'clientToken'))
      return { has: (v as any).clientToken !== null, value: (v as any).clientToken };
  } catch {
    /* not JSON: no token to echo */
  }
  return { has: false };
}

describe('handleMqtt property', () => {
  it('never throws; one response per request, token echoed, no internal errors', () => {
    fc.assert(
      fc.property(fc.array(setup, { maxLength: 4 }), fc.array(fc.tuple(topic, payload), { minLength: 1, maxLength: 3 }), (steps, reqs) => {
        const sim = makeSim();
        for (const s of steps) {
          if (s.kind === 'job') sim.svc.createJob({ jobId: s.id, targets: ['t1', 't2'], document: '{}', ...(s.ns ? { namespaceId: 'ns1' } : {}), timeoutConfig: { inProgressTimeoutInMinutes: 5 } });
          else if (s.kind === 'advance') {
            sim.clock.advance(s.ms);
            sim.svc.tick();
          } else sim.svc.cancelJob('J1', { force: s.force });
        }
        for (const [t, p] of reqs) {
          const pubs = sim.during(() => sim.svc.handleMqtt('client-x', t, p));
          const responses = pubs.filter((x) => x.kind === 'response');
          const isRequest = parseRequestTopic(t) !== null && !isServiceOnlyTopic(t);
          expect(responses).toHaveLength(isRequest ? 1 : 0);
          for (const n of pubs.filter((x) => x.kind === 'notification')) expect(n.to).toBeUndefined();
          if (!isRequest) continue;
          const r = responses[0]!;
          expect(r.to).toBe('client-x');
          expect([`${t}/accepted`, `${t}/rejected`]).toContain(r.topic);
          const body = r.payload as Record<string, unknown>;
          expect(body.code).not.toBe('InternalError');
          expect(JSON.parse(JSON.stringify(body))).toEqual(body);
          const tok = decodedToken(p);
          if (tok.has && body.code !== 'InvalidJson') expect(body.clientToken).toEqual(tok.value);
          if (!tok.has) expect(body).not.toHaveProperty('clientToken');
        }
      }),
      { numRuns: 10_000 },
    );
  });
});
