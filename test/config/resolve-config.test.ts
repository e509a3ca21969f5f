// Layering (defaults < file < environment < flags), errors naming the environment variable or flag, checks on the
// merged result, and the documented examples.

import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { defaultCaCommonName, defaultConfig, defaultDataDir } from '../../src/config/defaults.js';
import { checkConfigFile, resolveConfig, type ConfigOverrides } from '../../src/config/resolve-config.js';
import { ConfigError } from '../../src/errors.js';
import { tempConfigDir } from './temp-config-files.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const files = tempConfigDir();

async function assertConfigError(
  flags: ConfigOverrides,
  env: NodeJS.ProcessEnv,
  expected: { source: string; key: string; message: string },
): Promise<void> {
  await assert.rejects(resolveConfig(flags, env), (error: unknown) => {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    assert.equal(error.source, expected.source);
    assert.equal(error.key, expected.key);
    assert.equal(error.message, expected.message);
    return true;
  });
}

describe('defaults', () => {
  it('are the documented values', async () => {
    const { config, warnings } = await resolveConfig({}, {});
    assert.deepEqual(config, defaultConfig({}));
    assert.equal(config.bind, '127.0.0.1');
    assert.equal(config.port, 9530);
    assert.deepEqual(config.admin, { enabled: true, bind: '127.0.0.1', port: 9531, dashboard: true, users: [], maxFailuresPerMinute: 10 });
    assert.deepEqual(config.timeouts, {
      connectMs: 10_000,
      upstreamResponseMs: 60_000,
      clientHeadersMs: 30_000,
      clientBodyMs: 30_000,
      clientKeepAliveMs: 95_000,
      upstreamKeepAliveMs: 4_000,
      tunnelIdleMs: 600_000,
      drainMs: 10_000,
      startupMs: 90_000,
    });
    assert.deepEqual(config.limits, { maxClientConnections: 10_000, upstreamMaxSocketsPerHost: 256, upstreamMaxSocketsPerClient: 64, maxConnectionsPerClient: 1000 });
    assert.deepEqual(config.destinations, {
      allow: [],
      blockSpecialRanges: true,
      connectPorts: [443],
      httpPorts: [80, 21, 443, 70, 210, '1025-65535', 280, 488, 591, 777],
    });
    assert.deepEqual(config.proxyAuth, { users: [], realm: 'egress-proxy', maxFailuresPerMinute: 10 });
    assert.equal(config.logFullPaths, false);
    assert.deepEqual(config.metrics, { maxApiLabels: 300, maxClientIpLabels: 300 });
    assert.equal(config.mitmOptions.caCommonName, defaultCaCommonName(os.hostname()));
    assert.equal(config.mitmOptions.dataDir, path.join(os.homedir(), '.local', 'share', 'egress-proxy'));
    assert.equal(config.mitmOptions.caValidityDays, 3650);
    assert.equal(config.mitmOptions.leafValidityDays, 30);
    assert.equal(config.mitmOptions.leafCacheSize, 1000);
    assert.equal(config.mitmOptions.caKeyType, 'ec');
    assert.equal(config.configFile, undefined);
    assert.deepEqual(warnings, []);
  });

  it('name the generated CA after the host, within the 64 characters X.509 allows', () => {
    assert.equal(defaultCaCommonName('build-7'), 'egress-proxy CA (build-7)');
    const long = defaultCaCommonName('h'.repeat(100));
    assert.equal(long.length, 64);
    assert.ok(long.endsWith('h)'));
  });

  it('return a fresh object each time', () => {
    const first = defaultConfig({});
    first.destinations.connectPorts.push(8443);
    first.destinations.allow.push('x');
    assert.deepEqual(defaultConfig({}).destinations.connectPorts, [443]);
    assert.deepEqual(defaultConfig({}).destinations.allow, []);
  });

  it('find the data directory in EGRESS_PROXY_DATA_DIR, then XDG_DATA_HOME, then the home directory', () => {
    assert.equal(defaultDataDir({ EGRESS_PROXY_DATA_DIR: '/srv/ep', XDG_DATA_HOME: '/xdg' }), '/srv/ep');
    assert.equal(defaultDataDir({ XDG_DATA_HOME: '/xdg' }), path.join('/xdg', 'egress-proxy'));
    assert.equal(defaultDataDir({}), path.join(os.homedir(), '.local', 'share', 'egress-proxy'));
    // The XDG spec: empty or relative XDG_DATA_HOME is ignored.
    assert.equal(defaultDataDir({ EGRESS_PROXY_DATA_DIR: '', XDG_DATA_HOME: 'relative' }), defaultDataDir({}));
  });
});

