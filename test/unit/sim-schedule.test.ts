/** Pure tables: maintenance-window cron expressions, schedule date-times and AWS's scheduling rules. */
import { nextFiring, parseCron } from '../../src/sim/jobs/cron';
import type { Cron } from '../../src/sim/jobs/cron';
import { checkScheduling, formatDateTime, parseDateTime, upcomingOpenings, windowState } from '../../src/sim/jobs/schedule';

const T0 = Date.UTC(2026, 0, 1); // a Thursday
const MIN = 60_000;
const H = 60 * MIN;
const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());

function cron(text: string): Cron {
  const c = parseCron(text);
  if (!c.ok) throw new Error(c.message);
  return c.value;
}

describe('cron expressions (AWS six-field form, UTC)', () => {
  it.each([
    ['cron(0 2 * * ? *)', T0, '2026-01-01T02:00:00.000Z'],
    ['cron(0 2 * * ? *)', T0 + 2 * H, '2026-01-01T02:00:00.000Z'],
    ['cron(0 2 * * ? *)', T0 + 2 * H + 1, '2026-01-02T02:00:00.000Z'],
    ['cron(30 22 ? * MON-FRI *)', T0, '2026-01-01T22:30:00.000Z'],
    ['cron(30 22 ? * MON-FRI *)', T0 + 23 * H, '2026-01-02T22:30:00.000Z'],
    ['cron(30 22 ? * 2-6 *)', T0 + 47 * H, '2026-01-05T22:30:00.000Z'],
    ['cron(0 0 ? * SAT *)', T0, '2026-01-03T00:00:00.000Z'],
    ['cron(0 0 ? * 1 *)', T0, '2026-01-04T00:00:00.000Z'],
    ['cron(0/15 * * * ? *)', T0 + MIN, '2026-01-01T00:15:00.000Z'],
    ['cron(5/20 8-9 * * ? *)', T0, '2026-01-01T08:05:00.000Z'],
    ['cron(5/20 8-9 * * ? *)', T0 + 8 * H + 46 * MIN, '2026-01-01T09:05:00.000Z'],
    ['cron(0 12 1 JAN,JUL ? 2027)', T0, '2027-01-01T12:00:00.000Z'],
    ['cron(0 12 15 * ? *)', T0 + 15 * 24 * H, '2026-02-15T12:00:00.000Z'],
    ['cron(0 0 29 2 ? *)', T0, '2028-02-29T00:00:00.000Z'],
    ['cron(0 0 31 2 ? *)', T0, undefined],
    ['cron(0 0 1 1 ? 2025)', T0, undefined],
  ])('%s after %s → %s', (text, t, expected) => {
    expect(iso(nextFiring(cron(text), t as number))).toBe(expected);
  });

  it.each([
    ['0 2 * * ? *', /expected cron\(/],
    ['cron(0 2 * * ?)', /expected 6 fields/],
    ['cron(0 2 * * * *)', /exactly one of day-of-month and day-of-week/],
    ['cron(0 2 ? * ? *)', /exactly one of day-of-month and day-of-week/],
    ['cron(60 2 * * ? *)', /minutes: "60" is outside 0-59/],
    ['cron(0 24 * * ? *)', /hours: "24" is outside 0-23/],
    ['cron(0 2 0 * ? *)', /day-of-month: "0" is outside 1-31/],
    ['cron(0 2 ? * 8 *)', /day-of-week: "8" is outside 1-7/],
    ['cron(0 2 ? * FRI-MON *)', /runs backwards/],
    ['cron(0 2 L * ? *)', /L, W and # forms are not supported/],
    ['cron(0 2 15W * ? *)', /L, W and # forms are not supported/],
    ['cron(0 2 ? * MON#2 *)', /L, W and # forms are not supported/],
    ['cron(0/0 2 * * ? *)', /step "0" must be a positive integer/],
    ['cron(? 2 * * ? *)', /\? is allowed only in the day fields/],
    ['cron(0 2 * FOO ? *)', /month: "FOO" is outside 1-12/],
  ])('%s is refused: %s', (text, message) => {
    const c = parseCron(text);
    expect(c.ok).toBe(false);
    if (!c.ok) expect(c.message).toMatch(message);
  });

  it('names are case-insensitive and WED / JUL are names, not the W and L forms', () => {
    expect(iso(nextFiring(cron('cron(0 9 ? jul wed *)'), T0))).toBe('2026-07-01T09:00:00.000Z');
  });
});

describe('schedule date-times', () => {
  it.each([
    ['2026-01-01T10:00', Date.UTC(2026, 0, 1, 10)],
    ['2026-01-01T10:00Z', Date.UTC(2026, 0, 1, 10)],
    ['2026-01-01T10:00:30', Date.UTC(2026, 0, 1, 10, 0, 30)],
    ['2026-01-01T10:00:30.250Z', Date.UTC(2026, 0, 1, 10, 0, 30, 250)],
    ['2026-01-01T12:00+02:00', Date.UTC(2026, 0, 1, 10)],
    ['2026-01-01T05:30-04:30', Date.UTC(2026, 0, 1, 10)],
    ['2026-02-30T10:00', undefined],
    ['2026-01-01T24:00', undefined],
    ['2026-01-01T10:60', undefined],
    ['2026-01-01 10:00', undefined],
    ['2026-01-01', undefined],
    ['1767261600', undefined],
  ])('%s → %s', (text, ms) => {
    expect(parseDateTime(text)).toBe(ms);
  });

  it('formats as YYYY-MM-DDTHH:MM', () => {
    expect(formatDateTime(Date.UTC(2026, 5, 7, 3, 4, 59))).toBe('2026-06-07T03:04');
  });
});

describe('schedulingConfig rules (relative to the service clock)', () => {
  const at = (ms: number): string => new Date(ms).toISOString().slice(0, 19);
  const D = 24 * H;
  it.each([
    ['start 29 minutes ahead', { startTime: at(T0 + 29 * MIN) }, /startTime must be at least 30 minutes from the current time/],
    ['start more than a year ahead', { startTime: at(T0 + 366 * D) }, /startTime can be at most one year/],
    ['end 10 minutes ahead', { endTime: at(T0 + 10 * MIN) }, /endTime must be at least 30 minutes from the current time/],
    ['end 20 minutes after start', { startTime: at(T0 + H), endTime: at(T0 + H + 20 * MIN) }, /at least 30 minutes after startTime/],
    ['end more than two years ahead', { endTime: at(T0 + 732 * D) }, /endTime can be at most two years from the current time/],
    ['end more than two years after start', { startTime: at(T0 + 300 * D), endTime: at(T0 + 300 * D + 731 * D) }, /two years/],
    ['not a date', { startTime: 'tomorrow' }, /is not a date and time of the form YYYY-MM-DDTHH:MM/],
    ['not a string', { startTime: 1767261600 }, /startTime must be a string/],
    ['bad endBehavior', { endTime: at(T0 + H), endBehavior: 'PAUSE' }, /endBehavior must be one of STOP_ROLLOUT, CANCEL, FORCE_CANCEL/],
    ['window duration 0', { maintenanceWindows: [{ startTime: 'cron(0 2 * * ? *)', durationInMinutes: 0 }] }, /durationInMinutes must be an integer from 1 to 1430/],
    ['window duration 1431', { maintenanceWindows: [{ startTime: 'cron(0 2 * * ? *)', durationInMinutes: 1431 }] }, /from 1 to 1430/],
    ['window bad cron', { maintenanceWindows: [{ startTime: 'cron(0 2 * * * *)', durationInMinutes: 60 }] }, /maintenanceWindows\[0\]\.startTime/],
    ['windows not a list', { maintenanceWindows: { startTime: 'cron(0 2 * * ? *)' } }, /must be a list/],
    ['unknown field', { startTime: at(T0 + H), timeZone: 'UTC' }, /schedulingConfig\.timeZone is not a field/],
    ['unknown window field', { maintenanceWindows: [{ startTime: 'cron(0 2 * * ? *)', durationInMinutes: 5, tz: 'x' }] }, /\.tz is not a field/],
  ])('%s is refused', (_n, config, message) => {
    const r = checkScheduling(config, T0);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toMatch(message);
  });

  it('accepts the limits themselves and keeps what DescribeJob shows', () => {
    const config = {
      startTime: at(T0 + 30 * MIN),
      endTime: at(T0 + 60 * MIN),
      endBehavior: 'CANCEL',
      maintenanceWindows: [{ startTime: 'cron(0 2 * * ? *)', durationInMinutes: 1430 }],
    };
    const r = checkScheduling(config, T0);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value).toMatchObject({ startAtMs: T0 + 30 * MIN, endAtMs: T0 + 60 * MIN, endBehavior: 'CANCEL' });
    expect(r.value.echo).toEqual(config);
    expect(checkScheduling({ startTime: at(T0 + 365 * D) }, T0).ok).toBe(true);
    expect(checkScheduling({ endBehavior: 'STOP_ROLLOUT' }, T0).ok).toBe(true);
  });
});

describe('maintenance windows', () => {
  const nightly = { cron: cron('cron(0 2 * * ? *)'), durationMs: 60 * MIN };
  const weekend = { cron: cron('cron(0 12 ? * SAT,SUN *)'), durationMs: 120 * MIN };

  it.each([
    [T0 + H, { open: false, until: T0 + 2 * H }],
    [T0 + 2 * H, { open: true, until: T0 + 3 * H }],
    [T0 + 2 * H + 59 * MIN, { open: true, until: T0 + 3 * H }],
    [T0 + 3 * H, { open: false, until: T0 + 26 * H }],
  ])('one window at %s', (t, state) => {
    expect(windowState([nightly], t)).toEqual(state);
  });

  it('several windows: the nearest opening counts; overlapping ones stay open until the last closes', () => {
    const long = { cron: cron('cron(30 2 * * ? *)'), durationMs: 90 * MIN };
    expect(windowState([nightly, long], T0 + 2 * H + 45 * MIN)).toEqual({ open: true, until: T0 + 4 * H });
    expect(windowState([weekend, nightly], T0 + 4 * H)).toEqual({ open: false, until: T0 + 26 * H });
  });

  it('lists upcoming openings across windows, earliest first', () => {
    const got = upcomingOpenings([weekend, nightly], T0, 5).map(formatDateTime);
    expect(got).toEqual(['2026-01-01T02:00', '2026-01-02T02:00', '2026-01-03T02:00', '2026-01-03T12:00', '2026-01-04T02:00']);
  });
});
