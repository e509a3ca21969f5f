// Pool poisoning (issue 9, behaviour 2): two clients share one pooled upstream connection to a lenient origin
// (lenient-origin.ts). The first tries to smuggle a request in after its chunked body; whatever happens to the
// first, the second must get the answer to its own request, over both routes. The proxy may use one upstream
// connection per origin at a time (limits.upstream_max_sockets_per_host = 1), so the second request goes where the
// first went, unless the proxy dropped that connection.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { head } from '../fixtures/http1-corpus/corpus-case.js';
import { ROUTES, startRoute, type RouteHarness } from '../helpers/relay-routes.js';
import { serveLeniently } from './lenient-origin.js';
import { ResponseReader } from './response-reader.js';

/** Attempts at the scenario when the second client happened not to get the first one's pooled connection. */
const ATTEMPTS = 5;

interface Outcome {
  first: number | undefined;
  secondBody: string | undefined;
  /** The second request went over the first one's upstream connection. */
  shared: boolean;
}

/** The first client sends `body` after a chunked POST head; then a second client GETs `/second`. */
async function twoClients(harness: RouteHarness, body: (target: (path: string) => string, host: string) => string): Promise<Outcome> {
  const paths: string[] = [];
  const origin = await harness.rawOrigin((connection) => serveLeniently(connection, paths));
  const target = (path: string): string => harness.target(origin.port, path);
  const host = `127.0.0.1:${origin.port}`;
  const firstSocket = await harness.connect(origin.port);
  const first = new ResponseReader(firstSocket);
  first.write(head(target, host, 'POST', '/first', ['Transfer-Encoding: chunked']) + body(target, host));
  const firstAnswer = await first.next('POST');
  // A tunnel's upstream connection is pooled when the tunnel closes; a forwarding one when its exchange ends.
  firstSocket.end();
  if (!firstSocket.destroyed) await once(firstSocket, 'close');
  const second = new ResponseReader(await harness.connect(origin.port));
  second.write(head(target, host, 'GET', '/second'));
  const secondAnswer = await second.next('GET');
  second.destroy();
  const connections = origin.connections.length;
  await origin.close();
  return { first: firstAnswer?.status, secondBody: secondAnswer?.body?.toString('latin1'), shared: connections === 1 };
}

for (const route of ROUTES) {
  describe(`pool poisoning over ${route}`, () => {
    it('a request hidden in a trailer section never answers the next client', async () => {
      const harness = await startRoute(route, { tweak: (config) => (config.limits.upstreamMaxSocketsPerHost = 1) });
      try {
        const outcome = await twoClients(harness, (target, host) => `2\r\nhi\r\n0\r\nGET ${target('/smuggled')} HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
        assert.equal(outcome.secondBody, '/second', 'the second client got another answer than its own');
        assert.equal(outcome.first, 400);
      } finally {
        await harness.close();
      }
    });

    it('a valid trailer section, which a lenient origin would take for a request, never reaches it', async () => {
      const harness = await startRoute(route, { tweak: (config) => (config.limits.upstreamMaxSocketsPerHost = 1) });
      try {
        let shared = false;
        for (let attempt = 0; attempt < ATTEMPTS && !shared; attempt++) {
          const outcome = await twoClients(harness, () => '2\r\nhi\r\n0\r\nX-Checksum: 1\r\n\r\n');
          assert.equal(outcome.secondBody, '/second', 'the second client got another answer than its own');
          assert.equal(outcome.first, 200);
          shared = outcome.shared;
        }
        assert.ok(shared, 'the second client never got the first one\'s pooled connection: the test proved nothing');
      } finally {
        await harness.close();
      }
    });
  });
}
