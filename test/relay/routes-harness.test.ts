/**
 * The two-route harness itself: a request written the route's way reaches the origin with its body intact, and a
 * raw origin sees the bytes the proxy sent. Every table-driven relay test depends on this.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ROUTES, startRoute } from '../helpers/relay-routes.js';
import { readUntil } from '../helpers/raw-client.js';

for (const route of ROUTES) {
  test(`${route}: a request reaches an HTTP origin and a raw origin through the route`, async () => {
    const harness = await startRoute(route);
    try {
      const origin = await harness.httpOrigin();
      const client = await harness.connect(origin.port);
      client.write(`POST ${harness.target(origin.port, '/v1/write/x')} HTTP/1.1\r\nHost: 127.0.0.1:${origin.port}\r\nContent-Length: 5\r\n\r\nhello`);
      const text = await readUntil(client, (t) => t.includes('"bodySha256"'));
      assert.match(text, /^HTTP\/1\.1 200 /);
      assert.match(text, /"bodyLength":5/);
      client.destroy();

      const raw = await harness.rawOrigin((connection) => {
        connection.socket.on('data', () => {
          if (connection.received().includes('\r\n\r\n')) connection.socket.end('HTTP/1.1 204 No Content\r\n\r\n');
        });
      });
      const second = await harness.connect(raw.port);
      second.write(`GET ${harness.target(raw.port, '/raw')} HTTP/1.1\r\nHost: 127.0.0.1:${raw.port}\r\n\r\n`);
      assert.match(await readUntil(second, (t) => t.includes('\r\n\r\n')), /^HTTP\/1\.1 204 /);
      second.destroy();
      assert.equal(raw.connections.length, 1);
      assert.match(raw.connections[0]?.received().toString('latin1') ?? '', /^GET \/raw HTTP\/1\.1\r\n/);
    } finally {
      await harness.close();
    }
  });
}
