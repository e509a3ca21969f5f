/**
 * The one upstream dialer (src/relay/upstream-dialer.ts): resolve, check every address, connect to an address that
 * passed (never to the name again), TLS on top for https origins. The resolver and the connect function are
 * injected here the way a test of the whole proxy injects them: names map to loopback, and the connect function
 * refuses anything but loopback, so nothing here can reach another machine.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import net, { type LookupFunction } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { LoopDetectedError } from '../../src/errors.js';
import { UpstreamDialer, type ConnectFunction, type DialTarget } from '../../src/relay/upstream-dialer.js';
import { createUpstreamTls } from '../../src/relay/upstream-tls.js';
import { closedPort, startHttpsOrigin, startTcpServer } from '../helpers/origin-servers.js';
import { createTestPki } from '../helpers/test-pki.js';
import { startTestProxy } from '../helpers/test-proxy.js';
import { openTunnel, readUntil } from '../helpers/raw-client.js';

/** A resolver answering from a table, and recording what it was asked. */
function tableLookup(table: Record<string, Array<{ address: string; family: number }>>, asked: string[] = []): LookupFunction {
  return (hostname, _options, callback) => {
    asked.push(hostname);
    const answer = table[hostname];
    process.nextTick(() => {
      if (answer === undefined) callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), []);
      else callback(null, answer);
    });
  };
}

/** net.connect for loopback addresses only, recording the addresses it was given. */
function loopbackOnly(dialled: string[]): ConnectFunction {
  return (options) => {
    dialled.push(options.host);
    if (options.host !== '127.0.0.1' && options.host !== '::1') throw new Error(`refusing to connect to ${options.host} from a test`);
    return net.connect(options);
  };
}

const noTls = { secureContext: tls.createSecureContext(), rejectUnauthorized: true };

function dial(dialer: UpstreamDialer, target: DialTarget): Promise<{ err: Error | undefined; socket: net.Socket | undefined }> {
  return new Promise((resolve) => dialer.dial(target, (err, socket) => resolve({ err, socket })));
}

test('a name is resolved once, every address checked, and the connection made to an address that passed, never to the name', async () => {
  const server = await startTcpServer();
  try {
    const asked: string[] = [];
    const dialled: string[] = [];
    const checked: string[] = [];
    const dialer = new UpstreamDialer({
      lookup: tableLookup({ 'ingest.test': [{ address: '10.9.9.9', family: 4 }, { address: '127.0.0.1', family: 4 }] }, asked),
      connect: loopbackOnly(dialled),
      upstreamTls: noTls,
      // The destination policy: here, nothing outside loopback.
      checkAddress: (address) => {
        checked.push(address);
        return address.startsWith('127.') ? undefined : new LoopDetectedError();
      },
    });
    const { err, socket } = await dial(dialer, { host: 'ingest.test', port: server.port, authority: `ingest.test:${server.port}`, tls: false });
    assert.equal(err, undefined);
    assert.ok(socket);
    socket.destroy();
    assert.deepEqual(asked, ['ingest.test']);
    assert.deepEqual(checked, ['10.9.9.9', '127.0.0.1']);
    assert.deepEqual(dialled, ['127.0.0.1'], 'connected to the address that passed, by address');
  } finally {
    await server.close();
  }
});

test('a name whose every address is refused is not dialled: the refusal is the answer', async () => {
  const dialled: string[] = [];
  const dialer = new UpstreamDialer({
    lookup: tableLookup({ 'self.test': [{ address: '127.0.0.1', family: 4 }] }),
    connect: loopbackOnly(dialled),
    upstreamTls: noTls,
    checkAddress: () => new LoopDetectedError(),
  });
  const { err, socket } = await dial(dialer, { host: 'self.test', port: 80, authority: 'self.test:80', tls: false });
  assert.ok(err instanceof LoopDetectedError);
  assert.equal(socket, undefined);
  assert.deepEqual(dialled, []);
});

test('an IP literal is not resolved; a refused address gives way to the next one; DNS failures come through', async () => {
  const server = await startTcpServer();
  const refused = await closedPort();
  try {
    const asked: string[] = [];
    const dialled: string[] = [];
    const dialer = new UpstreamDialer({
      lookup: tableLookup({ 'two.test': [{ address: '127.0.0.1', family: 4 }] }, asked),
      connect: (options) => loopbackOnly(dialled)({ ...options, port: dialled.length === 0 ? refused : server.port }),
      upstreamTls: noTls,
      checkAddress: () => undefined,
    });
    const literal = await dial(dialer, { host: '127.0.0.1', port: server.port, authority: `127.0.0.1:${server.port}`, tls: false });
    literal.socket?.destroy();
    assert.deepEqual(asked, [], 'no lookup for an address');
    assert.equal(literal.err?.message.includes('ECONNREFUSED') ?? false, true, 'one address only, and it refused');

    const twice = new UpstreamDialer({
      lookup: tableLookup({ 'two.test': [{ address: '127.0.0.1', family: 4 }, { address: '::1', family: 6 }] }),
      connect: (options) => (options.host === '127.0.0.1' ? net.connect({ ...options, port: refused }) : net.connect({ ...options, host: '127.0.0.1', port: server.port })),
      upstreamTls: noTls,
      checkAddress: () => undefined,
    });
    const second = await dial(twice, { host: 'two.test', port: server.port, authority: `two.test:${server.port}`, tls: false });
    assert.equal(second.err, undefined, 'the second address was tried');
    second.socket?.destroy();

    const missing = await dial(dialer, { host: 'missing.test', port: 80, authority: 'missing.test:80', tls: false });
    assert.equal((missing.err as NodeJS.ErrnoException).code, 'ENOTFOUND');
  } finally {
    await server.close();
  }
});

