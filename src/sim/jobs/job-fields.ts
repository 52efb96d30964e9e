/**
 * The members of CreateJob and UpdateJob as AWS IoT's service model declares them (lengths,
 * patterns, ranges, enums), each checked here or refused as unsupported with the reason. Rules
 * that span members or need state (retry budget, targets that exist, a job that may change) live
 * with the operations that apply them.
 */
import { LIMITS } from '../../jobs/types';
import { all, int, list, map, oneOf, str, struct, unsupported } from './fields';
import type { Check, Shape } from './fields';
import { abortMember, rolloutMember, schedulingMember } from './job-config';
import { retryBudgetProblem } from './retry';

const TEXT = /^[^\p{C}]+$/u;

export const jobIdCheck = str({ min: 1, max: 64, pattern: LIMITS.jobId, what: '[a-zA-Z0-9_-]{1,64}' });
export const descriptionCheck = str({ max: 2028, pattern: TEXT, what: 'printable characters' });
export const commentCheck = descriptionCheck;
export const namespaceCheck = str({ pattern: LIMITS.namespaceId, what: '[a-zA-Z0-9_-]+' });
export const targetsCheck = list(str({ min: 1, max: 2048 }), { min: 1 });

export const presignedUrlConfigCheck = struct({
  fields: { roleArn: str({ min: 20, max: 2048 }), expiresInSec: int({ min: 60, max: 3600 }) },
});

export const timeoutConfigCheck = struct({ fields: { inProgressTimeoutInMinutes: int({ min: 1, max: 10080 }) } });

const retryCriteria = struct({
  fields: { failureType: oneOf(['FAILED', 'TIMED_OUT', 'ALL']), numberOfRetries: int({ min: 0, max: 10 }) },
  required: ['failureType', 'numberOfRetries'],
});

export const retryConfigCheck: Check = all(
  struct({ fields: { criteriaList: list(retryCriteria, { min: 1, max: 2 }) }, required: ['criteriaList'] }),
  (v, path) => retryBudgetProblem(v, path),
);

const tagCheck = struct({
  fields: { Key: str({ min: 1, max: 128, pattern: /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u, what: 'letters, digits, spaces and _.:/=+-@' }), Value: str({ max: 256 }) },
  required: ['Key'],
});

// Rollout, abort and scheduling (docs/ROLLOUT.md); CreateJob adds the rules relative to the clock.
const ROLLOUT: Check = rolloutMember;
const ABORT: Check = abortMember;
const SCHEDULING: Check = schedulingMember;
// Members other parts of the service emulate as they come; until then each is refused by name.
// A template is applied to the request before these checks (state/template-jobs.ts); the members stay, for DescribeJob.
const TEMPLATE = str({ min: 1, max: 1600, pattern: /^arn:[!-~]+$/, what: 'an ARN' });
const PARAMETERS = map(str({ min: 1, max: 128, pattern: /^[a-zA-Z0-9_-]+$/, what: '[a-zA-Z0-9_-]{1,128}' }), str());

export const CREATE_JOB: Shape = {
  fields: {
    jobId: jobIdCheck,
    targets: targetsCheck,
    documentSource: unsupported('an S3 document source needs Amazon S3; send the document inline with `document`'),
    document: str({ max: LIMITS.jobDocumentMax }),
    description: descriptionCheck,
    presignedUrlConfig: presignedUrlConfigCheck,
    targetSelection: oneOf(['CONTINUOUS', 'SNAPSHOT']),
    jobExecutionsRolloutConfig: ROLLOUT,
    abortConfig: ABORT,
    timeoutConfig: timeoutConfigCheck,
    tags: list(tagCheck, { max: 50 }),
    namespaceId: namespaceCheck,
    jobTemplateArn: TEMPLATE,
    jobExecutionsRetryConfig: retryConfigCheck,
    documentParameters: PARAMETERS,
    schedulingConfig: SCHEDULING,
    destinationPackageVersions: unsupported('the AWS IoT software package catalog is not emulated'),
  },
  required: ['jobId', 'targets'],
};

export const UPDATE_JOB: Shape = {
  fields: {
    jobId: jobIdCheck,
    description: descriptionCheck,
    presignedUrlConfig: presignedUrlConfigCheck,
    jobExecutionsRolloutConfig: ROLLOUT,
    abortConfig: ABORT,
    timeoutConfig: timeoutConfigCheck,
    namespaceId: namespaceCheck,
    jobExecutionsRetryConfig: retryConfigCheck,
  },
  required: ['jobId'],
};

export const ASSOCIATE_TARGETS: Shape = {
  fields: { jobId: jobIdCheck, targets: targetsCheck, comment: commentCheck, namespaceId: namespaceCheck },
  required: ['jobId', 'targets'],
};

/** Thing-group members (CreateThingGroup / UpdateThingGroup). */
export const groupNameCheck = str({ min: 1, max: 128, pattern: /^[a-zA-Z0-9:_-]+$/, what: '[a-zA-Z0-9:_-]{1,128}' });
export const thingGroupPropertiesCheck = struct({
  fields: {
    thingGroupDescription: str({ max: 2028, pattern: /^[\p{L}\p{M}\p{N}\p{P}\p{S}\x20]*$/u, what: 'printable characters' }),
    attributePayload: struct({
      fields: {
        attributes: map(str({ max: 128, pattern: /^[a-zA-Z0-9_.,@/:#-]+$/ }), str({ max: 800, pattern: /^[a-zA-Z0-9_.,@/:#=[\]-]*$/ }), { max: 50 }),
        merge: (v, p) => (typeof v === 'boolean' ? undefined : `${p} must be true or false`),
      },
    }),
  },
});
export const groupTagsCheck = list(tagCheck, { max: 50 });
