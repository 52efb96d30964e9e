/**
 * Resolves a `runAsUser` value to the uid/gid/home the spawn applies itself. No sudo, and never a
 * fallback to the agent's own user: a name that does not resolve rejects the job.
 */
import type * as ChildProcess from 'node:child_process';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { RejectError } from './errors';

export interface ResolvedUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

// POSIX portable user names plus the '$' Samba machine accounts use; never an option-like '-'.
const USER_NAME = /^[A-Za-z0-9._][A-Za-z0-9._@-]*\$?$/;
const NUMERIC = /^[0-9]+$/;

export function parsePasswdLine(line: string): ResolvedUser | undefined {
  const f = line.trim().split(':');
  if (f.length < 7) return undefined;
  const uid = Number(f[2]);
  const gid = Number(f[3]);
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) return undefined;
  return { name: f[0] ?? '', uid, gid, home: f[5] ?? '/' };
}

function getent(key: string): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy loading is the point
    (require('node:child_process') as typeof ChildProcess).execFile('getent', ['passwd', '--', key], { timeout: 10_000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } }, (err, stdout) => {
      if (!err) return resolve(stdout);
      // getent exits 2 when the key is not found: that is an answer; anything else is a lookup failure.
      if ((err as { code?: unknown }).code === 2) return resolve(undefined);
      reject(err);
    });
  });
}

async function fromPasswdFile(key: string, file: string): Promise<ResolvedUser | undefined> {
  const text = await readFile(file, 'utf8');
  for (const line of text.split('\n')) {
    const u = parsePasswdLine(line);
    if (u && (NUMERIC.test(key) ? String(u.uid) === key : u.name === key)) return u;
  }
  return undefined;
}

export interface UserLookupOptions {
  /** Read this file instead of asking NSS (tests, systems without getent). */
  passwdFile?: string;
}

/** Looks a user up by name or numeric uid; RejectError when it does not exist. */
export async function resolveUser(user: string, opts: UserLookupOptions = {}): Promise<ResolvedUser> {
  if (!USER_NAME.test(user) || user.length > 256) throw new RejectError(`runAsUser ${JSON.stringify(user)} is not a valid user name`);
  let found: ResolvedUser | undefined;
  if (opts.passwdFile) {
    found = await fromPasswdFile(user, opts.passwdFile);
  } else {
    try {
      const out = await getent(user);
      found = out === undefined ? undefined : parsePasswdLine(out.split('\n')[0] ?? '');
    } catch {
      found = await fromPasswdFile(user, '/etc/passwd');
    }
  }
  if (!found) throw new RejectError(`user ${user} does not exist`);
  return found;
}

/** The agent's own identity, used when a job names no user. */
export function currentUser(): ResolvedUser {
  const info = os.userInfo();
  return { name: info.username, uid: info.uid, gid: info.gid, home: info.homedir };
}
