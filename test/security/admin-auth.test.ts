/**
 * The admin listener's Basic authentication under attack, end to end over real sockets: curl and raw clients, each
 * from its own loopback address (127.0.0.N) so each has its own failure budget. Missing, wrong, malformed,
 * non-ASCII and oversized credentials are refused (401 with the challenge, or 431 for a head over Node's limit) and
 * counted by reason in egress_proxy_admin_auth_failures_total; a client past `admin.max_failures_per_minute` gets
 * 429 with Retry-After on every protected path, unchecked, while another client (and the real user's known
 * credentials) are unaffected; failures are logged at most once a minute and no secret reaches the log.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { hashPassword } from '../../src/auth/password-hash.js';
import { curl } from '../helpers/curl.js';
import { sample } from '../helpers/metrics-text.js';
import { startTestProxy, type TestProxy } from '../helpers/test-proxy.js';

/** Cheap scrypt parameters: the hash format and the verifier are the production ones. */
const FAST = { logN: 4, r: 8, p: 1 };
const USER = 'ops';
const PASSWORD = 'adm1n-Pa55';
const WRONG = 'gue55-Pa55';
// A user whose name and password are not ASCII: Basic carries UTF-8 (RFC 7617 §2.1), and so must we.
const UNICODE_USER = 'Jos\u00e9';
const UNICODE_PASSWORD = 'p\u00e4ssw\u00f6rd-\u00df';
const BUDGET = 5;
const PROTECTED = ['/', '/dashboard.js', '/dashboard.json', '/events', '/metrics', '/no-such-page'];
const CHALLENGE = 'WWW-Authenticate: Basic realm="egress-proxy admin", charset="UTF-8"';

const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;

let proxy: TestProxy;
let adminPort: number;
/** Loopback addresses as distinct clients. */
let nextClient = 20;
const freshClient = (): string => `127.0.0.${nextClient++}`;
/** The address the scrapes below come from; it never fails. */
const SCRAPER = '127.0.0.2';

before(async () => {
  const users = [
    { name: USER, passwordHash: await hashPassword(PASSWORD, FAST) },
    { name: UNICODE_USER, passwordHash: await hashPassword(UNICODE_PASSWORD, FAST) },
  ];
  proxy = await startTestProxy({ verbose: true }, (config) => {
    config.admin.users = users;
    config.admin.maxFailuresPerMinute = BUDGET;
  });
  adminPort = Number(new URL(proxy.adminUrl).port);
});
after(async () => {
  await proxy.stop(100);
});

