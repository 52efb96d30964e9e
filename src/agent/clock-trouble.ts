/**
 * Is a failed connection the clock's doing? A Raspberry Pi-class device boots in 1970 until NTP
 * syncs; every certificate then looks "not valid yet". That is a runtime condition — the agent stays
 * up, says so with both times, and connects once the clock is right — never a configuration error.
 * Pure.
 */

export interface CertificateWindow {
  /** Validity of this device's own certificate (ISO or X509Certificate text form). */
  validFrom: string;
  validTo: string;
}

export interface ClockTrouble {
  /** One line for the log message and systemd's STATUS. */
  summary: string;
  deviceTime: string;
  certificateValidFrom?: string;
  certificateValidTo?: string;
}

function iso(t: string | number): string {
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : d.toISOString();
}

/** What the failure says about time, or undefined when time is not the problem. */
export function clockTrouble(err: unknown, own: CertificateWindow | undefined, nowMs: number): ClockTrouble | undefined {
  const deviceTime = iso(nowMs);
  const window = own === undefined ? {} : { certificateValidFrom: iso(own.validFrom), certificateValidTo: iso(own.validTo) };
  const from = own === undefined ? NaN : new Date(own.validFrom).getTime();
  const to = own === undefined ? NaN : new Date(own.validTo).getTime();
  if (nowMs < from) {
    return { summary: `clock: device time ${deviceTime} is before this device's certificate is valid (${iso(own?.validFrom ?? '')}); waiting for the clock (NTP)`, deviceTime, ...window };
  }
  const brokerSide = (err as { kind?: unknown } | undefined)?.kind === 'certificate-time';
  if (nowMs > to) {
    return { summary: `clock or certificate: this device's certificate expired on ${iso(own?.validTo ?? '')} by device time ${deviceTime}`, deviceTime, ...window };
  }
  if (brokerSide) {
    return { summary: `clock or certificate: the broker's certificate is not valid at device time ${deviceTime}`, deviceTime, ...window };
  }
  return undefined;
}
