import { parseRequestTopic, topics, isServiceOnlyTopic } from '../../src/jobs/topics';

describe('topic grammar', () => {
  it.each([
    ['$aws/things/t1/jobs/get', { thing: 't1', op: 'get' }],
    ['$aws/things/t1/jobs/start-next', { thing: 't1', op: 'start-next' }],
    ['$aws/things/t1/jobs/j-1/get', { thing: 't1', op: 'describe', jobId: 'j-1' }],
    ['$aws/things/t1/jobs/$next/get', { thing: 't1', op: 'describe', jobId: '$next' }],
    ['$aws/things/t1/jobs/j1/update', { thing: 't1', op: 'update', jobId: 'j1' }],
    ['$aws/things/t1/jobs/j1/namespace-ns1/update', { thing: 't1', op: 'update', jobId: 'j1', namespace: 'ns1' }],
    ['$aws/things/t1/jobs/$next/namespace-ns1/get', { thing: 't1', op: 'describe', jobId: '$next', namespace: 'ns1' }],
  ])('parses %s', (topic, expected) => {
    expect(parseRequestTopic(topic)).toEqual({ ok: true, request: expected });
  });

  it('flags unmapped topics under the prefix and ignores others', () => {
    expect(parseRequestTopic('$aws/things/t1/jobs/j1/delete')).toMatchObject({ ok: false, thing: 't1' });
    expect(parseRequestTopic('$aws/things/t1/shadow/get')).toBeNull();
  });

  it('builds namespaced notification topics', () => {
    expect(topics.notify('t1', 'ns')).toBe('$aws/things/t1/jobs/notify-namespace-ns');
    expect(topics.notifyNext('t1')).toBe('$aws/things/t1/jobs/notify-next');
    expect(isServiceOnlyTopic('$aws/things/t1/jobs/j1/update/accepted')).toBe(true);
    expect(isServiceOnlyTopic('$aws/things/t1/jobs/j1/update')).toBe(false);
  });
});
