/**
 * Boolean flags, bare (`--verbose`) or with a value (`--verbose=false`). node:util's parseArgs takes a boolean
 * flag only bare and refuses `--verbose=false`, which scripts and service files write to turn a setting off
 * explicitly, over a config file or an environment variable. So these flags are taken out of argv before parseArgs
 * sees it, and the last one written wins, as with any other flag.
 */
import { ConfigError } from '../errors.js';
import { COMMAND_LINE_SOURCE } from '../config/command-line.js';
import { BOOLEAN_WORDS_PHRASE, booleanFromWord } from '../config/value-schemas.js';

export interface BooleanFlagValues {
  /** argv without the boolean flags. */
  argv: string[];
  /** Each boolean flag written, by long name without dashes, with its last value. */
  values: Map<string, boolean>;
}

/** `names` are the boolean flags' long names without dashes (`verbose`, `upstream-insecure`). */
export function extractBooleanFlags(argv: readonly string[], names: readonly string[]): BooleanFlagValues {
  const rest: string[] = [];
  const values = new Map<string, boolean>();
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index]!;
    // Everything after `--` is a positional, never a flag.
    if (arg === '--') {
      rest.push(...argv.slice(index));
      break;
    }
    const match = /^--([a-z-]+)(?:=(.*))?$/s.exec(arg);
    const name = match?.[1];
    if (name === undefined || !names.includes(name)) {
      rest.push(arg);
      continue;
    }
    const text = match![2];
    const value = text === undefined ? true : booleanFromWord(text);
    if (value === undefined) {
      throw new ConfigError(COMMAND_LINE_SOURCE, `--${name}`, `expected ${BOOLEAN_WORDS_PHRASE}, got ${JSON.stringify(text)}`);
    }
    values.set(name, value);
  }
  return { argv: rest, values };
}
