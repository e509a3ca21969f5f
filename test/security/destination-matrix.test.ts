/**
 * Issue 10's proof for destinations: with the default policy (no `destinations.*` keys), every spelling of a
 * loopback, unspecified, link-local, metadata, multicast or broadcast address, and names that resolve to them, is
 * refused in forwarding, CONNECT and MITM alike, and nothing is dialled: a loopback "canary" server sees no
 * connection, and the offline network (test/helpers/offline-network.ts) records no attempt to leave the machine.
 * A private destination (where an on-prem Dataway lives) passes in the same harness, so the test can fail.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { lookup as systemLookup } from 'node:dns/promises';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import { parseResponses } from '../helpers/http-transcript.js';
import { sample } from '../helpers/metrics-text.js';
import { offlineNetwork, type OfflineNetwork } from '../helpers/offline-network.js';
import { startHttpOrigin, startTcpServer, type OriginServer } from '../helpers/origin-servers.js';
import { openTunnel, rawExchange, readUntil } from '../helpers/raw-client.js';
import { startTestProxy, type TestProxy } from '../helpers/test-proxy.js';

/** Numeric spellings the system resolver (inet_aton) reads as 127.0.0.1; checked against it below. */
const NUMERIC_LOOPBACK = ['127.1', '2130706433', '0x7f000001', '0177.0.0.1', '0x7f.1'];

const NAMES: Record<string, readonly string[]> = {
  ...Object.fromEntries(NUMERIC_LOOPBACK.map((spelling) => [spelling, ['127.0.0.1']])),
  localhost: ['127.0.0.1', '::1'],
  'rebind.attacker.test': ['127.0.0.1'],
  'loopback6.attacker.test': ['::1'],
  'metadata.attacker.test': ['169.254.169.254'],
  'alibaba-metadata.attacker.test': ['100.100.100.200'],
  'aws6-metadata.attacker.test': ['fd00:ec2::254'],
  'mapped.attacker.test': ['::ffff:127.0.0.1'],
  'dataway.internal': ['10.20.30.40'],
};

/** Hosts as a client writes them in a URI or CONNECT authority, each refused by the default policy. */
const REFUSED_HOSTS = [
  '127.0.0.1',
  '127.0.0.2',
  ...NUMERIC_LOOPBACK,
  'localhost',
  'LOCALHOST',
  '[::1]',
  '[0:0:0:0:0:0:0:1]',
  '[::ffff:127.0.0.1]',
  '[::ffff:7f00:1]',
  '0.0.0.0',
  '[::]',
  '169.254.169.254',
  '[::ffff:169.254.169.254]',
  '100.100.100.200',
  '[fd00:ec2::254]',
  '[fe80::1]',
  '169.254.1.1',
  '224.0.0.1',
  '[ff02::1]',
  '255.255.255.255',
  'rebind.attacker.test',
  'loopback6.attacker.test',
  'metadata.attacker.test',
  'alibaba-metadata.attacker.test',
  'aws6-metadata.attacker.test',
  'mapped.attacker.test',
];

let canary: Awaited<ReturnType<typeof startTcpServer>>;
let canaryConnections = 0;

before(async () => {
  canary = await startTcpServer((socket) => {
    canaryConnections++;
    socket.destroy();
  });
});
after(() => canary.close());

test('the numeric spellings are what the system resolver makes of them (no DNS query: inet_aton forms)', async () => {
  for (const spelling of NUMERIC_LOOPBACK) assert.equal((await systemLookup(spelling, { family: 4 })).address, '127.0.0.1', spelling);
});

function assertRefused(text: string, what: string): void {
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
  // 403 from the destination policy; 400 where the request target itself is not a host the parser accepts.
  assert.ok(status === 403 || status === 400, `${what}: ${text.slice(0, 200)}`);
  if (status === 403) assert.match(text, /X-Egress-Proxy-Error: EPROXY_DESTINATION_DENIED/, what);
}

/** The head of the proxy's answer to CONNECT `authority`. */
async function connectHead(port: number, authority: string): Promise<string> {
  const socket = net.connect({ port, host: '127.0.0.1' });
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
  try {
    return await readUntil(socket, (t) => t.includes('\r\n\r\n'));
  } finally {
    socket.destroy();
  }
}

function assertNothingDialled(network: OfflineNetwork, before: number): void {
  assert.deepEqual(network.offLoopback, [], 'no connection attempt off the machine');
  assert.equal(canaryConnections, before, 'the loopback canary was never reached');
}