describe('precedence: defaults < file < environment < flags', () => {
  const file = files.write(
    'layers.toml',
    '[proxy]\nbind = "10.0.0.1"\nport = 1001\nallowed_client_cidrs = ["10.0.0.0/8"]\nverbose = true\nmitm = false\n',
  );
  const env = {
    EGRESS_PROXY_BIND: '10.0.0.2',
    EGRESS_PROXY_PORT: '1002',
    EGRESS_PROXY_ALLOWED_CLIENT_CIDRS: '172.16.0.0/12, 2001:db8::/32',
    EGRESS_PROXY_VERBOSE: 'false',
    EGRESS_PROXY_MITM: 'yes',
  };
  const flags: ConfigOverrides = { bind: '10.0.0.3', port: 1003, allow: ['192.168.0.0/16'], verbose: true, mitm: false };

  it('the file overrides the defaults', async () => {
    const { config } = await resolveConfig({ configFile: file }, {});
    assert.deepEqual(
      [config.bind, config.port, config.allowedClientCidrs, config.verbose, config.mitm],
      ['10.0.0.1', 1001, ['10.0.0.0/8'], true, false],
    );
    assert.equal(config.configFile, file);
    assert.equal(config.timeouts.connectMs, 10_000, 'unset keys keep their defaults');
  });

  it('the environment overrides the file', async () => {
    const { config } = await resolveConfig({ configFile: file }, env);
    assert.deepEqual(
      [config.bind, config.port, config.allowedClientCidrs, config.verbose, config.mitm],
      ['10.0.0.2', 1002, ['172.16.0.0/12', '2001:db8::/32'], false, true],
    );
  });

  it('flags override the environment', async () => {
    const { config } = await resolveConfig({ configFile: file, ...flags }, env);
    assert.deepEqual(
      [config.bind, config.port, config.allowedClientCidrs, config.verbose, config.mitm],
      ['10.0.0.3', 1003, ['192.168.0.0/16'], true, false],
    );
  });

  it('each flag overrides only its own value', async () => {
    const { config } = await resolveConfig({ configFile: file, port: 1003 }, { EGRESS_PROXY_MITM: '1' });
    assert.deepEqual([config.bind, config.port, config.verbose, config.mitm], ['10.0.0.1', 1003, true, true]);
  });

  it('an empty EGRESS_PROXY_ALLOWED_CLIENT_CIDRS clears the allow-list', async () => {
    const { config } = await resolveConfig({ configFile: file }, { EGRESS_PROXY_ALLOWED_CLIENT_CIDRS: '' });
    assert.deepEqual(config.allowedClientCidrs, []);
  });

  it('the other environment variables and flags reach their settings', async () => {
    const { config } = await resolveConfig(
      {
        adminEnabled: false,
        adminBind: '::1',
        upstreamCaFile: '/etc/ssl/corp.pem',
        upstreamInsecure: false,
        drainSeconds: 2.5,
      },
      { EGRESS_PROXY_ADMIN_PORT: '0', EGRESS_PROXY_DATA_DIR: '/var/lib/ep' },
    );
    assert.deepEqual(config.admin, { enabled: false, bind: '::1', port: 0, dashboard: true, users: [], maxFailuresPerMinute: 10 });
    assert.equal(config.upstreamTls.caFile, "/etc/ssl/corp.pem");
    assert.equal(config.mitmOptions.dataDir, '/var/lib/ep');
    assert.equal(config.timeouts.drainMs, 2500);
    const { config: withFlag } = await resolveConfig({ dataDir: '/flag' }, { EGRESS_PROXY_DATA_DIR: '/env' });
    assert.equal(withFlag.mitmOptions.dataDir, '/flag');
  });

  it('the destination, per-client and log variables and flags reach their settings, flags over variables', async () => {
    const env = {
      EGRESS_PROXY_DEST_ALLOW: 'openway.guance.com:443, 10.1.2.0/24:9528',
      EGRESS_PROXY_BLOCK_SPECIAL_DESTINATIONS: 'false',
      EGRESS_PROXY_CONNECT_PORTS: '443,8443-8449',
      EGRESS_PROXY_HTTP_PORTS: '',
      EGRESS_PROXY_MAX_CONNECTIONS_PER_CLIENT: '50',
      EGRESS_PROXY_LOG_FULL_PATHS: 'yes',
    };
    const fromEnv = (await resolveConfig({}, env)).config;
    assert.deepEqual(fromEnv.destinations, {
      allow: ['openway.guance.com:443', '10.1.2.0/24:9528'],
      blockSpecialRanges: false,
      connectPorts: [443, '8443-8449'],
      httpPorts: [],
    });
    assert.equal(fromEnv.limits.maxConnectionsPerClient, 50);
    assert.equal(fromEnv.logFullPaths, true);
    const fromFlags = (
      await resolveConfig(
        {
          destinationsAllow: ['127.0.0.1:54321'],
          blockSpecialDestinations: true,
          connectPorts: ['1-65535'],
          httpPorts: ['80', '8080'],
          maxConnectionsPerClient: 7,
          logFullPaths: false,
        },
        env,
      )
    ).config;
    assert.deepEqual(fromFlags.destinations, { allow: ['127.0.0.1:54321'], blockSpecialRanges: true, connectPorts: ['1-65535'], httpPorts: [80, 8080] });
    assert.equal(fromFlags.limits.maxConnectionsPerClient, 7);
    assert.equal(fromFlags.logFullPaths, false);
  });

  it('a bad destination or port names the variable or flag', async () => {
    await assertConfigError({}, { EGRESS_PROXY_DEST_ALLOW: 'ok.example,0x7f000001' }, {
      source: 'environment',
      key: 'EGRESS_PROXY_DEST_ALLOW',
      message: 'environment: EGRESS_PROXY_DEST_ALLOW: "0x7f000001" is not a destination (a host name, *.suffix, IP address or CIDR, optionally followed by :PORT or :FROM-TO): write the address as 127.0.0.1',
    });
    await assertConfigError({ connectPorts: ['443', 'https'] }, {}, {
      source: 'command line',
      key: '--connect-port',
      message: 'command line: --connect-port: "https" is not a port (1-65535) or a port range (FROM-TO)',
    });
  });

  it('EGRESS_PROXY_CONFIG names the file when --config is absent, and --config wins over it', async () => {
    const other = files.write('other.toml', '[proxy]\nport = 2002\n');
    const fromEnv = await resolveConfig({}, { EGRESS_PROXY_CONFIG: file });
    assert.equal(fromEnv.config.port, 1001);
    assert.equal(fromEnv.config.configFile, file);
    const fromFlag = await resolveConfig({ configFile: other }, { EGRESS_PROXY_CONFIG: file });
    assert.equal(fromFlag.config.port, 2002);
    assert.equal(fromFlag.config.configFile, other);
  });

  it('a DataKit-form file sits in the same place in the order', async () => {
    const datakit = files.write('datakit.conf', '[[inputs.proxy]]\nport = 4000\nverbose = true\n');
    const { config } = await resolveConfig({ configFile: datakit }, { EGRESS_PROXY_PORT: '4001' });
    assert.equal(config.port, 4001);
    assert.equal(config.verbose, true);
    assert.equal(config.bind, '127.0.0.1');
  });
});

