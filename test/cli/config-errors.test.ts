// Bad configuration and bad usage: `egress-proxy run` must refuse to start with exactly one stderr line naming
// where the bad value was written (file and key, variable, or flag) and exit 1; bad usage exits 2 with the usage.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isMessage, killAllCliProcesses, occupyPort, runCli, spawnCli, stderrLines, tempDir, type ExitResult } from './cli-harness.js';

const REFUSE_DNS = fileURLToPath(new URL('./fixtures/refuse-dns.mjs', import.meta.url));

after(killAllCliProcesses);

const files = tempDir();
after(() => files.cleanup());

/** Exit 1, one stderr line holding every `needle`, and nothing started. */
function assertConfigError(result: ExitResult, ...needles: string[]): void {
  assert.equal(result.code, 1, `exit code ${result.code}; stderr:\n${result.stderr}`);
  const lines = stderrLines(result);
  assert.equal(lines.length, 1, `expected one stderr line, got:\n${result.stderr}`);
  const [line] = lines as [string];
  assert.match(line, /^egress-proxy: /);
  for (const needle of needles) assert.ok(line.includes(needle), `stderr does not name ${JSON.stringify(needle)}: ${line}`);
  assert.ok(!result.stdout.includes('proxy listening'), `the proxy started anyway:\n${result.stdout}`);
  assert.equal(result.stdout, '');
}

function assertUsageError(result: ExitResult, message: string, usageHeading: string): void {
  assert.equal(result.code, 2, `exit code ${result.code}; stderr:\n${result.stderr}`);
  assert.ok(result.stderr.startsWith(`egress-proxy: ${message}`), result.stderr);
  assert.ok(result.stderr.includes(usageHeading), `no usage on stderr:\n${result.stderr}`);
  assert.ok(!result.stdout.includes('proxy listening'), result.stdout);
}

// Every case passes --port 0 --no-admin where it can, so a regression that starts the proxy anyway cannot collide
// with a real service or another test on the default ports (and is killed at the timeout).
const SAFE = ['--port', '0', '--no-admin'];

