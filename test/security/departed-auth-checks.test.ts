/**
 * Issue 10's left-out: password checks queued for clients that have gone. New credentials cost a scrypt check,
 * run two at a time with at most 64 waiting; one guess per address fits every address's failure budget, so many
 * addresses could each send a guess and leave, keeping the shared queue full of checks nobody waits for and every
 * new login answered 503. A check whose clients have all disconnected is dropped unrun: not a failure, not counted,
 * its place in the queue given up.
 *
 * Real sockets from distinct loopback addresses (plain requests and CONNECTs); the password check is the real scrypt
 * one, wrapped to record each check that runs and to hold the first two (the running ones) until the test lets go,
 * so the queue's state is known at every step.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { hashPassword, verifyPassword, type PasswordHash } from '../../src/auth/password-hash.js';
import { sample } from '../helpers/metrics-text.js';
import { startHttpOrigin, type OriginServer } from '../helpers/origin-servers.js';
import { startTestProxy, type TestProxy } from '../helpers/test-proxy.js';

const FAST = { logN: 4, r: 8, p: 1 };
const PASSWORD = 's3cret-Pa55';
/** The verifier's defaults: two checks at once, 64 waiting. */
const RUNNING = 2;
const QUEUE = 64;

let origin: OriginServer;
let proxy: TestProxy;
/** The password of every check that ran, in order. */
const ran: string[] = [];
let letGo!: () => void;
const held = new Promise<void>((resolve) => (letGo = resolve));

before(async () => {
  origin = await startHttpOrigin();
  const passwordHash = await hashPassword(PASSWORD, FAST);
  proxy = await startTestProxy(
    {},
    (config) => {
      // Budget enough for the test's own probes from one address; each filler uses an address of its own anyway.
      config.proxyAuth.users = [{ name: 'datakit', passwordHash }];
    },
    {
      verifyPassword: async (password: string, stored: PasswordHash) => {
        ran.push(password);
        if (ran.length <= RUNNING) await held;
        return verifyPassword(password, stored);
      },
    },
  );
});
after(async () => {
  letGo();
  await proxy.stop(100);
  await origin.close();
});

const field = (password: string): string => `Proxy-Authorization: Basic ${Buffer.from(`datakit:${password}`).toString('base64')}\r\n`;

/** A request with credentials from its own address; resolves with the socket and what it has received so far. */
async function send(password: string, localAddress: string, connect: boolean): Promise<{ socket: net.Socket; received: () => string }> {
  const socket = net.connect({ port: proxy.port, host: '127.0.0.1', localAddress });
  await once(socket, 'connect');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => undefined);
  const target = `127.0.0.1:${origin.port}`;
  socket.write(connect ? `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n${field(password)}\r\n` : `GET http://${target}/v1/write/metric HTTP/1.1\r\nHost: ${target}\r\n${field(password)}\r\n`);
  return { socket, received: () => Buffer.concat(chunks).toString('latin1') };
}

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await delay(10);
  }
}

const metric = async (series: string): Promise<number> => sample(await proxy.metricsText(), series) ?? 0;

test('checks queued for clients that left are dropped unrun: a real login is then queued and answered, not 503', async () => {
  // Two guesses take the two running slots and stay there until the test lets go.
  const running = [await send('guess-running-0', '127.0.5.1', false), await send('guess-running-1', '127.0.5.2', true)];
  await until(() => ran.length === RUNNING, 'the two running checks');

  // Guesses from addresses of their own, half of them CONNECTs, until one is answered 503: the queue is full.
  const fillers: Array<{ socket: net.Socket; received: () => string }> = [];
  let full = false;
  for (let i = 0; i < QUEUE + 20 && !full; i++) {
    const filler = await send(`guess-queued-${i}`, `127.0.6.${i + 1}`, i % 2 === 1);
    fillers.push(filler);
    if (i + 1 < QUEUE) continue;
    // From the 64th on, give the proxy a moment to answer: a queued check is answered nothing yet.
    await delay(50);
    full = fillers.some((f) => f.received().startsWith('HTTP/1.1 503 '));
  }
  assert.ok(full, 'the shared queue of checks filled up (503 busy)');
  assert.equal(ran.length, RUNNING, 'the queued checks have not run');

  // Every filler leaves; the proxy sees each connection close.
  for (const filler of fillers) filler.socket.destroy();
  await until(async () => (await metric('egress_proxy_client_connections_active')) === running.length, 'the fillers to be gone');

  // A real user's first request: queued behind the two running checks (not 503), answered once they finish.
  const login = await send(PASSWORD, '127.0.7.1', false);
  await delay(100);
  assert.equal(login.received(), '', 'queued, not refused as busy');
  letGo();
  await until(() => login.received().includes('\r\n\r\n'), 'the login to be answered', 10_000);
  assert.match(login.received(), /^HTTP\/1\.1 200 /);
  assert.deepEqual(ran, ['guess-running-0', 'guess-running-1', PASSWORD], 'the departed clients’ checks never ran');

  // Dropped checks are no one's failure: only the two guesses that ran count as wrong passwords.
  await until(() => running.every((r) => r.received().startsWith('HTTP/1.1 407 ')), 'the running guesses to be answered 407');
  assert.equal(await metric('egress_proxy_proxy_auth_failures_total{reason="wrong_password"}'), RUNNING);
  for (const r of [...running, login]) r.socket.destroy();
});
