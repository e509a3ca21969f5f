/**
 * Issue 10's proof for ports: one port policy for every mode, with the defaults (no port keys): TLS destinations
 * (CONNECT tunnelled or decrypted, and forwarded https:// URIs) only to 443, plain http:// to squid's Safe_ports.
 * A refused port is never dialled. And DataKit's own `[[inputs.proxy]]` file, with no new key, still carries
 * uploads to an https:// Dataway (CONNECT 443) and to an on-prem http://dataway:9528, through the offline network
 * (names resolve to a public and a private address that the test maps onto loopback servers).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ProxyAgent, request } from 'undici';
import { parseResponses } from '../helpers/http-transcript.js';
import { offlineNetwork, type OfflineNetwork } from '../helpers/offline-network.js';
import { startHttpOrigin, startHttpsOrigin, startTcpServer, type EchoReply, type OriginServer } from '../helpers/origin-servers.js';
import { openTunnel, rawExchange, readUntil } from '../helpers/raw-client.js';
import { createTestPki } from '../helpers/test-pki.js';
import { startTestProxy, type TestProxy } from '../helpers/test-proxy.js';
import { tempConfigDir } from '../config/temp-config-files.js';

const PRIVATE = '10.20.30.40';
const PUBLIC = '101.37.0.10';
const NAMES = { 'ingest.example.test': [PRIVATE], dataway: [PRIVATE], 'openway.guance.com': [PUBLIC] };

function statusAndCode(text: string): string {
  const status = /^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 'none';
  const code = /X-Egress-Proxy-Error: (\S+)/.exec(text)?.[1];
  return code === undefined ? status : `${status} ${code}`;
}

describe('the default port policy, in every mode', () => {
  let network: OfflineNetwork;
  let proxy: TestProxy;
  let mitm: TestProxy;
  let origin: OriginServer;
  let echo: Awaited<ReturnType<typeof startTcpServer>>;

  before(async () => {
    network = offlineNetwork(NAMES);
    origin = await startHttpOrigin();
    echo = await startTcpServer();
    for (const port of [443, 25, 8443, 22]) network.map(PRIVATE, port, echo.port);
    for (const port of [9528, 8080]) network.map(PRIVATE, port, origin.port);
    proxy = await startTestProxy({}, undefined, { ...network, defaultPolicy: true });
    mitm = await startTestProxy({ mitm: true }, undefined, { ...network, defaultPolicy: true });
  });
  after(async () => {
    await proxy.stop(100);
    await mitm.stop(100);
    await origin.close();
    await echo.close();
  });

  test('CONNECT: 443 passes; 25, 22 and 8443 are refused (403, the setting named), never dialled', async () => {
    const tunnel = await openTunnel(proxy.port, 'ingest.example.test:443');
    tunnel.write('ping');
    assert.equal(await readUntil(tunnel, (text) => text === 'ping'), 'ping');
    tunnel.destroy();
    for (const port of [25, 22, 8443]) {
      const result = await rawExchange(proxy.port, `CONNECT ingest.example.test:${port} HTTP/1.1\r\nHost: ingest.example.test:${port}\r\n\r\n`);
      assert.equal(statusAndCode(result.text), '403 EPROXY_PORT_DENIED', result.text);
      assert.match(result.text, /destinations\.connect_ports/);
    }
    assert.ok(!network.dialled.some((dialled) => /:(25|22|8443)$/.test(dialled)), network.dialled.join(' '));
  });

  test('forwarded http://: Safe_ports pass (9528 for an on-prem Dataway, 8080); 25 and 22 are refused', async () => {
    for (const port of [9528, 8080]) {
      const result = await rawExchange(proxy.port, `GET http://ingest.example.test:${port}/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      assert.equal(parseResponses(result.text, true).responses[0]?.status, 200, result.text.slice(0, 200));
    }
    for (const port of [25, 22]) {
      const result = await rawExchange(proxy.port, `GET http://ingest.example.test:${port}/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      assert.equal(statusAndCode(result.text), '403 EPROXY_PORT_DENIED', result.text);
      assert.match(result.text, /destinations\.http_ports/);
    }
  });

  test('forwarded https:// is a TLS destination: only 443 (the bypass of a CONNECT-only list is closed)', async () => {
    for (const port of [25, 8443, 8080]) {
      const result = await rawExchange(proxy.port, `GET https://ingest.example.test:${port}/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      assert.equal(statusAndCode(result.text), '403 EPROXY_PORT_DENIED', `https://...:${port}: ${result.text}`);
      assert.match(result.text, /destinations\.connect_ports/);
    }
  });

  test('MITM: a CONNECT to port 25 is refused before any handshake; 443 is intercepted', async () => {
    const refused = await rawExchange(mitm.port, 'CONNECT ingest.example.test:25 HTTP/1.1\r\nHost: ingest.example.test:25\r\n\r\n');
    assert.equal(statusAndCode(refused.text), '403 EPROXY_PORT_DENIED', refused.text);
    const accepted = await rawExchange(mitm.port, 'CONNECT ingest.example.test:443 HTTP/1.1\r\nHost: ingest.example.test:443\r\n\r\n', { timeoutMs: 300 });
    assert.match(accepted.text, /^HTTP\/1\.1 200 /);
  });
});

test("DataKit's [[inputs.proxy]] file, no new key: uploads reach https://openway.guance.com (CONNECT 443) and http://dataway:9528", async () => {
  const network = offlineNetwork(NAMES);
  const pki = await createTestPki();
  const openway = await startHttpsOrigin(await pki.serverCert('openway.guance.com'));
  const dataway = await startHttpOrigin();
  network.map(PUBLIC, 443, openway.port);
  network.map(PRIVATE, 9528, dataway.port);
  const files = tempConfigDir();
  const datakitFile = (await readFile(join(import.meta.dirname, '../config/fixtures/datakit-proxy.conf'), 'utf8')).replace('port = 9530', 'port = 0');
  assert.doesNotMatch(datakitFile, /destinations|connect_ports|http_ports|proxy_auth/);
  const proxy = await startTestProxy({ configFile: files.write('proxy.conf', datakitFile) }, undefined, { ...network, defaultPolicy: true });
  const tunnelling = new ProxyAgent({ uri: proxy.url, requestTls: { ca: pki.caPem } });
  const forwarding = new ProxyAgent({ uri: proxy.url, proxyTunnel: false });
  try {
    const body = 'cpu,host=a usage=1 1700000000000000000\n';
    const https = await request('https://openway.guance.com/v1/write/metric?token=tkn_x', { method: 'POST', body, dispatcher: tunnelling });
    assert.equal(https.statusCode, 200);
    assert.equal(((await https.body.json()) as EchoReply).bodyLength, body.length);
    const http = await request('http://dataway:9528/v1/write/metric?token=tkn_x', { method: 'POST', body, dispatcher: forwarding });
    assert.equal(http.statusCode, 200);
    assert.equal(((await http.body.json()) as EchoReply).bodyLength, body.length);
    assert.deepEqual(network.offLoopback, []);
  } finally {
    await tunnelling.close();
    await forwarding.close();
    await proxy.stop(100);
    await openway.close();
    await dataway.close();
  }
});
