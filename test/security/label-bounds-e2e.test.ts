/**
 * Label bounds end to end (the unit version is test/metrics/label-bounds.test.ts): 3,000 requests through a real
 * proxy, each with its own made-up method and path, answered by an origin with its own status code and reason
 * phrase, leave the series of every family the client or the origin can name at their caps.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { startHttpOrigin, type OriginServer } from '../helpers/origin-servers.js';
import { parseResponses } from '../helpers/http-transcript.js';
import { startTestProxy, type TestProxy } from '../helpers/test-proxy.js';

const REQUESTS = 3000;
let origin: OriginServer;
let proxy: TestProxy;
let answered = 0;

before(async () => {
  // Every answer its own status (200-599) and reason phrase.
  origin = await startHttpOrigin((_req: http.IncomingMessage, res: http.ServerResponse) => {
    const n = answered++;
    res.writeHead(200 + (n % 400), `Reason ${n}`, { 'Content-Length': '0' });
    res.end();
  });
  // Node's parser only takes the methods it knows: the made-up ones go to an origin that never sees them parsed.
  proxy = await startTestProxy();
});
after(async () => {
  await proxy.stop(100);
  await origin.close();
});

/** Sends `requests` pipelined on one connection and waits for as many responses. */
async function pipelined(requests: string[]): Promise<number[]> {
  const socket = net.connect({ port: proxy.port, host: '127.0.0.1' });
  await once(socket, 'connect');
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  socket.write(requests.join(''));
  for (let waited = 0; parseResponses(text).responses.length < requests.length && waited < 200; waited++) await new Promise((r) => setTimeout(r, 50));
  socket.destroy();
  return parseResponses(text).responses.map((r) => r.status);
}

test(`${REQUESTS} distinct methods, paths, status codes and reason phrases: every series family stays capped`, async () => {
  const batch = 100;
  let served = 0;
  for (let start = 0; start < REQUESTS; start += batch) {
    const requests: string[] = [];
    for (let i = start; i < start + batch; i++) {
      // Even i: a standard method with a distinct path and a distinct status from the origin; odd i: a made-up method.
      const method = i % 2 === 0 ? 'GET' : `X-METHOD-${i}`;
      requests.push(`${method} http://127.0.0.1:${origin.port}/v1/thing-${i}/token-${i.toString(36)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    }
    served += (await pipelined(requests)).length;
  }
  assert.equal(served, REQUESTS, 'every request was answered');
  const text = await proxy.metricsText();
  const lines = (name: string): string[] => text.split('\n').filter((line) => line.startsWith(`${name}{`));
  const methods = new Set(lines('datakit_input_proxy_api_total').map((line) => /method="([^"]*)"/.exec(line)?.[1]));
  assert.ok([...methods].every((m) => m === 'GET' || m === 'other'), `methods: ${[...methods].join(' ')}`);
  assert.ok(lines('datakit_input_proxy_api_total').length <= 2 * 301, `${lines('datakit_input_proxy_api_total').length} api_total series`);
  const statuses = new Set(lines('datakit_input_proxy_api_latency_seconds_count').map((line) => /status="([^"]*)"/.exec(line)?.[1]));
  assert.ok(statuses.size <= 70, `${statuses.size} status label values`);
  assert.ok(![...statuses].some((s) => s?.startsWith('Reason')), 'no reason phrase from the origin is a label');
  assert.ok(text.length < 1_000_000, `${text.length} bytes per scrape`);
});