describe('environment errors', () => {
  it('bad booleans', async () => {
    for (const name of ['EGRESS_PROXY_VERBOSE', 'EGRESS_PROXY_MITM']) {
      await assertConfigError({}, { [name]: 'maybe' }, {
        source: 'environment',
        key: name,
        message: `environment: ${name}: expected true, false, 1, 0, yes or no, got "maybe"`,
      });
    }
  });

  it('accepts the boolean words in any case', async () => {
    const { config } = await resolveConfig({}, { EGRESS_PROXY_VERBOSE: 'YES', EGRESS_PROXY_MITM: 'False' });
    assert.equal(config.verbose, true);
    assert.equal(config.mitm, false);
  });

  it('bad ports', async () => {
    await assertConfigError({}, { EGRESS_PROXY_PORT: 'abc' }, {
      source: 'environment',
      key: 'EGRESS_PROXY_PORT',
      message: 'environment: EGRESS_PROXY_PORT: expected an integer from 0 to 65535, got "abc"',
    });
    await assertConfigError({}, { EGRESS_PROXY_ADMIN_PORT: '70000' }, {
      source: 'environment',
      key: 'EGRESS_PROXY_ADMIN_PORT',
      message: 'environment: EGRESS_PROXY_ADMIN_PORT: expected an integer from 0 to 65535, got 70000',
    });
  });

  it('a bad CIDR', async () => {
    await assertConfigError({}, { EGRESS_PROXY_ALLOWED_CLIENT_CIDRS: '10.0.0.0/8,10.0.0.0/33' }, {
      source: 'environment',
      key: 'EGRESS_PROXY_ALLOWED_CLIENT_CIDRS',
      message:
        'environment: EGRESS_PROXY_ALLOWED_CLIENT_CIDRS: "10.0.0.0/33" is not an IPv4/IPv6 address or CIDR: ' +
        'the prefix length must be 0 to 32 for IPv4',
    });
  });

  it('a bad bind address', async () => {
    await assertConfigError({}, { EGRESS_PROXY_BIND: '0.0.0.0:9530' }, {
      source: 'environment',
      key: 'EGRESS_PROXY_BIND',
      message: 'environment: EGRESS_PROXY_BIND: expected an IP address or host name, without a port, got "0.0.0.0:9530"',
    });
  });

  it('a missing EGRESS_PROXY_CONFIG file names the file', async () => {
    const missing = path.join(files.dir, 'nope.toml');
    await assert.rejects(resolveConfig({}, { EGRESS_PROXY_CONFIG: missing }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.source, missing);
      assert.match(error.message, /cannot read file: ENOENT/);
      return true;
    });
  });
});

