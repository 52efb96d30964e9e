/**
 * `schedulingConfig` (docs/ROLLOUT.md §R.3): AWS's rules for `startTime` / `endTime` relative to
 * now and to each other, `endBehavior`, and recurring maintenance windows — when a window is open
 * and when the next one opens. Times are UTC; the service checks them against its own clock.
 */
import { nextFiring, parseCron } from './cron';
import type { Cron } from './cron';

export type EndBehavior = 'STOP_ROLLOUT' | 'CANCEL' | 'FORCE_CANCEL';
export const END_BEHAVIORS: readonly EndBehavior[] = ['STOP_ROLLOUT', 'CANCEL', 'FORCE_CANCEL'];

export interface MaintenanceWindow {
  cron: Cron;
  durationMs: number;
}

export interface ScheduleSpec {
  startAtMs?: number;
  endAtMs?: number;
  /** As given; applies only with an end time (STOP_ROLLOUT when absent: docs/ROLLOUT.md §R.3). */
  endBehavior?: EndBehavior;
  windows: MaintenanceWindow[];
  /** The configuration as DescribeJob shows it. */
  echo: Record<string, unknown>;
}

export const MINUTE_MS = 60_000;
const LEAD_MS = 30 * MINUTE_MS;
export const MAX_WINDOW_MINUTES = 1430;

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})?$/;

/** `YYYY-MM-DDTHH:MM`, optionally with seconds and a UTC offset (none = UTC); undefined if invalid. */
export function parseDateTime(text: string): number | undefined {
  const m = DATE_TIME.exec(text);
  if (m === null) return undefined;
  const [y, mo, d, h, mi, s] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i] ?? 0)) as [number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s, Math.round(Number(m[7] ?? 0) * 1000));
  const back = new Date(ms);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) return undefined;
  const zone = m[8];
  if (zone === undefined || zone === 'Z') return ms;
  const sign = zone.startsWith('-') ? -1 : 1;
  const [zh, zm] = zone.slice(1).split(':').map(Number) as [number, number];
  if (zh > 23 || zm > 59) return undefined;
  return ms - sign * (zh * 60 + zm) * MINUTE_MS;
}

/** The form DescribeJob's `scheduledJobRollouts` use: `YYYY-MM-DDTHH:MM`, UTC. */
export function formatDateTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16);
}

function addYears(ms: number, years: number): number {
  const d = new Date(ms);
  d.setUTCFullYear(d.getUTCFullYear() + years);
  return d.getTime();
}

type Checked<T> = { ok: true; value: T } | { ok: false; message: string };
const no = (message: string): { ok: false; message: string } => ({ ok: false, message });
type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function unknownKey(o: Obj, known: readonly string[], where: string): string | undefined {
  const k = Object.keys(o).find((key) => !known.includes(key));
  return k === undefined ? undefined : `${where}.${k} is not a field the local Jobs service supports`;
}

function time(o: Obj, key: 'startTime' | 'endTime'): Checked<number | undefined> {
  const v = o[key];
  if (v === undefined || v === null) return { ok: true, value: undefined };
  if (typeof v !== 'string' || v.length < 1 || v.length > 64) return no(`schedulingConfig.${key} must be a string of 1 to 64 characters`);
  const ms = parseDateTime(v);
  if (ms === undefined) return no(`schedulingConfig.${key} ${JSON.stringify(v)} is not a date and time of the form YYYY-MM-DDTHH:MM (UTC)`);
  return { ok: true, value: ms };
}

function checkTimes(start: number | undefined, end: number | undefined, now: number): string | undefined {
  if (start !== undefined) {
    if (start < now + LEAD_MS) return 'schedulingConfig.startTime must be at least 30 minutes from the current time';
    if (start > addYears(now, 1)) return 'schedulingConfig.startTime can be at most one year from the current time';
  }
  if (end !== undefined) {
    if (end < now + LEAD_MS) return 'schedulingConfig.endTime must be at least 30 minutes from the current time';
    if (end > addYears(now, 2)) return 'schedulingConfig.endTime can be at most two years from the current time';
    if (start !== undefined && end < start + LEAD_MS) return 'schedulingConfig.endTime must be at least 30 minutes after startTime';
    if (start !== undefined && end > addYears(start, 2)) return 'schedulingConfig.endTime can be at most two years after startTime';
  }
  return undefined;
}

