/**
 * The attack table of signed job documents (docs/SIGNING.md, "What the device checks") through
 * the agent's check stage: a real Execution with the real gate, ledger, trust store and journal on
 * disk. Every refused case asserts the status, `ija:reason`, that no handler started and that the
 * execution never went IN_PROGRESS.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { b64urlDecode, b64urlEncode } from '../../src/trust';
import type { Envelope, JobPayload } from '../../src/trust';
import { SignedHarness } from '../support/signed-exec';
import { NOW, envelope, fleet, makeKey, payload, signStore, storeDoc } from '../support/trust';

const f = fleet();
const script = (over: Partial<JobPayload> = {}): JobPayload => payload({ op: 'run-script', doc: { operation: 'run-script' }, ...over });
const signed = (p: JobPayload, signers = [f.ci], urls?: Record<string, string>): Envelope => envelope(p, signers, urls);

let h: SignedHarness;
beforeEach(async () => {
  h = await SignedHarness.create(f.store.doc);
});
afterEach(() => h.close());

async function refused(doc: unknown, reason: string, jobId = 'job-1', executionNumber = 1, o: Parameters<SignedHarness['run']>[3] = {}): Promise<Record<string, string>> {
  const r = await h.run(jobId, executionNumber, doc, o);
  expect({ status: r.status, reason: r.details['ija:reason'] }).toEqual({ status: 'REJECTED', reason });
  expect(r.details['ija:trustVersion']).toBe('1');
  expect(r.inProgress).toBe(0);
  expect(h.started).toEqual([]);
  return r.details;
}

/** Re-encodes part of an envelope. */
function withHeader(env: Envelope, header: Record<string, unknown>): Envelope {
  const sig = env.jws.signatures[0]!;
  return { ...env, jws: { ...env.jws, signatures: [{ ...sig, protected: b64urlEncode(JSON.stringify(header)) }] } };
}
const header = (env: Envelope): Record<string, unknown> => JSON.parse(b64urlDecode(env.jws.signatures[0]!.protected, 'h').toString()) as Record<string, unknown>;

describe('accepted', () => {
  it('a valid envelope runs its signed doc only, with the verdict in the outcome', async () => {
    const p = script();
    const r = await h.run('job-1', 1, signed(p));
    expect(r.status).toBe('SUCCEEDED');
    expect(r.details).toMatchObject({ 'ija:kids': 'ci-1', 'ija:trustVersion': '1', 'ija:jti': p.jti, 'ija:clock': 'broker' });
    expect(r.details['ija:reason']).toBeUndefined();
    expect(h.started).toEqual(['run-script']);
    expect(r.inProgress).toBe(1);
  });

  it('survives null-stripping and re-serialisation of the document around it', async () => {
    const env = JSON.parse(JSON.stringify(signed(script()))) as Envelope;
    expect((await h.run('job-1', 1, env)).status).toBe('SUCCEEDED');
  });
});

