/**
 * Cron expressions for maintenance windows, in the six-field form AWS uses for its schedules:
 * `cron(minutes hours day-of-month month day-of-week year)`, evaluated in UTC. Supported: `*`,
 * `?` (one of the two day fields must be `?`), values, ranges `a-b`, lists `a,b`, steps `*\/n`,
 * `a/n`, `a-b/n`, month names JAN–DEC and day names SUN–SAT (1 = Sunday). The `L`, `W` and `#`
 * forms are refused by name rather than misread (docs/ROLLOUT.md §R.4).
 */

export interface Cron {
  readonly text: string;
  readonly minutes: readonly boolean[];
  readonly hours: readonly boolean[];
  /** Days of the month 1–31, or undefined for `?`. */
  readonly dom: readonly boolean[] | undefined;
  readonly months: readonly boolean[];
  /** Days of the week 1–7 (1 = Sunday), or undefined for `?`. */
  readonly dow: readonly boolean[] | undefined;
  /** Years from 1970, or undefined for `*`. */
  readonly years: readonly boolean[] | undefined;
}

export type CronResult = { ok: true; value: Cron } | { ok: false; message: string };

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
  question?: boolean;
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
const FIELDS: readonly FieldSpec[] = [
  { name: 'minutes', min: 0, max: 59 },
  { name: 'hours', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31, question: true },
  { name: 'month', min: 1, max: 12, names: MONTHS },
  { name: 'day-of-week', min: 1, max: 7, names: DAYS, question: true },
  { name: 'year', min: 1970, max: 2199 },
];

type FieldResult = { ok: true; value: boolean[] | undefined } | { ok: false; message: string };

function value(spec: FieldSpec, token: string): number | undefined {
  const named = spec.names?.indexOf(token.toUpperCase()) ?? -1;
  if (named >= 0) return named + spec.min;
  if (!/^\d{1,4}$/.test(token)) return undefined;
  const n = Number(token);
  return n >= spec.min && n <= spec.max ? n : undefined;
}

/** One comma-separated item: `*`, `a`, `a-b`, each optionally `/step`. */
function item(spec: FieldSpec, part: string, into: boolean[]): string | undefined {
  const [range, stepText, extra] = part.split('/');
  if (range === undefined || extra !== undefined) return `${spec.name}: ${JSON.stringify(part)} is not a value, range or step`;
  let step = 1;
  if (stepText !== undefined) {
    if (!/^\d{1,4}$/.test(stepText) || Number(stepText) < 1) return `${spec.name}: step ${JSON.stringify(stepText)} must be a positive integer`;
    step = Number(stepText);
  }
  let lo = spec.min;
  let hi = spec.max;
  if (range !== '*') {
    const [a, b, more] = range.split('-');
    const from = a === undefined ? undefined : value(spec, a);
    const to = b === undefined ? (stepText === undefined ? from : spec.max) : value(spec, b);
    if (from === undefined || to === undefined || more !== undefined)
      return `${spec.name}: ${JSON.stringify(part)} is outside ${spec.min}-${spec.max}`;
    if (from > to) return `${spec.name}: range ${JSON.stringify(range)} runs backwards`;
    lo = from;
    hi = to;
  }
  for (let v = lo; v <= hi; v += step) into[v] = true;
  return undefined;
}

function field(spec: FieldSpec, text: string): FieldResult {
  if (/[LW#]/i.test(text.replace(/[A-Z]{3}/gi, (m) => (spec.names?.includes(m.toUpperCase()) ? '' : m))))
    return { ok: false, message: `${spec.name}: the L, W and # forms are not supported by the local Jobs service` };
  if (text === '?') {
    return spec.question ? { ok: true, value: undefined } : { ok: false, message: `${spec.name}: ? is allowed only in the day fields` };
  }
  if (text === '*' && spec.name === 'year') return { ok: true, value: undefined };
  const set: boolean[] = [];
  for (const part of text.split(',')) {
    const bad = item(spec, part, set);
    if (bad !== undefined) return { ok: false, message: bad };
  }
  if (spec.name !== 'year') return { ok: true, value: set };
  return { ok: true, value: set.slice(spec.min).map(Boolean) };
}

export function parseCron(text: string): CronResult {
  const m = /^cron\((.*)\)$/.exec(text.trim());
  if (m === null) return { ok: false, message: 'expected cron(minutes hours day-of-month month day-of-week year)' };
  const parts = (m[1] as string).trim().split(/\s+/);
  if (parts.length !== FIELDS.length) return { ok: false, message: `expected ${FIELDS.length} fields inside cron(), got ${parts.length}` };
  const out: (boolean[] | undefined)[] = [];
  for (const [i, spec] of FIELDS.entries()) {
    const r = field(spec, parts[i] as string);
    if (!r.ok) return r;
    out.push(r.value);
  }
  const [minutes, hours, dom, months, dow, years] = out;
  if ((dom === undefined) === (dow === undefined))
    return { ok: false, message: 'exactly one of day-of-month and day-of-week must be ?' };
  return {
    ok: true,
    value: { text, minutes: minutes ?? [], hours: hours ?? [], dom, months: months ?? [], dow, years },
  };
}

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
/** How far ahead an occurrence is looked for: beyond any job's end (two years after its start). */
const HORIZON_DAYS = 5 * 366;

function dayMatches(c: Cron, d: Date): boolean {
  if (c.years !== undefined && c.years[d.getUTCFullYear() - 1970] !== true) return false;
  if (c.months[d.getUTCMonth() + 1] !== true) return false;
  if (c.dom !== undefined) return c.dom[d.getUTCDate()] === true;
  return c.dow?.[d.getUTCDay() + 1] === true;
}

/** The first firing time at or after `t` (ms, UTC), or undefined if there is none within the horizon. */
export function nextFiring(c: Cron, t: number): number | undefined {
  const from = Math.ceil(t / MINUTE) * MINUTE;
  const firstDay = Math.floor(from / DAY) * DAY;
  for (let day = firstDay, n = 0; n <= HORIZON_DAYS; day += DAY, n++) {
    if (!dayMatches(c, new Date(day))) continue;
    const skip = day === firstDay ? from - day : 0;
    for (let h = 0; h < 24; h++) {
      if (c.hours[h] !== true || (h + 1) * HOUR <= skip) continue;
      for (let m = 0; m < 60; m++) {
        const off = h * HOUR + m * MINUTE;
        if (c.minutes[m] === true && off >= skip) return day + off;
      }
    }
  }
  return undefined;
}
