/**
 * Bad job documents in both schemas (`{operation}` and the Device Client `steps`): choosing a
 * handler, resolving it through the registry, parsing a Device Client plan and every built-in
 * handler's validate() either accept or give a reason — they never throw anything else.
 */
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { mapRegistry } from '../../src/agent/registry';
import type { JobHandler } from '../../src/handlers/api';
import { chooseHandler, DEVICE_CLIENT_HANDLER, parseDeviceClientDocument } from '../../src/handlers/document';
import type { ParseOptions } from '../../src/handlers/document';
import { RejectError } from '../../src/handlers/errors';
import { MANAGED_HANDLERS } from '../../src/handlers/managed';

const BUILTINS = ['exec', 'download-file', 'install-packages', 'remove-packages', 'verify-packages-installed', 'verify-packages-removed', 'start-services', 'stop-services', 'restart-services', 'reboot', 'shutdown', 'health-check'];

const scripts = mkdtempSync(path.join(os.tmpdir(), 'fuzz-docs-'));
chmodSync(scripts, 0o755);
writeFileSync(path.join(scripts, 'ok.sh'), '#!/bin/sh\necho ok\n', { mode: 0o755 });
chmodSync(path.join(scripts, 'ok.sh'), 0o755);
const opts: ParseOptions = { scriptDirectories: [scripts], available: (n) => BUILTINS.includes(n) };

const fake = (name: string): JobHandler => ({ name, run: () => Promise.resolve({ status: 'SUCCEEDED' }) });
const handlers = new Map<string, JobHandler>([...BUILTINS, DEVICE_CLIENT_HANDLER, 'record'].map((n) => [n, fake(n)]));

/** Names a document may try: real ones, managed scripts, escapes, control characters, junk. */
const nameArb = fc.oneof(
  fc.constantFrom(...BUILTINS, ...Object.keys(MANAGED_HANDLERS), 'ok.sh', '..', '../ok.sh', '/bin/sh', 'a/b', 'a\u0000b', '', '.', '~root', 'ok.sh\n', '-rf'),
  fc.string({ maxLength: 20 }),
);
const scalar = fc.oneof(fc.string({ maxLength: 30 }), fc.integer(), fc.boolean(), fc.constant(null));
const argsArb = fc.oneof(fc.array(fc.oneof(fc.string({ maxLength: 20 }), fc.integer()), { maxLength: 4 }), scalar);
const action = fc.record(
  {
    name: fc.oneof(fc.string({ maxLength: 12 }), fc.integer()),
    type: fc.oneof(fc.constantFrom('runHandler', 'runCommand', 'bogus'), fc.integer()),
    input: fc.oneof(fc.record({ handler: nameArb, args: argsArb, path: fc.oneof(fc.constantFrom('', 'default', scripts, '/etc', '../..'), scalar), command: fc.oneof(fc.constantFrom('echo,hi', 'ls\\,x', '', ',,'), scalar) }, { requiredKeys: [] }), scalar),
    runAsUser: fc.oneof(fc.constantFrom('nobody', 'root', 'no-such-user-4711', '', '-u', '${aws:iot:parameter:u}'), scalar),
    ignoreStepFailure: fc.oneof(fc.boolean(), scalar),
    allowStdErr: fc.oneof(fc.integer({ min: -2, max: 5 }), scalar),
  },
  { requiredKeys: [] },
);
const stepsDoc = fc.record(
  {
    version: fc.oneof(fc.constantFrom('1.0', '2', ''), scalar),
    includeStdOut: fc.oneof(fc.boolean(), scalar),
    steps: fc.oneof(fc.array(fc.oneof(fc.record({ action }, { requiredKeys: [] }), scalar), { maxLength: 4 }), scalar),
    finalStep: fc.oneof(fc.record({ action }), scalar),
  },
  { requiredKeys: [] },
);
const operationDoc = fc.record(
  {
    operation: fc.oneof(nameArb, fc.integer(), fc.constant(null), fc.array(fc.string())),
    args: argsArb,
    path: fc.oneof(fc.constantFrom('', scripts, '../'), scalar),
    command: fc.oneof(fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 }), scalar),
    runAsUser: fc.oneof(fc.constantFrom('nobody', 'no-such-user-4711'), scalar),
    packages: scalar,
    services: scalar,
    url: fc.oneof(fc.constantFrom('https://example.com/f', 'file:///etc/passwd', 'http://x'), scalar),
    timeoutSeconds: fc.oneof(fc.integer({ min: -5, max: 100_000 }), scalar),
  },
  { requiredKeys: [] },
);
const anyDoc = fc.oneof(stepsDoc, operationDoc, fc.jsonValue());

const nonEmpty = (s: unknown): boolean => typeof s === 'string' && s.trim().length > 0;

describe('fuzz: job documents', () => {
  it('chooseHandler and the registry pick a loaded handler or give a reason', () => {
    const reg = mapRegistry(handlers, chooseHandler);
    fc.assert(
      fc.property(anyDoc, (doc) => {
        const c = chooseHandler(doc, handlers as ReadonlyMap<string, JobHandler<never>>);
        if ('handler' in c) expect(handlers.has(c.handler)).toBe(true);
        else expect(nonEmpty(c.reject)).toBe(true);
        const r = reg.resolve(doc);
        if (r.ok) expect(handlers.get(r.handler.name)).toBe(r.handler);
        else expect(nonEmpty(r.reason)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('parseDeviceClientDocument yields a plan or a RejectError with a reason; scripts never leave their directory', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(stepsDoc, operationDoc), async (doc) => {
        const r = await parseDeviceClientDocument(doc, opts).then(
          (plan) => ({ ok: true as const, plan }),
          (err: unknown) => ({ ok: false as const, err }),
        );
        if (!r.ok) {
          expect(r.err).toBeInstanceOf(RejectError);
          expect(nonEmpty((r.err as Error).message)).toBe(true);
          return;
        }
        for (const s of [...r.plan.steps, ...(r.plan.finalStep ? [r.plan.finalStep] : [])]) {
          if (s.action.type === 'script') expect(path.dirname(s.action.file)).toBe(scripts);
          if (s.action.type === 'builtin') expect(BUILTINS).toContain(s.action.handler);
          if (s.action.type === 'command') expect(s.action.argv.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('runHandler names with "..", "/" or NUL are always rejected', async () => {
    const bad = fc.tuple(fc.string({ maxLength: 6 }), fc.constantFrom('..', '/', '\u0000', '../', '/..'), fc.string({ maxLength: 6 })).map(([a, m, b]) => `${a}${m}${b}`);
    await fc.assert(
      fc.asyncProperty(bad, fc.boolean(), async (handler, legacy) => {
        const doc = legacy ? { operation: handler, args: [], path: scripts } : { version: '1.0', steps: [{ action: { name: 's', type: 'runHandler', input: { handler, path: scripts } } }] };
        await expect(parseDeviceClientDocument(doc, opts)).rejects.toBeInstanceOf(RejectError);
      }),
      { numRuns: 300 },
    );
  });

  it.each(BUILTINS)('built-in %s: validate() returns undefined or a reason, never throws', async (name) => {
    const mod = (await import(path.join('..', '..', 'handlers', name))) as { default: JobHandler };
    const h = mod.default;
    fc.assert(
      fc.property(fc.oneof(operationDoc.map((d) => ({ ...d, operation: name })), fc.jsonValue()), (doc) => {
        const v = h.validate?.(doc as never);
        expect(v === undefined || nonEmpty(v)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});
