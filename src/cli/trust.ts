/** `iot-jobs-agent trust sign|verify`: root signatures on a trust store (docs/ARCHITECTURE.md §6, docs/SIGNING.md). */
import { readFile } from 'node:fs/promises';
import { TrustError, loadTrustStore, parseTrustStoreText, signTrustStore, verifiedRootKids, verifyTrustUpdate } from '../trust';
import { atomicWriteFile } from '../lib/fsutil';
import { loadSigningKey, KEY_HELP } from './signing-key';
import { UsageError, parseFlags } from './args';
import type { CliIo, Subcommand } from './args';

const USAGE = `Usage: iot-jobs-agent trust sign --in FILE --key KEY --kid KID --out FILE
       iot-jobs-agent trust verify --in FILE [--previous FILE]

sign     adds one root signature (over the RFC 8785 bytes of "signed") to a trust store
         {"signed": {...}, "signatures": [...]}. Run it once per root key; a kid that already
         signed is refused. For a new version, the previous version's roots sign it too.
         ${KEY_HELP}.
verify   checks the store's structure and that K of its root keys signed it; with --previous,
         also that it may follow that version (exactly one higher, K of the previous roots).
         Exit 0 and a summary, or exit 1 and the reason.`;

export const trustCommand: Subcommand = {
  name: 'trust',
  summary: 'sign or verify a trust store',
  usage: USAGE,
  async run(argv: string[], io: CliIo): Promise<number> {
    const [verb, ...rest] = argv;
    if (verb === 'sign') return sign(rest, io);
    if (verb === 'verify') return verify(rest, io);
    throw new UsageError(verb === undefined ? 'missing action: sign or verify' : `unknown action ${JSON.stringify(verb)}`);
  },
};

async function sign(argv: string[], io: CliIo): Promise<number> {
  const f = parseFlags(argv, { in: { type: 'string' }, key: { type: 'string' }, kid: { type: 'string' }, out: { type: 'string' } });
  if (!f.in || !f.key || !f.kid || !f.out) throw new UsageError('--in, --key, --kid and --out are required');
  const store = parseTrustStoreText(await readFile(f.in));
  const key = await loadSigningKey(f.key);
  const doc = signTrustStore(store, key, f.kid);
  await atomicWriteFile(f.out, `${JSON.stringify(doc, null, 2)}\n`, 0o644);
  const roots = verifiedRootKids(parseTrustStoreText(JSON.stringify(doc)), store);
  io.stdout.write(`signed version ${store.version} as ${f.kid}; ${roots.length} of ${store.threshold} required root signatures of this version present\n`);
  return 0;
}

async function verify(argv: string[], io: CliIo): Promise<number> {
  const f = parseFlags(argv, { in: { type: 'string' }, previous: { type: 'string' } });
  if (!f.in) throw new UsageError('--in FILE is required');
  const text = await readFile(f.in);
  const prevText = f.previous ? await readFile(f.previous) : undefined;
  try {
    const store = loadTrustStore(text);
    let line = `ok: trust store version ${store.version}, signed by ${verifiedRootKids(store, store).join(', ')} (${store.threshold} of ${store.rootKids.size} roots needed)`;
    if (prevText) {
      const prev = loadTrustStore(prevText);
      verifyTrustUpdate(prev, store);
      line += `; may follow version ${prev.version} (signed by ${verifiedRootKids(store, prev).join(', ')} of its roots)`;
    }
    io.stdout.write(`${line}\n`);
    return 0;
  } catch (e) {
    if (!(e instanceof TrustError)) throw e;
    io.stdout.write(`${e.reason}: ${e.message}\n`);
    return 1;
  }
}
