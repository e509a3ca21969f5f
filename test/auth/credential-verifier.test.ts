/**
 * The verifier behind every Basic-auth check: right and wrong credentials, unknown users doing the same work,
 * successes and failures remembered (and forgotten after their TTL), one scrypt for concurrent identical
 * credentials, and the cap on scrypt computations in flight.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CredentialVerifier } from '../../src/auth/credential-verifier.js';
import { hashPassword } from '../../src/auth/password-hash.js';
import { PasswordHashFormatError } from '../../src/auth/auth-errors.js';

const FAST = { logN: 4, r: 8, p: 1 };
const header = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

async function users(): Promise<Array<{ name: string; passwordHash: string }>> {
  return [
    { name: 'alice', passwordHash: await hashPassword('wonderland', FAST) },
    { name: 'Jos\u00e9', passwordHash: await hashPassword('\u00e9t\u00e9', FAST) },
  ];
}

test('right credentials pass; wrong password, unknown user and malformed values fail with their reason', async () => {
  const verifier = new CredentialVerifier(await users());
  assert.deepEqual(await verifier.verifyField(header('alice', 'wonderland')), { ok: true, user: 'alice' });
  assert.deepEqual(await verifier.verifyField(header('alice', 'Wonderland')), { ok: false, reason: 'wrong_password' });
  assert.deepEqual(await verifier.verifyField(header('bob', 'wonderland')), { ok: false, reason: 'unknown_user' });
  assert.deepEqual(await verifier.verifyField(undefined), { ok: false, reason: 'missing' });
  assert.deepEqual(await verifier.verifyField('Basic bm9jb2xvbg=='), { ok: false, reason: 'malformed' });
  // Decomposed user name and password still match the NFC ones stored.
  assert.deepEqual(await verifier.verifyField(header('Jose\u0301', 'e\u0301te\u0301')), { ok: true, user: 'Jos\u00e9' });
});

test('an unusable hash in the user list is refused when the verifier is built', () => {
  assert.throws(() => new CredentialVerifier([{ name: 'a', passwordHash: 'plain' }]), PasswordHashFormatError);
});

/** Counts scrypt work by watching how long verifications take: a remembered outcome is answered without scrypt. */
test('outcomes are remembered, and concurrent identical credentials share one verification', async () => {
  // Expensive enough (~10+ ms) that a cached answer is clearly faster.
  const verifier = new CredentialVerifier([{ name: 'alice', passwordHash: await hashPassword('pw', { logN: 12, r: 8, p: 1 }) }]);
  const first = performance.now();
  const results = await Promise.all(Array.from({ length: 8 }, () => verifier.verify('alice', 'pw')));
  const firstMs = performance.now() - first;
  for (const r of results) assert.deepEqual(r, { ok: true, user: 'alice' });
  const again = performance.now();
  for (let i = 0; i < 100; i++) assert.deepEqual(await verifier.verify('alice', 'pw'), { ok: true, user: 'alice' });
  const againMs = performance.now() - again;
  assert.ok(againMs < firstMs, `100 remembered answers (${againMs.toFixed(1)} ms) must cost less than one scrypt (${firstMs.toFixed(1)} ms)`);
});

test('a failure is forgotten after its TTL, so a corrected password is not refused for long', async () => {
  const verifier = new CredentialVerifier(await users(), { failureTtlMs: 30 });
  assert.deepEqual(await verifier.verify('nobody', 'x'), { ok: false, reason: 'unknown_user' });
  await new Promise((r) => setTimeout(r, 60));
  assert.deepEqual(await verifier.verify('nobody', 'x'), { ok: false, reason: 'unknown_user' });
});

test('beyond the running and waiting caps, new credentials are answered busy', async () => {
  const verifier = new CredentialVerifier([{ name: 'alice', passwordHash: await hashPassword('pw', { logN: 12, r: 8, p: 1 }) }], {
    maxConcurrentHashes: 1,
    maxWaiting: 2,
  });
  const pending = [0, 1, 2].map((i) => verifier.verify('alice', `guess${i}`));
  assert.deepEqual(await verifier.verify('alice', 'guess3'), { ok: false, reason: 'busy' });
  // Credentials already being verified join that verification instead of being refused.
  const joined = verifier.verify('alice', 'guess0');
  for (const p of pending) assert.deepEqual(await p, { ok: false, reason: 'wrong_password' });
  assert.deepEqual(await joined, { ok: false, reason: 'wrong_password' });
  assert.deepEqual(await verifier.verify('alice', 'pw'), { ok: true, user: 'alice' });
});
