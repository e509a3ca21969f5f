// Configuration precedence as the running process reports it: built-in defaults < config file < EGRESS_PROXY_*
// environment < command-line flags. Losing layers hold values that would make startup fail if they won (an
// address this host does not have, a port already taken, an unusable data directory), so the process starting
// at all proves the override; the winning layers use port 0 so the tests can run in parallel.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  isMessage,
  killAllCliProcesses,
  occupyPort,
  proxiedGet,
  startHttpOrigin,
  startRun,
  stopRun,
  tempDir,
  type LocalServer,
  type LogLine,
} from './cli-harness.js';

after(killAllCliProcesses);

/** TEST-NET-1 (RFC 5737): never assigned to this host, so binding it fails with EADDRNOTAVAIL. */
const UNBINDABLE_ADDRESS = '192.0.2.1';

const files = tempDir();
let taken: LocalServer;
let origin: LocalServer & { requests: string[] };
before(async () => {
  taken = await occupyPort();
  origin = await startHttpOrigin();
});
after(async () => {
  await taken?.close();
  await origin?.close();
  files.cleanup();
});

const isAccessLine = (line: LogLine): boolean => line['log'] === 'access';

/** A native file whose every value would break startup (or be visible) if it won. */
function losingNativeFile(name: string): string {
  return files.write(
    name,
    [
      '[proxy]',
      `bind = "${UNBINDABLE_ADDRESS}"`,
      `port = ${taken.port}`,
      'allowed_client_cidrs = ["10.0.0.0/8"]',
      'verbose = true',
      'mitm = true',
      '',
      '[timeouts]',
      'drain = 30',
      '',
      '[admin]',
      `bind = "${UNBINDABLE_ADDRESS}"`,
      `port = ${taken.port}`,
      '',
    ].join('\n'),
  );
}

