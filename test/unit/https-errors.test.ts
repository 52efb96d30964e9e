import { JobsRejectedError } from '../../src/jobs/errors';
import {
  CertificateValidationError,
  decodeHttpsError,
  ForbiddenError,
  InvalidRequestError,
  InvalidStateTransitionError,
  isTlsFailure,
  JobsHttpsError,
  ResourceNotFoundError,
  sanitizeErrorCode,
  ServiceUnavailableError,
  TerminalStateError,
  ThrottlingError,
} from '../../src/jobs/https-errors';

describe('sanitizeErrorCode (docs/PROTOCOL.md §6.4)', () => {
  it.each([
    ['ThrottlingException', 'ThrottlingException'],
    ['com.amazonaws.iotjobsdataplane#ThrottlingException', 'ThrottlingException'],
    ['ResourceNotFoundException:http://internal.amazon.com/coral/com.amazon.coral.validate/', 'ResourceNotFoundException'],
    ['aws.protocoltests#InvalidRequestException:http://x', 'InvalidRequestException'],
    ['  TerminalStateException ', 'TerminalStateException'],
  ])('%s → %s', (raw, name) => {
    expect(sanitizeErrorCode(raw)).toBe(name);
  });
});

describe('decodeHttpsError', () => {
  const json = (o: unknown): string => JSON.stringify(o);

  it.each([
    ['InvalidRequestException', 400, InvalidRequestError, 'InvalidRequest', false],
    ['ResourceNotFoundException', 404, ResourceNotFoundError, 'ResourceNotFound', false],
    ['CertificateValidationException', 400, CertificateValidationError, 'InvalidRequest', false],
    ['InvalidStateTransitionException', 409, InvalidStateTransitionError, 'InvalidStateTransition', false],
    ['TerminalStateException', 410, TerminalStateError, 'TerminalStateReached', false],
    ['ServiceUnavailableException', 503, ServiceUnavailableError, 'InternalError', true],
    ['ThrottlingException', 429, ThrottlingError, 'RequestThrottled', true],
    ['ThrottlingException', 400, ThrottlingError, 'RequestThrottled', true],
    ['ForbiddenException', 403, ForbiddenError, 'InvalidRequest', false],
  ] as const)('%s (HTTP %i) by header', (name, status, Cls, code, retryable) => {
    const e = decodeHttpsError(status, { 'x-amzn-errortype': name, 'x-amzn-requestid': 'rid-1' }, json({ message: 'why' }));
    expect(e).toBeInstanceOf(Cls);
    expect(e).toBeInstanceOf(JobsRejectedError);
    expect(e).toMatchObject({ errorName: name, status, code, rejectCode: code, retryable, requestId: 'rid-1' });
    expect(e.message).toBe(`${name} (HTTP ${status}): why`);
  });

  it('decodes by name whatever the status: a throttle sent as 400 is still retryable', () => {
    const e = decodeHttpsError(400, { 'x-amzn-errortype': 'ThrottlingException' }, '{}');
    expect(e).toBeInstanceOf(ThrottlingError);
    expect(e.retryable).toBe(true);
  });

  it('falls back to body code, then __type, and prefers the header', () => {
    expect(decodeHttpsError(404, {}, json({ code: 'ResourceNotFoundException' }))).toBeInstanceOf(ResourceNotFoundError);
    expect(decodeHttpsError(409, {}, json({ __type: 'com.amazonaws.iotjobsdataplane#InvalidStateTransitionException' }))).toBeInstanceOf(
      InvalidStateTransitionError,
    );
    const both = decodeHttpsError(410, { 'x-amzn-errortype': 'TerminalStateException' }, json({ code: 'ResourceNotFoundException' }));
    expect(both).toBeInstanceOf(TerminalStateError);
  });

  it('reads Message, x-amzn-request-id and a valid executionState', () => {
    const state = { status: 'SUCCEEDED', versionNumber: 3 };
    const e = decodeHttpsError(409, { 'x-amzn-errortype': 'InvalidStateTransitionException', 'x-amzn-request-id': 'r2' }, json({ Message: 'm', executionState: state }));
    expect(e).toMatchObject({ message: 'InvalidStateTransitionException (HTTP 409): m', requestId: 'r2', executionState: state });
    const junk = decodeHttpsError(409, { 'x-amzn-errortype': 'InvalidStateTransitionException' }, json({ executionState: { status: 'NOPE' } }));
    expect(junk.executionState).toBeUndefined();
  });

  it('classifies unknown or missing names by status class', () => {
    const server = decodeHttpsError(500, {}, 'not json at all');
    expect(server).toBeInstanceOf(JobsHttpsError);
    expect(server).toMatchObject({ errorName: 'Http500', code: 'InternalError', retryable: true });
    expect(decodeHttpsError(429, {}, '')).toMatchObject({ code: 'RequestThrottled', retryable: true });
    expect(decodeHttpsError(418, { 'x-amzn-errortype': 'TeapotException' }, '[]')).toMatchObject({
      errorName: 'TeapotException',
      code: 'InvalidRequest',
      retryable: false,
    });
  });

  it('honours a sane retry-after header only', () => {
    expect(decodeHttpsError(429, { 'x-amzn-errortype': 'ThrottlingException', 'retry-after': '2' }, '{}').retryAfterMs).toBe(2000);
    expect(decodeHttpsError(429, { 'x-amzn-errortype': 'ThrottlingException', 'retry-after': 'soon' }, '{}').retryAfterMs).toBeUndefined();
    expect(decodeHttpsError(429, { 'x-amzn-errortype': 'ThrottlingException', 'retry-after': '86400' }, '{}').retryAfterMs).toBeUndefined();
  });
});

describe('isTlsFailure', () => {
  const withCode = (code: unknown): Error => Object.assign(new Error('x'), { code });
  it.each([
    ['ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', true],
    ['ERR_TLS_CERT_ALTNAME_INVALID', true],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', true],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', true],
    ['CERT_HAS_EXPIRED', true],
    ['EPROTO', true],
    ['ECONNRESET', false],
    ['ECONNREFUSED', false],
    [42, false],
  ])('%s → %s', (code, tls) => {
    expect(isTlsFailure(withCode(code))).toBe(tls);
  });
  it('is false for non-errors', () => {
    expect(isTlsFailure(null)).toBe(false);
    expect(isTlsFailure('ERR_SSL_X')).toBe(false);
  });
});