describe('refused before anything runs', () => {
  it('unsigned', () => refused({ operation: 'run-script' }, 'unsigned'));
  it('an unknown top-level field beside the envelope', () => refused({ ...signed(script()), steps: [] }, 'unsigned-field'));

  it('tampered payload', async () => {
    const env = signed(script());
    const bytes = b64urlDecode(env.jws.payload, 'p');
    const tampered = Buffer.from(bytes.toString().replace('"run-script"}', '"run-scripT"}'));
    await refused({ ...env, jws: { ...env.jws, payload: b64urlEncode(tampered) } }, 'bad-signature');
  });

  it('tampered protected header (another kid of the same role)', async () => {
    const env = signed(script());
    await refused(withHeader(env, { ...header(env), kid: 'approver-bob' }), 'bad-signature');
  });

  it('tampered signature', async () => {
    const env = signed(script());
    const s = env.jws.signatures[0]!;
    const sig = b64urlDecode(s.signature, 's');
    sig[0] = sig[0]! ^ 1;
    await refused({ ...env, jws: { ...env.jws, signatures: [{ ...s, signature: b64urlEncode(sig) }] } }, 'bad-signature');
  });

  it('an unknown kid', () => refused(signed(script(), [makeKey('stranger')]), 'unknown-key'));

  it('alg none', async () => {
    const env = signed(script());
    // The one signature does not count, so none does: the payload is never even parsed.
    await refused(withHeader(env, { ...header(env), alg: 'none' }), 'bad-signature');
  });

  it('alg confusion: ES256 claimed for an Ed25519 key', async () => {
    const env = signed(script());
    const d = await refusedAny(withHeader(env, { ...header(env), alg: 'ES256' }));
    expect(['bad-signature', 'malformed-envelope']).toContain(d['ija:reason']);
  });

  it('header injection (jwk)', async () => {
    const env = signed(script());
    await refused(withHeader(env, { ...header(env), jwk: { kty: 'OKP' } }), 'malformed-envelope');
  });

  it('one key signing twice counts once (run-command needs two approvers)', () =>
    refused(signed(payload({ op: 'run-command', doc: { operation: 'run-command' } }), [f.approver, f.approver]), 'threshold-not-met'));

  it('role escalation: an oncall key signs run-command', async () => {
    const d = await refusedAny(signed(payload({ op: 'run-command', doc: { operation: 'run-command' } }), [f.oncall]));
    expect(['role-not-permitted', 'threshold-not-met']).toContain(d['ija:reason']);
  });

  it('op and doc disagree: oncall signs op reboot over a document that selects exec', () =>
    refused(signed(payload({ op: 'reboot', doc: { operation: 'exec' } }), [f.oncall]), 'malformed-envelope'));

  it('another job id', () => refused(signed(script()), 'job-id-mismatch', 'job-2'));
  it('another namespace', () => refused(signed(script()), 'namespace-mismatch', 'job-1', 1, { namespace: 'ops' }));
  it('another thing', () => refused(signed(script({ aud: { things: ['gw-2'] } })), 'audience-mismatch'));
  it('a label the device does not have', () => refused(signed(script({ aud: { labels: ['fleet:us'] } })), 'audience-mismatch'));
  it('not yet valid', () => refused(signed(script({ iat: NOW + 3600, nbf: NOW + 3600, exp: NOW + 7200 })), 'not-yet-valid'));
  it('expired', () => refused(signed(script({ iat: NOW - 7200, exp: NOW - 1 })), 'expired'));
  it('validity longer than the policy allows', () => refused(signed(script({ exp: NOW + 2 * 86400 })), 'validity-too-long'));

  it('a URL pointing at another bucket', async () => {
    const p = script({ artifacts: { fw: { s3: { region: 'eu-west-1', bucket: 'acme-fw', key: 'gw/fw.bin' }, sha256: 'a'.repeat(64), size: 3 } } });
    const url = 'https://s3.eu-west-1.amazonaws.com/evil-bucket/gw/fw.bin?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=x&X-Amz-Date=20260101T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=abc';
    await refused(signed(p, [f.ci], { fw: url }), 'url-mismatch');
  });

  it('an unresolved presigned-URL placeholder', async () => {
    const p = script({ artifacts: { fw: { s3: { region: 'eu-west-1', bucket: 'acme-fw', key: 'gw/fw.bin' }, sha256: 'a'.repeat(64), size: 3 } } });
    await refused(signed(p, [f.ci], { fw: '${aws:iot:s3-presigned-url-v2:https://s3.eu-west-1.amazonaws.com/acme-fw/gw/fw.bin}' }), 'placeholder-unresolved');
  });
});

async function refusedAny(doc: unknown): Promise<Record<string, string>> {
  const r = await h.run('job-1', 1, doc);
  expect(r.status).toBe('REJECTED');
  expect(r.inProgress).toBe(0);
  expect(h.started).toEqual([]);
  return r.details;
}

