/** Pure parts of the sim's HTTP fronts: URL and query parsing, bodies, control-plane input, faults. */
import {
  checkCancelExecution,
  checkCreateJob,
  checkFaults,
  listQuery,
  parseJsonBody,
  parseUrl,
  queryBool,
  queryFlags,
  queryLong,
  responseFaults,
} from '../../src/sim/fronts/http-util';

describe('parseUrl (docs/PROTOCOL.md §6.5)', () => {
  it('decodes each segment on its own', () => {
    expect(parseUrl('/things/a%3Ab/jobs/%24next?includeJobDocument=true')).toEqual({
      segments: ['things', 'a:b', 'jobs', '$next'],
      query: new URLSearchParams('includeJobDocument=true'),
    });
    // An encoded slash stays inside its label and then fails label validation, never re-routes.
    expect(parseUrl('/things/a%2Fb/jobs')?.segments).toEqual(['things', 'a/b', 'jobs']);
    expect(parseUrl('/things/t/jobs/$next')?.segments).toEqual(['things', 't', 'jobs', '$next']);
  });
  it('tolerates one trailing slash and the root', () => {
    expect(parseUrl('/things/t/jobs/')?.segments).toEqual(['things', 't', 'jobs']);
    expect(parseUrl('/')?.segments).toEqual([]);
  });
  it.each(['/things/%zz/jobs', '/%', '/a/%E0%A4%A', 'things/t', 'http://h/things', undefined])('refuses %s', (u) => {
    expect(parseUrl(u)).toBeUndefined();
  });
});

describe('query parameters', () => {
  const q = (s: string): URLSearchParams => new URLSearchParams(s);
  it('booleans are exactly true/false', () => {
    expect(queryBool(q('f=true'), 'f')).toEqual({ ok: true, value: true });
    expect(queryBool(q('f=false'), 'f')).toEqual({ ok: true, value: false });
    expect(queryBool(q(''), 'f')).toEqual({ ok: true, value: undefined });
    for (const v of ['TRUE', '1', '', 'yes']) expect(queryBool(q(`f=${v}`), 'f').ok).toBe(false);
  });
  it('longs are safe integers within range', () => {
    expect(queryLong(q('n=42'), 'n')).toEqual({ ok: true, value: 42 });
    for (const v of ['-1', '1.5', 'x', '', '99999999999999999', '1e3']) expect(queryLong(q(`n=${v}`), 'n').ok).toBe(false);
    expect(queryLong(q('n=0'), 'n', 1).ok).toBe(false);
  });
  it('queryFlags and listQuery collect the members the IoT SDK sends', () => {
    expect(queryFlags(q('force=true&executionNumber=3'))).toEqual({ ok: true, value: { force: true, executionNumber: 3 } });
    expect(queryFlags(q('force=maybe')).ok).toBe(false);
    expect(listQuery(q('status=QUEUED&namespaceId=ns&maxResults=5&nextToken=abc&x=1'))).toEqual({
      ok: true,
      value: { status: 'QUEUED', namespaceId: 'ns', maxResults: 5, nextToken: 'abc' },
    });
    expect(listQuery(q('maxResults=0')).ok).toBe(false);
  });
});

describe('parseJsonBody', () => {
  it('treats an empty body as {} and accepts objects', () => {
    expect(parseJsonBody(Buffer.from(''))).toEqual({ ok: true, value: {} });
    expect(parseJsonBody(Buffer.from(' \n'))).toEqual({ ok: true, value: {} });
    expect(parseJsonBody(Buffer.from('{"a":1}'))).toEqual({ ok: true, value: { a: 1 } });
  });
  it.each(['{', '[]', 'null', '"s"', '1', '\u0000'])('refuses %j as InvalidRequestException', (text) => {
    const r = parseJsonBody(Buffer.from(text));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatchObject({ name: 'InvalidRequestException', status: 400 });
  });
});

describe('checkCreateJob', () => {
  it('takes the job id from the path and hands every body member to the service, which checks them', () => {
    const body = { jobId: 'other', targets: ['arn:aws:iot:us-east-1:1:thing/t'], document: '{}', tags: [{ Key: 'k', Value: 'x' }], colour: 'red' };
    expect(checkCreateJob('j1', body)).toEqual({ ok: true, value: { ...body, jobId: 'j1' } });
  });
});

describe('checkCancelExecution', () => {
  it('keeps expectedVersion and statusDetails', () => {
    expect(checkCancelExecution({ expectedVersion: 2, statusDetails: { a: 'b' } })).toEqual({ ok: true, value: { expectedVersion: 2, statusDetails: { a: 'b' } } });
    expect(checkCancelExecution({})).toEqual({ ok: true, value: {} });
  });
  it.each([[{ expectedVersion: '2' }], [{ expectedVersion: 1.5 }], [{ statusDetails: { a: 1 } }], [{ statusDetails: 'x' }]])('refuses %j', (b) => {
    expect(checkCancelExecution(b).ok).toBe(false);
  });
});

describe('checkFaults', () => {
  it('accepts every documented key', () => {
    const f = { throttle: 0.5, internalError: 0, dropResponse: 1, responseDelayMs: 250, eventualConsistencyMs: 0, duplicateNotifyNext: true };
    expect(checkFaults(f)).toEqual({ ok: true, value: f });
  });
  it.each([[{ throttle: 1.01 }], [{ throttle: -0.1 }], [{ throttle: '1' }], [{ responseDelayMs: 1.5 }], [{ responseDelayMs: 600_001 }], [{ duplicateNotifyNext: 1 }], [{ typo: 1 }]])(
    'refuses %j',
    (b) => {
      expect(checkFaults(b).ok).toBe(false);
    },
  );
});

describe('responseFaults', () => {
  it('drops with the configured probability and clamps delays', () => {
    expect(responseFaults(undefined, () => 0)).toEqual({ delayMs: 0, drop: false });
    expect(responseFaults({ dropResponse: 0.5 }, () => 0.49)).toEqual({ delayMs: 0, drop: true });
    expect(responseFaults({ dropResponse: 0.5 }, () => 0.5)).toEqual({ delayMs: 0, drop: false });
    expect(responseFaults({ dropResponse: 0 }, () => 0)).toEqual({ delayMs: 0, drop: false });
    expect(responseFaults({ responseDelayMs: -5 }, () => 1).delayMs).toBe(0);
    expect(responseFaults({ responseDelayMs: 1e12 }, () => 1).delayMs).toBe(600_000);
    expect(responseFaults({ responseDelayMs: NaN }, () => 1).delayMs).toBe(0);
  });
});
