/**
 * Which proxy the agent uses: the `proxy` key, or else the environment (HTTPS_PROXY, https_proxy,
 * ALL_PROXY, all_proxy, with NO_PROXY / no_proxy), or none when the key is `false`
 * (docs/ARCHITECTURE.md §3, "Through a proxy"). Everything the agent opens is TLS, so HTTP_PROXY
 * (meant for plain http) is not read.
 */
import type { ProxyConfig } from '../config/types';
import { ConfigError } from '../lib/errors';
import { NoProxy } from './no-proxy';

export type ProxyKind = 'http' | 'https' | 'socks5';

export interface ProxySettings {
  kind: ProxyKind;
  host: string;
  port: number;
  username?: string;
  /** Read at each connection (a rotated password is picked up), or given in the environment's URL. */
  password?: { file: string } | { text: string };
  /** CA for an HTTPS proxy's certificate; default the system store. */
  caFile?: string;
  noProxy: NoProxy;
  /** Where the settings came from: `proxy` (the config key) or the variable's name. */
  source: string;
}

const DEFAULT_PORTS: Record<ProxyKind, number> = { http: 80, https: 443, socks5: 1080 };
const PROXY_VARS = ['HTTPS_PROXY', 'https_proxy', 'ALL_PROXY', 'all_proxy'] as const;

function kindOf(protocol: string): ProxyKind | undefined {
  switch (protocol) {
    case 'http:':
      return 'http';
    case 'https:':
      return 'https';
    // socks5h means "the proxy resolves names", which is what this agent always does.
    case 'socks5:':
    case 'socks5h:':
    case 'socks:':
      return 'socks5';
    default:
      return undefined;
  }
}

function parseUrl(text: string, source: string): URL {
  // `proxy.corp:3128` without a scheme means an HTTP proxy, as for curl.
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  try {
    return new URL(withScheme);
  } catch {
    throw new ConfigError([`${source}: not a proxy URL: ${redactUrl(text)}`]);
  }
}

/** A proxy URL for messages: never its password. */
export function redactUrl(text: string): string {
  return text.replace(/\/\/([^/@:]*):[^/@]*@/, '//$1:***@');
}

function fromUrl(text: string, source: string, noProxy: NoProxy): ProxySettings {
  const url = parseUrl(text.trim(), source);
  const kind = kindOf(url.protocol);
  if (kind === undefined) throw new ConfigError([`${source}: unsupported proxy scheme ${url.protocol} (http, https or socks5)`]);
  if (url.hostname === '') throw new ConfigError([`${source}: the proxy URL names no host`]);
  const s: ProxySettings = {
    kind,
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port === '' ? DEFAULT_PORTS[kind] : Number(url.port),
    noProxy,
    source,
  };
  if (url.username !== '') s.username = decodeURIComponent(url.username);
  if (url.password !== '') s.password = { text: decodeURIComponent(url.password) };
  return s;
}

function fromConfig(p: ProxyConfig): ProxySettings {
  const s = fromUrl(p.url, 'proxy.url', new NoProxy(p.noProxy));
  s.source = 'proxy';
  if (p.username !== undefined) s.username = p.username;
  if (p.passwordFile !== undefined) s.password = { file: p.passwordFile };
  if (p.caFile !== undefined) s.caFile = p.caFile;
  return s;
}

/** The proxy to use, or undefined for direct connections. Throws ConfigError for a URL that cannot work. */
export function resolveProxy(cfg: ProxyConfig | false | undefined, env: NodeJS.ProcessEnv): ProxySettings | undefined {
  if (cfg === false) return undefined;
  if (cfg !== undefined) return fromConfig(cfg);
  const name = PROXY_VARS.find((v) => (env[v] ?? '').trim() !== '');
  if (name === undefined) return undefined;
  const noProxy = NoProxy.parse(env['NO_PROXY'] ?? env['no_proxy']);
  return fromUrl(env[name] ?? '', name, noProxy);
}

/** `http://user@proxy.corp:3128` — how the proxy is named in logs, STATUS and check-config. */
export function describeProxy(s: ProxySettings): string {
  const user = s.username !== undefined ? `${encodeURIComponent(s.username)}@` : '';
  const host = s.host.includes(':') ? `[${s.host}]` : s.host;
  return `${s.kind}://${user}${host}:${s.port}`;
}
