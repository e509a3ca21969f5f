/**
 * `proxy.upstream_proxy`: every upstream connection through a parent proxy. The parent is a second egress-proxy
 * (a real one, in this process) or a small raw parent that records what it is sent and answers as told (the 407,
 * refusal and silence cases). Everything listens on loopback.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestProxy, type TestProxy } from '../helpers/test-proxy.js';
import { closedPort, startHttpOrigin, startHttpsOrigin, startTcpServer, type EchoReply, type OriginServer } from '../helpers/origin-servers.js';
import { openTunnel, rawExchange, readUntil, statusOf } from '../helpers/raw-client.js';
import { RawConversation } from '../helpers/http-transcript.js';
import { createTestPki } from '../helpers/test-pki.js';
import { sample } from '../helpers/metrics-text.js';

const CREDENTIALS = `Basic ${Buffer.from('corp user:p@ss:word').toString('base64')}`;
/** The credentials as a URL carries them: percent-encoded. */
const PARENT_USERINFO = 'corp%20user:p%40ss%3Aword';

interface RawParent {
  port: number;
  /** Every request head received, in order. */
  heads: string[];
  /** TCP connections accepted. */
  connections: number;
  close(): Promise<void>;
}

/**
 * A parent proxy that answers every request head with `answer(head)` (a whole response, or undefined to say
 * nothing), keeping each connection open.
 */
async function startRawParent(answer: (head: string) => string | undefined): Promise<RawParent> {
  const heads: string[] = [];
  let connections = 0;
  const server = await startTcpServer((socket) => {
    connections++;
    let buffered = '';
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      for (let end = buffered.indexOf('\r\n\r\n'); end !== -1; end = buffered.indexOf('\r\n\r\n')) {
        const head = buffered.slice(0, end + 4);
        buffered = buffered.slice(end + 4);
        heads.push(head);
        const reply = answer(head);
        if (reply !== undefined) socket.write(reply);
      }
    });
  });
  return {
    port: server.port,
    heads,
    get connections() {
      return connections;
    },
    close: () => server.close(),
  };
}

function fieldOf(head: string, name: string): string | undefined {
  const line = head.split('\r\n').find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return line?.slice(name.length + 1).trim();
}

const ok = (body: string): string => `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`;

let origin: OriginServer;
let otherOrigin: OriginServer;
before(async () => {
  origin = await startHttpOrigin();
  otherOrigin = await startHttpOrigin();
});
after(async () => {
  await origin.close();
  await otherOrigin.close();
});

async function withProxies(run: (proxies: TestProxy[]) => Promise<void>, ...proxies: TestProxy[]): Promise<void> {
  try {
    await run(proxies);
  } finally {
    for (const proxy of proxies) await proxy.stop(100);
  }
}

