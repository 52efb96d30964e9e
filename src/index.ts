/** Public API for handler authors and library users. */
export type * from './handlers/api';
export type * from './jobs/types';
export { createTestContext, runTestJob } from './handlers/test-context';
export type { TestContext, TestContextOptions, TestOutcome, LogRecord } from './handlers/test-context';
export { RejectError, HandlerFailure } from './handlers/errors';
