/** The proxy password: read from its file at each connection, so a changed password needs no restart. */
import { readFile } from 'node:fs/promises';
import { errorMessage } from '../lib/errors';
import { ProxyError } from './errors';
import type { ProxySettings } from './settings';

export async function proxyCredentials(p: ProxySettings): Promise<{ username: string; password: string } | undefined> {
  if (p.username === undefined) return undefined;
  if (p.password === undefined) return { username: p.username, password: '' };
  if ('text' in p.password) return { username: p.username, password: p.password.text };
  let text: string;
  try {
    text = await readFile(p.password.file, 'utf8');
  } catch (err) {
    // Not 'auth': nothing was sent to the proxy, and the file may appear (provisioning, a mount).
    throw new ProxyError('unreachable', `cannot read proxy.passwordFile ${p.password.file}: ${errorMessage(err)}`, { cause: err });
  }
  // The first line: files written with `echo` end in a newline that is not part of the password.
  return { username: p.username, password: text.split(/\r?\n/)[0] ?? '' };
}
