/**
 * Build step: dist/src/lib/build-time.json, the agent's build time (src/lib/build-time.ts). The last
 * commit's time (SOURCE_DATE_EPOCH wins), so reruns give the same bytes and the floor is never
 * later than the code it is built from.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { sourceDateEpoch } from './common';

if (require.main === module) {
  const target = path.join(__dirname, '..', 'src', 'lib', 'build-time.json');
  writeFileSync(target, `${JSON.stringify({ builtAt: sourceDateEpoch() })}\n`);
}