describe('replay and rollback', () => {
  it('delete and recreate the job with the same envelope: replay, even after a restart', async () => {
    const env = signed(script());
    expect((await h.run('job-1', 1, env)).status).toBe('SUCCEEDED');
    await h.restart();
    h.started.length = 0;
    const d = await refused(env, 'replay', 'job-1', 1, { queuedAt: NOW });
    expect(d['ija:detail']).toMatch(/already/);
  });

  it('AWS retries run up to maxAttempts, then replay', async () => {
    const env = signed(script({ maxAttempts: 2 }));
    expect((await h.run('job-1', 1, env, { result: { status: 'FAILED' } })).status).toBe('FAILED');
    expect((await h.run('job-1', 2, env, { result: { status: 'FAILED' } })).status).toBe('FAILED');
    expect(h.started).toEqual(['run-script', 'run-script']);
    h.started.length = 0;
    await refused(env, 'replay', 'job-1', 3);
  });

  it('no retry after success, and maxAttempts defaults to 1', async () => {
    const once = signed(script());
    expect((await h.run('job-1', 1, once, { result: { status: 'FAILED' } })).status).toBe('FAILED');
    h.started.length = 0;
    await refused(once, 'replay', 'job-1', 2);
    const twice = signed(script({ job: { id: 'job-2', ns: '' }, maxAttempts: 3 }));
    expect((await h.run('job-2', 1, twice)).status).toBe('SUCCEEDED');
    h.started.length = 0;
    await refused(twice, 'replay', 'job-2', 2);
  });

  it('an envelope once REJECTED never runs, not even under the job it names', async () => {
    const env = signed(script());
    await refused(env, 'job-id-mismatch', 'job-other');
    await refused(env, 'replay', 'job-1');
  });

  it('seq never goes back on a stream; equal seq only for the same envelope', async () => {
    const install = (n: number, id: string): JobPayload =>
      payload({ op: 'install-package', doc: { operation: 'install-package' }, job: { id, ns: '' }, seq: { stream: 'fw/gw', n }, exp: NOW + 86400 });
    expect((await h.run('up-5', 1, signed(install(5, 'up-5'), [f.ci, f.approver]))).status).toBe('SUCCEEDED');
    h.started.length = 0;
    await refused(signed(install(4, 'down-4'), [f.ci, f.approver]), 'rollback', 'down-4');
    await refused(signed(install(5, 'again-5'), [f.ci, f.approver]), 'rollback', 'again-5');
    expect((await h.run('up-6', 1, signed(install(6, 'up-6'), [f.ci, f.approver]))).status).toBe('SUCCEEDED');
  });

  it('the ledger is on disk, 0600', async () => {
    await h.run('job-1', 1, signed(script()));
    const file = join(h.dir, 'state', 'trust', 'ledger.json');
    expect(Object.keys((JSON.parse(await readFile(file, 'utf8')) as { jti: object }).jti)).toHaveLength(1);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });
});

describe('time', () => {
  it('a 1970 system clock: the broker timestamp decides; a valid envelope runs, an expired one does not', async () => {
    await h.restart({ systemNowMs: 86_400_000 });
    expect((await h.run('job-1', 1, signed(script()))).details['ija:clock']).toBe('broker');
    h.started.length = 0;
    await refused(signed(script({ job: { id: 'job-2', ns: '' }, iat: NOW - 7200, exp: NOW - 60 })), 'expired', 'job-2');
  });

  it('no broker timestamp and a 1970 clock: the high-water mark of what was accepted is the floor', async () => {
    expect((await h.run('job-1', 1, signed(script()))).status).toBe('SUCCEEDED');
    await h.restart({ systemNowMs: 86_400_000 });
    h.started.length = 0;
    const d = await refused(signed(script({ job: { id: 'job-2', ns: '' }, iat: NOW - 7200, exp: NOW - 60 })), 'expired', 'job-2', 1, { timestamp: null });
    expect(d['ija:clock']).toBe('floor');
  });

  it('a broker timestamp in milliseconds is read as such', async () => {
    expect((await h.run('job-1', 1, signed(script()), { timestamp: NOW * 1000 })).status).toBe('SUCCEEDED');
  });
});

