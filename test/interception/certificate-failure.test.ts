/**
 * When no certificate can be made for an intercepted host (a CA that has expired, a name the certificate code
 * refuses), the client gets a 502 and the tunnel is recorded as failed, not as established; the error is logged
 * once per host, not once per attempt.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { resolveConfig } from '../../src/config/resolve-config.js';
import { TlsInterceptor } from '../../src/mitm/tls-interceptor.js';
import { ConnectionTracker } from '../../src/relay/connection-tracker.js';
import { ExchangeObservers, type TunnelRecord } from '../../src/relay/exchange-records.js';
import { RelayEngine } from '../../src/relay/relay-engine.js';
import { LiveSettings } from '../../src/relay/relay-settings.js';
import { UpstreamDialer } from '../../src/relay/upstream-dialer.js';
import { createUpstreamTls } from '../../src/relay/upstream-tls.js';
import { readUntil } from '../helpers/raw-client.js';
import { EarlyClientData } from '../../src/proxy/early-client-data.js';
import { DestinationPolicy } from '../../src/policy/destination-policy.js';

test('a certificate that cannot be made: 502 to the client, a failed record, one log line per host', async () => {
  const { config } = await resolveConfig({ port: 0, adminPort: 0 }, {});
  const logLines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, new Writable({ write(chunk: Buffer, _e, cb) { logLines.push(JSON.parse(chunk.toString()) as Record<string, unknown>); cb(); } }));
  const tunnels: TunnelRecord[] = [];
  const observers = new ExchangeObservers([{ onTunnel: (r) => tunnels.push(r) }], (err) => { throw err; });
  const upstreamTls = await createUpstreamTls({ extraCaFile: undefined, insecure: false });
  const tracker = new ConnectionTracker();
  const settings = new LiveSettings({
    timeouts: config.timeouts,
    limits: config.limits,
    connectionGuards: [],
    requestGuards: [],
    observers,
    interception: { shouldIntercept: () => true },
    destinations: new DestinationPolicy({ allow: [], blockSpecialRanges: true }),
    via: 'egress-proxy-test',
  });
  // Nothing is ever dialled here: the certificate fails before any request.
  const dialer = new UpstreamDialer({ upstreamTls, checkAddress: () => undefined, connect: () => { throw new Error('no dialling in this test'); } });
  const interceptor = new TlsInterceptor({
    logger,
    tracker,
    // The certificate side failing, as an expired CA makes it fail.
    certificates: { getSecureContext: () => Promise.reject(new Error('the CA expired')) },
    engine: new RelayEngine({ settings, tracker, dialer }),
  });
  // A listener standing in for the proxy's CONNECT handler: every accepted socket is handed to the interceptor.
  const server = net.createServer((socket) => {
    interceptor.intercept(socket, new EarlyClientData(socket, Buffer.alloc(0)), { host: 'ingest.example', port: 443, authority: 'ingest.example:443' }, { clientIp: '127.0.0.1', clientAddress: '127.0.0.1' });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  try {
    for (let i = 0; i < 3; i++) {
      const client = net.connect(port, '127.0.0.1');
      const answer = await readUntil(client, (t) => t.includes('\r\n\r\n') && t.endsWith('\n'));
      assert.match(answer, /^HTTP\/1\.1 502 Bad Gateway\r\n/);
      assert.match(answer, /cannot intercept ingest\.example/);
      if (!client.destroyed) await once(client, 'close');
    }
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(tunnels.length, 3);
    for (const record of tunnels) {
      assert.equal(record.statusCode, 502);
      assert.equal(record.errorCode, 'EPROXY_MITM_CERTIFICATE');
    }
    assert.equal(logLines.filter((l) => /could not make a certificate/.test(String(l.msg))).length, 1);
  } finally {
    server.close();
  }
});
