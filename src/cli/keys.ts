/** `iot-jobs-agent keys generate`: an operator signing key pair (docs/ARCHITECTURE.md §6, docs/SIGNING.md). */
import { open } from 'node:fs/promises';
import { generateKeyPair } from '../trust';
import type { Alg } from '../trust';
import { UsageError, parseFlags } from './args';
import type { CliIo, Subcommand } from './args';

const USAGE = `Usage: iot-jobs-agent keys generate --alg ed25519|es256 --out PREFIX [--kid KID]

Writes a new signing key pair: PREFIX.key (the private key, PKCS#8 PEM, mode 0600),
PREFIX.pub (the public key, SPKI PEM) and, with --kid, PREFIX.pub.json: the trust store's
"keys" entry {"KID": {"alg": "EdDSA"|"ES256", "pub": "<SPKI PEM>"}}. Existing files are
never overwritten. Keep root keys offline; they sign only trust stores.`;

const ALG: Record<string, Alg> = { ed25519: 'EdDSA', es256: 'ES256' };

/** Creates a file that must not exist yet, with its mode set at creation. */
async function createNew(path: string, data: string, mode: number): Promise<void> {
  const fh = await open(path, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export const keysCommand: Subcommand = {
  name: 'keys',
  summary: 'generate an operator signing key pair',
  usage: USAGE,
  async run(argv: string[], io: CliIo): Promise<number> {
    const [verb, ...rest] = argv;
    if (verb !== 'generate') throw new UsageError(verb === undefined ? 'missing action: generate' : `unknown action ${JSON.stringify(verb)}`);
    const f = parseFlags(rest, { alg: { type: 'string' }, out: { type: 'string' }, kid: { type: 'string' } });
    const alg = ALG[(f.alg ?? '').toLowerCase()];
    if (!alg) throw new UsageError('--alg: expected ed25519 or es256');
    if (!f.out) throw new UsageError('--out PREFIX is required');
    if (f.kid !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._:@+/-]{0,127}$/.test(f.kid)) throw new UsageError('--kid: letters, digits and . _ : @ + / - (at most 128, starting with a letter or digit)');
    const pair = generateKeyPair(alg);
    await createNew(`${f.out}.key`, pair.privatePem, 0o600);
    await createNew(`${f.out}.pub`, pair.publicPem, 0o644);
    const written = [`${f.out}.key`, `${f.out}.pub`];
    if (f.kid !== undefined) {
      await createNew(`${f.out}.pub.json`, `${JSON.stringify({ [f.kid]: { alg, pub: pair.publicPem } }, null, 2)}\n`, 0o644);
      written.push(`${f.out}.pub.json`);
    }
    io.stdout.write(`${alg} key pair written: ${written.join(', ')}\n`);
    return 0;
  },
};
