/** `verify-packages-removed`: `{"operation":"verify-packages-removed","packages":["curl","jq"]}` (apt-get/dpkg; see ../_shared/packages.ts). */
import { packageHandler } from '../_shared/packages';

export default packageHandler('verify-packages-removed', 'verify-removed');
