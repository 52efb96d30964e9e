/** The pure parts of surviving a device: clock trouble, the STATUS line, TLS time failures. */
import { clockTrouble } from '../../src/agent/clock-trouble';
import { StatusText } from '../../src/agent/status-text';
import { describeProblem, isStorageError, StorageUnavailableError } from '../../src/store/health';
import { classifyConnectFailure, TransportError } from '../../src/transport/errors';

const own = { validFrom: 'Jan  1 00:00:00 2026 GMT', validTo: 'Jan  1 00:00:00 2027 GMT' };
const t = (iso: string) => new Date(iso).getTime();

describe('clockTrouble', () => {
  it('a clock before the device certificate names both times', () => {
    const r = clockTrouble(new TransportError('certificate-time'), own, t('1970-01-02T00:00:00Z'));
    expect(r).toEqual({
      summary: "clock: device time 1970-01-02T00:00:00.000Z is before this device's certificate is valid (2026-01-01T00:00:00.000Z); waiting for the clock (NTP)",
      deviceTime: '1970-01-02T00:00:00.000Z',
      certificateValidFrom: '2026-01-01T00:00:00.000Z',
      certificateValidTo: '2027-01-01T00:00:00.000Z',
    });
  });

  it('an expired device certificate, and a broker certificate refused by time, are named too', () => {
    expect(clockTrouble(new TransportError('certificate-refused'), own, t('2027-06-01T00:00:00Z'))?.summary).toMatch(/expired on 2027-01-01T00:00:00.000Z by device time 2027-06-01/);
    expect(clockTrouble(new TransportError('certificate-time'), own, t('2026-06-01T00:00:00Z'))?.summary).toMatch(/broker's certificate is not valid at device time 2026-06-01/);
    expect(clockTrouble(new TransportError('certificate-time'), undefined, t('2026-06-01T00:00:00Z'))?.certificateValidFrom).toBeUndefined();
  });

  it('is silent when time is not the problem', () => {
    expect(clockTrouble(new TransportError('connection-refused'), own, t('2026-06-01T00:00:00Z'))).toBeUndefined();
    expect(clockTrouble(new Error('boom'), undefined, t('1970-01-02T00:00:00Z'))).toBeUndefined();
  });
});

describe('classifyConnectFailure', () => {
  it('a broker certificate outside its validity by our clock is certificate-time, and retried', () => {
    for (const code of ['CERT_NOT_YET_VALID', 'CERT_HAS_EXPIRED']) {
      const err = classifyConnectFailure({ socketError: Object.assign(new Error('certificate is not yet valid'), { code }), secure: false, host: 'h', port: 8883 });
      expect(err.kind).toBe('certificate-time');
      expect(err.retryable).toBe(true);
      expect(err.message).toMatch(/is the clock right\?.*device time \d{4}-/);
    }
  });
});

describe('StatusText', () => {
  it('puts conditions before the activity and sends only changes', () => {
    const sent: string[] = [];
    const s = new StatusText((x) => sent.push(x));
    s.setActivity('idle');
    s.setCondition('storage', 'storage: ENOSPC in /var/lib/x');
    s.setActivity('idle');
    s.setCondition('clock', 'clock: device time 1970');
    s.setCondition('storage', undefined);
    expect(sent).toEqual(['idle', 'storage: ENOSPC in /var/lib/x; idle', 'storage: ENOSPC in /var/lib/x; clock: device time 1970; idle', 'clock: device time 1970; idle']);
  });
});

describe('storage errors', () => {
  it('full, read-only and failing media are storage trouble with a readable cause; a bug is not', () => {
    for (const code of ['ENOSPC', 'EROFS', 'EIO', 'EDQUOT']) expect(isStorageError(Object.assign(new Error(code), { code }))).toBe(true);
    expect(isStorageError(new TypeError('x is undefined'))).toBe(false);
    const p = describeProblem('/var/lib/a', 'appending to the journal', Object.assign(new Error('no space'), { code: 'ENOSPC' }), 0);
    expect(p.message).toBe('appending to the journal in /var/lib/a failed: ENOSPC (no space left on the device)');
    const err = new StorageUnavailableError(p);
    expect(err.retryable).toBe(true);
    expect(err.errno).toBe('ENOSPC');
  });
});
