/**
 * Issue 12's left-out: an intercepted tunnel's raw bytes (the TLS records on the client's connection, counted as
 * `egress_proxy_bytes_total{kind="mitm-tunnel"}`) show at each metrics read while the tunnel is open, as a plain
 * tunnel's do (test/metrics/metrics-endpoint.test.ts), and its close adds only what was not counted yet. A DataKit
 * agent keeps one intercepted connection open for hours; counted at the close only, its traffic would show nothing
 * until then.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { sample } from '../helpers/metrics-text.js';
import { openTunnel, readUntil } from '../helpers/raw-client.js';
import { startHttpsOrigin, type OriginServer } from '../helpers/origin-servers.js';
import { createTestPki } from '../helpers/test-pki.js';
import { startTestProxy, type TestProxy } from '../helpers/test-proxy.js';

let origin: OriginServer;
let proxy: TestProxy;
let mitmCaPem: string;

before(async () => {
  const pki = await createTestPki();
  origin = await startHttpsOrigin(await pki.serverCert('127.0.0.1'));
  const dir = await mkdtemp(join(tmpdir(), 'egress-mitm-bytes-'));
  const originCaFile = join(dir, 'origin-ca.pem');
  await writeFile(originCaFile, pki.caPem);
  const dataDir = join(dir, 'data');
  proxy = await startTestProxy({ mitm: true, dataDir, upstreamCaFile: originCaFile });
  mitmCaPem = await readFile(join(dataDir, 'ca.crt'), 'utf8');
});
after(async () => {
  await proxy.stop(100);
  await origin.close();
});

const rawBytes = async (direction: 'upstream' | 'downstream'): Promise<number> =>
  sample(await proxy.metricsText(), `egress_proxy_bytes_total{direction="${direction}",kind="mitm-tunnel"}`) ?? 0;

/** One keep-alive request over the intercepted TLS connection; resolves once its whole response is in. */
async function get(client: tls.TLSSocket, path: string): Promise<void> {
  client.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${origin.port}\r\n\r\n`);
  await readUntil(client, (text) => text.includes(`"url":"${path}"`));
}

test("an intercepted tunnel's raw bytes show while it is open, and the close adds only the rest", async () => {
  const upAtStart = await rawBytes('upstream');
  const downAtStart = await rawBytes('downstream');
  const tunnel = await openTunnel(proxy.port, `127.0.0.1:${origin.port}`);
  const client = tls.connect({ socket: tunnel, servername: '127.0.0.1', ca: mitmCaPem });
  await once(client, 'secureConnect');
  await get(client, '/first');

  const up1 = (await rawBytes('upstream')) - upAtStart;
  const down1 = (await rawBytes('downstream')) - downAtStart;
  assert.ok(up1 > 0 && down1 > 0, `counted while the tunnel is open: ${up1} up, ${down1} down`);

  await get(client, '/second');
  const up2 = (await rawBytes('upstream')) - upAtStart;
  const down2 = (await rawBytes('downstream')) - downAtStart;
  assert.ok(up2 > up1 && down2 > down1, `each read adds what was relayed since the last: ${up1} → ${up2}, ${down1} → ${down2}`);

  client.end();
  await once(tunnel, 'close');
  await new Promise((r) => setTimeout(r, 100));
  const up3 = (await rawBytes('upstream')) - upAtStart;
  const down3 = (await rawBytes('downstream')) - downAtStart;
  // The close adds the TLS close_notify records; in all, what the client's socket sent and received, once.
  assert.equal(up3, tunnel.bytesWritten, 'upstream: every byte the client sent (CONNECT head and TLS), counted once');
  assert.equal(down3, tunnel.bytesRead, 'downstream: every byte the client received, counted once');
});

