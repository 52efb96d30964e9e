/** Public API for handler authors and library users. */
export type * from './handlers/api';
export type * from './jobs/types';
