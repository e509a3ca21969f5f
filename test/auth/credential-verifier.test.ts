/**
 * The verifier behind every Basic-auth check: right and wrong credentials, unknown users doing the same work,
 * successes and failures remembered (and forgotten after their TTL), one scrypt for concurrent identical
 * credentials, and the cap on scrypt computations in flight.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CredentialVerifier } from '../../src/auth/credential-verifier.js';
import { hashPassword, verifyPassword } from '../../src/auth/password-hash.js';
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

/** Client connections, as the verifier sees them (a socket's `destroyed`). */
const OPEN = { destroyed: false } as const;
const CLOSED = { destroyed: true } as const;

/** A verifier whose checks are recorded, and each held until the test lets it run. */
async function heldVerifier(options: { maxWaiting: number }) {
  const ran: string[] = [];
  const gates: Array<() => void> = [];
  const verifier = new CredentialVerifier(await users(), {
    maxConcurrentHashes: 1,
    maxWaiting: options.maxWaiting,
    verifyPassword: async (password, stored) => {
      ran.push(password);
      await new Promise<void>((resolve) => gates.push(resolve));
      return verifyPassword(password, stored);
    },
  });
  /** Lets the running check finish, and waits until the next one (if any) has started. */
  const finishOne = async (): Promise<void> => {
    gates.shift()?.();
    await new Promise((r) => setTimeout(r, 5));
  };
  return { verifier, ran, finishOne };
}

test('a queued check whose clients have all left is dropped unrun when its turn comes, and forgotten', async () => {
  const { verifier, ran, finishOne } = await heldVerifier({ maxWaiting: 8 });
  const alice = { destroyed: false };
  const bob = { destroyed: false };
  const running = verifier.check(header('alice', 'guess-running'), OPEN);
  const gone = verifier.check(header('alice', 'guess-gone'), alice);
  // Two clients wait for one shared check: it is dropped only when both have left.
  const shared = verifier.check(header('alice', 'guess-shared'), alice);
  const sharedToo = verifier.check(header('alice', 'guess-shared'), bob);
  alice.destroyed = true;
  await finishOne();
  assert.deepEqual(await running, { ok: false, reason: 'wrong_password' });
  assert.deepEqual(await gone, { ok: false, reason: 'abandoned' });
  assert.deepEqual(ran, ['guess-running', 'guess-shared'], 'the departed check never ran; the shared one did, for bob');
  bob.destroyed = true;
  await finishOne();
  assert.deepEqual(await shared, { ok: false, reason: 'wrong_password' }, 'a check that started runs to its end');
  assert.deepEqual(await sharedToo, { ok: false, reason: 'wrong_password' });
  // The dropped credentials are not remembered as anything: asked again, they are checked.
  assert.equal(verifier.known(header('alice', 'guess-gone')), undefined);
  const again = verifier.check(header('alice', 'guess-gone'), OPEN);
  await finishOne();
  assert.deepEqual(await again, { ok: false, reason: 'wrong_password' });
});

test('a full queue makes room by dropping the checks nobody waits for; checks asked without a client always run', async () => {
  const { verifier, ran, finishOne } = await heldVerifier({ maxWaiting: 3 });
  const clients = [0, 1, 2].map(() => ({ destroyed: false }));
  const running = verifier.check(header('alice', 'running'), CLOSED);
  const queued = clients.map((client, i) => verifier.check(header('alice', `queued-${i}`), client));
  assert.deepEqual(verifier.check(header('alice', 'one-more'), OPEN), { ok: false, reason: 'busy' }, 'full, and everyone still waits');
  clients[0]!.destroyed = true;
  clients[2]!.destroyed = true;
  const late = verifier.check(header('alice', 'late'), OPEN);
  assert.ok(late instanceof Promise, 'room was made');
  const pinned = verifier.verify('alice', 'no-client');
  assert.deepEqual(verifier.check(header('alice', 'after'), OPEN), { ok: false, reason: 'busy' }, 'three wait again: full');
  assert.deepEqual(await queued[0], { ok: false, reason: 'abandoned' });
  assert.deepEqual(await queued[2], { ok: false, reason: 'abandoned' });
  for (let i = 0; i < 4; i++) await finishOne();
  assert.deepEqual(await running, { ok: false, reason: 'wrong_password' }, 'the running check ran though its client left');
  assert.deepEqual(await pinned, { ok: false, reason: 'wrong_password' });
  assert.deepEqual(ran, ['running', 'queued-1', 'late', 'no-client']);
});
