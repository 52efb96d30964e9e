/**
 * The handler scripts of the AWS IoT Device Client (`sample-job-handlers/`), which the AWS managed
 * job templates name (AWS-Download-File, AWS-Install-Application, AWS-Restart-Application, …),
 * mapped onto our built-in handlers: such documents run with no script directory at all.
 * Each script receives the Device Client's `args`; `toDocument` turns them into our job document.
 */
export interface ManagedMapping {
  builtin: string;
  toDocument(args: readonly string[]): Record<string, unknown>;
}

const words = (args: readonly string[]): string => args.join(' ').trim();

export const MANAGED_HANDLERS: Readonly<Record<string, ManagedMapping>> = {
  'download-file.sh': { builtin: 'download-file', toDocument: (a) => ({ url: a[0] ?? '', path: a[1] ?? '' }) },
  'install-packages.sh': { builtin: 'install-packages', toDocument: (a) => ({ packages: words(a) }) },
  'remove-packages.sh': { builtin: 'remove-packages', toDocument: (a) => ({ packages: words(a) }) },
  'verify-packages-installed.sh': { builtin: 'verify-packages-installed', toDocument: (a) => ({ packages: words(a) }) },
  'verify-packages-removed.sh': { builtin: 'verify-packages-removed', toDocument: (a) => ({ packages: words(a) }) },
  'start-services.sh': { builtin: 'start-services', toDocument: (a) => ({ services: words(a) }) },
  'stop-services.sh': { builtin: 'stop-services', toDocument: (a) => ({ services: words(a) }) },
  'restart-services.sh': { builtin: 'restart-services', toDocument: (a) => ({ services: words(a) }) },
  'reboot.sh': { builtin: 'reboot', toDocument: () => ({}) },
  'shutdown.sh': { builtin: 'shutdown', toDocument: () => ({}) },
  'health-check.sh': { builtin: 'health-check', toDocument: () => ({}) },
  // The script runs its arguments unquoted ("$@" word-split, no shell syntax): the same argv, no shell.
  'shell-command-handler.sh': { builtin: 'exec', toDocument: (a) => ({ command: a.flatMap((x) => x.split(/\s+/)).filter(Boolean) }) },
};

export function managedMapping(handler: string): ManagedMapping | undefined {
  return Object.prototype.hasOwnProperty.call(MANAGED_HANDLERS, handler) ? MANAGED_HANDLERS[handler] : undefined;
}
