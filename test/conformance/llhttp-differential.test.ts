// The differential test of issue 9: whenever our scanner accepts a request stream or a response, Node's own parser
// (llhttp, strict, through a real `http` server and `http.request` on loopback) accepts the same bytes with the same
// framing: the same messages, in the same order, with the same body bytes. A disagreement where we refuse is fine
// (we are stricter on purpose); one where we accept is a failure.
//
// Bounded: a few thousand generated and mutated cases from a fixed seed, in seconds. On failure the seed, the case
// and its bytes are printed; DIFFERENTIAL_SEED=<n> replays another list, DIFFERENTIAL_CASES=<n> runs more.
//
// One deliberate divergence is allowed: a method llhttp does not know (`GEt`, `FOO`). Methods are extensible
// (RFC 9110 §9.1) and do not take part in request framing (RFC 9112 §6.3), but llhttp knows a fixed list. Such a
// case is compared up to that message.
import assert from 'node:assert/strict';
import { METHODS } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { RequestOracle, ResponseOracle, type OracleResult } from './llhttp-oracle.js';
import { generateRequests, generateResponse } from './message-generator.js';
import { modelRequests, modelResponse, type ModelResult } from './scanner-model.js';
import { SeededRandom } from './seeded-random.js';

const SEED = Number(process.env.DIFFERENTIAL_SEED ?? 20_261_209);
const CASES = Number(process.env.DIFFERENTIAL_CASES ?? 2000);
/** Cases in flight at once (each has its own connection). */
const CONCURRENCY = 12;
const KNOWN_METHODS: ReadonlySet<string> = new Set(METHODS);

interface Outcome {
  refused: number;
  skipped: number;
  compared: number;
  extensionMethods: number;
  failures: string[];
}

/** Random piece sizes that add up to `length`: the same stream, split as reads might split it. */
function pieces(random: SeededRandom, length: number): number[] {
  const sizes: number[] = [];
  for (let left = length; left > 0; ) {
    const size = Math.min(left, random.pick([1, 2, 3, 7, 16, 64, 1000]));
    sizes.push(size);
    left -= size;
  }
  return sizes.length > 0 ? sizes : [0];
}

/** A model result without the refusal's message, which depends on where the reads split the bytes. */
function comparable(result: ModelResult): ModelResult {
  return result.accepted === false ? { accepted: false, error: '' } : result;
}

