/** Public API for handler authors and library users. */
export type * from './handlers/api';
export type * from './jobs/types';
import type * as TestContextMod from './handlers/test-context';
import type { HandlerContext, JobHandler } from './handlers/api';
import type { TestContext, TestContextOptions, TestOutcome } from './handlers/test-context';
export type { TestContext, TestContextOptions, TestOutcome, LogRecord } from './handlers/test-context';
export { RejectError, HandlerFailure } from './handlers/errors';

// The test helpers load on first use: built-in handlers import RejectError from here, and the agent
// must not pay for the test context (and what it imports) on every start.
/* eslint-disable @typescript-eslint/no-require-imports -- lazy loading is the point */
const testContext = (): typeof TestContextMod => require('./handlers/test-context') as typeof TestContextMod;
/* eslint-enable @typescript-eslint/no-require-imports */

export function createTestContext<Doc = unknown>(opts: TestContextOptions<Doc>): TestContext<Doc> {
  return testContext().createTestContext(opts);
}

export function runTestJob<Doc>(handler: JobHandler<Doc>, ctx: HandlerContext<Doc>): Promise<TestOutcome> {
  return testContext().runTestJob(handler, ctx);
}
