/**
 * `egress-proxy passwd USER`, run as the real CLI with the password on standard input: it prints one TOML inline
 * table whose hash verifies the password, and refuses bad names, empty or multi-line input with exit code 2.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { parse } from 'smol-toml';
import { fileURLToPath } from 'node:url';
import { parsePasswordHash, verifyPassword } from '../../src/auth/password-hash.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function passwd(args: string[], stdin: string | Buffer): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'passwd', ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(stdin);
  });
}

test('prints one config entry whose hash verifies the password read from stdin', async () => {
  const { code, stdout, stderr } = await passwd(['Jos\u00e9'], 'pa:ss w\u00f6rd\n');
  assert.equal(code, 0, stderr);
  assert.equal(stdout.split('\n').length, 2, 'one line');
  const entry = (parse(`users = [${stdout.trim()}]`) as { users: Array<{ name: string; password_hash: string }> }).users[0]!;
  assert.equal(entry.name, 'Jos\u00e9');
  assert.match(entry.password_hash, /^\$scrypt\$ln=15,r=8,p=3\$/);
  assert.equal(await verifyPassword('pa:ss w\u00f6rd', parsePasswordHash(entry.password_hash)), true);
  assert.equal(await verifyPassword('pa:ss w\u00f6rd\n', parsePasswordHash(entry.password_hash)), false);
  assert.ok(!stdout.includes('w\u00f6rd') && !stderr.includes('w\u00f6rd'), 'the password is never printed');
});

test('refuses what cannot be a Basic-auth user or password, exit code 2', async () => {
  const cases: Array<[string[], string | Buffer, RegExp]> = [
    [[], 'pw\n', /exactly one USER/],
    [['a', 'b'], 'pw\n', /exactly one USER/],
    [['a:b'], 'pw\n', /colon/],
    [['alice'], '', /password is empty/],
    [['alice'], '\n', /password is empty/],
    [['alice'], 'one\ntwo\n', /more than one line/],
    [['alice'], 'a\u0001b', /control character/],
    [['alice'], Buffer.from([0x70, 0xff]), /not UTF-8/],
    [['alice'], 'x'.repeat(10_000), /more than 8192 bytes/],
  ];
  for (const [args, input, message] of cases) {
    const { code, stdout, stderr } = await passwd(args, input);
    assert.equal(code, 2, `${args.join(' ')}: ${stderr}`);
    assert.equal(stdout, '');
    assert.match(stderr, message);
  }
});

/** Runs passwd on a pseudo-terminal (util-linux `script`), typing each answer once its prompt has appeared. */
function passwdOnTerminal(answers: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const command = `${JSON.stringify(process.execPath)} --import tsx src/cli.ts passwd bob`;
    const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    let prompts = 0;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      const seen = (output.match(/password: /gi) ?? []).length;
      while (prompts < seen && prompts < answers.length) child.stdin.write(answers[prompts++]);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

const scriptMissing = spawnSync('script', ['--version']).error !== undefined ? 'util-linux `script` is not installed' : false;

test('on a terminal: two prompts without echo; the entry verifies, a mismatch is refused', { skip: scriptMissing }, async () => {
  const ok = await passwdOnTerminal(['s3cr\u00e9t\r', 's3cr\u00e9t\r']);
  assert.equal(ok.code, 0, ok.output);
  assert.ok(!ok.output.includes('s3cr'), 'nothing typed is echoed');
  const hash = /password_hash = "([^"]+)"/.exec(ok.output)?.[1];
  assert.ok(hash, ok.output);
  assert.equal(await verifyPassword('s3cr\u00e9t', parsePasswordHash(hash)), true);

  const mismatch = await passwdOnTerminal(['one\r', 'two\r']);
  assert.equal(mismatch.code, 2);
  assert.match(mismatch.output, /the two passwords differ/);
  assert.doesNotMatch(mismatch.output, /password_hash = "\$scrypt\$ln=\d+,r=\d+,p=\d+\$[A-Za-z0-9+/]{10}/);
});
