/**
 * The relay's state machine on its own: events in, effects out, no socket and no clock (test/helpers/relay-script.ts).
 * Each test is a short script over the forwarding route, the intercept route, or both; timeouts are events the
 * test sends (`after(ms)`), so a 30 s timeout costs nothing to test.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { InterceptRoute } from '../../src/mitm/intercept-route.js';
import { FORWARD_ROUTE } from '../../src/relay/forward-route.js';
import { ClientPhase } from '../../src/relay/connection-relay.js';
import { RejectError } from '../../src/errors.js';
import { SelfLoopGuard, type RequestContext, type RequestGuard } from '../../src/relay/guards.js';
import { PortPolicyGuard } from '../../src/relay/security-guards.js';
import { PortPolicy } from '../../src/policy/port-policy.js';
import type { Route } from '../../src/relay/route.js';
import { RelayScript, ScriptEnvironment } from '../helpers/relay-script.js';

const TUNNEL = { host: 'origin.example', port: 8443, authority: 'origin.example:8443' };

interface RouteCase {
  name: string;
  route: () => Route;
  /** A request head the route's clients write, for `path` on the origin. */
  head(path: string, extra?: string, method?: string): string;
  origin: string;
}

const ROUTES: RouteCase[] = [
  {
    name: 'forward',
    route: () => FORWARD_ROUTE,
    head: (path, extra = '', method = 'GET') => `${method} http://origin.example:8080${path} HTTP/1.1\r\nHost: origin.example:8080\r\n${extra}\r\n`,
    origin: 'http://origin.example:8080',
  },
  {
    name: 'intercept',
    route: () => new InterceptRoute(TUNNEL),
    head: (path, extra = '', method = 'GET') => `${method} ${path} HTTP/1.1\r\nHost: origin.example:8443\r\n${extra}\r\n`,
    origin: 'https://origin.example:8443',
  },
];

const OK_RESPONSE = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';