describe('command-line errors', () => {
  it('a bad port', async () => {
    await assertConfigError({ port: 65536 }, {}, {
      source: 'command line',
      key: '--port',
      message: 'command line: --port: expected an integer from 0 to 65535, got 65536',
    });
    await assertConfigError({ adminPort: Number.NaN }, {}, {
      source: 'command line',
      key: '--admin-port',
      message: 'command line: --admin-port: expected an integer from 0 to 65535, got NaN',
    });
  });

  it('a bad CIDR', async () => {
    await assertConfigError({ allow: ['10.0.0.0/8', '300.0.0.0/8'] }, {}, {
      source: 'command line',
      key: '--allow',
      message: 'command line: --allow: "300.0.0.0/8" is not an IPv4/IPv6 address or CIDR',
    });
  });

  it('a bad bind address and drain timeout', async () => {
    await assertConfigError({ adminBind: '' }, {}, {
      source: 'command line',
      key: '--admin-bind',
      message: 'command line: --admin-bind: expected an IP address or host name, without a port, got ""',
    });
    await assertConfigError({ drainSeconds: -1 }, {}, {
      source: 'command line',
      key: '--drain-timeout',
      message: 'command line: --drain-timeout: expected a number of seconds greater than 0 and at most 2147483, got -1',
    });
  });

  it('a missing --config file names the file', async () => {
    const missing = path.join(files.dir, 'absent.toml');
    await assertConfigError({ configFile: missing }, {}, {
      source: missing,
      key: '',
      message: `${missing}: cannot read file: ENOENT: no such file or directory, open '${missing}'`,
    });
  });
});