describe('default destination policy, forwarding and CONNECT', () => {
  let proxy: TestProxy;
  let network: OfflineNetwork;
  let origin: OriginServer;
  let echo: Awaited<ReturnType<typeof startTcpServer>>;

  before(async () => {
    network = offlineNetwork(NAMES);
    origin = await startHttpOrigin();
    echo = await startTcpServer();
    // Only the ports are opened (the canary's is random): destinations are as the defaults make them.
    proxy = await startTestProxy({ connectPorts: ['1-65535'], httpPorts: ['1-65535'] }, undefined, { ...network, defaultPolicy: true });
  });
  after(async () => {
    await proxy.stop(100);
    await origin.close();
    await echo.close();
  });

  test('a private destination (an on-prem Dataway) passes: the harness can tell', async () => {
    network.map('10.20.30.40', 9528, origin.port);
    network.map('10.20.30.40', 443, echo.port);
    const forwarded = await rawExchange(proxy.port, 'GET http://dataway.internal:9528/v1/write/metric HTTP/1.1\r\nHost: dataway.internal:9528\r\nConnection: close\r\n\r\n');
    assert.equal(parseResponses(forwarded.text, true).responses[0]?.status, 200, forwarded.text.slice(0, 200));
    const tunnel = await openTunnel(proxy.port, 'dataway.internal:443');
    tunnel.write('ping');
    assert.equal(await readUntil(tunnel, (text) => text === 'ping'), 'ping');
    tunnel.destroy();
  });

  for (const host of REFUSED_HOSTS) {
    test(`GET http://${host}/ and CONNECT ${host}: refused, nothing dialled`, async () => {
      const before = canaryConnections;
      const authority = `${host}:${canary.port}`;
      const forwarded = await rawExchange(proxy.port, `GET http://${authority}/ HTTP/1.1\r\nHost: ${authority}\r\nConnection: close\r\n\r\n`);
      assertRefused(forwarded.text, `GET http://${authority}/`);
      const tunnelled = await rawExchange(proxy.port, `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
      assertRefused(tunnelled.text, `CONNECT ${authority}`);
      assertNothingDialled(network, before);
    });
  }

  test('metadata on port 80 (the real attack) is refused by name of its rule, and the refusals are counted by rule', async () => {
    const result = await rawExchange(proxy.port, 'GET http://169.254.169.254/latest/meta-data/ HTTP/1.1\r\nHost: 169.254.169.254\r\nConnection: close\r\n\r\n');
    assert.match(result.text, /^HTTP\/1\.1 403 [^]*cloud metadata address[^]*destinations\.allow/);
    const metrics = await proxy.metricsText();
    assert.ok((sample(metrics, 'egress_proxy_destination_refusals_total{rule="metadata"}') ?? 0) > 0);
    assert.ok((sample(metrics, 'egress_proxy_destination_refusals_total{rule="loopback"}') ?? 0) > 0);
    assert.deepEqual(network.offLoopback, []);
  });
});

describe('default destination policy, MITM', () => {
  let proxy: TestProxy;
  let network: OfflineNetwork;
  let mitmCa: string;

  before(async () => {
    network = offlineNetwork(NAMES);
    proxy = await startTestProxy({ mitm: true, connectPorts: ['1-65535'] }, undefined, { ...network, defaultPolicy: true });
    mitmCa = await readFile(join(proxy.config.mitmOptions.dataDir, 'ca.crt'), 'utf8');
  });
  after(() => proxy.stop(100));

  const connectAnswer = (authority: string): Promise<string> => connectHead(proxy.port, authority);

  /** The TLS handshake inside an intercepted CONNECT to `authority`, naming `servername` in SNI. */
  async function handshake(authority: string, servername: string): Promise<string> {
    const tunnel = await openTunnel(proxy.port, authority);
    const secure = tls.connect({ socket: tunnel, ca: mitmCa, servername });
    secure.on('error', () => undefined);
    try {
      await once(secure, 'secureConnect');
      return `certificate for ${String(secure.getPeerCertificate().subject?.CN)}`;
    } catch (err) {
      return `no TLS: ${(err as Error).message}`;
    } finally {
      secure.destroy();
    }
  }

  for (const host of REFUSED_HOSTS) {
    test(`CONNECT ${host}: refused at the CONNECT, as a tunnel is (no 200, no certificate), nothing dialled`, async () => {
      const before = canaryConnections;
      const text = await connectAnswer(`${host}:${canary.port}`);
      assertRefused(text, `MITM ${host}`);
      assertNothingDialled(network, before);
    });
  }

  test('an allowed CONNECT whose SNI names a refused destination gets no certificate for it', async () => {
    const before = canaryConnections;
    assert.equal(await handshake(`dataway.internal:${canary.port}`, 'dataway.internal'), 'certificate for dataway.internal', 'the harness can tell');
    for (const servername of ['metadata.attacker.test', 'localhost', 'rebind.attacker.test']) {
      assert.match(await handshake(`dataway.internal:${canary.port}`, servername), /^no TLS/, servername);
    }
    assertNothingDialled(network, before);
  });
});

describe('destinations.allow names, MITM', () => {
  test('a CONNECT to a name the allow-list does not hold is refused 403 before any certificate is made', async () => {
    const network = offlineNetwork(NAMES);
    const proxy = await startTestProxy({ mitm: true, destinationsAllow: ['allowed.example:443'] }, undefined, network);
    try {
      const refused = await connectHead(proxy.port, 'other.example:443');
      assert.match(refused, /^HTTP\/1\.1 403 [^]*X-Egress-Proxy-Error: EPROXY_DESTINATION_DENIED/, refused);
      assert.match(await connectHead(proxy.port, 'allowed.example:443'), /^HTTP\/1\.1 200 /, 'the allowed name is intercepted (the harness can tell)');
      assert.deepEqual(network.offLoopback, []);
    } finally {
      await proxy.stop(100);
    }
  });
});
