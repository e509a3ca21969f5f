// Tests `egress-proxy bench` as a user runs it: real argv through the command's entry point (src/cli.ts), exit
// codes, usage text, and a null server process serving a client process.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runBenchCommand } from '../../src/bench/bench-command.js';
import { parseListenAddress } from '../../src/bench/server-command.js';
import { UsageError } from '../../src/errors.js';
import { captureIo, parsePrometheusText } from './bench-test-helpers.js';

const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runMain(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'bench', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('bench command line (spawned)', () => {
  it('prints the client usage for --help and exits 0', async () => {
    const run = await runMain(['client', '--help']);
    assert.equal(run.code, 0);
    assert.match(run.stdout, /^Usage: egress-proxy bench client \[flags\]/);
    for (const flag of ['-host', '-proxy', '-c', '-r', '-f', '-insecure', '-ca', '-json', '-timeout']) {
      assert.match(run.stdout, new RegExp(`^  ${flag}\\b`, 'm'), flag);
    }
    assert.equal(run.stderr, '');
  });

  it('rejects a bad flag value with one error line and the usage on stderr, exit 2', async () => {
    const run = await runMain(['client', '-c', 'many']);
    assert.equal(run.code, 2);
    assert.equal(run.stdout, '');
    const [first, second, third] = run.stderr.split('\n');
    assert.equal(first, 'bench client: invalid value "many" for flag -c: not an integer');
    assert.equal(second, '');
    assert.equal(third, 'Usage: egress-proxy bench client [flags]');
  });

  it('rejects an unknown server flag with exit 2', async () => {
    const run = await runMain(['server', '-port', '1']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /^bench server: flag provided but not defined: -port\n\nUsage: egress-proxy bench server/);
  });

  it('serves a client from a separate null server process, trusting its printed certificate file', async () => {
    const server = spawn(process.execPath, ['--import', 'tsx', CLI, 'bench', 'server', '-listen', '127.0.0.1:0'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: server.stdout }).once('line', resolve);
        server.once('exit', (code) => reject(new Error(`server exited early with ${code}`)));
      });
      const match = /^null server listening on (https:\/\/127\.0\.0\.1:\d+) \(cert: (.+)\)$/.exec(line);
      assert.ok(match !== null, line);
      const [, url, certFile] = match as unknown as [string, string, string];
      assert.ok(existsSync(certFile));

      const client = await runMain(['client', '-host', `${url}/v1/write/xxx`, '-c', '2', '-r', '3', '-ca', certFile]);
      assert.equal(client.code, 0, client.stderr);
      const metrics = parsePrometheusText(client.stdout.replace(/^Benchmark metrics:\n/, ''));
      assert.equal(metrics.get('api_latency_seconds_count', { api: '/v1/write/xxx', status: '200 OK' }), 6);

      const exited = new Promise<number | null>((resolve) => server.once('exit', resolve));
      server.kill('SIGTERM');
      assert.equal(await exited, 0);
      assert.equal(existsSync(certFile), false, 'the temporary certificate is removed on exit');
    } finally {
      if (server.exitCode === null) server.kill('SIGKILL');
    }
  });
});

describe('runBenchCommand (in-process)', () => {
  const usageErrors: Array<[string[], RegExp]> = [
    [[], /^bench: a command is required\n\nUsage: egress-proxy bench <command>/],
    [['benchmark'], /^bench: unknown command "benchmark"\n/],
    [['client', '-r', '0'], /^bench client: invalid value "0" for flag -r: must be at least 1\n/],
    [['client', '-host', 'ftp://x/'], /^bench client: invalid value "ftp:\/\/x\/" for flag -host: scheme must be http or https\n/],
    [['client', '-proxy', 'not a url'], /^bench client: invalid value "not a url" for flag -proxy: not a URL\n/],
    [['client', '-f', '/nonexistent/metric.data'], /^bench client: cannot read -f \/nonexistent\/metric\.data: ENOENT\n/],
    [['client', 'stray'], /^bench client: unexpected argument: stray\n/],
    [['server', '-cert', 'c.pem'], /^bench server: -cert and -key must be given together\n/],
    [['server', '-plain', '-cert', 'c.pem', '-key', 'k.pem'], /^bench server: -plain cannot be combined with -cert\/-key\n/],
    [['server', '-listen', 'nowhere'], /^bench server: invalid value "nowhere" for flag -listen/],
  ];
  for (const [argv, message] of usageErrors) {
    it(`exits 2 for: bench ${argv.join(' ')}`, async () => {
      const io = captureIo();
      assert.equal(await runBenchCommand(argv, io), 2);
      assert.match(io.err(), message);
      assert.match(io.err(), /Usage: egress-proxy bench/);
      assert.equal(io.out(), '');
    });
  }

  it('prints the top-level usage for -help and the server usage for server -h', async () => {
    const io = captureIo();
    assert.equal(await runBenchCommand(['-help'], io), 0);
    assert.match(io.out(), /^Usage: egress-proxy bench <command>/);
    const io2 = captureIo();
    assert.equal(await runBenchCommand(['server', '-h'], io2), 0);
    assert.match(io2.out(), /^Usage: egress-proxy bench server \[flags\][\s\S]*-listen HOST:PORT\n.*\(default "localhost:54321"\)/);
  });

  it('runs the server until told to stop', async () => {
    const stop = new AbortController();
    const io = captureIo(stop.signal);
    const running = runBenchCommand(['server', '--listen=127.0.0.1:0', '--plain'], io);
    while (!io.out().includes('\n')) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.match(io.out(), /^null server listening on http:\/\/127\.0\.0\.1:\d+\n$/);
    stop.abort();
    assert.equal(await running, 0);
  });

  it('reports a port already in use as a runtime error, exit 1', async () => {
    const stop = new AbortController();
    const first = captureIo(stop.signal);
    const running = runBenchCommand(['server', '-listen', '127.0.0.1:0', '-plain'], first);
    while (!first.out().includes('\n')) await new Promise((resolve) => setTimeout(resolve, 20));
    const port = /:(\d+)\n$/.exec(first.out())?.[1];
    const second = captureIo();
    assert.equal(await runBenchCommand(['server', '-listen', `127.0.0.1:${port}`, '-plain'], second), 1);
    assert.match(second.err(), /^bench server: cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/);
    stop.abort();
    await running;
  });
});

describe('parseListenAddress', () => {
  it("accepts Go's host:port forms", () => {
    assert.deepEqual(parseListenAddress('localhost:54321'), { host: 'localhost', port: 54321 });
    assert.deepEqual(parseListenAddress('[::1]:0'), { host: '::1', port: 0 });
    assert.deepEqual(parseListenAddress(':8080'), { host: '::', port: 8080 });
  });
  it('rejects anything else', () => {
    for (const bad of ['54321', 'host:', 'host:99999', '::1:80']) {
      assert.throws(() => parseListenAddress(bad), UsageError, bad);
    }
  });
});
