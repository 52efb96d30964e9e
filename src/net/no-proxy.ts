/**
 * `noProxy` / `NO_PROXY`: which hosts are reached directly although a proxy is configured. The
 * rules of curl and most tools: `*` (everything), a host name, a domain suffix (`corp.example`,
 * `.corp.example` and `*.corp.example` all match the domain and every name under it), an IP address,
 * or a CIDR block (IPv4 or IPv6). A `:port` suffix and `[ ]` around IPv6 are accepted and the port is
 * ignored. Matching is case-insensitive and ignores a trailing dot.
 */
import { BlockList, isIP } from 'node:net';

function normalHost(host: string): string {
  return host.trim().toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
}

/** `host`, `host:port`, `[v6]`, `[v6]:port`, `v6` → host (a bare IPv6 address keeps its colons). */
function stripPort(entry: string): string {
  const bracket = /^\[([^\]]+)\](?::\d+)?$/.exec(entry);
  if (bracket) return bracket[1] ?? '';
  if ((entry.match(/:/g) ?? []).length === 1) return entry.replace(/:\d*$/, '');
  return entry;
}

export class NoProxy {
  private readonly all: boolean;
  private readonly domains: string[] = [];
  private readonly ips = new BlockList();
  /** The rules as given (for messages). */
  readonly entries: readonly string[];

  constructor(entries: readonly string[]) {
    this.entries = entries.map((e) => e.trim()).filter((e) => e !== '');
    this.all = this.entries.includes('*');
    for (const raw of this.entries) this.add(raw.toLowerCase());
  }

  /** A comma or space separated list, as in NO_PROXY. */
  static parse(text: string | undefined): NoProxy {
    return new NoProxy((text ?? '').split(/[\s,]+/));
  }

  private add(entry: string): void {
    const cidr = /^(.+)\/(\d{1,3})$/.exec(entry);
    if (cidr) {
      const addr = normalHost(cidr[1] ?? '');
      const family = isIP(addr);
      const prefix = Number(cidr[2]);
      if (family !== 0 && prefix <= (family === 4 ? 32 : 128)) this.ips.addSubnet(addr, prefix, family === 4 ? 'ipv4' : 'ipv6');
      return;
    }
    const host = normalHost(stripPort(entry));
    const family = isIP(host);
    if (family !== 0) this.ips.addAddress(host, family === 4 ? 'ipv4' : 'ipv6');
    else if (host !== '' && host !== '*') this.domains.push(host.replace(/^\*?\./, ''));
  }

  /** True when `host` (a name or an IP address) is to be reached without the proxy. */
  matches(host: string): boolean {
    if (this.all) return true;
    const h = normalHost(host);
    const family = isIP(h);
    if (family !== 0) return this.ips.check(h, family === 4 ? 'ipv4' : 'ipv6');
    return this.domains.some((d) => h === d || h.endsWith(`.${d}`));
  }
}
