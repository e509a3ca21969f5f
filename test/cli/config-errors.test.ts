// Bad configuration and bad usage: `egress-proxy run` must refuse to start with exactly one stderr line naming
// where the bad value was written (file and key, variable, or flag) and exit 1; bad usage exits 2 with the usage.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { killAllCliProcesses, occupyPort, runCli, spawnCli, stderrLines, tempDir, type ExitResult } from './cli-harness.js';

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
          assert.equal(stderrLines(result).length, 1, result.stderr);
          assert.ok(result.stderr.includes(String(taken.port)), result.stderr);
        } finally {
          await taken.close();
        }
      },
    );
  });
});
