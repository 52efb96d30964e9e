/** `start-services`: `{"operation":"start-services","services":["nginx"]}` (systemctl; see ../_shared/services.ts). */
import { serviceHandler } from '../_shared/services';

export default serviceHandler('start-services', 'start');
