/** `iot-jobs-agent job sign|verify`: signed job envelopes (docs/ARCHITECTURE.md §6, docs/SIGNING.md). */
import { readFile } from 'node:fs/promises';
import { StrictJsonError, TrustError, addSignature, decodePayload, loadTrustStore, parseEnvelope, parseStrictJson, payloadProblems, signPayload, verifyJob } from '../trust';
import type { Artifact, Envelope } from '../trust';
import { atomicWriteFile } from '../lib/fsutil';
import { loadSigningKey, KEY_HELP } from './signing-key';
import { UsageError, intFlag, parseFlags } from './args';
import type { CliIo, Subcommand } from './args';
import { buildArtifact, buildPayload, durationSeconds, isoSeconds, parseSeq } from './job-build';

const USAGE = `Usage: iot-jobs-agent job sign --doc FILE --job-id ID [--namespace NS] (--thing NAME | --label LABEL)…
                   [--op NAME] [--expires-in N(s|m|h|d)] [--not-before ISO-8601] [--seq STREAM:N]
                   [--max-attempts N] [--continuous] [--artifact NAME=FILE@URL]… --key KEY --kid KID --out FILE
       iot-jobs-agent job sign --in SIGNED --key KEY --kid KID --out FILE
       iot-jobs-agent job verify --trust FILE --in SIGNED --thing NAME [--label L]… [--job-id ID] [--namespace NS]

sign     builds the envelope {"ija": 1, "jws": {...}, "urls"?: {...}} around the handler document
         and signs it: the payload binds the job id, namespace ("" = default), audience, op
         (default: the handler the document selects), validity (iat = now, default 24h),
         optional seq and maxAttempts (default 1). --artifact signs FILE's SHA-256 and size; an
         S3 URL (https://s3.REGION.amazonaws.com/BUCKET/KEY) becomes a presigned-URL placeholder.
         With --in, adds one more signature to an existing envelope; the payload is unchanged.
         ${KEY_HELP}.
verify   runs the device's signature, policy, binding and time checks offline (the time is this
         machine's clock; --job-id and --namespace default to the signed ones). Exit 0 and the
         verdict, or exit 1 and the reason code on stdout (the detail on stderr).`;

export const jobCommand: Subcommand = {
  name: 'job',
  summary: 'sign or verify a job document envelope',
  usage: USAGE,
  async run(argv: string[], io: CliIo): Promise<number> {
    const [verb, ...rest] = argv;
    if (verb === 'sign') return sign(rest, io);
    if (verb === 'verify') return verify(rest, io);
    throw new UsageError(verb === undefined ? 'missing action: sign or verify' : `unknown action ${JSON.stringify(verb)}`);
  },
};

const SIGN_FLAGS = {
  doc: { type: 'string' },
  in: { type: 'string' },
  'job-id': { type: 'string' },
  namespace: { type: 'string' },
  thing: { type: 'string', multiple: true },
  label: { type: 'string', multiple: true },
  op: { type: 'string' },
  'expires-in': { type: 'string' },
  'not-before': { type: 'string' },
  seq: { type: 'string' },
  'max-attempts': { type: 'string' },
  continuous: { type: 'boolean' },
  artifact: { type: 'string', multiple: true },
  key: { type: 'string' },
  kid: { type: 'string' },
  out: { type: 'string' },
} as const;

async function readJsonFile(path: string, what: string): Promise<unknown> {
  try {
    return parseStrictJson(await readFile(path), { maxDepth: 32 });
  } catch (e) {
    if (e instanceof StrictJsonError) throw new UsageError(`${what} ${path}: ${e.message}`);
    throw e;
  }
}

