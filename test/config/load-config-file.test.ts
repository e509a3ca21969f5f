// The config file in both forms: what each key means, and the one-line error every kind of mistake produces.

import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfigFile } from '../../src/config/load-config-file.js';
import { ConfigError } from '../../src/errors.js';
import { tempConfigDir } from './temp-config-files.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
const files = tempConfigDir();

/** Loads `text` as a file and expects a ConfigError whose message is exactly `${file}: ${expected}`. */
async function assertFileError(text: string, expected: string): Promise<void> {
  const file = files.write('proxy.toml', text);
  await assert.rejects(loadConfigFile(file), (error: unknown) => {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    assert.equal(error.message, `${file}: ${expected}`);
    assert.equal(error.source, file);
    assert.ok(!error.message.includes('\n'), 'the message is one line');
    return true;
  });
}

describe('DataKit form', () => {
  it("parses DataKit's sample proxy.conf unchanged", async () => {
    const file = path.join(fixtures, 'datakit-proxy.conf');
    const { values, warnings } = await loadConfigFile(file);
    const { origins, ...settings } = values;
    assert.deepEqual(settings, { bind: '127.0.0.1', port: 9530, allowedClientCidrs: [], verbose: false, mitm: false });
    assert.deepEqual(warnings, []);
    // A listen failure at startup names the key as written in DataKit's table.
    assert.deepEqual(origins, {
      bind: { source: file, key: 'inputs.proxy[0].bind' },
      port: { source: file, key: 'inputs.proxy[0].port' },
    });
  });

  it('leaves missing keys to the defaults (no port 0 by omission)', async () => {
    const { values } = await loadConfigFile(files.write('partial.conf', '[[inputs.proxy]]\nbind = "0.0.0.0"\n'));
    const { origins, ...settings } = values;
    assert.deepEqual(settings, { bind: '0.0.0.0', port: undefined, allowedClientCidrs: undefined, verbose: undefined, mitm: undefined });
    assert.deepEqual(Object.keys(origins ?? {}), ['bind']);
  });

  it('reads CIDRs, including IPv6 and bare addresses', async () => {
    const file = files.write(
      'cidrs.conf',
      '[[inputs.proxy]]\n  allowed_client_cidrs = ["10.0.0.0/8", "2001:db8::/32", "192.168.0.5"]\n  verbose = true\n  mitm = true\n',
    );
    const { values } = await loadConfigFile(file);
    assert.deepEqual(values.allowedClientCidrs, ['10.0.0.0/8', '2001:db8::/32', '192.168.0.5']);
    assert.equal(values.verbose, true);
    assert.equal(values.mitm, true);
  });

  it('accepts the deprecated keys path and ws_bind with a warning each', async () => {
    const file = files.write('old.conf', '[[inputs.proxy]]\nport = 9530\npath = "/proxy"\nws_bind = ":9531"\n');
    const { values, warnings } = await loadConfigFile(file);
    assert.equal(values.port, 9530);
    assert.deepEqual(warnings, [
      `${file}: inputs.proxy[0].path is deprecated and ignored`,
      `${file}: inputs.proxy[0].ws_bind is deprecated and ignored`,
    ]);
  });

  it('rejects any other key', async () => {
    await assertFileError('[[inputs.proxy]]\nport = 1\ntimeout = "5s"\n', 'inputs.proxy[0].timeout: unknown key');
  });

  it('rejects a port that is not an integer from 0 to 65535', async () => {
    await assertFileError(
      '[[inputs.proxy]]\nport = "abc"\n',
      'inputs.proxy[0].port: expected an integer from 0 to 65535, got "abc"',
    );
    await assertFileError(
      '[[inputs.proxy]]\nport = 65536\n',
      'inputs.proxy[0].port: expected an integer from 0 to 65535, got 65536',
    );
    await assertFileError(
      '[[inputs.proxy]]\nport = 80.5\n',
      'inputs.proxy[0].port: expected an integer from 0 to 65535, got 80.5',
    );
  });

  it('rejects a bad CIDR, naming its index', async () => {
    await assertFileError(
      '[[inputs.proxy]]\nallowed_client_cidrs = ["10.0.0.0/8", "10.0.0.0/33"]\n',
      'inputs.proxy[0].allowed_client_cidrs[1]: "10.0.0.0/33" is not an IPv4/IPv6 address or CIDR: ' +
        'the prefix length must be 0 to 32 for IPv4',
    );
  });

  it('rejects two [[inputs.proxy]] tables', async () => {
    await assertFileError(
      '[[inputs.proxy]]\nport = 1\n[[inputs.proxy]]\nport = 2\n',
      'inputs.proxy: expected exactly one [[inputs.proxy]] table, got 2 tables',
    );
  });

  it('rejects [inputs.proxy] written as a single table', async () => {
    await assertFileError(
      '[inputs.proxy]\nport = 1\n',
      'inputs.proxy: expected exactly one [[inputs.proxy]] table, got a table',
    );
  });

  it('rejects other inputs in the same file', async () => {
    await assertFileError('[[inputs.proxy]]\n[[inputs.cpu]]\n', 'inputs.cpu: unknown section');
  });

  it('rejects a file mixing both forms', async () => {
    await assertFileError(
      '[[inputs.proxy]]\nport = 1\n[proxy]\nport = 2\n[timeouts]\nconnect = 1\n',
      "inputs: DataKit's [[inputs.proxy]] form cannot be mixed with the native sections ([proxy], [timeouts]); use one form",
    );
  });
});

