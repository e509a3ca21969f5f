/** Draining with intercepted keep-alive connections: idle ones close at once, so a stop does not wait them out. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProxyAgent, request } from 'undici';
import { startTestProxy } from '../helpers/test-proxy.js';
import { startHttpsOrigin } from '../helpers/origin-servers.js';
import { createTestPki } from '../helpers/test-pki.js';

test('a stop with an idle intercepted keep-alive connection finishes without hitting the drain timeout', async () => {
  const pki = await createTestPki();
  const origin = await startHttpsOrigin(await pki.serverCert('127.0.0.1'));
  const dir = await mkdtemp(join(tmpdir(), 'egress-mitm-drain-'));
  await writeFile(join(dir, 'origin-ca.pem'), pki.caPem);
  const proxy = await startTestProxy({ mitm: true, dataDir: join(dir, 'data'), upstreamCaFile: join(dir, 'origin-ca.pem') });
  const mitmCa = await readFile(join(dir, 'data', 'ca.crt'), 'utf8');
  const dispatcher = new ProxyAgent({ uri: proxy.url, requestTls: { ca: mitmCa } });
  const res = await request(`${origin.url}/v1/election/heartbeat`, { method: 'POST', body: 'x', dispatcher });
  await res.body.text();
  const started = Date.now();
  const result = await proxy.stop(5000);
  assert.equal(result.forced, false);
  assert.ok(Date.now() - started < 2000, `stop took ${Date.now() - started} ms`);
  await dispatcher.close().catch(() => undefined);
  await origin.close();
});
