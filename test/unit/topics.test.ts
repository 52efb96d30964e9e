import { deviceSubscriptions, parseRequestTopic, topics, isServiceOnlyTopic } from '../../src/jobs/topics';

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

describe('deviceSubscriptions', () => {
  const matches = (filter: string, topic: string): boolean => {
    const f = filter.split('/');
    const t = topic.split('/');
    return f.length === t.length && f.every((s, i) => s === '+' || s === t[i]);
  };
  const thing = 'gw';
  const responses = (ns?: string): string[] => [
    `${topics.getPending(thing, ns)}/accepted`,
    `${topics.describe(thing, 'job-1', ns)}/rejected`,
    `${topics.update(thing, 'job-1', ns)}/accepted`,
    topics.notify(thing, ns),
    topics.notifyNext(thing, ns),
  ];
  it.each([true, false])('with the default namespace %s: every answer and notification matches exactly one filter', (withDefault) => {
    const subs = deviceSubscriptions(thing, ['fleet'], withDefault);
    for (const topic of [...responses('fleet'), ...(withDefault ? responses() : [])]) {
      expect([topic, subs.filter((f) => matches(f, topic)).length]).toEqual([topic, 1]);
    }
  });
});
