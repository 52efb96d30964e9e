/** `restart-services`: `{"operation":"restart-services","services":["nginx"]}` (systemctl; see ../_shared/services.ts). */
import { serviceHandler } from '../_shared/services';

export default serviceHandler('restart-services', 'restart');
