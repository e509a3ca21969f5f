// `egress-proxy check-config FILE` and the --help of every command, end to end.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { killAllCliProcesses, runCli, stderrLines, tempDir } from './cli-harness.js';

after(killAllCliProcesses);

const files = tempDir();
after(() => files.cleanup());

describe('egress-proxy commands', { concurrency: true }, () => {
  describe('check-config FILE', { concurrency: true }, () => {
    test('a valid native file: exit 0 and "FILE: ok", whatever the environment says', async () => {
      const file = files.write(
        'valid.toml',
        [
          '[proxy]',
          'bind = "0.0.0.0"',
          'port = 9530',
          'allowed_client_cidrs = ["10.0.0.0/8", "2001:db8::/32"]',
          '',
          '[timeouts]',
          'drain = 5',
          '',
          '[admin]',
          'port = 9531',
          '',
        ].join('\n'),
      );
      // Only the file is checked: a broken variable in the shell must not make a valid file look broken.
      const result = await runCli(['check-config', file], { env: { EGRESS_PROXY_PORT: 'abc' } });
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, `${file}: ok\n`);
      assert.equal(result.stderr, '');
    });

    test("DataKit's file with the deprecated path and ws_bind: exit 0 with a warning for each", async () => {
      const file = files.write(
        'datakit.conf',
        [
          '[[inputs.proxy]]',
          '  bind = "127.0.0.1"',
          '  port = 9530',
          '  path = "/v1/write/"',
          '  ws_bind = ["ws://127.0.0.1:9530/v1/ws"]',
          '  allowed_client_cidrs = []',
          '  verbose = false',
          '  mitm = false',
          '',
        ].join('\n'),
      );
      const result = await runCli(['check-config', file]);
      assert.equal(result.code, 0, result.stderr);
      const lines = result.stdout.trimEnd().split('\n');
      assert.deepEqual(lines, [
        `warning: ${file}: inputs.proxy[0].path is deprecated and ignored`,
        `warning: ${file}: inputs.proxy[0].ws_bind is deprecated and ignored`,
        `${file}: ok`,
      ]);
    });

    test('an invalid file: exit 1 with one line naming the file and the key', async () => {
      const file = files.write('invalid.toml', '[admin]\nport = 65536\n');
      const result = await runCli(['check-config', file]);
      assert.equal(result.code, 1, result.stderr);
      const lines = stderrLines(result);
      assert.equal(lines.length, 1, result.stderr);
      assert.ok(lines[0]!.includes(file) && lines[0]!.includes('admin.port'), lines[0]);
      assert.ok(!result.stdout.includes('ok'), result.stdout);
    });

    test('a missing file: exit 1 with one line naming the file', async () => {
      const file = `${files.dir}/no-such-file.toml`;
      const result = await runCli(['check-config', file]);
      assert.equal(result.code, 1, result.stderr);
      const lines = stderrLines(result);
      assert.equal(lines.length, 1, result.stderr);
      assert.ok(lines[0]!.includes(file), lines[0]);
      assert.equal(result.stdout, '');
    });

    test('no FILE: exit 2 with the check-config usage on stderr', async () => {
      const result = await runCli(['check-config']);
      assert.equal(result.code, 2, result.stderr);
      assert.ok(result.stderr.includes('Usage: egress-proxy check-config FILE'), result.stderr);
      assert.equal(result.stdout, '');
    });
  });

  describe('--help', { concurrency: true }, () => {
    const cases: Array<{ args: string[]; heading: string; mentions: string[] }> = [
      { args: ['--help'], heading: 'Usage: egress-proxy <command>', mentions: ['run', 'check-config FILE', 'ca export|path'] },
      {
        args: ['run', '--help'],
        heading: 'Usage: egress-proxy run [options]',
        mentions: ['--config FILE', '--port N', '--allow CIDR', '--verbose', '--drain-timeout SEC', 'EGRESS_PROXY_PORT'],
      },
      { args: ['check-config', '--help'], heading: 'Usage: egress-proxy check-config FILE', mentions: ['exits 0'] },
      { args: ['ca', '--help'], heading: 'Usage: egress-proxy ca <export|path>', mentions: ['export', 'path'] },
    ];
    for (const { args, heading, mentions } of cases) {
      test(`egress-proxy ${args.join(' ')}: exit 0, usage on stdout`, async () => {
        const result = await runCli(args);
        assert.equal(result.code, 0, result.stderr);
        assert.ok(result.stdout.startsWith(heading), result.stdout);
        for (const mention of mentions) assert.ok(result.stdout.includes(mention), `no ${mention} in:\n${result.stdout}`);
        assert.equal(result.stderr, '');
      });
    }
  });
});
