// The adversarial corpus of issue 9, over both relay routes (plain forwarding and MITM): each request case
// (test/fixtures/http1-corpus/request-cases.ts) is sent by a raw client, each response case (response-cases.ts) is
// what a raw origin answers; every case asserts the client's answer (status, and whether the connection is kept,
// closed or cut) and what the origin got (how many complete requests, never a smuggled one). Cases run a few at a
// time against one proxy and one origin per route, so pooled upstream connections are shared between cases as
// between clients: a case that poisoned one would break the answers of others.
//
// Cases where a relay does not do the right thing yet for reasons of relay behaviour, not parsing, run as todo
// with their reason (the relay engine, issue 9, makes them pass).
import assert from 'node:assert/strict';
import type http from 'node:http';
import type net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { head, todosOf, type CorpusCase, type CorpusExpectation, type CorpusTodo } from '../fixtures/http1-corpus/corpus-case.js';
import { REQUEST_CASES } from '../fixtures/http1-corpus/request-cases.js';
import { RESPONSE_CASES } from '../fixtures/http1-corpus/response-cases.js';
import type { OriginServer } from '../helpers/origin-servers.js';
import { ROUTES, startRoute, type RawOrigin, type RouteHarness, type RouteName } from '../helpers/relay-routes.js';
import { ResponseReader, type ReadResponse } from './response-reader.js';

/** What the origin of the request cases got, by case. */
interface OriginRequest {
  url: string;
  body: string;
  trailers: number;
}

/** Cases in flight at once on each route. */
const CONCURRENCY = 6;
/** Errors of the origin's parser that only mean a request was cut short (the proxy refused its body mid-way). */
const CUT_SHORT = new Set(['ECONNRESET', 'HPE_INVALID_EOF_STATE', 'EPIPE']);

function expectationFor(route: RouteName, corpusCase: CorpusCase): CorpusExpectation {
  return { ...corpusCase.expect, ...(route === 'mitm' ? corpusCase.mitm : corpusCase.forward) };
}

/** The case's todo on `route`, if it has one. */
function todoOn(route: RouteName, corpusCase: CorpusCase): CorpusTodo | undefined {
  return todosOf(corpusCase).find((todo) => todo.route === route || todo.route === 'both');
}

/**
 * How a case is registered on `route`: one test, todo or not; or, when only what becomes of the connection is
 * todo, a test of everything else and a todo test of the whole.
 */
function registrations(route: RouteName, corpusCase: CorpusCase): Array<{ suffix: string; options: { todo?: string }; checkConnection: boolean }> {
  const todo = todoOn(route, corpusCase);
  if (todo === undefined) return [{ suffix: '', options: {}, checkConnection: true }];
  if (todo.connectionOnly !== true) return [{ suffix: '', options: { todo: todo.reason }, checkConnection: true }];
  return [
    { suffix: '', options: {}, checkConnection: false },
    { suffix: `, and the connection is ${expectationFor(route, corpusCase).connection}`, options: { todo: todo.reason }, checkConnection: true },
  ];
}

const statuses = (expect: CorpusExpectation): readonly number[] => (typeof expect.status === 'number' ? [expect.status] : expect.status);

/**
 * Reads the answers a case expects, then checks what becomes of the connection (unless `checkConnection` is off).
 * `next` is the follow-up request for a connection that is to be kept, answered with a body holding `nextPath`.
 */
async function checkAnswers(reader: ResponseReader, method: string, expect: CorpusExpectation, checkConnection: boolean, next: () => string, nextPath: string): Promise<void> {
  const answers: Array<ReadResponse | undefined> = [];
  for (let i = 0; i < statuses(expect).length; i++) answers.push(await reader.next(method));
  const last = answers.at(-1);
  if (expect.connection === 'cut') {
    // The head may not have left before the cut (writes are corked for a turn): no answer at all is a cut too.
    if (last === undefined) answers.pop();
    assert.deepEqual(answers.map((answer) => answer?.status ?? 'none'), statuses(expect).slice(0, answers.length), 'the answers');
    assert.equal(last?.body, undefined, 'the answer should have been cut short');
    assert.equal((await reader.ends()).ended, true, 'the connection should be closed');
    return;
  }
  assert.deepEqual(answers.map((answer) => answer?.status ?? 'none'), statuses(expect), 'the answers');
  assert.ok(last !== undefined);
  assert.notEqual(last.body, undefined, 'the answer was cut short');
  if (expect.clientBody !== undefined) assert.equal(last.body?.toString('latin1'), expect.clientBody, 'the body the client got');
  if (!checkConnection) return;
  if (expect.connection === 'closed') {
    const { ended, extra } = await reader.ends();
    assert.equal(extra, '', 'nothing may follow the last answer');
    assert.equal(ended, true, 'the connection should be closed');
    return;
  }
  // Kept: the connection is still in step, and the next answer on it is the answer to the next request.
  reader.write(next());
  const following = await reader.next('GET');
  assert.equal(following?.status, 200, 'the connection should be kept, and answer a next request');
  assert.ok(following.body?.toString('latin1').includes(nextPath), `the next request got another's answer: ${following.body?.toString('latin1')}`);
}

