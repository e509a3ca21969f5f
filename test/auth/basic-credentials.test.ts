/**
 * RFC 7617 Basic credentials parsing: the accepted forms and each refusal reason (missing colon, other schemes,
 * non-canonical base64, bytes that are not UTF-8, control characters, oversized values).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_CREDENTIALS_FIELD_LENGTH,
  basicChallenge,
  parseBasicCredentials,
  passwordProblem,
  userNameProblem,
} from '../../src/auth/basic-credentials.js';

const b64 = (text: string | Buffer): string => Buffer.from(text).toString('base64');

test('user and password, split at the first colon', () => {
  assert.deepEqual(parseBasicCredentials(`Basic ${b64('alice:s3cret')}`), { ok: true, username: 'alice', password: 's3cret' });
  assert.deepEqual(parseBasicCredentials(`Basic ${b64('alice:a:b:c')}`), { ok: true, username: 'alice', password: 'a:b:c' });
  assert.deepEqual(parseBasicCredentials(`Basic ${b64('alice:')}`), { ok: true, username: 'alice', password: '' });
  assert.deepEqual(parseBasicCredentials(`Basic ${b64(':pw')}`), { ok: true, username: '', password: 'pw' });
});

test('the scheme is case-insensitive and may be followed by several spaces (RFC 7235 §2.1)', () => {
  for (const scheme of ['basic', 'BASIC', 'bAsIc']) {
    assert.equal(parseBasicCredentials(`${scheme} ${b64('u:p')}`).ok, true, scheme);
  }
  assert.equal(parseBasicCredentials(`Basic   ${b64('u:p')}`).ok, true);
});

test('UTF-8 user names and passwords; names in NFC', () => {
  const parsed = parseBasicCredentials(`Basic ${b64('Jose\u0301:p\u00e4ss\u{1F511}')}`);
  assert.deepEqual(parsed, { ok: true, username: 'Jos\u00e9', password: 'p\u00e4ss\u{1F511}' });
});

test('each refusal has its reason', () => {
  const cases: Array<[string | undefined, string]> = [
    [undefined, 'missing'],
    ['', 'missing'],
    ['Basic', 'malformed'],
    ['Basic ', 'malformed'],
    [`Basic ${b64('no-colon-here')}`, 'malformed'],
    [`Bearer abc.def`, 'not_basic'],
    [`Digest username="a", realm="b"`, 'not_basic'],
    [`Basic ${b64('u:p')} extra`, 'malformed'],
    [`Basic ${b64('u:pw')}`.replace(/=+$/, ''), 'malformed'], // padding removed
    [`Basic ${b64('u:pw').slice(0, -1)}`, 'malformed'],
    ['Basic dTpw!!==', 'malformed'],
    [`Basic\t${b64('u:p')}`, 'malformed'],
    [`Basic ${b64(Buffer.from([0x75, 0x3a, 0xff, 0xfe]))}`, 'not_utf8'],
    [`Basic ${b64(Buffer.from([0x75, 0x3a, 0xc3]))}`, 'not_utf8'], // truncated sequence
    [`Basic ${b64('u:p\u0000w')}`, 'control_character'],
    [`Basic ${b64('u\nx:pw')}`, 'control_character'],
    [`Basic ${b64('u:pw\u007f')}`, 'control_character'],
    [`Basic ${'A'.repeat(MAX_CREDENTIALS_FIELD_LENGTH)}`, 'too_long'],
  ];
  for (const [value, reason] of cases) {
    assert.deepEqual(parseBasicCredentials(value), { ok: false, reason }, JSON.stringify(value));
  }
});

test('the longest accepted value is parsed; a hostile megabyte is refused at once', () => {
  const password = 'x'.repeat(1000);
  assert.equal(parseBasicCredentials(`Basic ${b64(`u:${password}`)}`).ok, true);
  const started = process.hrtime.bigint();
  for (let i = 0; i < 100; i++) {
    assert.deepEqual(parseBasicCredentials(`Basic ${'A'.repeat(1_000_000)}`), { ok: false, reason: 'too_long' });
    assert.deepEqual(parseBasicCredentials(`Basic ${' '.repeat(4000)}x`), { ok: false, reason: 'malformed' });
  }
  assert.ok(Number(process.hrtime.bigint() - started) / 1e6 < 1000);
});

test('the challenge announces UTF-8 and quotes the realm', () => {
  assert.equal(basicChallenge('egress-proxy admin'), 'Basic realm="egress-proxy admin", charset="UTF-8"');
  assert.equal(basicChallenge('a"b\\c'), 'Basic realm="a\\"b\\\\c", charset="UTF-8"');
});

test('user names and passwords a config may hold', () => {
  assert.equal(userNameProblem('ops'), undefined);
  assert.equal(userNameProblem('Jos\u00e9'), undefined);
  assert.match(userNameProblem('')!, /empty/);
  assert.match(userNameProblem('a:b')!, /colon/);
  assert.match(userNameProblem('a\tb')!, /control/);
  assert.match(userNameProblem('Jose\u0301')!, /Normalization Form C/);
  assert.match(userNameProblem('x'.repeat(129))!, /128/);
  assert.match(userNameProblem('a\ud800b')!, /Unicode/);
  assert.equal(passwordProblem('pa:ss word'), undefined);
  assert.match(passwordProblem('')!, /empty/);
  assert.match(passwordProblem('a\u0000')!, /control/);
  assert.match(passwordProblem('x'.repeat(1025))!, /1024/);
});