async function sign(argv: string[], io: CliIo): Promise<number> {
  const f = parseFlags(argv, SIGN_FLAGS);
  if (!f.key || !f.kid || !f.out) throw new UsageError('--key, --kid and --out are required');
  const key = await loadSigningKey(f.key);
  if (f.in !== undefined) {
    const extra = ['doc', 'job-id', 'namespace', 'thing', 'label', 'op', 'expires-in', 'not-before', 'seq', 'max-attempts', 'continuous', 'artifact'].filter((k) => (f as Record<string, unknown>)[k] !== undefined);
    if (extra.length) throw new UsageError(`--in adds a signature to a signed payload; it cannot take ${extra.map((k) => `--${k}`).join(', ')}`);
    const env = addSignature(parseEnvelope(await readJsonFile(f.in, '--in')), key, f.kid);
    await writeEnvelope(f.out, env);
    io.stdout.write(`added the signature of ${f.kid}; ${env.jws.signatures.length} signature(s)\n`);
    return 0;
  }
  if (!f.doc || !f['job-id']) throw new UsageError('--doc and --job-id are required (or --in to add a signature)');
  const doc = await readJsonFile(f.doc, '--doc');
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new UsageError('--doc: the handler document must be a JSON object');
  const artifacts: Record<string, Artifact> = {};
  const urls: Record<string, string> = {};
  for (const spec of f.artifact ?? []) {
    const a = await buildArtifact(spec);
    if (a.name in artifacts) throw new UsageError(`--artifact ${a.name}: named twice`);
    artifacts[a.name] = a.artifact;
    if (a.placeholder) urls[a.name] = a.placeholder;
  }
  const payload = buildPayload({
    doc: doc as Record<string, unknown>,
    jobId: f['job-id'],
    namespace: f.namespace ?? '',
    things: f.thing ?? [],
    labels: f.label ?? [],
    op: f.op,
    expiresIn: durationSeconds(f['expires-in'] ?? '24h', 'expires-in'),
    notBefore: f['not-before'] === undefined ? undefined : isoSeconds(f['not-before'], 'not-before'),
    seq: f.seq === undefined ? undefined : parseSeq(f.seq),
    maxAttempts: intFlag('max-attempts', f['max-attempts'], 1, 1000),
    continuous: f.continuous ?? false,
    artifacts,
    now: Math.floor(Date.now() / 1000),
  });
  const problems = payloadProblems(payload);
  if (problems.length) throw new UsageError(`the payload would be invalid:\n  - ${problems.join('\n  - ')}`);
  const env = signPayload(payload, key, f.kid, urls);
  await writeEnvelope(f.out, env);
  io.stdout.write(`signed job ${payload.job.id} (op ${payload.op}, jti ${payload.jti}, expires ${new Date(payload.exp * 1000).toISOString()}) as ${f.kid}\n`);
  return 0;
}

async function writeEnvelope(path: string, env: Envelope): Promise<void> {
  await atomicWriteFile(path, `${JSON.stringify(env, null, 2)}\n`, 0o644);
}

async function verify(argv: string[], io: CliIo): Promise<number> {
  const f = parseFlags(argv, {
    trust: { type: 'string' },
    in: { type: 'string' },
    thing: { type: 'string' },
    label: { type: 'string', multiple: true },
    'job-id': { type: 'string' },
    namespace: { type: 'string' },
  });
  if (!f.trust || !f.in || !f.thing) throw new UsageError('--trust, --in and --thing are required');
  const document = await readJsonFile(f.in, '--in');
  let trust;
  try {
    trust = loadTrustStore(await readFile(f.trust));
  } catch (e) {
    if (!(e instanceof TrustError)) throw e;
    io.stdout.write(`${e.reason}\n`);
    io.stderr.write(`${e.message}\n`);
    return 1;
  }
  // Defaults bind to what was signed, so an offline check needs only the thing's identity.
  const signed = signedJob(document);
  const v = verifyJob({
    document,
    trust,
    execution: { jobId: f['job-id'] ?? signed?.id ?? '', namespace: f.namespace ?? signed?.ns ?? '' },
    identity: { thingName: f.thing, labels: f.label ?? [] },
    now: Math.floor(Date.now() / 1000),
  });
  if (!v.ok) {
    io.stdout.write(`${v.reason}\n`);
    io.stderr.write(`${v.detail}\n`);
    return 1;
  }
  const p = v.payload;
  const lines = [
    'ACCEPTED',
    `job: ${p.job.ns ? `${p.job.ns}/` : ''}${p.job.id}`,
    `op: ${p.op}`,
    `signed by: ${v.kids.join(', ')} (trust store version ${v.trustVersion})`,
    `jti: ${p.jti}`,
    `valid: ${new Date((p.nbf ?? p.iat) * 1000).toISOString()} to ${new Date(p.exp * 1000).toISOString()}`,
  ];
  if (p.seq) lines.push(`seq: ${p.seq.stream} ${p.seq.n}`);
  for (const i of v.ignored) lines.push(`ignored: ${i}`);
  io.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

/** The signed job id and namespace, when the envelope decodes (verifyJob judges everything else). */
function signedJob(document: unknown): { id: string; ns: string } | undefined {
  try {
    return decodePayload(parseEnvelope(document).jws.payload).job;
  } catch {
    return undefined;
  }
}