describe('configuration precedence, observed from egress-proxy run', { concurrency: true }, () => {
  test('the file beats the built-in defaults (file named by EGRESS_PROXY_CONFIG; empty variables count as unset)', async () => {
    const file = files.write(
      'file-wins.toml',
      [
        '[proxy]',
        'bind = "127.0.0.1"',
        'port = 0',
        'allowed_client_cidrs = ["127.0.0.0/8", "::1"]',
        '',
        '[timeouts]',
        'drain = 2.5',
        '',
        '[admin]',
        'port = 0',
        '',
      ].join('\n'),
    );
    const { proc, startLine, proxyPort, adminPort } = await startRun([], {
      env: { EGRESS_PROXY_CONFIG: file, EGRESS_PROXY_PORT: '', EGRESS_PROXY_BIND: '  ' },
    });
    assert.notEqual(proxyPort, 9530, 'the default port won over the file');
    assert.notEqual(adminPort, 9531, 'the default admin port won over the file');
    assert.equal(startLine['address'], '127.0.0.1');
    assert.deepEqual(startLine['allowed_client_cidrs'], ['127.0.0.0/8', '::1']);
    assert.equal(startLine['mitm'], false);
    assert.equal(startLine['config_file'], file);

    const result = await stopRun(proc);
    assert.equal(result.code, 0, `signal ${result.signal}; stderr: ${result.stderr}; stdout: ${result.stdout}`);
    assert.equal(proc.logLines().find(isMessage('draining'))?.['drain_timeout_ms'], 2500);
  });

  test('the environment beats the file', async () => {
    const file = losingNativeFile('env-wins.toml');
    const { proc, startLine, proxyPort, adminPort } = await startRun([], {
      env: {
        EGRESS_PROXY_CONFIG: file,
        EGRESS_PROXY_BIND: '127.0.0.1',
        EGRESS_PROXY_PORT: '0',
        EGRESS_PROXY_ALLOWED_CLIENT_CIDRS: '127.0.0.1, ::1',
        EGRESS_PROXY_VERBOSE: 'false',
        EGRESS_PROXY_MITM: 'no',
        EGRESS_PROXY_ADMIN_BIND: '127.0.0.1',
        EGRESS_PROXY_ADMIN_PORT: '0',
      },
    });
    assert.equal(startLine['address'], '127.0.0.1');
    assert.notEqual(proxyPort, taken.port);
    assert.notEqual(adminPort, taken.port);
    assert.deepEqual(startLine['allowed_client_cidrs'], ['127.0.0.1', '::1']);
    assert.equal(startLine['mitm'], false);
    assert.equal(startLine['config_file'], file);

    // verbose = true in the file, false in the environment: no access line.
    assert.equal((await proxiedGet(proxyPort, `http://127.0.0.1:${origin.port}/env-wins`)).status, 200);
    const result = await stopRun(proc);
    assert.equal(result.code, 0, `signal ${result.signal}; stderr: ${result.stderr}; stdout: ${result.stdout}`);
    assert.deepEqual(proc.logLines().filter(isAccessLine), []);
    // The file's drain = 30 is not overridden by any variable.
    assert.equal(proc.logLines().find(isMessage('draining'))?.['drain_timeout_ms'], 30_000);
  });

  test('flags beat the environment and the file (--config beats EGRESS_PROXY_CONFIG)', async () => {
    const file = losingNativeFile('flags-win.toml');
    const notADirectory = files.write('not-a-directory', 'a file, so no data directory can be created below it\n');
    const dataDir = path.join(files.dir, 'flag-data-dir');
    const { proc, startLine, proxyPort, adminPort } = await startRun(
      [
        '--config',
        file,
        '--bind',
        '127.0.0.1',
        '--port',
        '0',
        '--allow',
        '127.0.0.0/8',
        '--allow',
        '::1/128',
        '--verbose',
        '--mitm',
        '--data-dir',
        dataDir,
        '--admin-bind',
        '127.0.0.1',
        '--admin-port',
        '0',
        '--drain-timeout',
        '1.5',
      ],
      {
        env: {
          EGRESS_PROXY_CONFIG: path.join(files.dir, 'does-not-exist.toml'),
          EGRESS_PROXY_BIND: UNBINDABLE_ADDRESS,
          EGRESS_PROXY_PORT: String(taken.port),
          EGRESS_PROXY_ALLOWED_CLIENT_CIDRS: '10.0.0.0/8',
          EGRESS_PROXY_VERBOSE: 'false',
          EGRESS_PROXY_MITM: 'false',
          EGRESS_PROXY_ADMIN_BIND: UNBINDABLE_ADDRESS,
          EGRESS_PROXY_ADMIN_PORT: String(taken.port),
          EGRESS_PROXY_DATA_DIR: path.join(notADirectory, 'ca'),
        },
      },
    );
    assert.equal(startLine['address'], '127.0.0.1');
    assert.notEqual(proxyPort, taken.port);
    assert.notEqual(adminPort, taken.port);
    assert.deepEqual(startLine['allowed_client_cidrs'], ['127.0.0.0/8', '::1/128']);
    assert.equal(startLine['mitm'], true);
    assert.equal(startLine['config_file'], file);
    const caLine = proc.logLines().find((line) => typeof line['ca_cert'] === 'string');
    assert.ok(caLine, `no MITM CA line in:\n${proc.stdout()}`);
    assert.equal(path.dirname(caLine['ca_cert'] as string), dataDir);

    // verbose: true in the file, false in the environment, --verbose on the command line.
    assert.equal((await proxiedGet(proxyPort, `http://127.0.0.1:${origin.port}/flags-win`)).status, 200);
    await proc.waitForLog((line) => isAccessLine(line) && line.msg === 'request', 'access line', 10_000);
    const result = await stopRun(proc);
    assert.equal(result.code, 0, `signal ${result.signal}; stderr: ${result.stderr}; stdout: ${result.stdout}`);
    assert.equal(proc.logLines().find(isMessage('draining'))?.['drain_timeout_ms'], 1500);
  });

  test('--verbose=false and --mitm=0 turn off what the environment turns on', async () => {
    const notADirectory = files.write('not-a-directory-2', 'a file, so MITM cannot create its data directory below it\n');
    const { proc, startLine, proxyPort } = await startRun(['--port', '0', '--no-admin', '--verbose=false', '--mitm=0'], {
      env: { EGRESS_PROXY_VERBOSE: 'true', EGRESS_PROXY_MITM: 'true', EGRESS_PROXY_DATA_DIR: path.join(notADirectory, 'ca') },
    });
    assert.equal(startLine['mitm'], false);
    assert.equal((await proxiedGet(proxyPort, `http://127.0.0.1:${origin.port}/quiet`)).status, 200);
    const result = await stopRun(proc);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(proc.logLines().filter(isAccessLine), []);
  });

  test("DataKit's sample file, exactly as users have it (with port = 0), starts", async () => {
    // The reference's proxy.conf, byte for byte apart from the port.
    const file = files.write(
      'proxy.conf',
      [
        '[[inputs.proxy]]',
        '  bind = "127.0.0.1"            # listen address',
        '  port = 0                      # listen port',
        '  allowed_client_cidrs = []     # IPv4/IPv6 CIDRs; empty = every client allowed',
        '  verbose = false               # log every proxied request / tunnel',
        '  mitm = false                  # TLS interception for per-API metrics',
        '',
      ].join('\n'),
    );
    const { proc, startLine, proxyPort } = await startRun(['--config', file, '--admin-port', '0']);
    assert.ok(proxyPort > 0);
    assert.equal(startLine['address'], '127.0.0.1');
    assert.deepEqual(startLine['allowed_client_cidrs'], []);
    assert.equal(startLine['mitm'], false);
    assert.equal(startLine['config_file'], file);
    assert.equal((await proxiedGet(proxyPort, `http://127.0.0.1:${origin.port}/v1/write/metric`)).status, 200);
    const result = await stopRun(proc);
    assert.equal(result.code, 0, `signal ${result.signal}; stderr: ${result.stderr}; stdout: ${result.stdout}`);
    assert.deepEqual(
      proc.logLines().filter((line) => line.level === 'warn'),
      [],
      'a loopback DataKit file deserves no warning',
    );
  });

  test("a DataKit file with deprecated keys starts with a warning each, and the environment overrides it", async () => {
    const file = files.write(
      'datakit-deprecated.conf',
      [
        '[[inputs.proxy]]',
        `  bind = "${UNBINDABLE_ADDRESS}"`,
        `  port = ${taken.port}`,
        '  allowed_client_cidrs = ["10.0.0.0/8"]',
        '  path = "/v1/write/"',
        '  ws_bind = ["ws://127.0.0.1:9530/v1/ws"]',
        '',
      ].join('\n'),
    );
    const { proc, startLine } = await startRun(['--no-admin'], {
      env: { EGRESS_PROXY_CONFIG: file, EGRESS_PROXY_BIND: '127.0.0.1', EGRESS_PROXY_PORT: '0' },
    });
    assert.equal(startLine['address'], '127.0.0.1');
    assert.deepEqual(startLine['allowed_client_cidrs'], ['10.0.0.0/8']);
    const warnings = proc
      .logLines()
      .filter((line) => line.level === 'warn')
      .map((line) => line.msg ?? '');
    assert.equal(warnings.length, 2, warnings.join('\n'));
    assert.ok(warnings.some((msg) => msg.includes(file) && msg.includes('inputs.proxy[0].path')), warnings.join('\n'));
    assert.ok(warnings.some((msg) => msg.includes(file) && msg.includes('inputs.proxy[0].ws_bind')), warnings.join('\n'));
    const result = await stopRun(proc);
    assert.equal(result.code, 0, `signal ${result.signal}; stderr: ${result.stderr}; stdout: ${result.stdout}`);
  });
});