describe('through a parent egress-proxy', () => {
  test('plain http:// is forwarded to the parent, which forwards it to the origin', async () => {
    const parent = await startTestProxy({ verbose: true });
    const child = await startTestProxy({ upstreamProxy: parent.url, verbose: true });
    await withProxies(async () => {
      const response = await rawExchange(child.port, `GET ${origin.url}/via-parent?x=1 HTTP/1.1\r\nHost: 127.0.0.1:${origin.port}\r\nConnection: close\r\n\r\n`);
      assert.equal(statusOf(response.text), 200, response.text);
      const echo = JSON.parse(response.text.slice(response.text.indexOf('\r\n\r\n') + 4)) as EchoReply;
      assert.equal(echo.url, '/via-parent?x=1');
      // Each proxy adds its own Via pseudonym (issue 10's loop detection): two entries, two proxies on the way.
      assert.match(String(echo.headers.via), /^1\.1 egress-proxy-[0-9a-f]+, 1\.1 egress-proxy-[0-9a-f]+$/, 'both proxies are on the way');
      const parentLine = parent.logs.find((line) => line['msg'] === 'request');
      assert.equal(parentLine?.['target'], `${origin.url}/via-parent`, 'the parent saw an absolute-form request');
    }, child, parent);
  });

  test('a CONNECT tunnel goes through the parent, and the byte counts are the tunnel\'s own', async () => {
    const echoServer = await startTcpServer();
    const parent = await startTestProxy({ verbose: true });
    const child = await startTestProxy({ upstreamProxy: parent.url, verbose: true });
    await withProxies(async () => {
      const tunnel = await openTunnel(child.port, `127.0.0.1:${echoServer.port}`);
      const reply = readUntil(tunnel, (text) => text.includes('hello, origin'));
      tunnel.write('hello, origin');
      assert.equal(await reply, 'hello, origin');
      tunnel.end();
      await once(tunnel, 'close');
      await waitFor(() => child.logs.some((line) => line['msg'] === 'tunnel'));
      const record = child.logs.find((line) => line['msg'] === 'tunnel')!;
      assert.equal(record['status'], 200);
      assert.equal(record['bytes_in'], 13, JSON.stringify(record));
      assert.equal(record['bytes_out'], 13, JSON.stringify(record));
      await waitFor(() => parent.logs.some((line) => line['msg'] === 'tunnel'));
      assert.equal(parent.logs.find((line) => line['msg'] === 'tunnel')?.['target'], `127.0.0.1:${echoServer.port}`);
    }, child, parent);
    await echoServer.close();
  });

  test('a forwarded https:// URI: CONNECT through the parent, then TLS to the origin, verified as always', async () => {
    const pki = await createTestPki();
    const secure = await startHttpsOrigin(await pki.serverCert('127.0.0.1'));
    const dir = await mkdtemp(join(tmpdir(), 'egress-proxy-parent-'));
    const caFile = join(dir, 'origin-ca.pem');
    await writeFile(caFile, pki.caPem);
    const parent = await startTestProxy({ verbose: true });
    const child = await startTestProxy({ upstreamProxy: parent.url, upstreamCaFile: caFile });
    const untrusting = await startTestProxy({ upstreamProxy: parent.url });
    await withProxies(async () => {
      const response = await rawExchange(child.port, `GET ${secure.url}/tls HTTP/1.1\r\nHost: 127.0.0.1:${secure.port}\r\nConnection: close\r\n\r\n`);
      assert.equal(statusOf(response.text), 200, response.text);
      // The tunnel stays open in the child's pool; the parent has counted its CONNECT.
      assert.equal(sample(await parent.metricsText(), 'datakit_input_proxy_connect_total{client_ip="127.0.0.1"}'), 1, 'the parent carried a tunnel');
      // The origin's certificate is checked through the tunnel too.
      const refused = await rawExchange(untrusting.port, `GET ${secure.url}/tls HTTP/1.1\r\nHost: 127.0.0.1:${secure.port}\r\nConnection: close\r\n\r\n`);
      assert.equal(statusOf(refused.text), 502, refused.text);
      assert.match(refused.text, /TLS to 127\.0\.0\.1:\d+ through the upstream proxy failed/);
    }, child, untrusting, parent);
    await secure.close();
  });
});

