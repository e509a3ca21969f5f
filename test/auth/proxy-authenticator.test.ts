/**
 * Proxy authentication as a unit: every kind of bad Proxy-Authorization gets one 407 with the challenge, known
 * credentials are answered synchronously, failures spend a per-client budget whose exhaustion means 429 without any
 * password check, and a flood of new credentials means 503.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hashPassword } from '../../src/auth/password-hash.js';
import { AuthFailureBudget } from '../../src/auth/failure-budget.js';
import { ProxyAuthenticator, type ProxyAuthFailure, type ProxyAuthResult } from '../../src/auth/proxy-authenticator.js';
import { ProxyAuthBusyError, ProxyAuthRateLimitedError, ProxyAuthRequiredError } from '../../src/errors.js';

const FAST = { logN: 4, r: 8, p: 1 };
const basic = (userAndPassword: string): string => `Basic ${Buffer.from(userAndPassword, 'utf8').toString('base64')}`;

async function authenticator(options: { maxFailuresPerMinute?: number; now?: () => number; failures?: Array<[ProxyAuthFailure, string]> } = {}) {
  return new ProxyAuthenticator({
    users: [
      { name: 'datakit', passwordHash: await hashPassword('s3cret', FAST) },
      { name: 'J\u00fcrgen', passwordHash: await hashPassword('p\u00e4ss \u2603', FAST) },
    ],
    realm: 'egress "proxy"',
    maxFailuresPerMinute: options.maxFailuresPerMinute ?? 10,
    onFailure: (reason, client) => options.failures?.push([reason, client]),
    ...(options.now ? { now: options.now } : {}),
  });
}

async function settle(result: ProxyAuthResult | Promise<ProxyAuthResult>): Promise<ProxyAuthResult> {
  return result;
}

test('right credentials pass, synchronously once known; non-ASCII names and passwords in UTF-8 work', async () => {
  const auth = await authenticator();
  const first = auth.check(basic('datakit:s3cret'), '10.0.0.1');
  assert.ok(first instanceof Promise, 'new credentials are verified asynchronously');
  assert.deepEqual(await first, { ok: true, user: 'datakit' });
  assert.deepEqual(auth.check(basic('datakit:s3cret'), '10.0.0.2'), { ok: true, user: 'datakit' }, 'known ones are answered at once');
  assert.deepEqual(await settle(auth.check(basic('J\u00fcrgen:p\u00e4ss \u2603'), '10.0.0.1')), { ok: true, user: 'J\u00fcrgen' });
});

test('missing, wrong, unknown, malformed, non-Basic, non-UTF-8, control characters and huge values: 407 with the challenge', async () => {
  const failures: Array<[ProxyAuthFailure, string]> = [];
  const auth = await authenticator({ maxFailuresPerMinute: 100, failures });
  const cases: Array<[string | undefined, ProxyAuthFailure]> = [
    [undefined, 'missing'],
    ['', 'missing'],
    [basic('datakit:wrong'), 'wrong_password'],
    [basic('nobody:s3cret'), 'unknown_user'],
    ['Basic !!!', 'malformed'],
    ['Basic ZGF0YWtpdA==', 'malformed'], // no colon
    ['Bearer abc', 'not_basic'],
    [`Basic ${Buffer.from([0x64, 0x3a, 0xff, 0xfe]).toString('base64')}`, 'not_utf8'],
    [basic('datakit:s3\u0000cret'), 'control_character'],
    [`Basic ${'A'.repeat(100_000)}`, 'too_long'],
    ['datakit:s3cret', 'not_basic'], // raw, not base64: read as a scheme named "datakit"
  ];
  for (const [field, reason] of cases) {
    const result = await settle(auth.check(field, '192.0.2.9'));
    assert.equal(result.ok, false, String(field).slice(0, 40));
    assert.ok(!result.ok);
    assert.equal(result.reason, reason, String(field).slice(0, 40));
    assert.ok(result.error instanceof ProxyAuthRequiredError);
    assert.equal(result.error.statusCode, 407);
    assert.deepEqual(result.error.responseFields, [['Proxy-Authenticate', 'Basic realm="egress \\"proxy\\"", charset="UTF-8"']]);
    assert.equal(result.error.publicMessage, 'Proxy authentication required', 'the client is not told which part was wrong');
  }
  assert.deepEqual(failures.map(([reason]) => reason), cases.map(([, reason]) => reason));
});

test('a client that spends its failure budget gets 429 without a password check; known-good credentials still pass', async () => {
  let now = 1_000_000;
  const failures: Array<[ProxyAuthFailure, string]> = [];
  const auth = await authenticator({ maxFailuresPerMinute: 3, now: () => now, failures });
  assert.deepEqual(await settle(auth.check(basic('datakit:s3cret'), '10.9.9.9')), { ok: true, user: 'datakit' });
  for (let i = 0; i < 3; i++) assert.equal((await settle(auth.check(basic(`datakit:guess${i}`), '10.9.9.9'))).ok, false);
  const limited = auth.check(basic('datakit:guess-not-checked'), '10.9.9.9');
  assert.ok(!(limited instanceof Promise), 'refused at once: no scrypt');
  assert.ok(!limited.ok && limited.error instanceof ProxyAuthRateLimitedError);
  assert.equal(limited.error.statusCode, 429);
  assert.deepEqual(limited.error.responseFields, [['Retry-After', '40']], 'the refused guess is debt: two tokens to refill, 20 s each at 3 a minute');
  assert.deepEqual(auth.check(basic('datakit:s3cret'), '10.9.9.9'), { ok: true, user: 'datakit' }, 'known-good credentials are not refused');
  assert.equal((await settle(auth.check(basic('datakit:wrong'), '10.1.1.1'))).ok, false, 'another client has its own budget');
  assert.equal((await settle(auth.check(basic('datakit:wrong'), '10.1.1.1'))).ok, false);
  const stillChecked = auth.check(basic('datakit:x'), '10.1.1.1');
  assert.ok(stillChecked instanceof Promise, 'the other client still gets checked');
  await stillChecked;
  now += 20_000;
  assert.ok(!(await settle(auth.check(basic('datakit:too-early'), '10.9.9.9'))).ok, 'still paying off the debt');
  now += 60_000;
  const again = await settle(auth.check(basic('datakit:after-wait'), '10.9.9.9'));
  assert.ok(!again.ok && again.reason === 'wrong_password', 'checked again once the budget refilled');
  assert.ok(failures.some(([reason, client]) => reason === 'rate_limited' && client === '10.9.9.9'));
});

test('guesses sent all at once: only as many are checked as the budget holds, the rest 429 at once, and a user of another address is not made to wait behind them', async () => {
  const auth = new ProxyAuthenticator({
    users: [{ name: 'alice', passwordHash: await hashPassword('secret', FAST) }],
    realm: 'r',
    maxFailuresPerMinute: 5,
    verifier: { maxConcurrentHashes: 1, maxWaiting: 8 },
  });
  const attack = Array.from({ length: 40 }, (_, i) => auth.check(basic(`alice:guess-${i}`), '10.6.6.6'));
  const checked = attack.filter((r) => r instanceof Promise).length;
  assert.equal(checked, 5, 'one check per token, taken when the check starts');
  const legit = await settle(auth.check(basic('alice:secret'), '10.7.7.7'));
  assert.deepEqual(legit, { ok: true, user: 'alice' }, 'the shared queue had room: not 503 busy');
  const results = await Promise.all(attack.map(settle));
  assert.equal(results.filter((r) => !r.ok && r.reason === 'rate_limited').length, 35);
  assert.equal(results.filter((r) => !r.ok && r.reason === 'wrong_password').length, 5);
  const after = auth.check(basic('alice:one-more'), '10.6.6.6');
  assert.ok(!(after instanceof Promise) && !after.ok && after.reason === 'rate_limited', 'the budget is spent, not reset by the parallel burst');
});

test('a right password checked for the first time does not spend the budget', async () => {
  const auth = await authenticator({ maxFailuresPerMinute: 1 });
  assert.deepEqual(await settle(auth.check(basic('datakit:s3cret'), '10.8.8.8')), { ok: true, user: 'datakit' });
  const wrong = await settle(auth.check(basic('datakit:wrong'), '10.8.8.8'));
  assert.ok(!wrong.ok && wrong.reason === 'wrong_password', 'the token the success took was given back');
});

test('missing credentials do not spend the budget (every client starts without them)', async () => {
  const auth = await authenticator({ maxFailuresPerMinute: 1 });
  for (let i = 0; i < 5; i++) {
    const result = await settle(auth.check(undefined, '10.2.2.2'));
    assert.ok(!result.ok && result.reason === 'missing');
  }
});

test('too many new credentials at once: 503 busy, not counted against the client', async () => {
  const auth = new ProxyAuthenticator({
    users: [{ name: 'a', passwordHash: await hashPassword('pw', { logN: 12, r: 8, p: 1 }) }],
    realm: 'r',
    maxFailuresPerMinute: 1,
    verifier: { maxConcurrentHashes: 1, maxWaiting: 1 },
  });
  const results = await Promise.all(Array.from({ length: 6 }, (_, i) => settle(auth.check(basic(`a:guess${i}`), `10.3.3.${i}`))));
  const busy = results.filter((r) => !r.ok && r.error instanceof ProxyAuthBusyError);
  assert.ok(busy.length >= 3, `${busy.length} busy`);
  for (const r of busy) assert.ok(!r.ok && r.error.statusCode === 503);
});

test('the failure budget: a bucket per client, refilled over a minute, bounded in the clients it remembers', () => {
  let now = 0;
  const budget = new AuthFailureBudget({ perMinute: 2, maxClients: 2, now: () => now });
  assert.equal(budget.retryAfterSeconds('a'), undefined);
  budget.recordFailure('a');
  assert.equal(budget.retryAfterSeconds('a'), undefined);
  budget.recordFailure('a');
  assert.equal(budget.retryAfterSeconds('a'), 30);
  now += 15_000;
  assert.equal(budget.retryAfterSeconds('a'), 15);
  now += 15_000;
  assert.equal(budget.retryAfterSeconds('a'), undefined);
  budget.recordFailure('b');
  budget.recordFailure('b');
  budget.recordFailure('c');
  budget.recordFailure('c');
  assert.equal(budget.retryAfterSeconds('a'), undefined, 'a was forgotten: at most 2 clients are remembered');
  assert.ok(budget.retryAfterSeconds('c')! > 0);
});

test('a check dropped because its client left is no failure: not reported, and its budget token given back', async () => {
  const failures: Array<[ProxyAuthFailure, string]> = [];
  const auth = new ProxyAuthenticator({
    users: [{ name: 'alice', passwordHash: await hashPassword('secret', { logN: 12, r: 8, p: 1 }) }],
    realm: 'r',
    maxFailuresPerMinute: 1,
    onFailure: (reason, client) => failures.push([reason, client]),
    verifier: { maxConcurrentHashes: 1, maxWaiting: 4 },
  });
  const running = auth.check(basic('alice:guess-running'), '10.4.4.1', { destroyed: false });
  const left = await settle(auth.check(basic('alice:guess'), '10.4.4.2', { destroyed: true }));
  assert.equal(left.ok, false);
  assert.ok(!left.ok && left.reason === 'abandoned');
  await running;
  assert.deepEqual(failures, [['wrong_password', '10.4.4.1']], 'only the check that ran is reported');
  // The client's one token came back: its next guess is checked (wrong_password), not refused unchecked (429).
  const next = await settle(auth.check(basic('alice:guess-again'), '10.4.4.2', { destroyed: false }));
  assert.ok(!next.ok && next.reason === 'wrong_password', JSON.stringify(next));
});