/** One request on its own connection from `client`; what came back once the listener closed it (or after 2 s). */
async function raw(path: string, fields: string | Buffer, client: string): Promise<string> {
  const socket = net.connect({ port: adminPort, host: '127.0.0.1', localAddress: client });
  await once(socket, 'connect');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => undefined);
  socket.write(Buffer.concat([Buffer.from(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n`), Buffer.from(fields), Buffer.from('Connection: close\r\n\r\n')]));
  // Not `once(socket, 'close')`, which rejects on a reset: a listener that refuses a huge head may reset us.
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 2000);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  socket.destroy();
  return Buffer.concat(chunks).toString('latin1');
}

const statusOf = (reply: string): number => Number(/^HTTP\/1\.1 (\d{3}) /.exec(reply)?.[1]);

/** curl from `client`, printing the status code. */
async function curlStatus(path: string, client: string, credentials?: string): Promise<string> {
  const args = ['--interface', client, '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '5'];
  if (credentials !== undefined) args.push('-u', credentials);
  // The stream never ends by itself: ask only for its head.
  if (path === '/events') args.push('-r', '0-0');
  const result = await curl([...args, `${proxy.adminUrl}${path}`]);
  return result.stdout;
}

/** The failure counter as the listener serves it. */
async function failures(): Promise<(reason: string) => number | undefined> {
  const scrape = await curl(['--interface', SCRAPER, '-u', `${USER}:${PASSWORD}`, `${proxy.adminUrl}/metrics`]);
  assert.equal(scrape.exitCode, 0, scrape.stderr);
  return (reason) => sample(scrape.stdout, `egress_proxy_admin_auth_failures_total{reason="${reason}"}`);
}

describe('curl', () => {
  test('no credentials: 401 with a UTF-8 Basic challenge on every protected path, the probes stay open', async () => {
    const client = freshClient();
    for (const path of PROTECTED) {
      const reply = await curl(['--interface', client, '-D', '-', '-o', '/dev/null', '--max-time', '5', `${proxy.adminUrl}${path}`]);
      assert.match(reply.stdout, /^HTTP\/1\.1 401 /, path);
      assert.ok(reply.stdout.includes(`\r\n${CHALLENGE}\r\n`), `${path}: ${reply.stdout}`);
    }
    for (const path of ['/healthz', '/readyz']) assert.equal(await curlStatus(path, client), '200', path);
    // Missing credentials are how every browser starts: counted, but they spend no budget, and the right
    // credentials, ASCII or not, open every protected path.
    for (const path of PROTECTED.filter((p) => p !== '/no-such-page')) {
      assert.equal(await curlStatus(path, client, `${USER}:${PASSWORD}`), '200', path);
    }
    assert.equal(await curlStatus('/dashboard.json', client, `${UNICODE_USER}:${UNICODE_PASSWORD}`), '200');
    const counted = await failures();
    assert.ok((counted('missing') ?? 0) >= PROTECTED.length);
    // Every reason is exported from the start, so `increase()` sees a first failure.
    for (const reason of ['wrong_password', 'unknown_user', 'rate_limited', 'busy']) assert.notEqual(counted(reason), undefined, reason);
  });

  test('a wrong password and an unknown user: 401, each counted by its reason', async () => {
    const before = await failures();
    const client = freshClient();
    assert.equal(await curlStatus('/metrics', client, `${USER}:${WRONG}`), '401');
    assert.equal(await curlStatus('/', client, `mallory:${PASSWORD}`), '401');
    // The password of one user is not the other's.
    assert.equal(await curlStatus('/', client, `${UNICODE_USER}:${PASSWORD}`), '401');
    const now = await failures();
    assert.equal(now('wrong_password')! - before('wrong_password')!, 2);
    assert.equal(now('unknown_user')! - before('unknown_user')!, 1);
  });
});

describe('bad credentials from a raw client', () => {
  const cases: Array<[string, string | Buffer, string]> = [
    ['not base64', 'Authorization: Basic !!!not-base64!!!\r\n', 'malformed'],
    ['no colon', `Authorization: Basic ${Buffer.from(USER).toString('base64')}\r\n`, 'malformed'],
    ['padding missing', `Authorization: ${basic(USER, PASSWORD).replace(/=+$/, '')}\r\n`, 'malformed'],
    ['another scheme', `Authorization: Bearer ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}\r\n`, 'not_basic'],
    ['non-ASCII bytes in the field', Buffer.concat([Buffer.from('Authorization: Basic '), Buffer.from([0xe9, 0xff, 0xc3, 0xa9]), Buffer.from('\r\n')]), 'malformed'],
    ['non-UTF-8 credentials', `Authorization: Basic ${Buffer.concat([Buffer.from(`${USER}:`), Buffer.from([0xff, 0xfe])]).toString('base64')}\r\n`, 'not_utf8'],
    ['a control character', `Authorization: ${basic(USER, `${PASSWORD}\u0007`)}\r\n`, 'control_character'],
    ['over 4 KiB, under the head limit', `Authorization: Basic ${'QUFB'.repeat(1500)}\r\n`, 'too_long'],
    // Node keeps only the first of two Authorization fields: the right one first must not let the request in.
    ['two fields, the right one first', `Authorization: ${basic(USER, PASSWORD)}\r\nAuthorization: ${basic(USER, WRONG)}\r\n`, 'malformed'],
  ];
  for (const [what, field, reason] of cases) {
    test(`${what}: 401 with the challenge, counted as ${reason}`, async () => {
      const before = (await failures())(reason)!;
      const reply = await raw('/metrics', field, freshClient());
      assert.equal(statusOf(reply), 401, reply.slice(0, 300));
      assert.ok(reply.includes(`\r\n${CHALLENGE}\r\n`), reply.slice(0, 300));
      assert.ok(!reply.includes('egress_proxy_build_info'), 'no metrics in a refusal');
      assert.equal((await failures())(reason), before + 1);
    });
  }

  test('a head over the limit: 431 before any check (nothing counted, no budget spent), the listener serves on', async () => {
    const before = await failures();
    const client = freshClient();
    for (let i = 0; i < BUDGET + 2; i++) {
      // Over Node's 16 KiB head limit, small enough to be sent whole before the answer (no reset losing it).
      const reply = await raw('/metrics', `Authorization: Basic ${'A'.repeat(20_000)}\r\n`, client);
      assert.equal(statusOf(reply), 431, reply.slice(0, 200));
    }
    const now = await failures();
    for (const reason of ['malformed', 'too_long', 'rate_limited']) assert.equal(now(reason), before(reason), reason);
    assert.equal(await curlStatus('/metrics', client, `${USER}:${PASSWORD}`), '200');
    // The client's budget is whole: as many wrong passwords as it allows, then 429.
    const statuses: string[] = [];
    for (let i = 0; i <= BUDGET; i++) statuses.push(await curlStatus('/metrics', client, `${USER}:${WRONG}-${i}`));
    assert.deepEqual(statuses, [...Array<string>(BUDGET).fill('401'), '429']);
  });
});

test('past the budget: 429 with Retry-After on every protected path, unchecked; another client is unaffected', async () => {
  const attacker = freshClient();
  const wrong = `Authorization: ${basic(USER, WRONG)}\r\n`;
  // The real user's credentials, verified from the attacker's address before the attack (a shared NAT).
  assert.equal(await curlStatus('/metrics', attacker, `${USER}:${PASSWORD}`), '200');
  const statuses: number[] = [];
  for (let i = 0; i < BUDGET + 3; i++) statuses.push(statusOf(await raw('/metrics', wrong, attacker)));
  assert.deepEqual(statuses, [...Array<number>(BUDGET).fill(401), 429, 429, 429]);
  for (const path of PROTECTED) {
    const reply = await raw(path, wrong, attacker);
    assert.equal(statusOf(reply), 429, `${path}: ${reply.slice(0, 200)}`);
    // Each guess past the budget is debt (failure-budget.ts): the wait grows, bounded by a minute's worth of debt
    // on top of the time to earn one token back.
    const retryAfter = Number(/\r\nRetry-After: (\d+)\r\n/.exec(reply)?.[1]);
    assert.ok(retryAfter >= 1 && retryAfter <= 120, `${path}: Retry-After ${retryAfter}`);
  }
  // Unchecked: credentials never seen before are not verified (no scrypt work for the guesser).
  assert.equal(statusOf(await raw('/metrics', `Authorization: ${basic(USER, 'never-tried')}\r\n`, attacker)), 429);
  // Credentials already verified right still pass, so the budget cannot lock the real user out.
  assert.equal(await curlStatus('/dashboard.json', attacker, `${USER}:${PASSWORD}`), '200');
  // The probes are not behind authentication, so not behind its budget either.
  assert.equal(await curlStatus('/healthz', attacker), '200');
  // Another client: its own budget, a known-good user served, a wrong password a plain 401.
  const other = freshClient();
  assert.equal(await curlStatus('/metrics', other, `${UNICODE_USER}:${UNICODE_PASSWORD}`), '200');
  assert.equal(statusOf(await raw('/metrics', wrong, other)), 401);
  assert.ok(((await failures())('rate_limited') ?? 0) >= 3 + PROTECTED.length + 1);
});

test('failures are logged rate-limited, with the client and the kind, and no secret is in the log', async () => {
  const lines = proxy.logs.filter((line) => typeof line['reason'] === 'string' && line['reason'].startsWith('admin_auth'));
  const failed = lines.filter((line) => line['reason'] === 'admin_auth_failed');
  const limited = lines.filter((line) => line['reason'] === 'admin_auth_rate_limited');
  // Dozens of failures above, within a minute: one line each.
  assert.equal(failed.length, 1, JSON.stringify(lines));
  assert.equal(limited.length, 1, JSON.stringify(lines));
  assert.match(String(failed[0]!['client']), /^127\.0\.0\.\d+$/);
  assert.equal(typeof failed[0]!['failure'], 'string');
  assert.match(String(limited[0]!['client']), /^127\.0\.0\.\d+$/);
  const metrics = await curl(['--interface', SCRAPER, '-u', `${USER}:${PASSWORD}`, `${proxy.adminUrl}/metrics`]);
  assert.ok((sample(metrics.stdout, 'egress_proxy_log_lines_suppressed_total{reason="admin_auth_failed"}') ?? 0) > 10);
  const logged = JSON.stringify(proxy.logs);
  const secrets = [
    PASSWORD,
    WRONG,
    UNICODE_PASSWORD,
    'mallory',
    basic(USER, PASSWORD).slice(6),
    basic(USER, WRONG).slice(6),
    basic(UNICODE_USER, UNICODE_PASSWORD).slice(6),
    '!!!not-base64!!!',
    'QUFBQUFB',
    'Authorization',
    'authorization',
  ];
  for (const secret of secrets) assert.ok(!logged.includes(secret), `"${secret}" was logged`);
  // The proxy port's own counter is not where admin failures go.
  assert.equal(sample(metrics.stdout, 'egress_proxy_proxy_auth_failures_total{reason="wrong_password"}') ?? 0, 0);
});