const FULL_NATIVE_FILE = `
[proxy]
bind = "0.0.0.0"
port = 3128
allowed_client_cidrs = ["10.0.0.0/8", "fd00::/8"]
verbose = true
log_full_paths = true
mitm = true
workers = 3
upstream_proxy = "http://corp%40user:p%3Ass@proxy.corp.example:3128"
upstream_proxy_bypass = ["*.internal", "10.1.2.3"]

[timeouts]
connect = 5
upstream_response = 30.5
client_headers = 10
client_body = 15
client_keepalive = 120
upstream_keepalive = 2
tunnel_idle = 300
drain = 0.25
startup = 5

[limits]
max_client_connections = 500
upstream_max_sockets_per_host = 32
upstream_max_sockets_per_client = 8
max_connections_per_client = 40

[destinations]
allow = ["openway.guance.com:443", "*.guance.com", "10.1.2.0/24:9528", "[fd00::/8]:8000-8999"]
block_special_ranges = false
connect_ports = [443, "8443", "9000-9100"]
http_ports = []

[proxy_auth]
users = [{ name = "datakit", password_hash = "$scrypt$ln=4,r=8,p=1$xi/w9CI5m6Q9DN5s9NInIw$QM6fPzYMrEJP91VzEKn9KXXqmd5A5R6QeEhvM0eLsyU" }]
realm = "egress"
max_failures_per_minute = 3

[admin]
enabled = false
bind = "::1"
port = 0
dashboard = false
users = [{ name = "ops", password_hash = "$scrypt$ln=4,r=8,p=1$xi/w9CI5m6Q9DN5s9NInIw$QM6fPzYMrEJP91VzEKn9KXXqmd5A5R6QeEhvM0eLsyU" }]
max_failures_per_minute = 4

[metrics]
max_api_labels = 50
max_client_ip_labels = 20

[mitm]
data_dir = "state"
ca_cert_file = "/etc/egress-proxy/ca.pem"
ca_key_file = "keys/ca-key.pem"
ca_common_name = "Test CA"
ca_validity_days = 365
ca_key_type = "rsa"
leaf_validity_days = 7
leaf_cache_size = 10
intercept_hosts = ["*.Example.com", "api.internal"]
passthrough_hosts = ["bank.example.com"]

[upstream_tls]
ca_file = "corp-root.pem"
insecure = false
`;

