/** The Via pseudonym (kept per install, different per listener) and the loop check that recognises it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, stat, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ViaLoopDetectedError } from '../../src/errors.js';
import { viaNames, ViaLoopDetector } from '../../src/policy/via-loop.js';
import { viaPseudonym, VIA_TOKEN_FILE_NAME } from '../../src/policy/via-token.js';

const ME = 'egress-proxy-0123456789ab';

test('a Via naming us in any position, with a port, in any case, is a loop; comments and other proxies are not', () => {
  const detector = new ViaLoopDetector(ME);
  for (const value of [
    `1.1 ${ME}`,
    `1.0 squid, 1.1 ${ME}`,
    `1.1 ${ME}:9530`,
    `HTTP/1.1 ${ME.toUpperCase()} (egress)`,
    `1.1 a (x, y (nested, ${ME}) z), 1.1 ${ME}`,
  ]) {
    assert.ok(detector.check([value]) instanceof ViaLoopDetectedError, value);
  }
  for (const value of [
    '1.1 egress-proxy',
    `1.1 ${ME}0`,
    `1.1 other (${ME})`,
    `1.1 other (a, 1.1 ${ME})`,
    `${ME}`,
    '',
    '1.1 egress-proxy-0123456789ac',
  ]) {
    assert.equal(detector.check([value]), undefined, value);
  }
  assert.ok(detector.check(['1.1 squid', `1.1 ${ME}`]), 'any of several fields');
  const refusal = detector.check([`1.1 ${ME}`])!;
  assert.equal(refusal.statusCode, 508);
  assert.equal(refusal.reason, 'loop');
});

test('the scan is linear: a huge Via of comments and commas costs microseconds per kilobyte', () => {
  const hostile = `1.1 x ${'('.repeat(20_000)}${ME}${')'.repeat(20_000)}, ${'1.1 a, '.repeat(5_000)}1.1 ${ME}`;
  const started = process.hrtime.bigint();
  assert.ok(viaNames(hostile, ME));
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  assert.ok(ms < 200, `${ms} ms for ${hostile.length} characters`);
});

test('the pseudonym: kept in the data directory, stable per listener, different per port, shared by concurrent starts', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'via-token-'));
  const dataDir = path.join(dir, 'data');
  const started = await Promise.all(Array.from({ length: 5 }, () => viaPseudonym(dataDir, '0.0.0.0', 9530)));
  const first = started[0]!;
  assert.match(first.pseudonym, /^egress-proxy-[0-9a-f]{12}$/);
  for (const other of started) assert.equal(other.pseudonym, first.pseudonym, 'concurrent starts agree on one secret');
  assert.deepEqual(first.source, { kept: path.join(dataDir, VIA_TOKEN_FILE_NAME) });
  assert.equal((await stat(path.join(dataDir, VIA_TOKEN_FILE_NAME))).mode & 0o777, 0o600);
  assert.match(await readFile(path.join(dataDir, VIA_TOKEN_FILE_NAME), 'utf8'), /^[0-9a-f]{32}\n$/);
  assert.equal((await viaPseudonym(dataDir, '0.0.0.0', 9530)).pseudonym, first.pseudonym, 'stable across restarts');
  assert.notEqual((await viaPseudonym(dataDir, '0.0.0.0', 9531)).pseudonym, first.pseudonym, 'another port, another pseudonym');
  const otherInstall = await viaPseudonym(path.join(dir, 'other'), '0.0.0.0', 9530);
  assert.notEqual(otherInstall.pseudonym, first.pseudonym, 'another install, another pseudonym');
});

test('without a usable data directory, or on port 0, a random pseudonym for this run and the reason', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'via-token-'));
  const a = await viaPseudonym(dir, '127.0.0.1', 0);
  const b = await viaPseudonym(dir, '127.0.0.1', 0);
  assert.notEqual(a.pseudonym, b.pseudonym);
  assert.ok('notKept' in a.source && a.source.notKept.includes('port = 0'));
  await writeFile(path.join(dir, VIA_TOKEN_FILE_NAME), 'not a secret\n');
  const bad = await viaPseudonym(dir, '127.0.0.1', 9530);
  assert.match(bad.pseudonym, /^egress-proxy-[0-9a-f]{12}$/);
  assert.ok('notKept' in bad.source && bad.source.notKept.includes('does not hold 32 hex digits'));
  assert.equal(await readFile(path.join(dir, VIA_TOKEN_FILE_NAME), 'utf8'), 'not a secret\n', 'never overwritten');
  if (process.getuid?.() !== 0) {
    const readOnly = path.join(dir, 'ro');
    await writeFile(readOnly, '');
    await chmod(dir, 0o500);
    try {
      const unwritable = await viaPseudonym(path.join(dir, 'sub'), '127.0.0.1', 9530);
      assert.ok('notKept' in unwritable.source);
    } finally {
      await chmod(dir, 0o700);
    }
  }
});
