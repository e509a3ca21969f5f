/**
 * scrypt password hashes in the PHC string format: round trips, verification of right and wrong passwords,
 * Unicode normalisation, a known vector checked against an independent scrypt call, and every way a stored string
 * can be unusable (each refused with a message that never echoes the hash).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scryptSync } from 'node:crypto';
import { PasswordHashFormatError } from '../../src/auth/auth-errors.js';
import {
  DEFAULT_SCRYPT_PARAMETERS,
  formatPasswordHash,
  hashPassword,
  parsePasswordHash,
  verifyPassword,
} from '../../src/auth/password-hash.js';

// Cheap parameters for tests that do many hashes; one test below uses the defaults.
const FAST = { logN: 4, r: 8, p: 1 };

test('a hash verifies its password and no other', async () => {
  const stored = await hashPassword('correct horse', FAST);
  assert.match(stored, /^\$scrypt\$ln=4,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
  const parsed = parsePasswordHash(stored);
  assert.equal(await verifyPassword('correct horse', parsed), true);
  assert.equal(await verifyPassword('correct horse ', parsed), false);
  assert.equal(await verifyPassword('Correct horse', parsed), false);
  assert.equal(await verifyPassword('', parsed), false);
});

test('two hashes of one password differ (fresh salt each time)', async () => {
  const a = await hashPassword('pw', FAST);
  const b = await hashPassword('pw', FAST);
  assert.notEqual(a, b);
  assert.equal(await verifyPassword('pw', parsePasswordHash(b)), true);
});

test('the default parameters are written into the string and verify', async () => {
  const stored = await hashPassword('default-cost');
  const { logN, r, p } = DEFAULT_SCRYPT_PARAMETERS;
  assert.ok(stored.startsWith(`$scrypt$ln=${logN},r=${r},p=${p}$`));
  assert.equal(await verifyPassword('default-cost', parsePasswordHash(stored)), true);
});

test('the hash is plain scrypt of the NFC UTF-8 bytes, as any other scrypt implementation computes it', async () => {
  const salt = Buffer.from('0123456789abcdef');
  const expected = scryptSync(Buffer.from('p\u00e4ss', 'utf8'), salt, 32, { N: 16, r: 8, p: 1 });
  const stored = formatPasswordHash({ parameters: FAST, salt, hash: expected });
  // "ä" precomposed and decomposed (a + U+0308) are one password.
  assert.equal(await verifyPassword('p\u00e4ss', parsePasswordHash(stored)), true);
  assert.equal(await verifyPassword('pa\u0308ss', parsePasswordHash(stored)), true);
  assert.equal(await verifyPassword('pass', parsePasswordHash(stored)), false);
});

test('format and parse are inverse', async () => {
  const stored = await hashPassword('x', FAST);
  assert.equal(formatPasswordHash(parsePasswordHash(stored)), stored);
});

test('unusable hash strings are refused with a reason, never echoing the value', async () => {
  const good = await hashPassword('x', FAST);
  const [, , params, salt, hash] = good.split('$') as [string, string, string, string, string];
  const cases: Array<[string, RegExp]> = [
    ['', /not an scrypt hash/],
    ['plaintext-password', /not an scrypt hash/],
    ['$2b$12$abcdefghijklmnopqrstuuJ9yTfC3hL5Zr4ZKpbWf0pjgs/TsjJS', /not an scrypt hash/],
    [`$scrypt$${params}$${salt}`, /malformed/],
    [`$scrypt$ln=4,r=8$${salt}$${hash}`, /malformed/],
    [`$scrypt$ln=4,r=8,p=1$${salt}$${hash}$`, /malformed/],
    [`$scrypt$ln=4,r=8,p=1$${salt}=$${hash}`, /malformed/],
    [`$scrypt$ln=4,r=8,p=1$${salt}$${hash} `, /malformed/],
    [`$scrypt$ln=0,r=8,p=1$${salt}$${hash}`, /ln must be/],
    [`$scrypt$ln=21,r=8,p=1$${salt}$${hash}`, /ln must be/],
    [`$scrypt$ln=4,r=0,p=1$${salt}$${hash}`, /r must be/],
    [`$scrypt$ln=4,r=8,p=17$${salt}$${hash}`, /p must be/],
    [`$scrypt$ln=20,r=8,p=1$${salt}$${hash}`, /MiB per verification/],
    [`$scrypt$ln=4,r=8,p=1$AAAA$${hash}`, /salt too short/],
    [`$scrypt$ln=4,r=8,p=1$${salt}$AAAAAAAA`, /hash too short/],
    // Non-canonical base64: the last character carries bits that do not fit.
    [`$scrypt$ln=4,r=8,p=1$${salt.slice(0, -1)}B$${hash}`, /canonical/],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => parsePasswordHash(text), (err: unknown) => {
      assert.ok(err instanceof PasswordHashFormatError, `${text}: ${String(err)}`);
      assert.equal(err.code, 'EPROXY_PASSWORD_HASH_FORMAT');
      assert.match(err.message, message, text);
      if (hash.length > 0) assert.ok(!err.message.includes(hash), 'the message must not echo the hash');
      return true;
    });
  }
});

test('parsing a huge string is refused quickly (no super-linear regex)', () => {
  const hostile = `$scrypt$ln=4,r=8,p=1$${'A'.repeat(1_000_000)}`;
  const started = process.hrtime.bigint();
  assert.throws(() => parsePasswordHash(hostile), PasswordHashFormatError);
  assert.ok(Number(process.hrtime.bigint() - started) / 1e6 < 200);
});