test('TLS on top: verified against the given roots, with the name as SNI; a dial abandoned never answers', async () => {
  const pki = await createTestPki();
  const origin = await startHttpsOrigin(await pki.serverCert('localhost'));
  try {
    const dir = await mkdtemp(join(tmpdir(), 'egress-dialer-'));
    await writeFile(join(dir, 'ca.pem'), pki.caPem);
    const dialer = new UpstreamDialer({
      lookup: tableLookup({ localhost: [{ address: '127.0.0.1', family: 4 }] }),
      connect: loopbackOnly([]),
      upstreamTls: await createUpstreamTls({ extraCaFile: join(dir, 'ca.pem'), insecure: false }),
      checkAddress: () => undefined,
    });
    const { err, socket } = await dial(dialer, { host: 'localhost', port: origin.port, authority: `localhost:${origin.port}`, tls: true });
    assert.equal(err, undefined);
    assert.ok(socket instanceof tls.TLSSocket && socket.authorized);
    socket.destroy();
    // Not trusted: the same origin by another name fails verification.
    const wrongName = await dial(dialer, { host: '127.0.0.1', port: origin.port, authority: `127.0.0.1:${origin.port}`, tls: true });
    assert.match((wrongName.err as NodeJS.ErrnoException).code ?? '', /ERR_TLS_CERT_ALTNAME_INVALID/);

    let answered = false;
    const abandon = dialer.dial({ host: 'localhost', port: origin.port, authority: `localhost:${origin.port}`, tls: true }, () => (answered = true));
    abandon();
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(answered, false);
  } finally {
    await origin.close();
  }
});

test('tunnelSocket (for CONNECT) connects its own socket to an address that passed, IP literals included; a refusal is its error', async () => {
  const server = await startTcpServer();
  try {
    const dialled: string[] = [];
    const dialer = new UpstreamDialer({
      lookup: tableLookup({ 'mixed.test': [{ address: '10.0.0.1', family: 4 }, { address: '127.0.0.1', family: 4 }] }),
      connect: (options, socket) => {
        dialled.push(options.host);
        if (options.host !== '127.0.0.1') throw new Error(`refusing to connect to ${options.host} from a test`);
        return socket === undefined ? net.connect(options) : socket.connect(options);
      },
      upstreamTls: noTls,
      checkAddress: (address) => (address === '127.0.0.1' ? undefined : new LoopDetectedError()),
    });
    const named = dialer.tunnelSocket({ host: 'mixed.test', port: server.port, authority: `mixed.test:${server.port}`, tls: false }, { allowHalfOpen: true });
    assert.equal(named.allowHalfOpen, true, 'the options are the socket\'s from the start');
    await once(named, 'connect');
    named.write('ping');
    assert.equal(await readUntil(named, (text) => text === 'ping'), 'ping');
    named.destroy();
    // net.connect would have connected to an IP literal without asking any lookup: here it is checked all the same.
    const literal = dialer.tunnelSocket({ host: '10.0.0.1', port: server.port, authority: `10.0.0.1:${server.port}`, tls: false }, {});
    const [err] = (await once(literal, 'error')) as [Error];
    assert.ok(err instanceof LoopDetectedError);
    assert.deepEqual(dialled, ['127.0.0.1'], 'only the address that passed was dialled');
  } finally {
    await server.close();
  }
});

test('the resolver given to startEgressProxy reaches every route: forwarding, tunnels and MITM', async () => {
  const pki = await createTestPki();
  const origin = await startHttpsOrigin(await pki.serverCert('named.test'));
  const dir = await mkdtemp(join(tmpdir(), 'egress-dialer-mitm-'));
  await writeFile(join(dir, 'origin-ca.pem'), pki.caPem);
  const asked: string[] = [];
  const proxy = await startTestProxy(
    { mitm: true, dataDir: join(dir, 'data'), upstreamCaFile: join(dir, 'origin-ca.pem') },
    undefined,
    { lookup: tableLookup({ 'named.test': [{ address: '127.0.0.1', family: 4 }] }, asked) },
  );
  try {
    const mitmCa = await readFile(join(dir, 'data', 'ca.crt'), 'utf8');
    const socket = await openTunnel(proxy.port, `named.test:${origin.port}`);
    const secure = tls.connect({ socket, ca: mitmCa, servername: 'named.test' });
    await once(secure, 'secureConnect');
    secure.write(`GET /v1/named HTTP/1.1\r\nHost: named.test:${origin.port}\r\nConnection: close\r\n\r\n`);
    const text = await readUntil(secure, (t) => t.includes('"url":"/v1/named"'), 5000);
    assert.match(text, /^HTTP\/1\.1 200 /);
    secure.destroy();
    assert.ok(asked.includes('named.test'), 'MITM dialled through the injected resolver');
  } finally {
    await proxy.stop(100);
    await origin.close();
  }
});
