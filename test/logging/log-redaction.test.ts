/**
 * No credential, token or query ever reaches a log line: the redaction rules as functions, then through a running
 * proxy in verbose mode, grepping everything it logged for the secrets that were sent.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { pathForLog, targetForLog } from '../../src/logging/log-redaction.js';
import { startTestProxy } from '../helpers/test-proxy.js';
import { startHttpOrigin } from '../helpers/origin-servers.js';
import { rawExchange, statusOf } from '../helpers/raw-client.js';

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

const redacted = { fullPaths: false };
const full = { fullPaths: true };

test('targets lose userinfo and queries always, identifier segments unless full paths are asked for', () => {
  assert.equal(targetForLog('http://user:pw@dataway:9528/v1/write/metric?token=tkn_secret', redacted), 'http://dataway:9528/v1/write/metric');
  assert.equal(targetForLog('https://a%40b:p%3Aw@host/x', redacted), 'https://host/x');
  assert.equal(targetForLog('user:pw@openway.guance.com:443', redacted), 'openway.guance.com:443');
  assert.equal(targetForLog('u@v:pw@host:443', redacted), 'host:443');
  // An unencoded / ? or # in the password: the authority would end inside it.
  assert.equal(targetForLog('http://svc:S3cr/etPW@example.com/', redacted), 'http://example.com/');
  assert.equal(targetForLog('http://svc:S3cr?etPW@example.com/', redacted), 'http://example.com/');
  assert.equal(targetForLog('http://svc:S3cr#etPW@example.com/x', redacted), 'http://example.com/x');
  assert.equal(targetForLog('svc:S3cr/etPW@example.com:443', redacted), 'example.com:443');
  // No '@' at all, but not host[:port] either: a placeholder, not what may be a password.
  assert.equal(targetForLog('http://svc:S3cretPW', redacted), 'http://<unparsed>');
  assert.equal(targetForLog('http://svc:S3cr?etPW', redacted), 'http://<unparsed>');
  assert.equal(targetForLog('http://[::1]:8080/x', redacted), 'http://[::1]:8080/x');
  assert.equal(targetForLog('host.example:443', redacted), 'host.example:443');
  assert.equal(targetForLog('/v1/check/token/tkn_0123456789abcdef0123', redacted), '/v1/check/token/:id');
  assert.equal(targetForLog('/v1/check/token/tkn_0123456789abcdef0123', full), '/v1/check/token/tkn_0123456789abcdef0123');
  assert.equal(targetForLog('http://h/v1/users/12345/x?q=1#f', full), 'http://h/v1/users/12345/x');
  assert.equal(targetForLog('http://h/v1/users/12345/x', redacted), 'http://h/v1/users/:id/x');
  assert.equal(targetForLog('*', redacted), '*');
  assert.equal(targetForLog('x'.repeat(1000), redacted).length, 201);
  assert.equal(pathForLog('/a/550e8400-e29b-41d4-a716-446655440000/b?token=x', redacted), '/a/:id/b');
  assert.equal(pathForLog('/a/b?token=x', full), '/a/b');
});

test('a verbose proxy logs none of the credentials, tokens and queries it was sent', async () => {
  const origin = await startHttpOrigin();
  const proxy = await startTestProxy({ verbose: true });
  cleanups.push(() => proxy.stop(100), () => origin.close());
  const secrets = ['hunter2', 'tkn_0a1b2c3d4e5f60718293a4b5c6d7e8f9', 'qsecret', 'c2VjcmV0', 'S3cr', 'etPW', 'Sl4sh'];
  const requests = [
    // Refused: credentials in the URI (logged as rejects), including passwords holding an unencoded / or ?.
    `GET http://alice:hunter2@127.0.0.1:${origin.port}/v1/write/metric?token=qsecret HTTP/1.1\r\nHost: x\r\n\r\n`,
    `GET http://svc:S3cr/etPW@127.0.0.1:${origin.port}/ HTTP/1.1\r\nHost: x\r\n\r\n`,
    `GET http://svc:S3cr?etPW@127.0.0.1:${origin.port}/ HTTP/1.1\r\nHost: x\r\n\r\n`,
    `GET http://svc:Sl4sh HTTP/1.1\r\nHost: x\r\n\r\n`,
    `CONNECT alice:hunter2@127.0.0.1:${origin.port} HTTP/1.1\r\nHost: x\r\n\r\n`,
    // Served: a token in the path, a query, a Proxy-Authorization and an Authorization header.
    `GET http://127.0.0.1:${origin.port}/v1/check/token/tkn_0a1b2c3d4e5f60718293a4b5c6d7e8f9?token=qsecret HTTP/1.1\r\n` +
      `Host: x\r\nProxy-Authorization: Basic c2VjcmV0\r\nAuthorization: Basic c2VjcmV0\r\nConnection: close\r\n\r\n`,
  ];
  const statuses = [];
  for (const bytes of requests) statuses.push(statusOf((await rawExchange(proxy.port, bytes)).text));
  assert.deepEqual(statuses, [400, 400, 400, 400, 400, 200]);
  await proxy.stop(100);
  const logged = JSON.stringify(proxy.logs);
  for (const secret of secrets) assert.ok(!logged.includes(secret), `"${secret}" was logged: ${logged}`);
  assert.ok(logged.includes('/v1/check/token/:id'), 'the served request is logged, redacted');
  assert.ok(logged.includes(`127.0.0.1:${origin.port}`), 'the refused ones too, without their userinfo');
});
