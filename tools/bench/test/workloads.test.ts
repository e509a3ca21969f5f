// Tests how `npm run bench`'s command line picks workloads, scenarios and rounds (compare-options.ts, workloads.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_ROUNDS, parseCompareArgs, type CompareOptions } from '../compare-options.js';
import { SCENARIOS } from '../scenarios.js';
import { planWorkloads } from '../workloads.js';
import { UsageError } from '../../../src/errors.js';

const dataPath = (file: string): string => `/pkg/bench-data/${file}`;

function parse(argv: string[]): CompareOptions {
  const parsed = parseCompareArgs(argv, dataPath);
  assert.equal(parsed.help, false);
  if (parsed.help) throw new Error('unreachable');
  return parsed;
}

const summary = (o: CompareOptions): unknown[] =>
  o.workloads.map((w) => [w.name, w.connections, w.requestsPerConnection, w.file, w.scenarios.join(','), w.targets.length, w.custom]);

const ALL = SCENARIOS.map((s) => s.name).join(',');

describe('npm run bench flags', () => {
  it('runs both workloads by default, each with every scenario, for the default rounds', () => {
    const o = parse([]);
    assert.deepEqual(summary(o), [
      ['170KB', 16, 500, '/pkg/bench-data/metric.data', ALL, 4, false],
      ['1KiB', 16, 1500, '/pkg/bench-data/metric-1k.data', ALL, 4, false],
    ]);
    assert.equal(o.rounds, DEFAULT_ROUNDS);
    assert.equal(o.warmupRequests, 10);
    assert.equal(o.freshProcesses, false);
    assert.equal(o.json, false);
  });

  it('picks one workload with -workload, case-insensitively', () => {
    assert.deepEqual(parse(['-workload', '1KiB']).workloads.map((w) => w.name), ['1KiB']);
    assert.deepEqual(parse(['--workload=170kb']).workloads.map((w) => w.name), ['170KB']);
    assert.deepEqual(parse(['-workload', 'ALL']).workloads.map((w) => w.name), ['170KB', '1KiB']);
    assert.throws(() => parse(['-workload', '2MB']), (err: Error) => err instanceof UsageError && /unknown workload 2MB; known: 170KB, 1KiB, all/.test(err.message));
  });

  it('takes -rounds, -warmup, -fresh and -json', () => {
    const o = parse(['-rounds', '3', '-warmup=0', '-fresh', '-json']);
    assert.equal(o.rounds, 3);
    assert.equal(o.warmupRequests, 0);
    assert.equal(o.freshProcesses, true);
    assert.equal(o.json, true);
    assert.throws(() => parse(['-rounds', '0']), /invalid value "0" for flag -rounds: must be at least 1/);
  });

  it('makes one custom workload, without targets, from -c, -r or -f', () => {
    assert.deepEqual(summary(parse(['-c', '8', '-r', '200'])), [['custom', 8, 200, '/pkg/bench-data/metric.data', ALL, 0, true]]);
    assert.deepEqual(summary(parse(['-workload', '1KiB', '-r', '50'])), [['custom', 16, 50, '/pkg/bench-data/metric-1k.data', ALL, 0, true]]);
    assert.deepEqual(summary(parse(['-f', 'my.data', '-only', 'egress-forward,direct-http'])), [
      ['custom', 16, 500, 'my.data', 'direct-http,egress-forward', 0, true],
    ]);
  });

  it('-only keeps the named scenarios of each workload, in the standard order, and drops a workload left empty', () => {
    assert.deepEqual(summary(parse(['-only', 'egress-mitm,direct-https'])), [
      ['170KB', 16, 500, '/pkg/bench-data/metric.data', 'direct-https,egress-mitm', 4, false],
      ['1KiB', 16, 1500, '/pkg/bench-data/metric-1k.data', 'direct-https,egress-mitm', 4, false],
    ]);
    assert.deepEqual(parse(['-only', 'squid-tunnel, direct-https']).workloads.map((w) => [w.name, w.scenarios]), [
      ['170KB', ['direct-https', 'squid-tunnel']],
      ['1KiB', ['direct-https', 'squid-tunnel']],
    ]);
    assert.throws(() => parse(['-only', 'direct-https,nginx']), /unknown scenario nginx/);
  });

  it('runs only the scenarios a workload lists, when it lists them', () => {
    const definitions = [
      { name: 'big', connections: 1, requestsPerConnection: 1, dataFile: 'b', targets: [] },
      { name: 'small', connections: 1, requestsPerConnection: 1, dataFile: 's', scenarios: ['egress-tunnel', 'direct-https'], targets: [] },
    ];
    const plan = (workload: string, only?: string[]): unknown[] =>
      planWorkloads({ workload, allScenarios: SCENARIOS.map((s) => s.name), dataPath, definitions, ...(only ? { only } : {}) }).map((w) => [w.name, w.scenarios.join(',')]);
    assert.deepEqual(plan('all'), [['big', ALL], ['small', 'direct-https,egress-tunnel']]);
    assert.deepEqual(plan('all', ['squid-forward']), [['big', 'squid-forward']], 'a workload left with no scenario is not run');
    assert.throws(() => plan('small', ['squid-forward']), /none of the scenarios squid-forward is part of workload small/);
  });

  it('rejects stray arguments and says -help', () => {
    assert.throws(() => parse(['extra']), /unexpected argument: extra/);
    assert.deepEqual(parseCompareArgs(['-help'], dataPath), { help: true });
  });
});