for (const r of ROUTES) {
  describe(`the relay machine, ${r.name} route`, () => {
    test('a request and its response: head rewritten, body passed on, one record, the upstream pooled', () => {
      const s = new RelayScript({ route: r.route() });
      s.client(`${r.head('/v1/write/metric?token=t', 'Content-Length: 5\r\nConnection: keep-alive\r\nX-Kept: yes\r\n', 'POST')}hello`);
      const sent = s.io.take();
      assert.equal(sent[0], `openUpstream ${r.origin}`);
      // The head and the body bytes read with it: one write.
      assert.equal(sent.length, 2, sent.join(' | '));
      assert.match(sent[1] ?? '', /^writeUpstream POST \/v1\/write\/metric\?token=t HTTP\/1\.1\r\n/);
      assert.match(sent[1] ?? '', /\r\nX-Kept: yes\r\n/, 'end-to-end fields go on as they arrived');
      assert.doesNotMatch(sent[1] ?? '', /keep-alive/i, 'hop-by-hop fields do not');
      assert.match(sent[1] ?? '', /\r\nVia: 1\.1 egress-proxy\r\n\r\nhello$/);
      s.upstream('HTTP/1.1 201 Created\r\nContent-Length: 2\r\nKeep-Alive: timeout=5\r\n\r\nok');
      const back = s.io.take();
      assert.deepEqual(back, [
        'corkClient',
        'writeClient HTTP/1.1 201 Created\r\nContent-Length: 2\r\nVia: 1.1 egress-proxy\r\n\r\n',
        'writeClient ok',
        'releaseUpstream reusable',
      ]);
      assert.equal(s.relay.phase, ClientPhase.Idle);
      assert.equal(s.records.length, 1);
      assert.deepEqual(
        { status: s.records[0]?.statusCode, in: s.records[0]?.bytesFromClient, out: s.records[0]?.bytesToClient, path: s.records[0]?.path },
        { status: 201, in: 5, out: 2, path: '/v1/write/metric' },
      );
      assert.equal(s.env.tracker.requestsInFlight, 0);
    });

    test('body bytes after the read that brought the head go on as they come; held ones are copies', () => {
      const s = new RelayScript({ route: r.route() });
      s.client(r.head('/up', 'Content-Length: 6\r\n', 'POST'));
      const sent = s.io.take();
      assert.equal(sent.length, 2, sent.join(' | '));
      assert.match(sent[1] ?? '', /^writeUpstream POST \/up HTTP\/1\.1\r\n[^]*\r\n\r\n$/, 'the head alone, once its read is scanned');
      s.client('abc');
      assert.deepEqual(s.io.take(), ['writeUpstream abc']);
      // No connection yet: the body bytes of the head's read wait, copied, since the read's buffer may be reused.
      const later = new RelayScript({ route: r.route() });
      later.io.answer = 'later';
      const read = Buffer.from(`${r.head('/up', 'Content-Length: 3\r\n', 'POST')}xyz`, 'latin1');
      later.client(read);
      read.fill(0x21);
      later.io.take();
      later.relay.upstreamOpened(false);
      const written = later.io.take().filter((e) => e.startsWith('writeUpstream '));
      assert.equal(written.length, 1, written.join(' | '));
      assert.match(written[0] ?? '', /\r\n\r\nxyz$/);
    });

    test('a head without a body is written alone, without holding the socket\'s writes for a body', () => {
      const s = new RelayScript({ route: r.route() });
      s.client(r.head('/ping'));
      const sent = s.io.take();
      assert.equal(sent[0], `openUpstream ${r.origin}`);
      assert.match(sent[1] ?? '', /^writeUpstream GET \/ping HTTP\/1\.1\r\n/);
      assert.equal(sent.length, 2, sent.join(' | '));
      s.upstream('HTTP/1.1 204 No Content\r\nKeep-Alive: timeout=5\r\n\r\n');
      assert.deepEqual(s.io.take(), ['writeClient HTTP/1.1 204 No Content\r\nVia: 1.1 egress-proxy\r\n\r\n', 'releaseUpstream reusable']);
      s.client(r.head('/empty'));
      s.io.take();
      s.upstream('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
      assert.deepEqual(s.io.take(), ['writeClient HTTP/1.1 200 OK\r\nContent-Length: 0\r\nVia: 1.1 egress-proxy\r\n\r\n', 'releaseUpstream reusable']);
    });

    test('pipelined requests: the second is held, unread, until the first response has ended', () => {
      const s = new RelayScript({ route: r.route() });
      s.io.answer = 'later';
      s.client(r.head('/one') + r.head('/two'));
      assert.deepEqual(s.io.take(), [`openUpstream ${r.origin}`, 'pauseClient']);
      s.relay.upstreamOpened(true);
      s.io.take();
      s.upstream(OK_RESPONSE);
      const effects = s.io.take();
      // The held request is scanned once the first response is out, and its client read again.
      assert.ok(effects.indexOf('releaseUpstream reusable') < effects.indexOf(`openUpstream ${r.origin}`), effects.join('\n'));
      assert.equal(effects.at(-1), 'resumeClient');
      assert.equal(s.relay.phase, ClientPhase.Waiting);
    });

    test('a head that does not come in time: 408, recorded as a reject and a client failure', () => {
      const s = new RelayScript({ route: r.route() });
      s.client(r.head('/slow').slice(0, 20));
      s.after(s.config.timeouts.clientHeadersMs - 1);
      assert.deepEqual(s.io.take(), []);
      s.after(1);
      const effects = s.io.take();
      assert.match(effects[0] ?? '', /^writeClient HTTP\/1\.1 408 Request Timeout\r\n[^]*Connection: close\r\n/);
      assert.equal(effects[1], 'finishClient');
      assert.equal(s.env.rejects[0]?.clientFailure, 'headers_timeout');
    });

    test('a malformed head after a served request is recorded under no target, not the last request\'s', () => {
      const s = new RelayScript({ route: r.route() });
      s.client(r.head('/v1/write/metric'));
      s.upstream(OK_RESPONSE);
      s.io.take();
      s.client('GARBAGE\r\n\r\n');
      assert.match(s.io.take()[0] ?? '', /^writeClient HTTP\/1\.1 400 /);
      assert.deepEqual({ method: s.env.rejects[0]?.method, target: s.env.rejects[0]?.target }, { method: '', target: '' });
    });

    test('empty lines before a first request do not restart the head timeout: 408 on time', () => {
      const s = new RelayScript({ route: r.route() });
      const { clientHeadersMs } = s.config.timeouts;
      for (let i = 0; i < 4; i++) s.after(clientHeadersMs / 4 - 1).client('\r\n');
      assert.deepEqual(s.io.take(), []);
      assert.equal(s.relay.phase, ClientPhase.Idle);
      s.after(4);
      assert.match(s.io.take()[0] ?? '', /^writeClient HTTP\/1\.1 408 Request Timeout\r\n/);
    });

    test('empty lines between requests do not restart the keep-alive timeout', () => {
      const s = new RelayScript({ route: r.route() });
      s.client(r.head('/one'));
      s.upstream(OK_RESPONSE);
      s.io.take();
      assert.equal(s.relay.phase, ClientPhase.Idle);
      const { clientKeepAliveMs } = s.config.timeouts;
      for (let i = 0; i < 4; i++) s.after(clientKeepAliveMs / 4 - 1).client('\r\n\r\n');
      assert.deepEqual(s.io.take(), [], 'nothing yet');
      s.after(4);
      assert.notEqual(s.relay.phase, ClientPhase.Idle, 'closed at the keep-alive timeout, counted from the response');
      assert.ok(s.io.take().length > 0);
    });

    test('a body that stops arriving: 408 after client_body, the upstream let go, a client timeout and not an upstream one', () => {
      const s = new RelayScript({ route: r.route() });
      s.client(`${r.head('/upload', 'Content-Length: 10\r\n', 'POST')}abc`);
      s.io.take();
      // Body bytes keep the body timer from firing; they are the client's doing.
      s.after(s.config.timeouts.clientBodyMs - 1000).client('def');
      s.after(s.config.timeouts.clientBodyMs - 1000);
      assert.deepEqual(s.io.take().filter((e) => !e.startsWith('writeUpstream')), []);
      s.after(1000);
      const effects = s.io.take();
      assert.equal(effects[0], 'releaseUpstream closed');
      assert.match(effects[1] ?? '', /^writeClient HTTP\/1\.1 408 [^]*X-Egress-Proxy-Error: EPROXY_CLIENT_BODY_TIMEOUT\r\n/);
      assert.equal(effects[2], 'finishClient');
      const [record] = s.records;
      assert.equal(record?.statusCode, 408);
      assert.equal(record?.clientFailure, 'body_timeout');
      assert.equal(record?.upstreamFailure, undefined);
      assert.equal(s.env.tracker.requestsInFlight, 0);
    });

    test('the upstream response timeout runs from the end of the request, never reset by body bytes', () => {
      const s = new RelayScript({ route: r.route() });
      const { upstreamResponseMs } = s.config.timeouts;
      s.client(`${r.head('/upload', 'Content-Length: 8\r\n', 'POST')}ab`);
      // A slow body is the client's business: no 504 however long it takes, as long as it keeps coming.
      for (let i = 0; i < 5; i++) s.after(s.config.timeouts.clientBodyMs / 2).client('c');
      assert.ok(s.env.clock > upstreamResponseMs);
      s.client('d');
      s.io.take();
      s.after(upstreamResponseMs - 1);
      assert.deepEqual(s.io.take(), []);
      s.after(1);
      const effects = s.io.take();
      assert.equal(effects[0], 'releaseUpstream closed');
      assert.match(effects[1] ?? '', /^writeClient HTTP\/1\.1 504 /);
      assert.equal(s.records[0]?.upstreamFailure, 'timeout');
    });

    test('waiting for a 100 Continue is not a slow body: the upstream timer runs, not the body timer', () => {
      const s = new RelayScript({ route: r.route() });
      s.client(r.head('/upload', 'Content-Length: 4\r\nExpect: 100-continue\r\n', 'POST'));
      s.after(s.config.timeouts.clientBodyMs);
      assert.equal(s.io.take().some((e) => e.includes(' 408 ')), false);
      s.upstream('HTTP/1.1 100 Continue\r\n\r\n');
      assert.match(s.io.clientText(), /^HTTP\/1\.1 100 Continue\r\n/);
      s.client('body');
      s.upstream(OK_RESPONSE);
      assert.match(s.io.clientText(), /^HTTP\/1\.1 200 OK\r\n/);
    });

    test('a client that ends its side mid-upload: the upstream is let go at once, recorded as aborted', () => {
      const s = new RelayScript({ route: r.route() });
      s.client(`${r.head('/upload', 'Content-Length: 100\r\n', 'POST')}part`);
      s.io.take();
      s.relay.clientEnd();
      assert.deepEqual(s.io.take(), ['releaseUpstream closed', 'closeClient']);
      assert.equal(s.records[0]?.clientFailure, 'aborted');
      assert.equal(s.records[0]?.statusCode, undefined);
      assert.equal(s.env.tracker.requestsInFlight, 0);
    });

    test('a close-delimited response goes to an HTTP/1.1 client as chunks, ends with the last chunk, and the connection stays', () => {
      const s = new RelayScript({ route: r.route() });
      s.client(r.head('/stream'));
      s.io.take();
      s.upstream('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello');
      s.upstream(' world');
      s.relay.upstreamEnd();
      const written = s.io.clientText();
      assert.equal(written, 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nVia: 1.1 egress-proxy\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n');
      assert.equal(s.relay.phase, ClientPhase.Idle, 'kept alive: the chunks say where the body ended');
      assert.equal(s.records[0]?.bytesToClient, 11);
    });

    test('an HTTP/1.0 client gets a close-delimited body as it is, and the connection ends with it', () => {
      const s = new RelayScript({ route: r.route() });
      s.client(r.head('/stream').replace('HTTP/1.1', 'HTTP/1.0'));
      s.io.take();
      s.upstream('HTTP/1.1 200 OK\r\n\r\nhello');
      s.relay.upstreamEnd();
      const effects = s.io.take();
      assert.ok(effects.includes('writeClient hello'));
      assert.ok(effects.some((e) => e.startsWith('writeClient HTTP/1.1 200 OK\r\n') && e.includes('\r\nConnection: close\r\n')));
      assert.equal(effects.at(-1), 'finishClient');
    });

    for (const [framing, head] of [
      ['Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n'],
      ['chunked', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n'],
      ['close-delimited', 'HTTP/1.1 200 OK\r\n\r\n'],
    ] as const) {
      test(`a ${framing} response cut short: the client connection is reset, and the record counts what got through`, () => {
        const s = new RelayScript({ route: r.route() });
        s.client(r.head('/cut'));
        s.io.take();
        s.upstream(framing === 'chunked' ? head : `${head}0123456789`);
        s.relay.upstreamClosed(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
        const effects = s.io.take();
        assert.equal(effects.at(-1), 'resetClient', effects.join('\n'));
        assert.equal(effects.includes('writeClient 0\r\n\r\n'), false, 'never the last chunk of a body cut short');
        assert.equal(s.records[0]?.upstreamFailure, 'reset');
        assert.equal(s.records[0]?.bytesToClient, framing === 'chunked' ? 10 : 10);
      });
    }

    for (const status of ['099', '600', '999']) {
      test(`status ${status} from the upstream: 502, and the connection to it is not reused`, () => {
        const s = new RelayScript({ route: r.route() });
        s.client(r.head('/weird'));
        s.io.take();
        s.upstream(`HTTP/1.1 ${status} Weird\r\nContent-Length: 0\r\n\r\n`);
        const effects = s.io.take();
        assert.equal(effects[0], 'releaseUpstream closed');
        assert.match(effects[1] ?? '', /^writeClient HTTP\/1\.1 502 /);
        assert.equal(s.relay.phase, ClientPhase.Idle, 'the client connection is kept');
      });
    }

    test('one reason-phrase policy: control characters in it give the standard phrase, a clean one passes', () => {
      const s = new RelayScript({ route: r.route() });
      s.client(r.head('/a'));
      s.upstream('HTTP/1.1 200 O\x01K\r\nContent-Length: 0\r\n\r\n');
      assert.match(s.io.clientText(), /^HTTP\/1\.1 200 OK\r\n/);
      s.client(r.head('/b'));
      s.upstream('HTTP/1.1 200 Fine Thanks\r\nContent-Length: 0\r\n\r\n');
      assert.match(s.io.clientText(), /^HTTP\/1\.1 200 Fine Thanks\r\n/);
    });

    test('a pooled connection that fails before any response byte: a GET is sent once more, on a new connection', () => {
      const s = new RelayScript({ route: r.route() });
      s.client(r.head('/idempotent'));
      const first = s.io.take();
      assert.equal(first[0], `openUpstream ${r.origin}`);
      s.relay.upstreamClosed(undefined);
      const retry = s.io.take();
      assert.equal(retry[0], 'releaseUpstream closed');
      assert.equal(retry[1], `openUpstream ${r.origin} fresh`);
      assert.match(retry[2] ?? '', /^writeUpstream GET \/idempotent HTTP\/1\.1\r\n/);
      s.upstream(OK_RESPONSE);
      assert.match(s.io.clientText(), /^HTTP\/1\.1 200 OK\r\n/);
      assert.equal(s.records.length, 1);
      // Only once: the new connection failing too is a 502.
      s.client(r.head('/again'));
      s.io.take();
      s.relay.upstreamClosed(undefined);
      s.io.take();
      s.relay.upstreamClosed(undefined);
      assert.match(s.io.clientText(), /^HTTP\/1\.1 502 /);
    });

    for (const [name, head, body] of [
      ['a POST with a body', r.head('/post', 'Content-Length: 5\r\n', 'POST'), 'hello'],
      ['a POST without a body', r.head('/post', 'Content-Length: 0\r\n', 'POST'), ''],
      ['a PUT with a body', r.head('/put', 'Content-Length: 5\r\n', 'PUT'), 'hello'],
    ] as const) {
      test(`${name} is never sent twice: a stale pooled connection answers it 502`, () => {
        const s = new RelayScript({ route: r.route() });
        s.client(head + body);
        s.io.take();
        s.relay.upstreamClosed(undefined);
        const effects = s.io.take();
        assert.equal(effects.filter((e) => e.startsWith('openUpstream')).length, 0, effects.join('\n'));
        assert.match(effects.find((e) => e.startsWith('writeClient')) ?? '', /^writeClient HTTP\/1\.1 502 /);
      });
    }

    test('a dialled connection that fails is not retried (nothing was stale about it)', () => {
      const s = new RelayScript({ route: r.route() });
      s.io.answer = 'dialled';
      s.client(r.head('/fresh'));
      s.io.take();
      s.relay.upstreamClosed(undefined);
      assert.match(s.io.clientText(), /^HTTP\/1\.1 502 /);
    });

    test('a connect that takes too long: 504 after timeouts.connect, the dial abandoned', () => {
      const s = new RelayScript({ route: r.route() });
      s.io.answer = 'later';
      s.client(r.head('/blackhole'));
      s.io.take();
      s.after(s.config.timeouts.connectMs);
      const effects = s.io.take();
      assert.equal(effects[0], 'releaseUpstream closed');
      assert.match(effects[1] ?? '', /^writeClient HTTP\/1\.1 504 [^]*EPROXY_UPSTREAM_CONNECT_TIMEOUT/);
    });

    test('a client that does not read its response: cut after upstream_response, a client failure (stalled)', () => {
      const s = new RelayScript({ route: r.route() });
      s.client(r.head('/big'));
      s.io.clientAccepts = false;
      s.upstream('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234');
      assert.ok(s.io.take().includes('pauseUpstream'));
      s.after(s.config.timeouts.upstreamResponseMs);
      const effects = s.io.take();
      assert.equal(effects.at(-1), 'resetClient');
      assert.equal(s.records[0]?.clientFailure, 'stalled');
      assert.equal(s.records[0]?.upstreamFailure, undefined);
    });

    test('a protocol switch asked for: Upgrade goes on, the 101 comes back, then bytes both ways untouched', () => {
      const s = new RelayScript({ route: r.route() });
      s.client(`${r.head('/ws', 'Connection: Upgrade\r\nUpgrade: websocket\r\n')}early`);
      const sent = s.io.take();
      const head = sent.find((e) => e.startsWith('writeUpstream GET')) ?? '';
      assert.match(head, /\r\nUpgrade: websocket\r\n/);
      assert.match(head, /\r\nConnection: Upgrade\r\n/);
      s.upstream('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nfrom-origin');
      const back = s.io.take();
      assert.ok(back.some((e) => e.startsWith('writeClient HTTP/1.1 101 Switching Protocols\r\n') && e.includes('\r\nUpgrade: websocket\r\n')));
      assert.ok(back.includes('writeUpstream early'), 'bytes held behind the upgrade request go on raw');
      assert.ok(back.includes('writeClient from-origin'));
      assert.equal(s.relay.phase, ClientPhase.Switched);
      s.client('GET / HTTP/1.1\r\n\r\n');
      assert.deepEqual(s.io.take(), ['writeUpstream GET / HTTP/1.1\r\n\r\n'], 'no HTTP parsing any more');
      s.after(s.config.timeouts.tunnelIdleMs);
      assert.deepEqual(s.io.take(), ['releaseUpstream closed', 'closeClient']);
      assert.equal(s.env.tracker.requestsInFlight, 0);
    });

    test('a 101 nobody asked for: 502', () => {
      const s = new RelayScript({ route: r.route() });
      s.client(r.head('/plain'));
      s.io.take();
      s.upstream('HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n');
      assert.match(s.io.clientText(), /^HTTP\/1\.1 502 /);
    });

    test('a drain: an idle connection closes at once, a busy one after its response, which says so', () => {
      const idle = new RelayScript({ route: r.route() });
      idle.relay.closeWhenIdle();
      assert.deepEqual(idle.io.take(), ['finishClient']);
      const busy = new RelayScript({ route: r.route() });
      busy.client(r.head('/busy'));
      busy.io.take();
      busy.relay.closeWhenIdle();
      busy.upstream(OK_RESPONSE);
      const effects = busy.io.take();
      assert.ok(effects.some((e) => e.includes('\r\nConnection: close\r\n')));
      assert.equal(effects.at(-1), 'finishClient');
    });
  });
}

describe('the relay machine: slots shared by connections', () => {
  test('one client holds at most its share of an origin\'s slots; another client is not kept waiting by it', () => {
    const setup = new RelayScript({
      route: FORWARD_ROUTE,
      tweak: (config) => {
        config.limits.upstreamMaxSocketsPerHost = 2;
        config.limits.upstreamMaxSocketsPerClient = 1;
      },
    });
    const env = setup.env;
    const head = 'GET http://origin.example/x HTTP/1.1\r\nHost: origin.example\r\n\r\n';
    const a1 = new RelayScript({ route: FORWARD_ROUTE, environment: env, clientIp: '192.0.2.1' });
    const a2 = new RelayScript({ route: FORWARD_ROUTE, environment: env, clientIp: '192.0.2.1' });
    const b = new RelayScript({ route: FORWARD_ROUTE, environment: env, clientIp: '192.0.2.2' });
    a1.client(head);
    a2.client(head);
    b.client(head);
    assert.equal(a1.io.opened.length, 1);
    assert.equal(a2.io.opened.length, 0, 'the second request of the same client waits');
    assert.equal(b.io.opened.length, 1, 'another client gets the other slot');
    a1.upstream(OK_RESPONSE);
    assert.equal(a2.io.opened.length, 1, 'the slot given back goes to the waiter');
  });

  test('waiting for a slot is bounded by timeouts.connect: 504, never sent upstream', () => {
    const env = new RelayScript({ route: FORWARD_ROUTE, tweak: (config) => (config.limits.upstreamMaxSocketsPerHost = 1) }).env;
    const head = 'GET http://origin.example/x HTTP/1.1\r\nHost: origin.example\r\n\r\n';
    const holder = new RelayScript({ route: FORWARD_ROUTE, environment: env });
    const waiter = new RelayScript({ route: FORWARD_ROUTE, environment: env, clientIp: '192.0.2.9' });
    holder.client(head);
    waiter.client(head);
    holder.after(env.settings.current.timeouts.connectMs);
    assert.equal(waiter.io.opened.length, 0);
    assert.match(waiter.io.clientText(), /^HTTP\/1\.1 504 [^]*EPROXY_UPSTREAM_CONNECT_TIMEOUT/);
  });
});

describe('the relay machine: routing decisions', () => {
  test('a CONNECT is handed over with the bytes read behind its head; a host the MITM lists name is intercepted', () => {
    const tunnel = new RelayScript({ route: FORWARD_ROUTE });
    tunnel.client('CONNECT origin.example:443 HTTP/1.1\r\nHost: origin.example:443\r\n\r\n\x16\x03\x01');
    assert.deepEqual(tunnel.io.take(), ['handOver tunnel origin.example:443']);
    assert.equal(tunnel.io.handedOver[0]?.rest, '\x16\x03\x01');
    assert.equal(tunnel.relay.phase, ClientPhase.Closed);
    const mitm = new RelayScript({ route: FORWARD_ROUTE });
    mitm.client('CONNECT intercepted.example:443 HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.deepEqual(mitm.io.take(), ['handOver intercept intercepted.example:443']);
  });

  test('request guards run in order; the first refusal is the answer, with Connection: close', () => {
    const loop = new SelfLoopGuard();
    loop.addOwnListener('127.0.0.1', 9530);
    const ports = new PortPolicyGuard(new PortPolicy({ connectPorts: [443], httpPorts: [], allow: [] }));
    const s = new RelayScript({ route: FORWARD_ROUTE, requestGuards: [ports, loop] });
    s.client('CONNECT origin.example:25 HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.match(s.io.clientText(), /^HTTP\/1\.1 403 [^]*Port 25 is not allowed/);
    const self = new RelayScript({ route: FORWARD_ROUTE, requestGuards: [ports, loop] });
    self.client('GET http://127.0.0.1:9530/ HTTP/1.1\r\nHost: x\r\n\r\n');
    const effects = self.io.take();
    assert.match(effects[0] ?? '', /^writeClient HTTP\/1\.1 508 [^]*Connection: close\r\n/);
    assert.equal(effects[1], 'finishClient');
    assert.equal(self.env.rejects[0]?.reason, 'loop');
  });

  test('a guard sees the request as it would be served, and its refusal can carry header fields (a 407\'s challenge)', () => {
    // Issue 10's proxy authentication, in miniature: the shape every guard has.
    class ChallengeError extends RejectError {
      readonly code = 'EPROXY_TEST_CHALLENGE';
      readonly statusCode = 407;
      readonly reason = 'method';
      readonly publicMessage = 'Proxy authentication required';
      override readonly responseFields = [['Proxy-Authenticate', 'Basic realm="egress-proxy"']] as const;
    }
    const seen: RequestContext[] = [];
    const challenge: RequestGuard = {
      checkRequest: (context) => {
        seen.push(context);
        return context.head.headers.some((f) => f.name === 'proxy-authorization') ? undefined : new ChallengeError();
      },
    };
    const s = new RelayScript({ route: FORWARD_ROUTE, requestGuards: [challenge] });
    s.client('CONNECT origin.example:443 HTTP/1.1\r\nHost: origin.example:443\r\n\r\n');
    assert.match(s.io.clientText(), /^HTTP\/1\.1 407 Proxy Authentication Required\r\n[^]*\r\nProxy-Authenticate: Basic realm="egress-proxy"\r\n/);
    assert.deepEqual(
      { ip: seen[0]?.clientIp, method: seen[0]?.method, route: seen[0]?.route, target: seen[0]?.target.authority, intercepted: seen[0]?.intercepted },
      { ip: '192.0.2.1', method: 'CONNECT', route: 'tunnel', target: 'origin.example:443', intercepted: false },
    );
    const allowed = new RelayScript({ route: FORWARD_ROUTE, requestGuards: [challenge] });
    allowed.client('GET http://origin.example/x HTTP/1.1\r\nHost: origin.example\r\nProxy-Authorization: Basic dTpw\r\n\r\n');
    const sent = allowed.io.take().find((e) => e.startsWith('writeUpstream')) ?? '';
    assert.doesNotMatch(sent, /Proxy-Authorization/i, 'credentials for the proxy never reach the origin');
  });

  test('inside a tunnel, Host must be there once and name the CONNECT authority; absolute forms naming it become origin-form', () => {
    const cases: Array<[string, number]> = [
      ['GET /x HTTP/1.1\r\n\r\n', 400],
      ['GET /x HTTP/1.1\r\nHost: origin.example:8443\r\nHost: origin.example:8443\r\n\r\n', 400],
      ['GET /x HTTP/1.1\r\nHost: elsewhere.example:8443\r\n\r\n', 400],
      ['GET /x HTTP/1.1\r\nHost: origin.example\r\n\r\n', 400],
      ['GET https://elsewhere.example:8443/x HTTP/1.1\r\nHost: origin.example:8443\r\n\r\n', 400],
      ['CONNECT origin.example:8443 HTTP/1.1\r\nHost: origin.example:8443\r\n\r\n', 400],
      ['GET /x HTTP/1.1\r\nHost: ORIGIN.example:8443\r\n\r\n', 0],
      ['GET https://origin.example:8443/x?q=1 HTTP/1.1\r\nHost: origin.example:8443\r\n\r\n', 0],
    ];
    for (const [request, status] of cases) {
      const s = new RelayScript({ route: new InterceptRoute(TUNNEL) });
      s.client(request);
      const effects = s.io.take();
      if (status === 0) {
        assert.equal(effects[0], 'openUpstream https://origin.example:8443', JSON.stringify(request));
        assert.match(effects.find((e) => e.startsWith('writeUpstream')) ?? '', /^writeUpstream GET \/x(\?q=1)? HTTP\/1\.1\r\n/);
      } else {
        assert.match(effects[0] ?? '', new RegExp(`^writeClient HTTP/1\\.1 ${status} `), JSON.stringify(request));
      }
    }
  });
});

describe('the relay machine: a shared environment', () => {
  test('requests in flight are counted until each ends, however it ends', () => {
    const env = new ScriptEnvironment(new RelayScript({ route: FORWARD_ROUTE }).config, []);
    const s = new RelayScript({ route: FORWARD_ROUTE, environment: env });
    s.client('GET http://origin.example/x HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal(env.tracker.requestsInFlight, 1);
    s.relay.clientClosed();
    assert.equal(env.tracker.requestsInFlight, 0);
    assert.equal(env.sweep.size, 0, 'a closed connection leaves the sweep');
  });
});