describe('checks on the merged configuration', () => {
  it('a CA certificate needs its key, and the other way round', async () => {
    const certOnly = files.write('cert-only.toml', '[mitm]\nca_cert_file = "/etc/ca.pem"\n');
    await assertConfigError({ configFile: certOnly }, {}, {
      source: certOnly,
      key: 'mitm.ca_key_file',
      message: `${certOnly}: mitm.ca_key_file: is required when mitm.ca_cert_file is set`,
    });
    const keyOnly = files.write('key-only.toml', '[mitm]\nca_key_file = "/etc/ca-key.pem"\n');
    await assert.rejects(checkConfigFile(keyOnly, {}), /mitm\.ca_cert_file: is required when mitm\.ca_key_file is set/);
  });

  it('warns about a proxy open to the network with no allow-list', async () => {
    const { warnings } = await resolveConfig({ bind: '0.0.0.0' }, {});
    assert.deepEqual(warnings, [
      'the proxy listens on 0.0.0.0 with an empty allowed_client_cidrs: every client that can reach port 9530 may use it',
    ]);
    for (const bind of ['127.0.0.1', '127.8.8.8', '::1', 'localhost']) {
      assert.deepEqual((await resolveConfig({ bind }, {})).warnings, [], bind);
    }
    assert.deepEqual((await resolveConfig({ bind: '::', allow: ['10.0.0.0/8'] }, {})).warnings, []);
  });

  it('does not warn about an empty allow-list when proxy authentication is on', async () => {
    const file = files.write(
      'auth.toml',
      '[proxy]\nbind = "0.0.0.0"\n[proxy_auth]\nusers = [{ name = "dk", password_hash = "$scrypt$ln=4,r=8,p=1$xi/w9CI5m6Q9DN5s9NInIw$QM6fPzYMrEJP91VzEKn9KXXqmd5A5R6QeEhvM0eLsyU" }]\n',
    );
    assert.deepEqual((await resolveConfig({ configFile: file }, {})).warnings, []);
  });

  it('warns about special destinations opened on a proxy open to the network', async () => {
    const { warnings } = await resolveConfig({ bind: '0.0.0.0', allow: ['10.0.0.0/8'], blockSpecialDestinations: false }, {});
    assert.deepEqual(warnings, [
      "the proxy listens on 0.0.0.0 with destinations.block_special_ranges off: its clients can reach this host's loopback services and the cloud metadata address through it; name what they need in destinations.allow instead",
    ]);
    assert.deepEqual((await resolveConfig({ blockSpecialDestinations: false }, {})).warnings, [], 'on loopback only local users can');
  });

  it('warns that upstream_ca_file means nothing with upstream_insecure', async () => {
    const { warnings } = await resolveConfig({ upstreamCaFile: '/ca.pem', upstreamInsecure: true }, {});
    assert.deepEqual(warnings, ['command line: --upstream-ca is ignored: upstream TLS verification is off (upstream_tls.insecure)']);
  });

  it('keeps the file warnings first', async () => {
    const old = files.write('old.conf', '[[inputs.proxy]]\nbind = "0.0.0.0"\nws_bind = ":9531"\n');
    const { warnings } = await resolveConfig({ configFile: old }, {});
    assert.equal(warnings.length, 2);
    assert.equal(warnings[0], `${old}: inputs.proxy[0].ws_bind is deprecated and ignored`);
  });
});

