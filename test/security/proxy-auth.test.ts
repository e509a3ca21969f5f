/**
 * Issue 10's proof for proxy authentication, end to end: curl (`-x http://user:pass@...`, and `http_proxy=` in the
 * environment as DataKit users write it), curl through a CONNECT tunnel, and a Go-style raw client (Go's Transport
 * sends Proxy-Authorization on CONNECT and on every plain request). Missing, wrong, malformed, non-ASCII and huge
 * credentials are refused (407 with the challenge, or 431 for a head over the limit); failures are counted and a
 * client that keeps failing gets 429; Proxy-Authorization never reaches an origin and no secret reaches the log.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { hashPassword } from '../../src/auth/password-hash.js';
import { curl } from '../helpers/curl.js';
import { parseResponses } from '../helpers/http-transcript.js';
import { sample } from '../helpers/metrics-text.js';
import { startHttpOrigin, type EchoReply, type OriginServer } from '../helpers/origin-servers.js';
import { readUntil } from '../helpers/raw-client.js';
import { startTestProxy, type TestProxy } from '../helpers/test-proxy.js';

/** Cheap scrypt parameters: the hash format and the verifier are the production ones. */
const FAST = { logN: 4, r: 8, p: 1 };
const PASSWORD = 's3cret-Pa55';
const CREDENTIALS = Buffer.from(`datakit:${PASSWORD}`).toString('base64');
const WRONG = 'wr0ng-Pa55';

let origin: OriginServer;
let proxy: TestProxy;
/** Loopback addresses as distinct clients: each test's failures spend its own budget. */
let nextClient = 10;
const freshClient = (): string => `127.0.0.${nextClient++}`;

before(async () => {
  origin = await startHttpOrigin();
  const passwordHash = await hashPassword(PASSWORD, FAST);
  proxy = await startTestProxy({ verbose: true }, (config) => {
    config.proxyAuth.users = [{ name: 'datakit', passwordHash }];
  });
});
after(async () => {
  await proxy.stop(100);
  await origin.close();
});

/** Sends `bytes` from `localAddress` and collects what comes back until the proxy closes or `timeoutMs`. */
async function raw(bytes: string | Buffer, localAddress = freshClient(), timeoutMs = 2000): Promise<string> {
  const socket = net.connect({ port: proxy.port, host: '127.0.0.1', localAddress });
  await once(socket, 'connect');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => undefined);
  socket.write(bytes);
  await Promise.race([once(socket, 'close'), new Promise((resolve) => setTimeout(resolve, timeoutMs))]);
  socket.destroy();
  return Buffer.concat(chunks).toString('latin1');
}

const plainGet = (field: string | Buffer): Buffer =>
  Buffer.concat([Buffer.from(`GET http://127.0.0.1:${origin.port}/v1/write/metric HTTP/1.1\r\nHost: x\r\n`), Buffer.from(field), Buffer.from('Connection: close\r\n\r\n')]);

describe('curl', () => {
  const url = (): string => `http://127.0.0.1:${origin.port}/v1/write/metric`;

  test('-x http://user:pass@proxy: 200, and the origin sees no Proxy-Authorization', async () => {
    const result = await curl(['-x', `http://datakit:${PASSWORD}@127.0.0.1:${proxy.port}`, url()]);
    assert.equal(result.exitCode, 0, result.stderr);
    const reply = JSON.parse(result.stdout) as EchoReply;
    assert.equal(reply.headers['proxy-authorization'], undefined);
  });

  test('http_proxy=http://user:pass@proxy in the environment (DataKit style): 200', async () => {
    const result = await curl(['-o', '/dev/null', '-w', '%{http_code}', url()], 15_000, { http_proxy: `http://datakit:${PASSWORD}@127.0.0.1:${proxy.port}` });
    assert.equal(result.stdout, '200', result.stderr);
  });

  test('through a CONNECT tunnel (--proxytunnel): the CONNECT is authenticated', async () => {
    const result = await curl(['-p', '-x', `http://datakit:${PASSWORD}@127.0.0.1:${proxy.port}`, '-o', '/dev/null', '-w', '%{http_connect} %{http_code}', url()]);
    assert.equal(result.stdout, '200 200', result.stderr);
  });

  test('no credentials: 407 with a Basic challenge; a wrong password: 407', async () => {
    const missing = await curl(['-x', `http://127.0.0.1:${proxy.port}`, '-D', '-', '-o', '/dev/null', url()]);
    assert.match(missing.stdout, /^HTTP\/1\.1 407 /);
    assert.match(missing.stdout, /\r\nProxy-Authenticate: Basic realm="egress-proxy", charset="UTF-8"\r\n/i);
    const wrong = await curl(['-x', `http://datakit:${WRONG}@127.0.0.1:${proxy.port}`, '-o', '/dev/null', '-w', '%{http_code}', url()]);
    assert.equal(wrong.stdout, '407');
    const tunnel = await curl(['-p', '-x', `http://datakit:${WRONG}@127.0.0.1:${proxy.port}`, '-o', '/dev/null', '-w', '%{http_connect}', url()]);
    assert.equal(tunnel.stdout, '407');
  });
});