describe('through a raw parent', () => {
  test('credentials go to the parent only; plain http:// connections are pooled by parent, not by origin', async () => {
    const parent = await startRawParent(() => ok('from the parent'));
    const child = await startTestProxy({ upstreamProxy: `http://${PARENT_USERINFO}@127.0.0.1:${parent.port}` });
    const originRequests = origin.requests + otherOrigin.requests;
    await withProxies(async () => {
      const client = await RawConversation.open(child.port);
      try {
        // The client's own Proxy-Authorization is for this proxy and is never passed on.
        client.write(`GET ${origin.url}/a HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Basic Y2xpZW50OnNlY3JldA==\r\n\r\n`);
        client.write(`GET ${otherOrigin.url}/b HTTP/1.1\r\nHost: y\r\n\r\n`);
        const responses = await client.responses(2);
        assert.deepEqual(responses.map((r) => r.status), [200, 200]);
      } finally {
        client.destroy();
      }
      assert.equal(parent.heads.length, 2);
      assert.match(parent.heads[0]!, new RegExp(`^GET ${origin.url}/a HTTP/1\\.1\\r\\n`));
      assert.match(parent.heads[1]!, new RegExp(`^GET ${otherOrigin.url}/b HTTP/1\\.1\\r\\n`));
      for (const head of parent.heads) {
        assert.equal(fieldOf(head, 'proxy-authorization'), CREDENTIALS, head);
        assert.equal(head.split('\r\n').filter((l) => /^proxy-authorization:/i.test(l)).length, 1, head);
      }
      assert.equal(parent.connections, 1, 'two origins, one pooled connection to the parent');
      assert.equal(origin.requests + otherOrigin.requests, originRequests, 'nothing went to the origins directly');
    }, child);
    await parent.close();
  });

  test('a 407 from the parent is a 502 for the client and one log line naming the parent, for forwarding and CONNECT', async () => {
    const parent = await startRawParent(() => 'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="corp"\r\nContent-Length: 0\r\n\r\n');
    const child = await startTestProxy({ upstreamProxy: `http://${PARENT_USERINFO}@127.0.0.1:${parent.port}` });
    await withProxies(async () => {
      const forwarded = await rawExchange(child.port, `GET ${origin.url}/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      assert.equal(statusOf(forwarded.text), 502, forwarded.text);
      assert.match(forwarded.text, /the upstream proxy refused this proxy's credentials/);
      assert.doesNotMatch(forwarded.text, /Proxy-Authenticate/i, 'the parent\'s challenge is not passed to the client');
      const tunnelled = await rawExchange(child.port, `CONNECT 127.0.0.1:${origin.port} HTTP/1.1\r\nHost: 127.0.0.1:${origin.port}\r\n\r\n`);
      assert.equal(statusOf(tunnelled.text), 502, tunnelled.text);
      const lines = child.logs.filter((line) => line['code'] === 'EPROXY_PARENT_PROXY_AUTH');
      assert.equal(lines.length, 1, 'one line a minute, however many requests');
      assert.equal(lines[0]!['upstream_proxy'], `http://127.0.0.1:${parent.port}`);
      assert.match(String(lines[0]!['msg']), /refused our credentials \(407\)/);
      assert.ok(!JSON.stringify(child.logs).includes('p@ss'), 'the password is never logged');
    }, child);
    await parent.close();
  });

  test('a parent that refuses a CONNECT (403) is a 502 that says so', async () => {
    const parent = await startRawParent(() => 'HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
    const child = await startTestProxy({ upstreamProxy: `http://127.0.0.1:${parent.port}` });
    await withProxies(async () => {
      const tunnelled = await rawExchange(child.port, `CONNECT 127.0.0.1:${origin.port} HTTP/1.1\r\nHost: 127.0.0.1:${origin.port}\r\n\r\n`);
      assert.equal(statusOf(tunnelled.text), 502, tunnelled.text);
      assert.match(tunnelled.text, /the upstream proxy refused the connection to 127\.0\.0\.1:\d+ \(403\)/);
      assert.equal(fieldOf(parent.heads[0]!, 'proxy-authorization'), undefined, 'no credentials configured, none sent');
    }, child);
    await parent.close();
  });

  test('a silent parent is a 504 within timeouts.connect; an unreachable one a 502', async () => {
    const silent = await startRawParent(() => undefined);
    const slow = await startTestProxy({ upstreamProxy: `http://127.0.0.1:${silent.port}` }, (config) => {
      config.timeouts.connectMs = 300;
    });
    const unreachable = await startTestProxy({ upstreamProxy: `http://127.0.0.1:${await closedPort()}` });
    await withProxies(async () => {
      const tunnelled = await rawExchange(slow.port, `CONNECT 127.0.0.1:${origin.port} HTTP/1.1\r\nHost: 127.0.0.1:${origin.port}\r\n\r\n`);
      assert.equal(statusOf(tunnelled.text), 504, tunnelled.text);
      const secureForward = await rawExchange(slow.port, `GET https://127.0.0.1:${origin.port}/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      assert.equal(statusOf(secureForward.text), 504, secureForward.text);
      for (const request of [
        `GET ${origin.url}/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
        `CONNECT 127.0.0.1:${origin.port} HTTP/1.1\r\nHost: 127.0.0.1:${origin.port}\r\n\r\n`,
      ]) {
        const answer = await rawExchange(unreachable.port, request);
        assert.equal(statusOf(answer.text), 502, answer.text);
        assert.match(answer.text, /cannot connect to 127\.0\.0\.1:\d+ through the upstream proxy/);
      }
    }, slow, unreachable);
    await silent.close();
  });

  test('hosts in upstream_proxy_bypass are reached directly', async () => {
    const parent = await startRawParent(() => ok('from the parent'));
    const child = await startTestProxy({ upstreamProxy: `http://127.0.0.1:${parent.port}` }, (config) => {
      config.upstreamProxyBypass = ['127.0.0.1'];
    });
    await withProxies(async () => {
      const response = await rawExchange(child.port, `GET ${origin.url}/direct HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      assert.equal(statusOf(response.text), 200);
      assert.match(response.text, /"url":"\/direct"/);
      assert.equal(parent.connections, 0);
    }, child);
    await parent.close();
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