function windowsOf(v: unknown): Checked<{ windows: MaintenanceWindow[]; echo: Obj[] }> {
  if (!Array.isArray(v)) return no('schedulingConfig.maintenanceWindows must be a list');
  const windows: MaintenanceWindow[] = [];
  const echo: Obj[] = [];
  for (const [i, w] of v.entries()) {
    const where = `schedulingConfig.maintenanceWindows[${i}]`;
    if (!isObj(w)) return no(`${where} must be an object`);
    const extra = unknownKey(w, ['startTime', 'durationInMinutes'], where);
    if (extra !== undefined) return no(extra);
    if (typeof w.startTime !== 'string' || w.startTime.length < 1 || w.startTime.length > 256)
      return no(`${where}.startTime must be a cron expression of 1 to 256 characters`);
    const d = w.durationInMinutes;
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 1 || d > MAX_WINDOW_MINUTES)
      return no(`${where}.durationInMinutes must be an integer from 1 to ${MAX_WINDOW_MINUTES}`);
    const cron = parseCron(w.startTime);
    if (!cron.ok) return no(`${where}.startTime ${JSON.stringify(w.startTime)}: ${cron.message}`);
    windows.push({ cron: cron.value, durationMs: d * MINUTE_MS });
    echo.push({ startTime: w.startTime, durationInMinutes: d });
  }
  return { ok: true, value: { windows, echo } };
}

/** Validates a `schedulingConfig`; with `now`, also AWS's rules relative to the current time. */
export function checkScheduling(v: unknown, now: number | undefined): Checked<ScheduleSpec> {
  if (!isObj(v)) return no('schedulingConfig must be an object');
  const extra = unknownKey(v, ['startTime', 'endTime', 'endBehavior', 'maintenanceWindows'], 'schedulingConfig');
  if (extra !== undefined) return no(extra);
  const start = time(v, 'startTime');
  if (!start.ok) return start;
  const end = time(v, 'endTime');
  if (!end.ok) return end;
  const bad = now === undefined ? undefined : checkTimes(start.value, end.value, now);
  if (bad !== undefined) return no(bad);
  const spec: ScheduleSpec = { windows: [], echo: {} };
  if (start.value !== undefined) [spec.startAtMs, spec.echo.startTime] = [start.value, v.startTime];
  if (end.value !== undefined) [spec.endAtMs, spec.echo.endTime] = [end.value, v.endTime];
  if (v.endBehavior !== undefined && v.endBehavior !== null) {
    if (!END_BEHAVIORS.includes(v.endBehavior as EndBehavior))
      return no(`schedulingConfig.endBehavior must be one of ${END_BEHAVIORS.join(', ')}`);
    spec.endBehavior = v.endBehavior as EndBehavior;
    spec.echo.endBehavior = v.endBehavior;
  }
  if (v.maintenanceWindows !== undefined && v.maintenanceWindows !== null) {
    const w = windowsOf(v.maintenanceWindows);
    if (!w.ok) return w;
    spec.windows = w.value.windows;
    spec.echo.maintenanceWindows = w.value.echo;
  }
  return { ok: true, value: spec };
}

/** Where `t` falls: inside a window (open until `until`) or between windows (next opening at `until`). */
export interface WindowState {
  open: boolean;
  /** Close time when open; next opening when closed (undefined: none within the horizon). */
  until: number | undefined;
}

/** Whether any window is open at `t`; overlapping windows count as one stretch. */
export function windowState(windows: readonly MaintenanceWindow[], t: number): WindowState {
  let close: number | undefined;
  let nextOpen: number | undefined;
  for (const w of windows) {
    // The occurrence that would still be open at t started within the last `duration`.
    const recent = nextFiring(w.cron, t - w.durationMs + 1);
    if (recent !== undefined && recent <= t) {
      close = Math.max(close ?? 0, recent + w.durationMs);
      continue;
    }
    if (recent !== undefined) nextOpen = Math.min(nextOpen ?? recent, recent);
  }
  return close !== undefined ? { open: true, until: close } : { open: false, until: nextOpen };
}

/** The next `count` window openings at or after `t`, across all windows, earliest first. */
export function upcomingOpenings(windows: readonly MaintenanceWindow[], t: number, count: number): number[] {
  const out: number[] = [];
  for (const w of windows) {
    let at = t;
    for (let i = 0; i < count; i++) {
      const next = nextFiring(w.cron, at);
      if (next === undefined) break;
      out.push(next);
      at = next + MINUTE_MS;
    }
  }
  return [...new Set(out)].sort((a, b) => a - b).slice(0, count);
}
