// Tests the floor relays of `npm run bench` (tools/bench/floor/): they must carry the bench's traffic intact, or the
// floors they print would measure something else. The forward relay is driven with raw sockets (pipelined
// requests, heads and bodies split across reads), the splice and re-encrypting relays through real scenario runs.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import type { AddressInfo, Server } from 'node:net';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { runComparison } from '../comparison.js';
import { createForwardFloorRelay } from '../floor/forward-floor-relay.js';
import { spliceRelayUnavailable } from '../floor/floor-relay-process.js';
import { startHttpOrigin, type EchoReply, type OriginServer } from '../../../test/helpers/origin-servers.js';
import { rawExchange, readUntil } from '../../../test/helpers/raw-client.js';

describe('forward floor relay', () => {
  let origin: OriginServer;
  let relay: Server;
  let relayPort: number;
  before(async () => {
    origin = await startHttpOrigin();
    relay = createForwardFloorRelay();
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    relayPort = (relay.address() as AddressInfo).port;
  });
  after(async () => {
    relay.close();
    await origin.close();
  });

  const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

  it('rewrites absolute-form to origin-form and passes pipelined bodies through byte for byte, over one upstream connection', async () => {
    const bodies = [randomBytes(200_000), randomBytes(10), Buffer.alloc(0)];
    const wire = Buffer.concat(
      bodies.map((body, i) =>
        Buffer.concat([
          Buffer.from(`POST ${origin.url}/v1/write/${i}?x=${i} HTTP/1.1\r\nHost: ignored\r\nContent-Length: ${body.length}\r\n\r\n`),
          body,
        ]),
      ),
    );
    const connectionsBefore = origin.connections;
    const socket = net.connect(relayPort, '127.0.0.1');
    await once(socket, 'connect');
    // Odd-sized pieces: request heads and bodies cut anywhere, including inside the blank line.
    for (let offset = 0; offset < wire.length; offset += 7_777) {
      socket.write(wire.subarray(offset, offset + 7_777));
      await new Promise((resolve) => setImmediate(resolve));
    }
    const complete = /"bodySha256":"[0-9a-f]{64}"\}/g;
    const text = await readUntil(socket, (t) => (t.match(complete) ?? []).length === 3, 10_000);
    socket.destroy();
    const replies = text
      .split(/HTTP\/1\.1 200 OK\r\n/)
      .slice(1)
      .map((response) => JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4)) as EchoReply);
    assert.deepEqual(replies.map((r) => r.url), ['/v1/write/0?x=0', '/v1/write/1?x=1', '/v1/write/2?x=2']);
    assert.deepEqual(replies.map((r) => r.bodySha256), bodies.map(sha256));
    assert.equal(origin.connections - connectionsBefore, 1);
  });

  it('answers 501 and closes for framing it cannot follow without a parser', async () => {
    const chunked = await rawExchange(relayPort, `POST ${origin.url}/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`);
    assert.match(chunked.text, /^HTTP\/1\.1 501 /);
    assert.ok(chunked.closedByServer);
    const originForm = await rawExchange(relayPort, 'GET /x HTTP/1.1\r\nHost: a\r\n\r\n');
    assert.match(originForm.text, /^HTTP\/1\.1 501 /);
  });
});

describe('floor scenarios', () => {
  const body = Buffer.from('cpu,host=a usage=1 1700000000000000000\n'.repeat(100));
  const spliceMissing = spliceRelayUnavailable();

  const carriesEveryRequest = async (floors: string[]): Promise<void> => {
    const summaries = await runComparison({ connections: 2, requestsPerConnection: 3, body, only: ['direct-https', 'direct-http', ...floors] });
    for (const name of floors) {
      const s = summaries.find((summary) => summary.name === name);
      assert.ok(s?.state === 'ok', `${name}: ${JSON.stringify(s)}`);
      assert.deepEqual(s.rounds[0]?.state === 'ok' && s.rounds[0].result.statuses, { '200 OK': 6 }, name);
      assert.ok(s.stats.ratio !== undefined && s.stats.ratio > 0, name);
      if (existsSync('/proc/self/stat')) assert.ok(s.stats.proxyCpuMicrosPerRequest !== undefined, `${name}: the relay's CPU was read`);
    }
  };

  it('carries every request of the bench client through the Node.js floor relays', () => carriesEveryRequest(['floor-forward', 'floor-mitm']));

  // The C relay is the one part of the bench that needs a compiler; without one only its scenario is skipped.
  it('compiles the splice relay and carries every request through it, when a C compiler is installed', { skip: spliceMissing }, () =>
    carriesEveryRequest(['floor-tunnel']));

  it('skips only floor-tunnel, saying why, where there is no C compiler', () => {
    assert.match(spliceRelayUnavailable(() => undefined) ?? '', /^no C compiler \(cc\) on PATH: install gcc/);
    assert.equal(spliceRelayUnavailable((name) => `/usr/bin/${name}`), undefined);
  });
});
