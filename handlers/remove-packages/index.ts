/** `remove-packages`: `{"operation":"remove-packages","packages":["curl","jq"]}` (apt-get/dpkg; see ../_shared/packages.ts). */
import { packageHandler } from '../_shared/packages';

export default packageHandler('remove-packages', 'remove');
