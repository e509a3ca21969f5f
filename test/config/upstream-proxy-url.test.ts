// `proxy.upstream_proxy`, `--upstream-proxy` and EGRESS_PROXY_UPSTREAM_PROXY: the URL's parts, the layers, and
// errors that name the key without ever repeating the password.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveConfig } from '../../src/config/resolve-config.js';
import { ConfigError } from '../../src/errors.js';
import { tempConfigDir } from './temp-config-files.js';

const files = tempConfigDir();

describe('upstream_proxy', () => {
  it('reads host, port (80 by default) and percent-decoded credentials; flags beat the environment beat the file', async () => {
    const file = files.write('parent.toml', '[proxy]\nupstream_proxy = "http://proxy.corp.example"\nupstream_proxy_bypass = ["*.Internal"]\n');
    const fromFile = (await resolveConfig({ configFile: file }, {})).config;
    assert.deepEqual(fromFile.upstreamProxy, { host: 'proxy.corp.example', port: 80, username: undefined, password: undefined, display: 'http://proxy.corp.example:80' });
    assert.deepEqual(fromFile.upstreamProxyBypass, ['*.internal']);
    const env = { EGRESS_PROXY_UPSTREAM_PROXY: 'http://u%3Aser:s%40cret@[::1]:3128' };
    await assert.rejects(resolveConfig({ configFile: file }, env), /the user name contains a colon/);
    const fromEnv = (await resolveConfig({ configFile: file }, { EGRESS_PROXY_UPSTREAM_PROXY: 'http://user:s%40cret@[::1]:3128' })).config;
    assert.deepEqual(fromEnv.upstreamProxy, { host: '::1', port: 3128, username: 'user', password: 's@cret', display: 'http://[::1]:3128' });
    const fromFlag = (await resolveConfig({ configFile: file, upstreamProxy: 'http://10.0.0.1:8080' }, { EGRESS_PROXY_UPSTREAM_PROXY: 'http://[::1]:3128' })).config;
    assert.equal(fromFlag.upstreamProxy?.display, 'http://10.0.0.1:8080');
  });

  it('is never taken from HTTPS_PROXY or HTTP_PROXY', async () => {
    const { config } = await resolveConfig({}, { HTTPS_PROXY: 'http://proxy:3128', HTTP_PROXY: 'http://proxy:3128', https_proxy: 'http://proxy:3128' });
    assert.equal(config.upstreamProxy, undefined);
  });

  it('names what is wrong, and never the password', async () => {
    const cases: Array<[string, string]> = [
      ['"https://proxy:3128"', 'proxy.upstream_proxy: the parent proxy must be spoken to in plain HTTP ("http://..."), not "https"'],
      ['"proxy:3128"', 'proxy.upstream_proxy: the parent proxy must be spoken to in plain HTTP ("http://..."), not "proxy"'],
      ['"not a url"', 'proxy.upstream_proxy: is not a URL (expected "http://[user:password@]host[:port]")'],
      ['"http://user:hunter2@proxy:3128/path"', 'proxy.upstream_proxy: a proxy URL has no path, query or fragment: only http://[user:password@]host[:port]'],
      ['"http://user:hun%0Ater2@proxy:3128"', 'proxy.upstream_proxy: the password contains a control character, which Basic authentication cannot carry (RFC 7617 §2)'],
      ['3128', 'proxy.upstream_proxy: expected a URL such as "http://proxy.example:3128", got 3128'],
    ];
    for (const [value, expected] of cases) {
      const file = files.write('bad.toml', `[proxy]\nupstream_proxy = ${value}\n`);
      await assert.rejects(resolveConfig({ configFile: file }, {}), (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.equal(err.message, `${file}: ${expected}`);
        assert.ok(!err.message.includes('hunter2') && !err.message.includes('hun%0Ater2'), err.message);
        return true;
      });
    }
    await assert.rejects(resolveConfig({ upstreamProxy: 'ftp://proxy' }, {}), /^ConfigError: command line: --upstream-proxy: the parent proxy must be spoken to in plain HTTP/);
  });
});