/** Runs `work` over `items` with at most CONCURRENCY at a time. */
async function inTurns<T>(items: readonly T[], work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await work(items[next++] as T);
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

function describeCase(index: number, bytes: Buffer, recipe: readonly string[], problem: string): string {
  return `case ${index} (seed ${SEED}): ${problem}\n  bytes: ${JSON.stringify(bytes.toString('latin1'))}\n  recipe: ${recipe.join('; ') || 'as generated'}`;
}

/** Where our reading and llhttp's differ, or undefined. */
function compare(ours: Extract<ModelResult, { accepted: true }>, theirs: OracleResult): { problem: string } | { extensionMethod: true } | undefined {
  for (let i = 0; i < ours.messages.length; i++) {
    const mine = ours.messages[i];
    const oracle = theirs.messages[i];
    if (mine === undefined) break;
    if (oracle === undefined) {
      if (theirs.error === 'HPE_INVALID_METHOD' && !KNOWN_METHODS.has(mine.start)) return { extensionMethod: true };
      return { problem: `llhttp read ${theirs.messages.length} message(s) where we read ${ours.messages.length} (llhttp: ${theirs.error ?? 'no error'})` };
    }
    if (mine.start !== oracle.start || mine.target !== oracle.target) {
      return { problem: `message ${i}: we read ${mine.start} ${mine.target}, llhttp ${oracle.start} ${oracle.target}` };
    }
    if (!mine.body.equals(oracle.body)) {
      return { problem: `message ${i}: body ${JSON.stringify(mine.body.toString('latin1'))} where llhttp read ${JSON.stringify(oracle.body.toString('latin1'))}` };
    }
  }
  if (theirs.messages.length > ours.messages.length) return { problem: `llhttp read ${theirs.messages.length} message(s), we ${ours.messages.length}` };
  if (ours.interim !== theirs.interim) return { problem: `${ours.interim} interim response(s) where llhttp read ${theirs.interim}` };
  // The stream ends at a message boundary by our reading: llhttp must have nothing to complain about.
  if (!ours.endsInMessage && theirs.error !== undefined) return { problem: `llhttp refused what we accepted: ${theirs.error}` };
  return undefined;
}

async function run(
  generate: (random: SeededRandom) => { bytes: Buffer; recipe: string[]; method?: string },
  model: (method: string, bytes: Buffer, split: readonly number[]) => ModelResult,
  oracle: (method: string, bytes: Buffer) => Promise<OracleResult>,
  endsInMessageIsRefusal: boolean,
): Promise<Outcome> {
  const random = new SeededRandom(SEED);
  const outcome: Outcome = { refused: 0, skipped: 0, compared: 0, extensionMethods: 0, failures: [] };
  const toCompare: Array<{ index: number; method: string; bytes: Buffer; recipe: string[]; ours: Extract<ModelResult, { accepted: true }> }> = [];
  for (let index = 0; index < CASES; index++) {
    const { bytes, recipe, method = '' } = generate(random);
    const ours = model(method, bytes, [bytes.length]);
    // The same bytes in other reads must be read the same way.
    const split = model(method, bytes, pieces(random, bytes.length));
    if (JSON.stringify(comparable(split)) !== JSON.stringify(comparable(ours))) {
      outcome.failures.push(describeCase(index, bytes, recipe, `split into reads, it is read differently: ${JSON.stringify(split)} against ${JSON.stringify(ours)}`));
      continue;
    }
    if (ours.accepted === false || (ours.accepted === true && endsInMessageIsRefusal && ours.endsInMessage)) outcome.refused++;
    else if (ours.accepted === 'skipped') outcome.skipped++;
    else toCompare.push({ index, method, bytes, recipe, ours });
  }
  await inTurns(toCompare, async ({ index, method, bytes, recipe, ours }) => {
    const theirs = await oracle(method, bytes.subarray(0, ours.consumed));
    const difference = compare(ours, theirs);
    outcome.compared++;
    if (difference === undefined) return;
    if ('extensionMethod' in difference) outcome.extensionMethods++;
    else outcome.failures.push(describeCase(index, bytes, recipe, difference.problem));
  });
  return outcome;
}

function report(outcome: Outcome, diagnostic: (message: string) => void): void {
  diagnostic(`seed ${SEED}: ${CASES} cases, ${outcome.compared} accepted and compared with llhttp, ${outcome.refused} refused by us, ${outcome.skipped} skipped (CONNECT, upgrade), ${outcome.extensionMethods} with a method llhttp does not know`);
  assert.deepEqual(outcome.failures.slice(0, Number(process.env.DIFFERENTIAL_SHOW ?? 5)), [], `${outcome.failures.length} disagreement(s) where we accept`);
  // A generator that only produced garbage would prove nothing.
  assert.ok(outcome.compared >= CASES / 4, `only ${outcome.compared} of ${CASES} cases were accepted and compared`);
  assert.ok(outcome.refused >= CASES / 10, `only ${outcome.refused} of ${CASES} cases were refused: the mutations are too tame`);
}

describe('differential test against llhttp', () => {
  let requests: RequestOracle;
  let responses: ResponseOracle;
  before(async () => {
    requests = await RequestOracle.start();
    responses = await ResponseOracle.start();
  });
  after(async () => {
    await requests.close();
    await responses.close();
  });

  it('reads every request stream it accepts as llhttp does', async (t) => {
    const outcome = await run(
      (random) => generateRequests(random),
      (_method, bytes, split) => modelRequests(bytes, split),
      (_method, bytes) => requests.read(bytes),
      false,
    );
    report(outcome, (message) => t.diagnostic(message));
  });

  it('reads every response it accepts as llhttp does', async (t) => {
    const outcome = await run(
      (random) => generateResponse(random),
      (method, bytes, split) => modelResponse(method, bytes, split),
      (method, bytes) => responses.read(method, bytes),
      true,
    );
    report(outcome, (message) => t.diagnostic(message));
  });
});
