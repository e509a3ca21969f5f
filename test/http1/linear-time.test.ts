// Linear time on any input (issue 9, behaviour 3): one pathological input per former hotspot, each timed against
// a benign input of the same size through the same code, with a bound of 20 times that linear cost.
//
// Why these bounds cannot flake: both inputs are run until the JIT has settled, then timed in turns (so both see
// the same load on the machine), each timing repeating its input often enough to take about 2 ms, in CPU time of
// this process rather than wall time (other processes on the machine do not count). The test passes as soon as one
// turn is within the bound and fails only if every one of up to 7 turns is beyond it: the noise left (a GC pause,
// a background compilation) only ever adds time, a few times over at worst, never 20 times in every turn. A linear
// parser costs about the same on the pathological input as on the benign one (measured: 1-5x for heads, about 6x
// for a head pushed a byte at a time against a body pushed the same way, since a head's bytes are also searched for
// its end), far below 20x; the backtracking versions cost 3000x (a 16 KiB field of spaces: ~200 ms against
// 0.07 ms) and, for the scanner, 150x (a 64 KiB head a byte at a time: ~500 ms against 3.4 ms), far above it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { requestBodyFraming } from '../../src/http1/body-framing.js';
import { ChunkedBodyScanner } from '../../src/http1/chunked-body-scanner.js';
import { parseRequestHead, parseResponseHead } from '../../src/http1/message-head.js';
import { MessageScanner } from '../../src/http1/message-scanner.js';

const TURNS = 7;
const HEADROOM = 20;
/** How long one timing of the benign input should take: long enough for the clock, short enough to retry. */
const TIMING_MS = 2;

/** CPU time of `repeat` runs of `work`, in ms. `work` may throw (a refused input is still timed). */
function cpuMs(work: () => void, repeat: number): number {
  const before = process.cpuUsage();
  for (let i = 0; i < repeat; i++) {
    try {
      work();
    } catch {
      // Refusing the input is the right answer for some of them; what is measured is how long that took.
    }
  }
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}

function assertLinear(pathological: () => void, benign: () => void): void {
  // Warm-up: both inputs through the optimising compiler before anything counts.
  for (let i = 0; i < 3; i++) {
    cpuMs(benign, 1);
    cpuMs(pathological, 1);
  }
  const repeat = Math.max(1, Math.ceil(TIMING_MS / Math.max(cpuMs(benign, 1), 0.001)));
  const turns: string[] = [];
  for (let turn = 0; turn < TURNS; turn++) {
    const linear = cpuMs(benign, repeat);
    const measured = cpuMs(pathological, repeat);
    if (measured <= HEADROOM * linear) return;
    turns.push(`${measured.toFixed(2)} ms against ${linear.toFixed(2)} ms`);
    // Far beyond any noise: no need to wait for the other turns.
    if (measured > 5 * HEADROOM * linear) break;
  }
  assert.fail(`the pathological input took more than ${HEADROOM}x the benign one (${repeat} runs each): ${turns.join('; ')}`);
}

/** Node's head limit, less room for the request line: what one header can hold. */
const N = 16 * 1024 - 100;
const SPACES = ' '.repeat(N);
const LETTERS = 'a'.repeat(N);

describe('linear time on hostile input', () => {
  // Was FIELD_LINE's `(.*?)[ \t]*$`: quadratic in a run of whitespace inside a value.
  it('parses a field value holding a long run of spaces', () => {
    assertLinear(() => parseRequestHead(`GET / HTTP/1.1\r\nX: a${SPACES}b`), () => parseRequestHead(`GET / HTTP/1.1\r\nX: a${LETTERS}b`));
    assertLinear(() => parseRequestHead(`GET / HTTP/1.1\r\nX: a${SPACES}\x00`), () => parseRequestHead(`GET / HTTP/1.1\r\nX: a${LETTERS}b`));
    assertLinear(() => parseResponseHead(`HTTP/1.1 200 OK\r\nX: a${SPACES.replaceAll(' ', '\t')}b`), () => parseResponseHead(`HTTP/1.1 200 OK\r\nX: a${LETTERS}b`));
  });

  // Was the OWS trim of body-framing.ts (`/^[ \t]+|[ \t]+$/g`): quadratic in whitespace inside a list item.
  it('reads a Transfer-Encoding list holding a long run of spaces or commas', () => {
    const te = (value: string) => () => requestBodyFraming(1, [{ name: 'transfer-encoding', value }]);
    assertLinear(te(`a${SPACES}b, chunked`), te(`a${LETTERS}b, chunked`));
    assertLinear(te(`${','.repeat(N)}chunked`), te(`${'a,'.repeat(N / 2)}chunked`));
  });

  // Was the scanner's Buffer.concat of the partial head with every read: quadratic in a head sent a byte at a time.
  it('gathers a head sent a byte at a time', () => {
    const size = 64 * 1024;
    const head = Buffer.from(`GET / HTTP/1.1\r\nX: ${'a'.repeat(size - 40)}\r\n\r\n`);
    const body = Buffer.alloc(head.length, 0x61);
    const bytewise = (wire: Buffer, framing: 'none' | 'length', first?: Buffer) => () => {
      const scanner = new MessageScanner(parseRequestHead, {
        onHead: () => (framing === 'none' ? { kind: 'none' } : { kind: 'length', bytes: body.length }),
        onBody: () => undefined,
        onMessageEnd: () => undefined,
      }, size);
      if (first !== undefined) scanner.push(first);
      for (let i = 0; i < wire.length; i++) scanner.push(wire.subarray(i, i + 1));
    };
    assertLinear(bytewise(head, 'none'), bytewise(body, 'length', Buffer.from('POST / HTTP/1.1\r\n\r\n')));
  });

  // Never a hotspot (the scanner has always read byte by byte), but its extension and trailer grammar is new.
  it('follows a chunked body whose extensions and trailers are long runs of whitespace', () => {
    const chunked = (text: string) => () => new ChunkedBodyScanner().scan(Buffer.from(text, 'latin1'), 0, () => undefined);
    assertLinear(chunked(`1;a="${SPACES}"\r\nx\r\n0\r\n\r\n`), chunked(`1;a=${LETTERS}\r\nx\r\n0\r\n\r\n`));
    assertLinear(chunked(`0\r\nX: a${SPACES}b\r\n\r\n`), chunked(`0\r\nX: a${LETTERS}b\r\n\r\n`));
  });
});
