/**
 * Live settings (src/relay/relay-settings.ts): `RunningProxy.reconfigure(config)` swaps what a reload may change,
 * and only new connections and new requests see it. What is open keeps what it was admitted with.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestProxy } from '../helpers/test-proxy.js';
import { startHttpOrigin } from '../helpers/origin-servers.js';
import { rawExchange, statusOf } from '../helpers/raw-client.js';
import { RawConversation } from '../helpers/http-transcript.js';

test('a new connection sees the new allow-list while an open one is untouched; new requests see the new verbosity', async () => {
  const origin = await startHttpOrigin();
  const proxy = await startTestProxy({ allow: ['127.0.0.0/8'] });
  const open = await RawConversation.open(proxy.port);
  try {
    const request = (path: string): string => `GET ${origin.url}${path} HTTP/1.1\r\nHost: x\r\n\r\n`;
    open.write(request('/before'));
    assert.equal((await open.responses(1))[0]?.status, 200);

    const { restartNeeded } = proxy.reconfigure({ ...proxy.config, allowedClientCidrs: ['10.0.0.0/8'], verbose: true, port: proxy.config.port + 1 });
    assert.deepEqual(restartNeeded, ['proxy.port'], 'the listen port is not changed under a running listener');

    const fresh = await rawExchange(proxy.port, request('/after'));
    assert.equal(statusOf(fresh.text), 403, 'a new connection is checked against the new allow-list');
    open.write(request('/still-open'));
    const [, kept] = await open.responses(2);
    assert.equal(kept?.status, 200, 'the connection accepted before the change is not cut off');
    assert.ok(proxy.logs.some((l) => l.msg === 'request' && String(l.target).endsWith('/still-open')), 'verbose applies to the next request');
    assert.ok(!proxy.logs.some((l) => l.msg === 'request' && String(l.target).endsWith('/before')), 'and not before');

    proxy.reconfigure({ ...proxy.config, allowedClientCidrs: [] });
    assert.equal(statusOf((await rawExchange(proxy.port, request('/again'))).text), 200);
  } finally {
    open.destroy();
    await proxy.stop(100);
    await origin.close();
  }
});
