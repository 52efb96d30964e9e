/** Telling a take-over, a policy denial and an ordinary loss apart (pure), and the take-over back-off's growth. */
import { Backoff } from '../../src/lib/backoff';
import { CloseClassifier, YOUNG_CONNECTION_MS, type ClosedConnection } from '../../src/transport/close-reason';

const idle = (over: Partial<ClosedConnection> = {}): ClosedConnection => ({ connectedAt: 1_000, closedAt: 3_000, pending: [], ...over });
const get = { operation: 'publish' as const, topic: '$aws/things/t1/jobs/get' };

describe('CloseClassifier', () => {
  it('MQTT 5 reason 0x8E is a certain take-over at the first close', () => {
    const c = new CloseClassifier();
    const v = c.classify(idle({ reasonCode: 0x8e }));
    expect(v).toMatchObject({ kind: 'taken-over', takeOver: { certain: true } });
    expect(c.takenOver).toBe(true);
  });

  it('MQTT 3.1.1: three bare closes of young idle connections in a row are a likely take-over, fewer are not', () => {
    const c = new CloseClassifier();
    expect(c.classify(idle()).kind).toBe('lost');
    expect(c.classify(idle()).kind).toBe('lost');
    const v = c.classify(idle());
    expect(v).toMatchObject({ kind: 'taken-over', takeOver: { certain: false } });
    // Once seen, an idle bare close of a long-lived connection is still it (the other one backs off too) ...
    expect(c.classify(idle({ closedAt: 1_000 + YOUNG_CONNECTION_MS * 4 })).kind).toBe('taken-over');
    // ... until the connection settles.
    c.settled();
    expect(c.classify(idle()).kind).toBe('lost');
  });

  it('an error on our side (reset, keep-alive) or a failed attempt in between breaks the series: a flapping network or a restarting broker', () => {
    const c = new CloseClassifier();
    c.classify(idle());
    c.classify(idle());
    expect(c.classify(idle({ error: Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }) })).kind).toBe('lost');
    c.classify(idle());
    c.classify(idle());
    c.attemptFailed();
    expect(c.classify(idle()).kind).toBe('lost');
    expect(c.classify(idle()).kind).toBe('lost');
    // A connection that lived long is not "soon after CONNACK".
    expect(c.classify(idle({ closedAt: 1_000 + YOUNG_CONNECTION_MS })).kind).toBe('lost');
    expect(c.classify(idle()).kind).toBe('lost');
  });

  it('MQTT 5 server shutting down (0x8B) is not a take-over and resets the series', () => {
    const c = new CloseClassifier();
    c.classify(idle());
    c.classify(idle());
    expect(c.classify(idle({ reasonCode: 0x8b })).kind).toBe('server-shutdown');
    expect(c.classify(idle()).kind).toBe('lost');
  });

  it('a bare close while our PUBLISH waits, twice in a row on the same topic, is a likely denial naming the topic and the policy action', () => {
    const c = new CloseClassifier();
    const onGet = idle({ pending: [{ ...get, sentAt: 2_990 }] });
    // Once may be a take-over that came while a request was out: neither verdict.
    expect(c.classify(onGet).kind).toBe('lost');
    const v = c.classify(onGet);
    expect(v).toEqual({
      kind: 'denied',
      denial: expect.objectContaining({ operation: 'publish', topic: '$aws/things/t1/jobs/get', policyAction: 'iot:Publish', resource: 'topic/$aws/things/t1/jobs/get', likely: true }),
    });
    // Denials never count towards a take-over.
    for (let i = 0; i < 5; i++) expect(c.classify(onGet).kind).toBe('denied');
    expect(c.takenOver).toBe(false);
  });

  it('a close on a SUBSCRIBE names iot:Subscribe and the topic filter; an old operation does not count', () => {
    const c = new CloseClassifier();
    const onSub = idle({ pending: [{ operation: 'subscribe', topic: '$aws/things/t1/jobs/notify-next', sentAt: 2_900 }] });
    c.classify(onSub);
    expect(c.classify(onSub)).toMatchObject({ kind: 'denied', denial: { policyAction: 'iot:Subscribe', resource: 'topicfilter/$aws/things/t1/jobs/notify-next' } });
    const stale = new CloseClassifier();
    const old = idle({ closedAt: 20_000, pending: [{ ...get, sentAt: 2_000 }] });
    expect(stale.classify(old).kind).toBe('lost');
    expect(stale.classify(old).kind).toBe('lost');
  });

  it('MQTT 5 0x87 after our publish is a certain denial', () => {
    const v = new CloseClassifier().classify(idle({ reasonCode: 0x87, pending: [{ ...get, sentAt: 2_999 }] }));
    expect(v).toMatchObject({ kind: 'denied', denial: { likely: false, policyAction: 'iot:Publish' } });
  });
});

describe('Backoff with equal jitter', () => {
  it('keeps every delay in the upper half of its ceiling, so waits two steps apart always grow', () => {
    for (const r of [0, 0.5, 0.999]) {
      const b = new Backoff({ baseMs: 100, maxMs: 6_400, jitter: 'equal', random: () => r });
      const d = Array.from({ length: 9 }, () => b.next());
      d.forEach((ms, i) => {
        const ceiling = Math.min(6_400, 100 * 2 ** i);
        expect(ms).toBeGreaterThanOrEqual(ceiling / 2);
        expect(ms).toBeLessThanOrEqual(ceiling);
      });
      for (let i = 2; i < 7; i++) expect(d[i]!).toBeGreaterThan(d[i - 2]!);
    }
  });

  it('full jitter (the default) still starts at zero', () => {
    const b = new Backoff({ baseMs: 100, maxMs: 1_000, random: () => 0 });
    expect(b.next()).toBe(0);
  });
});
