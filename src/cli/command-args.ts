/**
 * The command line of one subcommand, read strictly with node:util's parseArgs: a mistake in it (an unknown
 * option, a missing value, a positional where none is taken) is a UsageError, which the CLI prints as one line with
 * the usage and exit code 2, never a stack trace.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../errors.js';

type Options = NonNullable<ParseArgsConfig['options']>;
type StrictConfig<O extends Options> = { args: string[]; options: O; strict: true; allowPositionals: boolean };

export function parseCommandArgs<const O extends Options>(
  args: string[],
  options: O,
  { allowPositionals = false } = {},
): ReturnType<typeof parseArgs<StrictConfig<O>>> {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}
