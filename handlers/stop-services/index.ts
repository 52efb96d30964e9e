/** `stop-services`: `{"operation":"stop-services","services":["nginx"]}` (systemctl; see ../_shared/services.ts). */
import { serviceHandler } from '../_shared/services';

export default serviceHandler('stop-services', 'stop');