for (const route of ROUTES) {
  describe(`adversarial corpus over ${route}`, { concurrency: CONCURRENCY }, () => {
    let harness: RouteHarness;
    let origin: OriginServer;
    let raw: RawOrigin;
    const originRequests = new Map<string, OriginRequest[]>();
    /** Errors of the origin's parser, by the case whose request its connection carried last. */
    const originErrors = new Map<string, string[]>();
    const lastCaseOn = new WeakMap<net.Socket, string>();
    const responseCases = new Map<string, (typeof RESPONSE_CASES)[number]>();
    const responseCaseRequests = new Map<string, number>();

    before(async () => {
      harness = await startRoute(route);
      origin = await harness.httpOrigin((req: http.IncomingMessage, res: http.ServerResponse) => {
        const chunks: Buffer[] = [];
        const url = req.url ?? '';
        const key = /\/c\d+\.\d+\//.exec(url)?.[0] ?? 'unattributed';
        lastCaseOn.set(req.socket, key);
        req.on('data', (chunk: Buffer) => chunks.push(chunk));
        req.on('end', () => {
          const list = originRequests.get(key) ?? [];
          list.push({ url, body: Buffer.concat(chunks).toString('latin1'), trailers: req.rawTrailers.length });
          originRequests.set(key, list);
          res.end(url);
        });
      });
      origin.server.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => {
        const code = err.code ?? err.message;
        const key = lastCaseOn.get(socket) ?? 'unattributed';
        if (!CUT_SHORT.has(code)) originErrors.set(key, [...(originErrors.get(key) ?? []), code]);
        socket.destroy();
      });
      raw = await harness.rawOrigin(({ socket }) => {
        let buffered = '';
        socket.on('data', (data: Buffer) => {
          buffered += data.toString('latin1');
          for (let end = buffered.indexOf('\r\n\r\n'); end !== -1; end = buffered.indexOf('\r\n\r\n')) {
            const path = buffered.slice(0, end).split(' ')[1] ?? '';
            buffered = buffered.slice(end + 4);
            const id = /^\/r(\d+\.\d+)\//.exec(path)?.[1] ?? '';
            if (path.endsWith('/case')) {
              responseCaseRequests.set(id, (responseCaseRequests.get(id) ?? 0) + 1);
              const responseCase = responseCases.get(id);
              socket.write(Buffer.from(responseCase?.response ?? 'HTTP/1.1 500 Unknown case\r\nContent-Length: 0\r\n\r\n', 'latin1'));
              if (responseCase?.closeAfter === true) socket.end();
            } else {
              socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${path.length}\r\n\r\n${path}`);
            }
          }
        });
      });
    });

    // Once every case has run (an origin error may come a moment after its case's own checks): the origin never
    // got a request no case sent, nor one its parser refused, but from cases still todo.
    after(async () => {
      try {
        assert.deepEqual(originRequests.get('unattributed') ?? [], [], 'requests no case sent');
        const refused = [...originErrors].filter(([key]) => {
          const corpusCase = REQUEST_CASES[Number(/\d+/.exec(key)?.[0] ?? -1)];
          return corpusCase === undefined || todoOn(route, corpusCase) === undefined;
        });
        assert.deepEqual(refused, [], 'requests the origin\'s parser refused');
      } finally {
        await harness.close();
      }
    });

    REQUEST_CASES.forEach((corpusCase, index) => {
      registrations(route, corpusCase).forEach(({ suffix, options, checkConnection }, registration) => {
        it(`request: ${corpusCase.name}${suffix} (${corpusCase.source})`, options, async () => {
          const expect = expectationFor(route, corpusCase);
          // A path of its own per test, so that what the origin got is told apart: /c<case>.<test>/...
          const prefix = `/c${index}.${registration}`;
          const target = (path: string): string => harness.target(origin.port, `${prefix}${path}`);
          const host = `127.0.0.1:${origin.port}`;
          const reader = new ResponseReader(await harness.connect(origin.port));
          try {
            reader.write(corpusCase.request(target, host));
            await checkAnswers(reader, 'GET', expect, checkConnection, () => head(target, host, 'GET', '/next'), `${prefix}/next`);
          } finally {
            reader.destroy();
          }
          const got = (originRequests.get(`${prefix}/`) ?? []).filter((request) => !request.url.endsWith(`${prefix}/next`));
          assert.deepEqual(got.filter((request) => request.url.includes('/smuggled')), [], 'the origin got a smuggled request');
          const wanted = expect.originRequests ?? statuses(expect).filter((status) => status >= 200 && status < 300).length;
          assert.equal(got.length, wanted, `complete requests the origin got: ${got.map((request) => request.url).join(', ')}`);
          if (expect.originBody !== undefined) assert.equal(got[0]?.body, expect.originBody, 'the body the origin got');
          assert.equal(got[0]?.trailers ?? 0, 0, 'trailer fields reached the origin');
          assert.deepEqual(originErrors.get(`${prefix}/`) ?? [], [], "the origin's parser refused what it got");
        });
      });
    });

    RESPONSE_CASES.forEach((corpusCase, index) => {
      registrations(route, corpusCase).forEach(({ suffix, options, checkConnection }, registration) => {
        it(`response: ${corpusCase.name}${suffix} (${corpusCase.source})`, options, async () => {
          const expect = expectationFor(route, corpusCase);
          const id = `${index}.${registration}`;
          responseCases.set(id, corpusCase);
          const target = (path: string): string => harness.target(raw.port, `/r${id}${path}`);
          const host = `127.0.0.1:${raw.port}`;
          const method = corpusCase.method ?? 'GET';
          const reader = new ResponseReader(await harness.connect(raw.port));
          try {
            reader.write(head(target, host, method, '/case'));
            await checkAnswers(reader, method, expect, checkConnection, () => head(target, host, 'GET', '/next'), `/r${id}/next`);
          } finally {
            reader.destroy();
          }
          assert.equal(responseCaseRequests.get(id) ?? 0, expect.originRequests ?? 1, 'requests the origin got for the case');
        });
      });
    });
  });
}
