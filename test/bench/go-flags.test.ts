// Tests the Go-style flag parser the bench tools use to accept the reference's command lines.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../../src/errors.js';
import { formatFlagUsage, parseGoFlags, type FlagSpecs } from '../../src/bench/go-flags.js';

const SPECS = {
  host: { kind: 'string', default: 'https://localhost:54321/v1/write/xxx', usage: 'URL' },
  proxy: { kind: 'string', usage: 'proxy URL' },
  c: { kind: 'int', default: 1, min: 1, usage: 'connections' },
  timeout: { kind: 'number', default: 30, greaterThan: 0, usage: 'seconds' },
  json: { kind: 'bool', usage: 'JSON output' },
} satisfies FlagSpecs;

function parse(argv: string[]) {
  const parsed = parseGoFlags(argv, SPECS);
  assert.equal(parsed.help, false);
  if (parsed.help) throw new Error('unreachable');
  return parsed;
}

describe('parseGoFlags', () => {
  it('returns the defaults for an empty command line', () => {
    const { values, positionals } = parse([]);
    assert.deepEqual(values, { host: 'https://localhost:54321/v1/write/xxx', proxy: undefined, c: 1, timeout: 30, json: false });
    assert.deepEqual(positionals, []);
  });

  it("accepts the reference's single-dash long flags with separate values", () => {
    const { values } = parse(['-c', '16', '-proxy', 'http://127.0.0.1:9530', '-host', 'http://x/v1/write/m']);
    assert.equal(values.c, 16);
    assert.equal(values.proxy, 'http://127.0.0.1:9530');
    assert.equal(values.host, 'http://x/v1/write/m');
  });

  it('accepts double dashes and -flag=value, including values containing "="', () => {
    const { values } = parse(['--c=4', '--proxy', 'http://p:1', '-host=http://h/?token=a=b', '--timeout=0.5']);
    assert.equal(values.c, 4);
    assert.equal(values.proxy, 'http://p:1');
    assert.equal(values.host, 'http://h/?token=a=b');
    assert.equal(values.timeout, 0.5);
  });

  it('treats a bare bool flag as true and takes an explicit value only after "="', () => {
    assert.equal(parse(['-json']).values.json, true);
    assert.equal(parse(['--json=false']).values.json, false);
    assert.equal(parse(['-json=1']).values.json, true);
    // Like Go: "-json false" does not consume "false"; parsing stops there and it is a positional.
    const parsed = parse(['-json', 'false', '-c', '2']);
    assert.equal(parsed.values.json, true);
    assert.equal(parsed.values.c, 1);
    assert.deepEqual(parsed.positionals, ['false', '-c', '2']);
  });

  it('leaves an int flag without a default undefined unless given', () => {
    const specs = { n: { kind: 'int', min: 1, usage: 'count' } } satisfies FlagSpecs;
    const none = parseGoFlags([], specs);
    const some = parseGoFlags(['-n', '3'], specs);
    assert.ok(!none.help && !some.help);
    assert.equal(none.values.n, undefined);
    assert.equal(some.values.n, 3);
    assert.equal(formatFlagUsage(specs), '  -n int\n      count');
  });

  it('stops at "--" and at the first non-flag argument', () => {
    assert.deepEqual(parse(['-c', '2', '--', '-json']).positionals, ['-json']);
    assert.deepEqual(parse(['extra', '-c', '2']).positionals, ['extra', '-c', '2']);
  });

  it('lets a later flag override an earlier one', () => {
    assert.equal(parse(['-c', '2', '--c', '3']).values.c, 3);
  });

  it('reports help for -h, -help and --help', () => {
    for (const flag of ['-h', '-help', '--help', '--h']) {
      assert.deepEqual(parseGoFlags([flag], SPECS), { help: true }, flag);
    }
  });

  const rejects: Array<[string[], RegExp]> = [
    [['-x'], /flag provided but not defined: -x/],
    [['--nope=1'], /flag provided but not defined: -nope/],
    [['-c'], /flag needs an argument: -c/],
    [['-c', 'abc'], /invalid value "abc" for flag -c: not an integer/],
    [['-c', '1.5'], /invalid value "1.5" for flag -c/],
    [['-c', '0'], /must be at least 1/],
    [['-timeout', '0'], /must be greater than 0/],
    [['-timeout', '1s'], /invalid value "1s" for flag -timeout: not a number/],
    [['-json=maybe'], /invalid boolean value "maybe" for -json/],
    [['---c', '1'], /bad flag syntax: ---c/],
    [['-=1'], /bad flag syntax/],
  ];
  for (const [argv, message] of rejects) {
    it(`rejects ${argv.join(' ')} with a UsageError`, () => {
      assert.throws(() => parseGoFlags(argv, SPECS), (err: unknown) => err instanceof UsageError && message.test(err.message));
    });
  }

  it('does not treat inherited object properties as flags', () => {
    assert.throws(() => parseGoFlags(['-toString'], SPECS), /flag provided but not defined: -toString/);
  });
});

describe('formatFlagUsage', () => {
  it('lists every flag with its value name and non-empty default', () => {
    const text = formatFlagUsage(SPECS);
    assert.match(text, /^ {2}-host string\n {6}URL \(default "https:\/\/localhost:54321\/v1\/write\/xxx"\)$/m);
    assert.match(text, /^ {2}-c int\n {6}connections \(default 1\)$/m);
    assert.match(text, /^ {2}-json\n {6}JSON output$/m);
    assert.match(text, /^ {2}-proxy string\n {6}proxy URL$/m);
  });
});
