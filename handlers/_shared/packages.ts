/**
 * The four package handlers, over apt-get/dpkg-query (Debian-like systems). The package manager is
 * found at run time; elsewhere the job is REJECTED with a reason instead of guessed at.
 * Options (`handlers.options[name]`): `aptGet`, `dpkgQuery` — program paths (tests point them at fakes).
 */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import type { HandlerContext, HandlerResult, JobHandler, StatusDetails } from '../../src/handlers/api';
import { RejectError } from '../../src/index';
import { abortError, checkRunAsUser, isRecord, optString, processDetails, runAsUserOf, tail, wordList } from './util';

export type PackageAction = 'install' | 'remove' | 'verify-installed' | 'verify-removed';

export interface PackagesDocument {
  operation?: string;
  /** Names, optionally pinned (`nginx=1.22.1-9`); an array or one space-separated string. */
  packages: string[] | string;
  /** install: run `apt-get update` first. */
  update?: boolean;
  /** remove: purge configuration files too. */
  purge?: boolean;
  runAsUser?: string;
}

// Debian policy package names, an optional `=version` or `:arch`; never an option-like leading '-'.
const PACKAGE = /^[a-z0-9][a-z0-9+.-]*(:[a-z0-9-]+)?(=[A-Za-z0-9.+~:_-]+)?$/;
const OTHER_MANAGERS = ['/usr/bin/dnf', '/usr/bin/yum', '/sbin/apk', '/usr/bin/zypper', '/usr/bin/pacman', '/usr/bin/opkg'];

async function executable(p: string): Promise<boolean> {
  try {
    await access(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function tools(ctx: HandlerContext<unknown>, name: string): Promise<{ aptGet: string; dpkgQuery: string }> {
  const aptGet = optString(ctx.options, 'aptGet', '/usr/bin/apt-get');
  const dpkgQuery = optString(ctx.options, 'dpkgQuery', '/usr/bin/dpkg-query');
  if ((await executable(aptGet)) && (await executable(dpkgQuery))) return { aptGet, dpkgQuery };
  const found: string[] = [];
  for (const m of OTHER_MANAGERS) if (await executable(m)) found.push(m);
  const which = found.length > 0 ? ` (this system has ${found.join(', ')})` : '';
  throw new RejectError(`${name} supports apt-get/dpkg (Debian-like systems) only; ${aptGet} or ${dpkgQuery} not found${which}`);
}

export function validatePackages(document: unknown): string | undefined {
  if (!isRecord(document)) return 'the job document must be an object';
  const list = wordList(document.packages);
  if (!list || list.length === 0) return 'packages must list at least one package (array or space-separated string)';
  const bad = list.find((p) => !PACKAGE.test(p));
  if (bad !== undefined) return `not a valid package name: ${JSON.stringify(bad)}`;
  for (const k of ['update', 'purge'] as const) if (document[k] !== undefined && typeof document[k] !== 'boolean') return `${k} must be true or false`;
  return checkRunAsUser(document);
}

/** dpkg's view of one package: installed version, or undefined. */
async function installedVersion(ctx: HandlerContext<PackagesDocument>, dpkgQuery: string, pkg: string): Promise<string | undefined> {
  const name = pkg.split('=')[0] ?? pkg;
  const r = await ctx.exec.run([dpkgQuery, '-W', '-f=${Status}\\t${Version}\\n', name], { signal: ctx.signal, env: { LC_ALL: 'C' } });
  if (r.aborted) throw abortError(ctx.signal);
  const line = r.exitCode === 0 ? r.stdout.split('\n')[0] ?? '' : '';
  const [status, version] = line.split('\t');
  return status?.endsWith(' installed') ? version : undefined;
}

async function verify(ctx: HandlerContext<PackagesDocument>, dpkgQuery: string, wantInstalled: boolean): Promise<HandlerResult> {
  const wrong: string[] = [];
  for (const pkg of wordList(ctx.document.packages) ?? []) {
    const version = await installedVersion(ctx, dpkgQuery, pkg);
    const pinned = pkg.includes('=') ? pkg.slice(pkg.indexOf('=') + 1) : undefined;
    const ok = wantInstalled ? version !== undefined && (pinned === undefined || pinned === version) : version === undefined;
    if (!ok) wrong.push(version === undefined ? pkg : `${pkg.split('=')[0] ?? pkg}=${version}`);
  }
  if (wrong.length === 0) return { status: 'SUCCEEDED', details: { verified: tail(wordList(ctx.document.packages)?.join(' ') ?? '') } };
  return { status: 'FAILED', details: { reason: tail(`${wantInstalled ? 'not installed' : 'still installed'}: ${wrong.join(' ')}`) } };
}

async function apt(ctx: HandlerContext<PackagesDocument>, argv: string[], step: string): Promise<StatusDetails | undefined> {
  ctx.progress({ step });
  const r = await ctx.exec.run(argv, {
    signal: ctx.signal,
    runAsUser: runAsUserOf(ctx.document as unknown as Record<string, unknown>),
    env: { DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (r.aborted) throw abortError(ctx.signal);
  return r.exitCode === 0 ? undefined : processDetails(r, { reason: `${step} failed` });
}

async function change(ctx: HandlerContext<PackagesDocument>, aptGet: string, install: boolean): Promise<HandlerResult> {
  const list = wordList(ctx.document.packages) ?? [];
  if (install && ctx.document.update === true) {
    const failed = await apt(ctx, [aptGet, 'update', '-q'], 'apt-get update');
    if (failed) return { status: 'FAILED', details: failed };
  }
  const verb = install ? 'install' : ctx.document.purge === true ? 'purge' : 'remove';
  const failed = await apt(ctx, [aptGet, verb, '-y', '-q', ...list], `apt-get ${verb}`);
  if (failed) return { status: 'FAILED', details: failed };
  return { status: 'SUCCEEDED', details: { [install ? 'installed' : 'removed']: tail(list.join(' ')) } };
}

export function packageHandler(name: string, action: PackageAction): JobHandler<PackagesDocument> {
  return {
    name,
    // apt-get converges to the same state when run again, so an interrupted run is simply repeated.
    restartPolicy: 'rerun',
    timeoutSeconds: 3600,
    validate: validatePackages,
    async run(ctx) {
      const { aptGet, dpkgQuery } = await tools(ctx, name);
      switch (action) {
        case 'install':
          return change(ctx, aptGet, true);
        case 'remove':
          return change(ctx, aptGet, false);
        case 'verify-installed':
          return verify(ctx, dpkgQuery, true);
        case 'verify-removed':
          return verify(ctx, dpkgQuery, false);
      }
    },
  };
}