describe('egress-proxy run with bad configuration or usage', { concurrency: true }, () => {
  describe('egress-proxy run refuses a bad config file', { concurrency: true }, () => {
    const cases: Array<{ name: string; toml: string; key: string; problem: string }> = [
      { name: 'a wrong type', toml: '[proxy]\nport = "9530"\n', key: 'proxy.port', problem: 'expected an integer' },
      { name: 'an unknown key', toml: '[proxy]\nbnid = "127.0.0.1"\n', key: 'proxy.bnid', problem: 'unknown key' },
      {
        name: 'an invalid CIDR',
        toml: '[proxy]\nallowed_client_cidrs = ["127.0.0.1", "10.0.0.0/33"]\n',
        key: 'proxy.allowed_client_cidrs[1]',
        problem: '10.0.0.0/33',
      },
    ];
    for (const { name, toml, key, problem } of cases) {
      test(`${name}: exit 1, one line naming the file and ${key}`, async () => {
        const file = files.write(`${key.replace(/[^a-z0-9]+/gi, '-')}.toml`, toml);
        // The flags override the port, but a bad file is an error whatever the layers above it say.
        assertConfigError(await runCli(['run', '--config', file, ...SAFE]), file, key, problem);
      });
    }
  });

  describe('egress-proxy run refuses a bad environment variable', { concurrency: true }, () => {
    test('EGRESS_PROXY_PORT=abc', async () => {
      const result = await runCli(['run', '--no-admin'], { env: { EGRESS_PROXY_PORT: 'abc' } });
      assertConfigError(result, 'EGRESS_PROXY_PORT', '"abc"');
    });

    test('EGRESS_PROXY_VERBOSE=maybe', async () => {
      const result = await runCli(['run', ...SAFE], { env: { EGRESS_PROXY_VERBOSE: 'maybe' } });
      assertConfigError(result, 'EGRESS_PROXY_VERBOSE', '"maybe"');
    });
  });

  describe('egress-proxy run refuses a bad flag value or bad usage', { concurrency: true }, () => {
    test('--port abc', async () => {
      assertConfigError(await runCli(['run', '--no-admin', '--port', 'abc']), '--port', '"abc"');
    });

    test('--port 70000', async () => {
      assertConfigError(await runCli(['run', '--no-admin', '--port', '70000']), '--port', '70000');
    });

    test('--verbose=maybe names the flag', async () => {
      assertConfigError(await runCli(['run', ...SAFE, '--verbose=maybe']), 'command line: --verbose', '"maybe"');
    });

    test('--upstream-ca /missing.pem blames the flag, and says what is wrong with the file', async () => {
      const result = await runCli(['run', ...SAFE, '--upstream-ca', '/missing.pem']);
      assertConfigError(result, 'command line: --upstream-ca', '/missing.pem', 'ENOENT');
    });

    test('--bogus: exit 2 with the run usage on stderr', async () => {
      const result = await runCli(['run', '--bogus', ...SAFE]);
      assertUsageError(result, "Unknown option '--bogus'", 'Usage: egress-proxy run');
      assert.equal(result.stdout, '');
    });

    test('an unknown command: exit 2 with the main usage on stderr', async () => {
      const result = await runCli(['frobnicate']);
      assertUsageError(result, "unknown command 'frobnicate'", 'Usage: egress-proxy <command>');
      assert.equal(result.stdout, '');
    });
  });

  describe('egress-proxy run when it cannot listen', { concurrency: true }, () => {
    test(
      'a port already in use: exit 1 with one line naming the port, and nothing left listening',
      async () => {
        const taken = await occupyPort();
        try {
          const proc = spawnCli(['run', '--port', '0', '--admin-port', String(taken.port)], { lifetimeMs: 60_000 });
          await proc.firstOutput;
          // The error is out: the process has nothing left to do but exit.
          const result = await proc.waitForExit(3000);
          assert.equal(result.code, 1, result.stderr);
          assert.deepEqual(stderrLines(result), [
            `egress-proxy: command line: --admin-port: the admin listener cannot listen on 127.0.0.1:${taken.port}: the port is in use (EADDRINUSE)`,
          ]);
        } finally {
          await taken.close();
        }
      },
    );

    test('a listen address that is a name that does not resolve: the line names the flag', async () => {
      // The preload fails every lookup but localhost's: no DNS query leaves the machine.
      const result = await runCli(['run', '--port', '0', '--no-admin', '--bind', 'no-such-host.invalid'], {
        env: { NODE_OPTIONS: `--import ${REFUSE_DNS}` },
      });
      assertStartupFailure(result, 'command line: --bind: the proxy listener cannot listen on "no-such-host.invalid": the name does not resolve (ENOTFOUND)');
    });

    test('an address this machine does not have: the line names the variable', async () => {
      const result = await runCli(['run', '--port', '0', '--no-admin'], { env: { EGRESS_PROXY_BIND: '192.0.2.1' } });
      assertStartupFailure(
        result,
        'environment: EGRESS_PROXY_BIND: the proxy listener cannot listen on 192.0.2.1:0: 192.0.2.1 is not an address of this machine (EADDRNOTAVAIL)',
      );
    });
  });

  describe('egress-proxy run when the MITM CA store fails', { concurrency: true }, () => {
    test('a data directory that cannot be used: one line naming the flag and the directory', async () => {
      const notADirectory = files.write('plain-file', 'not a directory\n');
      const dataDir = `${notADirectory}/ca`;
      const result = await runCli(['run', ...SAFE, '--mitm', '--data-dir', dataDir]);
      assert.equal(result.code, 1, result.stderr);
      const lines = stderrLines(result);
      assert.equal(lines.length, 1, result.stderr);
      assert.ok(lines[0]!.startsWith(`egress-proxy: command line: --data-dir: MITM data directory ${dataDir}: `), lines[0]);
      assert.ok(lines[0]!.includes('ENOTDIR'), lines[0]);
    });

    test('a CA certificate file that cannot be read: the line names the file key', async () => {
      const file = files.write('missing-ca.toml', `[proxy]\nmitm = true\n[mitm]\nca_cert_file = "/missing/ca.pem"\nca_key_file = "/missing/ca-key.pem"\n`);
      const result = await runCli(['run', ...SAFE, '--config', file]);
      assert.equal(result.code, 1, result.stderr);
      const lines = stderrLines(result);
      assert.equal(lines.length, 1, result.stderr);
      assert.ok(lines[0]!.startsWith(`egress-proxy: ${file}: mitm.ca_cert_file: /missing/ca.pem: `), lines[0]);
    });
  });

  describe('egress-proxy run when the start cannot finish', { concurrency: true }, () => {
    /** MITM on, with another process's fresh lock on the CA store: the start waits for it. */
    function lockedStoreConfig(name: string, startupSeconds: number): string {
      const dataDir = `${files.dir}/${name}-data`;
      mkdirSync(dataDir, { recursive: true });
      writeFileSync(`${dataDir}/ca.lock`, '1\n');
      // Dated an hour ahead: a lock counts as stale 30 s after its mtime, and under a loaded machine the CLI harness's
      // start queue can hold the run longer than that, which let the proxy take the lock and start (a flake).
      const inAnHour = new Date(Date.now() + 3_600_000);
      utimesSync(`${dataDir}/ca.lock`, inAnHour, inAnHour);
      // mitm.upstream_insecure: a deprecated key, so a warning is logged before the start begins.
      return files.write(
        `${name}.toml`,
        `[proxy]\nmitm = true\n[timeouts]\nstartup = ${startupSeconds}\n[mitm]\ndata_dir = "${dataDir}"\nupstream_insecure = false\n`,
      );
    }

    test('timeouts.startup bounds it: one line, exit 1', async () => {
      const file = lockedStoreConfig('slow-start', 1);
      const result = await runCli(['run', ...SAFE, '--config', file]);
      assert.equal(result.code, 1, result.stderr);
      assert.deepEqual(stderrLines(result), ['egress-proxy: the start did not finish within 1 s (timeouts.startup); nothing is served']);
    });

    test('one SIGTERM stops it', async () => {
      const file = lockedStoreConfig('stopped-start', 60);
      const proc = spawnCli(['run', ...SAFE, '--config', file]);
      await proc.waitForLog((line) => line.level === 'warn', 'the deprecation warning');
      proc.signal('SIGTERM');
      const result = await proc.waitForExit(10_000);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stderr, '');
      assert.ok(proc.logLines().some(isMessage('stopped before the start finished')), result.stdout);
    });
  });
});

/** Exit 1 with exactly `line` (after the `egress-proxy: ` prefix) on stderr, and nothing served. */
function assertStartupFailure(result: ExitResult, line: string): void {
  assert.equal(result.code, 1, `exit code ${result.code}; stderr:\n${result.stderr}`);
  assert.deepEqual(stderrLines(result), [`egress-proxy: ${line}`]);
  assert.ok(!result.stdout.includes('proxy listening'), result.stdout);
}
