/**
 * The one reader of every subcommand's options (run, reload, ca): mistakes are UsageErrors (exit 2 with the usage,
 * never a stack trace), positionals only where a command takes them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCommandArgs } from '../../src/cli/command-args.js';
import { UsageError } from '../../src/errors.js';

const OPTIONS = { config: { type: 'string' }, allow: { type: 'string', multiple: true }, help: { type: 'boolean', short: 'h' } } as const;

test('options are read strictly; an unknown option, a missing value or a stray positional is a UsageError', () => {
  const { values } = parseCommandArgs(['--config', 'a.toml', '--allow', '10.0.0.0/8', '--allow', '::1', '-h'], OPTIONS);
  assert.deepEqual({ ...values }, { config: 'a.toml', allow: ['10.0.0.0/8', '::1'], help: true });
  assert.throws(() => parseCommandArgs(['--bogus'], OPTIONS), (err: unknown) => err instanceof UsageError && /Unknown option '--bogus'/.test(err.message));
  assert.throws(() => parseCommandArgs(['--config'], OPTIONS), UsageError);
  assert.throws(() => parseCommandArgs(['export'], OPTIONS), (err: unknown) => err instanceof UsageError && /positional/.test(err.message));
});

test('positionals where the command takes them', () => {
  const { positionals, values } = parseCommandArgs(['export', '--config', 'b.toml'], OPTIONS, { allowPositionals: true });
  assert.deepEqual(positionals, ['export']);
  assert.equal(values.config, 'b.toml');
});