describe('native form', () => {
  it('reads every section, converting seconds to milliseconds and resolving relative paths from the file', async () => {
    const file = files.write('native.toml', FULL_NATIVE_FILE);
    const { values, warnings } = await loadConfigFile(file);
    assert.deepEqual(warnings, []);
    assert.deepEqual(values, {
      bind: '0.0.0.0',
      port: 3128,
      allowedClientCidrs: ['10.0.0.0/8', 'fd00::/8'],
      verbose: true,
      logFullPaths: true,
      mitm: true,
      upstreamProxy: { host: 'proxy.corp.example', port: 3128, username: 'corp@user', password: 'p:ss', display: 'http://proxy.corp.example:3128' },
      upstreamProxyBypass: ['*.internal', '10.1.2.3'],
      timeouts: {
        connectMs: 5000,
        upstreamResponseMs: 30500,
        clientHeadersMs: 10000,
        clientBodyMs: 15000,
        clientKeepAliveMs: 120000,
        upstreamKeepAliveMs: 2000,
        tunnelIdleMs: 300000,
        drainMs: 250,
        startupMs: 5000,
      },
      limits: { maxClientConnections: 500, upstreamMaxSocketsPerHost: 32, upstreamMaxSocketsPerClient: 8, maxConnectionsPerClient: 40 },
      destinations: {
        allow: ['openway.guance.com:443', '*.guance.com', '10.1.2.0/24:9528', '[fd00::/8]:8000-8999'],
        blockSpecialRanges: false,
        connectPorts: [443, 8443, '9000-9100'],
        httpPorts: [],
      },
      proxyAuth: {
        users: [{ name: 'datakit', passwordHash: '$scrypt$ln=4,r=8,p=1$xi/w9CI5m6Q9DN5s9NInIw$QM6fPzYMrEJP91VzEKn9KXXqmd5A5R6QeEhvM0eLsyU' }],
        realm: 'egress',
        maxFailuresPerMinute: 3,
      },
      admin: { enabled: false, bind: '::1', port: 0, dashboard: false, users: [{ name: 'ops', passwordHash: '$scrypt$ln=4,r=8,p=1$xi/w9CI5m6Q9DN5s9NInIw$QM6fPzYMrEJP91VzEKn9KXXqmd5A5R6QeEhvM0eLsyU' }], maxFailuresPerMinute: 4 },
      metrics: { maxApiLabels: 50, maxClientIpLabels: 20 },
      mitmOptions: {
        dataDir: path.join(files.dir, 'state'),
        caCertFile: '/etc/egress-proxy/ca.pem',
        caKeyFile: path.join(files.dir, 'keys', 'ca-key.pem'),
        caCommonName: 'Test CA',
        caValidityDays: 365,
        caKeyType: 'rsa',
        leafValidityDays: 7,
        leafCacheSize: 10,
        interceptHosts: ['*.example.com', 'api.internal'],
        passthroughHosts: ['bank.example.com'],
      },
      upstreamTls: { caFile: path.join(files.dir, 'corp-root.pem'), insecure: false },
      workers: 3,
      origins: {
        bind: { source: file, key: 'proxy.bind' },
        port: { source: file, key: 'proxy.port' },
        adminBind: { source: file, key: 'admin.bind' },
        adminPort: { source: file, key: 'admin.port' },
        dataDir: { source: file, key: 'mitm.data_dir' },
        caCertFile: { source: file, key: 'mitm.ca_cert_file' },
        caKeyFile: { source: file, key: 'mitm.ca_key_file' },
        upstreamCaFile: { source: file, key: 'upstream_tls.ca_file' },
        maxClientConnections: { source: file, key: 'limits.max_client_connections' },
      },
    });
  });

  it('still reads the upstream TLS keys from [mitm], their old place, with a warning naming the new key', async () => {
    const file = files.write('old-upstream.toml', '[mitm]\nupstream_ca_file = "corp.pem"\nupstream_insecure = true\n');
    const { values, warnings } = await loadConfigFile(file);
    assert.deepEqual(values.upstreamTls, { caFile: path.join(files.dir, 'corp.pem'), insecure: true });
    // A later "cannot read" names the key the user actually wrote.
    assert.deepEqual(values.origins?.upstreamCaFile, { source: file, key: 'mitm.upstream_ca_file' });
    assert.deepEqual(warnings, [
      `${file}: mitm.upstream_ca_file is deprecated (it governs forwarding too): write it as upstream_tls.ca_file`,
      `${file}: mitm.upstream_insecure is deprecated (it governs forwarding too): write it as upstream_tls.insecure`,
    ]);
  });

  it('reads limits.allowed_connect_ports as destinations.connect_ports, with a warning naming the new key', async () => {
    const file = files.write('old-ports.toml', '[limits]\nallowed_connect_ports = [443, 8443]\n');
    const { values, warnings } = await loadConfigFile(file);
    assert.deepEqual(values.destinations?.connectPorts, [443, 8443]);
    assert.deepEqual(warnings, [
      `${file}: limits.allowed_connect_ports is deprecated (the port policy covers every TLS destination now): write it as destinations.connect_ports`,
    ]);
    await assertFileError(
      '[limits]\nallowed_connect_ports = [443]\n[destinations]\nconnect_ports = [8443]\n',
      'limits.allowed_connect_ports: is the deprecated spelling of destinations.connect_ports, which is set too: keep only destinations.connect_ports',
    );
  });

  it('refuses bad destinations, port lists, realms and user lists, naming the entry', async () => {
    await assertFileError('[destinations]\nallow = ["ok.example", "127.1"]\n', 'destinations.allow[1]: "127.1" is not a destination (a host name, *.suffix, IP address or CIDR, optionally followed by :PORT or :FROM-TO): write the address as 127.0.0.1');
    await assertFileError('[destinations]\nallow = ["10.0.0.0/33"]\n', 'destinations.allow[0]: "10.0.0.0/33" is not an IPv4/IPv6 address or CIDR: the prefix length must be 0 to 32 for IPv4');
    await assertFileError('[destinations]\nconnect_ports = [443, "9-1"]\n', 'destinations.connect_ports[1]: "9-1": the range starts after it ends');
    await assertFileError('[destinations]\nhttp_ports = [0]\n', 'destinations.http_ports[0]: "0" is not a port (1-65535) or a port range (FROM-TO)');
    await assertFileError('[destinations]\nblock_special_ranges = "no"\n', 'destinations.block_special_ranges: expected true or false, got "no"');
    await assertFileError('[proxy_auth]\nrealm = "a\\u0007b"\n', 'proxy_auth.realm: expected 1 to 100 printable ASCII characters, got "a\\u0007b"');
    await assertFileError('[proxy_auth]\nusers = [{ name = "dk", password_hash = "secret" }]\n', 'proxy_auth.users[0].password_hash: not an scrypt hash: expected "$scrypt$ln=..,r=..,p=..$salt$hash" (make one with `egress-proxy passwd USER`)');
    await assertFileError('[limits]\nmax_connections_per_client = 0\n', 'limits.max_connections_per_client: expected an integer from 1 to 1000000, got 0');
  });

  it('refuses a moved key written in both places', async () => {
    await assertFileError(
      '[mitm]\nupstream_insecure = true\n[upstream_tls]\ninsecure = false\n',
      'mitm.upstream_insecure: is the deprecated spelling of upstream_tls.insecure, which is set too: keep only upstream_tls.insecure',
    );
  });

  it('reads workers as a count or "auto", and refuses anything else', async () => {
    const { values } = await loadConfigFile(files.write('auto.toml', '[proxy]\nworkers = "auto"\n'));
    assert.equal(values.workers, 'auto');
    await assertFileError('[proxy]\nworkers = 0\n', 'proxy.workers: expected an integer from 1 to 256, or "auto", got 0');
    await assertFileError('[proxy]\nworkers = "all"\n', 'proxy.workers: expected an integer from 1 to 256, or "auto", got "all"');
  });

  it('accepts an empty file', async () => {
    const { values } = await loadConfigFile(files.write('empty.toml', ''));
    assert.equal(values.port, undefined);
    assert.equal(values.timeouts?.connectMs, undefined);
  });

  it('rejects an unknown key', async () => {
    await assertFileError('[proxy]\nprot = 9530\n', 'proxy.prot: unknown key');
  });

  it('rejects an unknown section', async () => {
    await assertFileError('[proxi]\nport = 9530\n', 'proxi: unknown section');
    await assertFileError('[proxy.extra]\na = 1\n', 'proxy.extra: unknown section');
  });

  it('rejects a top-level key outside any section', async () => {
    await assertFileError('port = 9530\n', 'port: unknown key');
  });

  it('quotes keys that are not bare TOML keys', async () => {
    await assertFileError('[proxy]\n"a.b" = 1\n', 'proxy."a.b": unknown key');
  });

  it('rejects wrong types with what was expected and what was found', async () => {
    await assertFileError('[proxy]\nverbose = "yes"\n', 'proxy.verbose: expected true or false, got "yes"');
    await assertFileError(
      '[proxy]\nallowed_client_cidrs = "10.0.0.0/8"\n',
      'proxy.allowed_client_cidrs: expected an array of IPv4/IPv6 addresses or CIDRs, got "10.0.0.0/8"',
    );
    await assertFileError(
      '[proxy]\nallowed_client_cidrs = [8]\n',
      'proxy.allowed_client_cidrs[0]: expected a string holding an IPv4/IPv6 address or CIDR, got 8',
    );
    await assertFileError('proxy = 5\n', 'proxy: expected a [proxy] table, got 5');
    await assertFileError(
      '[timeouts]\nconnect = "10s"\n',
      'timeouts.connect: expected a number of seconds greater than 0 and at most 2147483, got "10s"',
    );
    await assertFileError('[mitm]\nca_key_type = "dsa"\n', 'mitm.ca_key_type: expected "ec" or "rsa", got "dsa"');
    await assertFileError(
      '[mitm]\ndata_dir = 1979-05-27\n',
      'mitm.data_dir: expected a non-empty path, got a date-time (1979-05-27)',
    );
  });

  it('rejects values out of range', async () => {
    await assertFileError(
      '[timeouts]\nconnect = 0\n',
      'timeouts.connect: expected a number of seconds greater than 0 and at most 2147483, got 0',
    );
    await assertFileError(
      '[timeouts]\ndrain = 3000000\n',
      'timeouts.drain: expected a number of seconds greater than 0 and at most 2147483, got 3000000',
    );
    await assertFileError(
      '[timeouts]\ntunnel_idle = nan\n',
      'timeouts.tunnel_idle: expected a number of seconds greater than 0 and at most 2147483, got NaN',
    );
    await assertFileError(
      '[limits]\nallowed_connect_ports = [443, 0]\n',
      'limits.allowed_connect_ports[1]: expected an integer from 1 to 65535, got 0',
    );
    await assertFileError(
      '[limits]\nmax_client_connections = 0\n',
      'limits.max_client_connections: expected an integer from 1 to 1000000, got 0',
    );
    await assertFileError('[admin]\nport = -1\n', 'admin.port: expected an integer from 0 to 65535, got -1');
    await assertFileError(
      '[mitm]\nleaf_validity_days = 1\n',
      'mitm.leaf_validity_days: expected an integer from 2 to 825, got 1',
    );
    await assertFileError(
      `[mitm]\nca_common_name = "${'x'.repeat(65)}"\n`,
      `mitm.ca_common_name: expected a name of 1 to 64 characters, got "${'x'.repeat(60)}..."`,
    );
  });

  it('rejects a listen address with a port in it', async () => {
    await assertFileError(
      '[proxy]\nbind = "0.0.0.0:9530"\n',
      'proxy.bind: expected an IP address or host name, without a port, got "0.0.0.0:9530"',
    );
  });

  it('rejects a bad interception host pattern', async () => {
    await assertFileError(
      '[mitm]\nintercept_hosts = ["*"]\n',
      'mitm.intercept_hosts[0]: expected a host name or *.suffix pattern, got "*"',
    );
  });

  it('rejects a bad CIDR', async () => {
    await assertFileError(
      '[proxy]\nallowed_client_cidrs = ["10.0.0.0/8", "10.0.0.0/33"]\n',
      'proxy.allowed_client_cidrs[1]: "10.0.0.0/33" is not an IPv4/IPv6 address or CIDR: the prefix length must be 0 to 32 for IPv4',
    );
  });
});

describe('reading and TOML errors', () => {
  it('reports a TOML syntax error with its line and column, on one line', async () => {
    await assertFileError('[proxy]\nport = = 1\n', 'invalid TOML at line 2, column 8: invalid value');
  });

  it('reports a key defined twice as a TOML error', async () => {
    await assertFileError(
      '[proxy]\nport = 1\nport = 2\n',
      'invalid TOML at line 3, column 1: trying to redefine an already defined table or value',
    );
  });

  it('reports a missing file', async () => {
    const file = path.join(files.dir, 'missing.toml');
    await assert.rejects(loadConfigFile(file), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.message, `${file}: cannot read file: ENOENT: no such file or directory, open '${file}'`);
      return true;
    });
  });

  it('reports a directory given as the file', async () => {
    await assert.rejects(loadConfigFile(files.dir), /cannot read file: EISDIR/);
  });
});
