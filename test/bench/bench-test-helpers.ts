// Shared by the bench tests: capturing a command's output in-process, and a strict Prometheus text parser.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import type { CommandIo } from '../../src/bench/command-io.js';

export interface CapturedIo extends CommandIo {
  out(): string;
  err(): string;
}

/** Command IO that records what a command writes; stderr is not a TTY, so no progress unless asked. */
export function captureIo(stopSignal?: AbortSignal): CapturedIo {
  let out = '';
  let err = '';
  const sink = (append: (s: string) => void): Writable =>
    new Writable({
      write(chunk: Buffer | string, _encoding, callback) {
        append(chunk.toString());
        callback();
      },
    });
  return {
    stdout: sink((s) => (out += s)),
    stderr: sink((s) => (err += s)),
    ...(stopSignal !== undefined ? { stopSignal } : {}),
    out: () => out,
    err: () => err,
  };
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface ParsedExposition {
  help: Map<string, string>;
  type: Map<string, string>;
  samples: Sample[];
  /** The one sample with this name and exactly these labels; fails the test if there is not exactly one. */
  get(name: string, labels?: Record<string, string>): number;
}

const HELP_LINE = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/;
const TYPE_LINE = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|summary|histogram|untyped)$/;
const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/gy;
const VALUE = /^(NaN|[+-]Inf|[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)$/;

/**
 * Parses Prometheus text exposition strictly: every line must be a HELP, a TYPE or a sample line, every sample must
 * belong to a family declared by a TYPE line before it. Fails the test (assert) on anything else.
 */
export function parsePrometheusText(text: string): ParsedExposition {
  const help = new Map<string, string>();
  const type = new Map<string, string>();
  const samples: Sample[] = [];
  let family: string | undefined;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let m = HELP_LINE.exec(line);
    if (m !== null) {
      help.set(m[1] as string, m[2] as string);
      continue;
    }
    m = TYPE_LINE.exec(line);
    if (m !== null) {
      type.set(m[1] as string, m[2] as string);
      family = m[1];
      continue;
    }
    m = SAMPLE_LINE.exec(line);
    assert.ok(m !== null, `not a Prometheus text line: ${JSON.stringify(line)}`);
    const name = m[1] as string;
    assert.ok(family !== undefined && (name === family || name.startsWith(`${family}_`)), `sample ${name} outside its family`);
    const labels: Record<string, string> = {};
    const labelText = m[3] ?? '';
    LABEL.lastIndex = 0;
    while (LABEL.lastIndex < labelText.length) {
      const lm = LABEL.exec(labelText);
      assert.ok(lm !== null, `bad labels in ${JSON.stringify(line)}`);
      labels[lm[1] as string] = (lm[2] as string).replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    const valueText = m[4] as string;
    assert.match(valueText, VALUE, `bad value in ${JSON.stringify(line)}`);
    samples.push({ name, labels, value: Number(valueText.replace(/^\+/, '')) });
  }
  return {
    help,
    type,
    samples,
    get(name, labels = {}) {
      const found = samples.filter(
        (s) => s.name === name && Object.keys(s.labels).length === Object.keys(labels).length &&
          Object.entries(labels).every(([k, v]) => s.labels[k] === v),
      );
      assert.equal(found.length, 1, `expected one ${name}${JSON.stringify(labels)}, found ${found.length}`);
      return (found[0] as Sample).value;
    },
  };
}
