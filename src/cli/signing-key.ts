/** Where `--key` of `job sign` and `trust sign` comes from: a PEM key file, or a key in a PKCS#11 token. */
import type { KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { importPrivateKey } from '../trust';
import type { Signer } from '../trust';
import { tokenSigner } from './token-signer';

export const KEY_HELP = 'KEY is a PKCS#8 PEM file, or a key in a PKCS#11 token: pkcs11:token=T;id=%01?module-path=LIB&pin-source=file:PATH (or env:VAR)';

export async function loadSigningKey(spec: string): Promise<KeyObject | Signer> {
  if (spec.startsWith('pkcs11:')) return tokenSigner(spec);
  return importPrivateKey(await readFile(spec));
}
