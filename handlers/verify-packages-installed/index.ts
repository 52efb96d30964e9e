/** `verify-packages-installed`: `{"operation":"verify-packages-installed","packages":["curl","jq"]}` (apt-get/dpkg; see ../_shared/packages.ts). */
import { packageHandler } from '../_shared/packages';

export default packageHandler('verify-packages-installed', 'verify-installed');