describe('audit mode and unsigned documents', () => {
  it('audit: a refused document runs anyway and reports the same keys', async () => {
    await h.restart({ mode: 'audit' });
    const r = await h.run('job-1', 1, { operation: 'run-script' });
    expect(r.status).toBe('SUCCEEDED');
    expect(r.details).toMatchObject({ 'ija:reason': 'unsigned', 'ija:trustVersion': '1' });
    expect(h.started).toEqual(['run-script']);
  });

  it('allowUnsigned: AWS-Reboot runs, at most once per interval; runCommand and exec never', async () => {
    await h.restart({ allowUnsigned: [{ handler: 'reboot', minIntervalSeconds: 3600 }] });
    const awsReboot = { version: '1.0', steps: [{ action: { name: 'Reboot', type: 'runHandler', input: { handler: 'reboot.sh', path: 'default' }, runAsUser: '' } }] };
    const r = await h.run('reboot-1', 1, awsReboot);
    expect(r.status).toBe('SUCCEEDED');
    expect(h.started).toEqual(['device-client-steps']);
    h.started.length = 0;
    const d = await refused(awsReboot, 'unsigned', 'reboot-2');
    expect(d['ija:detail']).toMatch(/once per 3600 s/);
    const runCommand = { version: '1.0', steps: [{ action: { name: 'Run', type: 'runCommand', input: { command: 'echo,ok' } } }] };
    expect((await refused(runCommand, 'unsigned', 'rc-1'))['ija:detail']).toMatch(/runCommand.*never/);
    const shell = { version: '1.0', steps: [{ action: { name: 'Sh', type: 'runHandler', input: { handler: 'shell-command-handler.sh', args: ['id'] } } }] };
    expect((await refused(shell, 'unsigned', 'sh-1'))['ija:detail']).toMatch(/exec.*never/);
  });
});

describe('trust-update', () => {
  const rootsB = [makeKey('root-d'), makeKey('root-e')];
  const next = (over: Partial<Parameters<typeof storeDoc>[0]> = {}) => storeDoc({ ...f.spec, version: 2, ...over });
  const update = (doc: unknown, id = 'tu-1') => signed(payload({ op: 'trust-update', doc: doc as never, job: { id, ns: '' } }), [f.approver, f.approver2]);

  it('a valid rotation is kept, survives a restart, and its revocations apply', async () => {
    const v2 = signStore(next({ roots: rootsB, threshold: 2, revoked: ['ci-1'] }), [...f.roots.slice(0, 2), ...rootsB]);
    const r = await h.run('tu-1', 1, update(v2));
    expect(r.status).toBe('SUCCEEDED');
    expect(r.details['ija:trustVersion']).toBe('2');
    await h.restart();
    expect(h.gate.trustVersion).toBe(2);
    const after = await h.run('job-1', 1, signed(script()));
    expect({ status: after.status, reason: after.details['ija:reason'], version: after.details['ija:trustVersion'] }).toEqual({ status: 'REJECTED', reason: 'key-revoked', version: '2' });
  });

  it('signed by the old roots only, or the new roots only: trust-store-error', async () => {
    await refused(update(signStore(next({ roots: rootsB, threshold: 2 }), f.roots.slice(0, 2))), 'trust-store-error', 'tu-1');
    await refused(update(signStore(next({ roots: rootsB, threshold: 2 }), rootsB), 'tu-2'), 'trust-store-error', 'tu-2');
  });

  it('a skipped version, or the same version again: trust-store-error', async () => {
    await refused(update(signStore(next({ version: 3 }), f.roots.slice(0, 2))), 'trust-store-error', 'tu-1');
    await refused(update(signStore(next({ version: 1 }), f.roots.slice(0, 2)), 'tu-2'), 'trust-store-error', 'tu-2');
  });

  it('never rolled back: version 1 after 2 is refused, and a shipped version 1 does not replace the kept 2', async () => {
    expect((await h.run('tu-1', 1, update(signStore(next(), f.roots.slice(0, 2))))).status).toBe('SUCCEEDED');
    await h.restart();
    expect(h.gate.trustVersion).toBe(2);
    h.started.length = 0;
    const r = await h.run('tu-2', 1, update(signStore(next({ version: 1 }), f.roots.slice(0, 2)), 'tu-2'));
    expect({ status: r.status, reason: r.details['ija:reason'], version: r.details['ija:trustVersion'] }).toEqual({ status: 'REJECTED', reason: 'trust-store-error', version: '2' });
  });
});
