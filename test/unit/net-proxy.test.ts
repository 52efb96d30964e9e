/** noProxy matching, and where the proxy settings come from (config key, environment, false). */
import { ConfigError } from '../../src/lib/errors';
import { describeProxy, NoProxy, redactUrl, resolveProxy } from '../../src/net';

describe('noProxy matching', () => {
  const rules = new NoProxy(['localhost', '.corp.example', 'plant.local', '*.lab.test', '10.0.0.0/8', '192.168.1.7', 'fd00::/8', '[::1]', 'gw.site:8443']);
  it.each([
    ['localhost', true],
    ['LOCALHOST.', true],
    ['corp.example', true],
    ['a.corp.example', true],
    ['a.b.corp.example', true],
    ['notcorp.example', false],
    ['plant.local', true],
    ['x.plant.local', true],
    ['lab.test', true],
    ['x.lab.test', true],
    ['10.1.2.3', true],
    ['11.1.2.3', false],
    ['192.168.1.7', true],
    ['192.168.1.8', false],
    ['fd12::1', true],
    ['[fd12::1]', true],
    ['fe80::1', false],
    ['::1', true],
    ['gw.site', true],
    ['abc-ats.iot.eu-west-1.amazonaws.com', false],
  ])('%s → direct: %s', (host, direct) => {
    expect(rules.matches(host)).toBe(direct);
  });

  it('`*` exempts everything; an empty list nothing', () => {
    expect(new NoProxy(['*']).matches('anything.example')).toBe(true);
    expect(NoProxy.parse('').matches('localhost')).toBe(false);
  });

  it('reads NO_PROXY lists separated by commas and spaces', () => {
    const r = NoProxy.parse(' localhost,.corp.example  10.0.0.0/8 ,');
    expect(r.entries).toEqual(['localhost', '.corp.example', '10.0.0.0/8']);
    expect(r.matches('x.corp.example')).toBe(true);
    expect(r.matches('10.9.9.9')).toBe(true);
  });
});

describe('proxy settings', () => {
  it('takes the proxy key over the environment', () => {
    const s = resolveProxy({ url: 'http://proxy.corp:3128', username: 'alice', passwordFile: '/etc/p', noProxy: ['.corp'] }, { HTTPS_PROXY: 'http://other:1' });
    expect(s).toMatchObject({ kind: 'http', host: 'proxy.corp', port: 3128, username: 'alice', password: { file: '/etc/p' }, source: 'proxy' });
    expect(s?.noProxy.matches('x.corp')).toBe(true);
  });

  it('"proxy": false ignores the environment', () => {
    expect(resolveProxy(false, { HTTPS_PROXY: 'http://proxy:3128', ALL_PROXY: 'socks5://s:1080' })).toBeUndefined();
  });

  it('reads HTTPS_PROXY, then https_proxy, then ALL_PROXY, with NO_PROXY', () => {
    expect(resolveProxy(undefined, { https_proxy: 'http://b:2', ALL_PROXY: 'socks5://c:3' })).toMatchObject({ host: 'b', port: 2, source: 'https_proxy' });
    expect(resolveProxy(undefined, { HTTPS_PROXY: 'http://a:1', https_proxy: 'http://b:2' })).toMatchObject({ host: 'a', source: 'HTTPS_PROXY' });
    const all = resolveProxy(undefined, { ALL_PROXY: 'socks5h://c:3', NO_PROXY: 'localhost' });
    expect(all).toMatchObject({ kind: 'socks5', host: 'c', port: 3, source: 'ALL_PROXY' });
    expect(all?.noProxy.matches('localhost')).toBe(true);
    expect(resolveProxy(undefined, { HTTP_PROXY: 'http://plain:80' })).toBeUndefined();
    expect(resolveProxy(undefined, {})).toBeUndefined();
  });

  it('takes credentials from the environment URL and never shows the password', () => {
    const s = resolveProxy(undefined, { HTTPS_PROXY: 'http://bob:p%40ss@proxy:8080' });
    expect(s).toMatchObject({ username: 'bob', password: { text: 'p@ss' } });
    expect(describeProxy(s!)).toBe('http://bob@proxy:8080');
    expect(redactUrl('http://bob:p%40ss@proxy:8080')).toBe('http://bob:***@proxy:8080');
  });

  it('defaults a missing scheme to http and the ports by scheme', () => {
    expect(resolveProxy(undefined, { HTTPS_PROXY: 'proxy.corp:3128' })).toMatchObject({ kind: 'http', port: 3128 });
    expect(resolveProxy(undefined, { HTTPS_PROXY: 'https://p' })).toMatchObject({ kind: 'https', port: 443 });
    expect(resolveProxy(undefined, { ALL_PROXY: 'socks5://p' })).toMatchObject({ kind: 'socks5', port: 1080 });
  });

  it('refuses a scheme it cannot speak, naming the variable', () => {
    expect(() => resolveProxy(undefined, { HTTPS_PROXY: 'ftp://p:21' })).toThrow(ConfigError);
    expect(() => resolveProxy(undefined, { HTTPS_PROXY: 'ftp://p:21' })).toThrow(/HTTPS_PROXY: unsupported proxy scheme ftp:/);
  });
});