describe('a Go-style client', () => {
  test('Proxy-Authorization on the CONNECT, then bytes through the tunnel', async () => {
    const socket = net.connect({ port: proxy.port, host: '127.0.0.1' });
    await once(socket, 'connect');
    socket.write(`CONNECT 127.0.0.1:${origin.port} HTTP/1.1\r\nHost: 127.0.0.1:${origin.port}\r\nUser-Agent: Go-http-client/1.1\r\nProxy-Authorization: Basic ${CREDENTIALS}\r\n\r\n`);
    assert.match(await readUntil(socket, (text) => text.includes('\r\n\r\n')), /^HTTP\/1\.1 200 /);
    socket.write(`GET /v1/write/metric HTTP/1.1\r\nHost: 127.0.0.1:${origin.port}\r\nConnection: close\r\n\r\n`);
    const answer = await readUntil(socket, (text) => text.includes('"url"'));
    assert.match(answer, /HTTP\/1\.1 200 [^]*"\/v1\/write\/metric"/);
    socket.destroy();
  });

  test('Proxy-Authorization on every plain request of a keep-alive connection', async () => {
    const socket = net.connect({ port: proxy.port, host: '127.0.0.1' });
    await once(socket, 'connect');
    const request = `POST http://127.0.0.1:${origin.port}/v1/write/logging HTTP/1.1\r\nHost: 127.0.0.1:${origin.port}\r\nUser-Agent: Go-http-client/1.1\r\nContent-Length: 2\r\nProxy-Authorization: Basic ${CREDENTIALS}\r\n\r\nok`;
    socket.write(request + request);
    const text = await readUntil(socket, (t) => parseResponses(t).responses.length === 2);
    const replies = parseResponses(text).responses;
    assert.deepEqual(replies.map((r) => r.status), [200, 200]);
    for (const reply of replies) assert.equal((JSON.parse(reply.body) as EchoReply).headers['proxy-authorization'], undefined);
    socket.destroy();
  });
});