describe('checkConfigFile', () => {
  it('resolves the file over the defaults, ignoring EGRESS_PROXY_* overrides', async () => {
    const file = files.write('check.toml', '[proxy]\nport = 7000\n');
    const { config } = await checkConfigFile(file, { EGRESS_PROXY_PORT: '8000', EGRESS_PROXY_VERBOSE: 'maybe' });
    assert.equal(config.port, 7000);
    assert.equal(config.configFile, file);
  });

  it('uses the environment for the data-directory default', async () => {
    const file = files.write('check-dir.toml', '');
    const { config } = await checkConfigFile(file, { EGRESS_PROXY_DATA_DIR: '/data' });
    assert.equal(config.mitmOptions.dataDir, '/data');
  });
});

describe('documented examples', () => {
  it('docs/config-example.toml holds exactly the defaults', async () => {
    const example = path.join(repoRoot, 'docs', 'config-example.toml');
    const { config, warnings } = await checkConfigFile(example, {});
    assert.deepEqual(warnings, []);
    assert.deepEqual({ ...config, configFile: undefined, origins: undefined }, { ...defaultConfig({}), origins: undefined });
  });

  it('docs/config-datakit-example.toml holds the defaults in DataKit form', async () => {
    const example = path.join(repoRoot, 'docs', 'config-datakit-example.toml');
    const { config, warnings } = await checkConfigFile(example, {});
    assert.deepEqual(warnings, []);
    assert.deepEqual({ ...config, configFile: undefined, origins: undefined }, { ...defaultConfig({}), origins: undefined });
  });
});

describe('origins: where the values that can fail at startup were written', () => {
  it('names the layer that won: flag over variable over file over default', async () => {
    const file = files.write('origins.toml', '[proxy]\nport = 1\n[admin]\nbind = "::1"\n[upstream_tls]\nca_file = "corp.pem"\n');
    const { config } = await resolveConfig(
      { configFile: file, upstreamCaFile: '/flag.pem', bind: '127.0.0.2' },
      { EGRESS_PROXY_PORT: '2', EGRESS_PROXY_ADMIN_BIND: '127.0.0.3', EGRESS_PROXY_ADMIN_PORT: '3' },
    );
    assert.deepEqual(config.origins, {
      bind: { source: 'command line', key: '--bind' },
      port: { source: 'environment', key: 'EGRESS_PROXY_PORT' },
      adminBind: { source: 'environment', key: 'EGRESS_PROXY_ADMIN_BIND' },
      adminPort: { source: 'environment', key: 'EGRESS_PROXY_ADMIN_PORT' },
      dataDir: { source: 'built-in default', key: 'mitm.data_dir' },
      caCertFile: { source: 'built-in default', key: 'mitm.ca_cert_file' },
      caKeyFile: { source: 'built-in default', key: 'mitm.ca_key_file' },
      upstreamCaFile: { source: 'command line', key: '--upstream-ca' },
      maxClientConnections: { source: 'built-in default', key: 'limits.max_client_connections' },
    });
    assert.equal(config.admin.bind, '127.0.0.3');
    assert.equal(config.upstreamTls.caFile, '/flag.pem');
  });

  it('EGRESS_PROXY_WORKERS takes a count or "auto"', async () => {
    assert.equal((await resolveConfig({}, { EGRESS_PROXY_WORKERS: '4' })).config.workers, 4);
    assert.equal((await resolveConfig({}, { EGRESS_PROXY_WORKERS: 'auto' })).config.workers, 'auto');
    assert.equal((await resolveConfig({ workers: 2 }, { EGRESS_PROXY_WORKERS: 'auto' })).config.workers, 2);
    await assert.rejects(resolveConfig({}, { EGRESS_PROXY_WORKERS: 'many' }), {
      message: 'environment: EGRESS_PROXY_WORKERS: expected an integer from 1 to 256, or "auto", got "many"',
    });
  });
});
