/**
 * The built-in handlers, imported statically so that they are part of the compiled agent wherever
 * it runs: dist/, the npm package or the standalone executable, which has no handler files on disk.
 * Every folder of handlers/ (but `_shared`) is listed here; a unit test keeps it so.
 */
import type { JobHandler } from '../src/handlers/api';
import downloadFile from './download-file';
import exec from './exec';
import healthCheck from './health-check';
import installPackages from './install-packages';
import reboot from './reboot';
import removePackages from './remove-packages';
import restartServices from './restart-services';
import rotateCertificate from './rotate-certificate';
import shutdown from './shutdown';
import startServices from './start-services';
import stopServices from './stop-services';
import verifyPackagesInstalled from './verify-packages-installed';
import verifyPackagesRemoved from './verify-packages-removed';

export const builtinHandlers: readonly JobHandler[] = [
  downloadFile,
  exec,
  healthCheck,
  installPackages,
  reboot,
  removePackages,
  restartServices,
  rotateCertificate,
  shutdown,
  startServices,
  stopServices,
  verifyPackagesInstalled,
  verifyPackagesRemoved,
] as readonly JobHandler[];
