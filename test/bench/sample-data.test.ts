// Tests that the shipped bench payloads (the reference-size one and the 1 KiB one) are what the generator makes (so
// they can always be regenerated), that they have the sizes they are meant to have, and that every line is
// well-formed InfluxDB line protocol.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { benchDataPath, defaultSampleDataPath } from '../../src/bench/package-root.js';
import {
  SAMPLE_BYTES,
  SAMPLE_LINES,
  SMALL_SAMPLE_BYTES,
  generateSampleData,
  generateSmallSampleData,
} from '../../scripts/generate-sample-data.js';

// measurement,tag=value,... field=value,... timestamp (tags and fields without unescaped spaces; string fields quoted).
const LINE = /^[a-z_]+(,[a-z_0-9]+=(?:[^ ,=\\]|\\[ ,=])+)+ [a-z_/0-9]+=(-?\d+(\.\d+)?i?|"(?:[^"\\]|\\.)*")(,[a-z_/0-9]+=(-?\d+(\.\d+)?i?|"(?:[^"\\]|\\.)*"))* \d{19}$/;

describe('bench-data/metric.data', () => {
  const shipped = readFileSync(defaultSampleDataPath());

  it('is exactly what scripts/generate-sample-data.ts generates', () => {
    const generated = generateSampleData();
    assert.equal(generated, generateSampleData(), 'the generator is deterministic');
    assert.ok(shipped.equals(Buffer.from(generated)), 'regenerate with: npx tsx scripts/generate-sample-data.ts');
  });

  it("has the reference payload's size: 299 lines, 172,787 bytes", () => {
    assert.equal(shipped.length, SAMPLE_BYTES);
    assert.equal(SAMPLE_BYTES, 172_787);
    const lines = shipped.toString('utf8').split('\n');
    assert.equal(lines.pop(), '', 'ends with a newline');
    assert.equal(lines.length, SAMPLE_LINES);
  });

  it('is line protocol: host-tagged measurements with nanosecond timestamps', () => {
    const lines = shipped.toString('utf8').trimEnd().split('\n');
    const measurements = new Set<string>();
    for (const line of lines) {
      assert.match(line, LINE);
      assert.match(line, /,host=[a-z0-9.-]+,/);
      measurements.add(line.slice(0, line.indexOf(',')));
    }
    for (const m of ['cpu', 'mem', 'disk', 'diskio', 'net', 'system']) assert.ok(measurements.has(m), m);
  });
});

describe('bench-data/metric-1k.data', () => {
  const shipped = readFileSync(benchDataPath('metric-1k.data'));

  it('is exactly what scripts/generate-sample-data.ts generates', () => {
    const generated = generateSmallSampleData();
    assert.equal(generated, generateSmallSampleData(), 'the generator is deterministic');
    assert.ok(shipped.equals(Buffer.from(generated)), 'regenerate with: npx tsx scripts/generate-sample-data.ts');
  });

  it('is 1,024 bytes of newline-terminated line protocol with more than one line', () => {
    assert.equal(SMALL_SAMPLE_BYTES, 1024);
    assert.equal(shipped.length, SMALL_SAMPLE_BYTES);
    const text = shipped.toString('utf8');
    assert.ok(text.endsWith('\n'));
    const lines = text.trimEnd().split('\n');
    assert.ok(lines.length >= 2, `${lines.length} lines`);
    for (const line of lines) {
      assert.match(line, LINE);
      assert.match(line, /,host=[a-z0-9.-]+,/);
    }
  });

  it('differs from the big payload (its own seed), not a prefix of it', () => {
    assert.ok(!readFileSync(defaultSampleDataPath()).subarray(0, 1024).equals(shipped));
  });
});