describe('bad credentials', () => {
  const cases: Array<[string, string | Buffer]> = [
    ['missing', ''],
    ['wrong password', `Proxy-Authorization: Basic ${Buffer.from(`datakit:${WRONG}`).toString('base64')}\r\n`],
    ['unknown user', `Proxy-Authorization: Basic ${Buffer.from(`mallory:${PASSWORD}`).toString('base64')}\r\n`],
    ['not base64', 'Proxy-Authorization: Basic !!!not-base64!!!\r\n'],
    ['no colon', `Proxy-Authorization: Basic ${Buffer.from('datakit').toString('base64')}\r\n`],
    ['another scheme', `Proxy-Authorization: Bearer ${CREDENTIALS}\r\n`],
    ['two fields', `Proxy-Authorization: Basic ${CREDENTIALS}\r\nProxy-Authorization: Basic ${CREDENTIALS}\r\n`],
    ['non-ASCII bytes in the field', Buffer.concat([Buffer.from('Proxy-Authorization: Basic '), Buffer.from([0xe9, 0xff, 0xc3, 0xa9]), Buffer.from('\r\n')])],
    ['non-UTF-8 credentials', `Proxy-Authorization: Basic ${Buffer.concat([Buffer.from('datakit:'), Buffer.from([0xff, 0xfe])]).toString('base64')}\r\n`],
  ];
  for (const [what, field] of cases) {
    test(`${what}: 407 with the challenge, on a plain request and on a CONNECT`, async () => {
      const plain = await raw(plainGet(field));
      assert.match(plain, /^HTTP\/1\.1 407 [^]*\r\nProxy-Authenticate: Basic realm="egress-proxy", charset="UTF-8"\r\n/, plain);
      const connect = await raw(Buffer.concat([Buffer.from(`CONNECT 127.0.0.1:${origin.port} HTTP/1.1\r\nHost: x\r\n`), Buffer.from(field), Buffer.from('\r\n')]));
      assert.match(connect, /^HTTP\/1\.1 407 [^]*Proxy-Authenticate: Basic/, connect);
    });
  }

  test('a huge field: refused (431, the head is over the limit), never checked, the proxy serves on', async () => {
    const huge = `Proxy-Authorization: Basic ${'A'.repeat(100_000)}\r\n`;
    const answer = await raw(plainGet(huge));
    assert.match(answer, /^HTTP\/1\.1 431 /, answer.slice(0, 200));
    const ok = await curl(['-x', `http://datakit:${PASSWORD}@127.0.0.1:${proxy.port}`, '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${origin.port}/`]);
    assert.equal(ok.stdout, '200');
  });

  test('a client that keeps failing gets 429 with Retry-After, unchecked; right credentials from it still pass', async () => {
    const client = freshClient();
    const wrong = `Proxy-Authorization: Basic ${Buffer.from(`datakit:${WRONG}`).toString('base64')}\r\n`;
    const statuses: number[] = [];
    for (let i = 0; i < 14; i++) statuses.push(Number(/^HTTP\/1\.1 (\d+)/.exec(await raw(plainGet(wrong), client))?.[1]));
    assert.deepEqual(statuses.slice(0, 10), Array(10).fill(407));
    assert.deepEqual(statuses.slice(10), [429, 429, 429, 429]);
    assert.match(await raw(plainGet(wrong), client), /^HTTP\/1\.1 429 [^]*\r\nRetry-After: \d+\r\n/);
    // Credentials verified before are known: the budget does not lock the real user out.
    assert.match(await raw(plainGet(`Proxy-Authorization: Basic ${CREDENTIALS}\r\n`), client), /^HTTP\/1\.1 200 /);
    // Another client is not affected.
    assert.match(await raw(plainGet(wrong)), /^HTTP\/1\.1 407 /);
  });
});

test('failures are counted by reason, and no password, credential or field value is in the log', async () => {
  const metrics = await proxy.metricsText();
  for (const reason of ['missing', 'wrong_password', 'rate_limited']) {
    assert.ok((sample(metrics, `egress_proxy_proxy_auth_failures_total{reason="${reason}"}`) ?? 0) > 0, `${reason}: ${metrics.split('\n').filter((l) => l.includes('auth_failures')).join('\n')}`);
  }
  const logged = JSON.stringify(proxy.logs);
  for (const secret of [PASSWORD, WRONG, CREDENTIALS, Buffer.from(`datakit:${WRONG}`).toString('base64'), 'Proxy-Authorization', 'proxy-authorization']) {
    assert.ok(!logged.includes(secret), `"${secret}" was logged`);
  }
  assert.ok(logged.includes('/v1/write/metric'), 'the requests were logged (verbose)');
});

describe('guesses sent in parallel (real scrypt cost)', () => {
  test('one address sending 80 guesses at once has only its budget checked; a user at another address is not refused busy', async () => {
    const passwordHash = await hashPassword(PASSWORD, { logN: 14, r: 8, p: 1 });
    const slow = await startTestProxy({}, (config) => {
      config.proxyAuth.users = [{ name: 'datakit', passwordHash }];
    });
    try {
      const guess = (localAddress: string, password: string): Promise<string> =>
        new Promise((resolve) => {
          const socket = net.connect({ port: slow.port, host: '127.0.0.1', localAddress });
          let text = '';
          socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
          socket.on('error', () => undefined);
          socket.on('close', () => resolve(text.split('\r\n')[0] ?? ''));
          socket.setTimeout(20_000, () => socket.destroy());
          socket.on('connect', () => {
            const field = Buffer.from(`datakit:${password}`).toString('base64');
            socket.write(`GET http://127.0.0.1:${origin.port}/ HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Basic ${field}\r\nConnection: close\r\n\r\n`);
          });
        });
      const attack = Array.from({ length: 80 }, (_, i) => guess('127.0.0.200', `${WRONG}-${i}`));
      await new Promise((resolve) => setTimeout(resolve, 200));
      const legit = await guess('127.0.0.201', PASSWORD);
      assert.match(legit, /^HTTP\/1\.1 200 /, `the user at another address is served (got ${legit})`);
      const answers = await Promise.all(attack);
      assert.equal(answers.filter((a) => /^HTTP\/1\.1 407 /.test(a)).length, 10, 'the default budget of 10 checks');
      assert.equal(answers.filter((a) => /^HTTP\/1\.1 429 /.test(a)).length, 70, answers.join('|'));
    } finally {
      await slow.stop(100);
    }
  });
});
