/** `install-packages`: `{"operation":"install-packages","packages":["curl","jq"]}` (apt-get/dpkg; see ../_shared/packages.ts). */
import { packageHandler } from '../_shared/packages';

export default packageHandler('install-packages', 'install');
