/**
 * A small command-line flag parser with Go's `flag` package conventions, so the bench tools accept the reference's
 * command lines unchanged (`cli -c 16 -r 100 -proxy http://...`).
 *
 * node:util `parseArgs` cannot do this: it treats `-proxy` as the short options `-p -r -o -x -y`. Accepted here,
 * as in Go: `-name value`, `-name=value`, `--name value`, `--name=value`; a bool flag alone means true and takes a
 * value only as `-name=false`. Parsing stops at `--` or at the first argument that is not a flag.
 */
import { UsageError } from '../errors.js';

interface FlagSpecBase {
  /** One line of help text. */
  usage: string;
  /** Name of the value in the usage text (`-f FILE`). Default: the kind (`string`, `int`, `number`). */
  valueName?: string;
}

export interface StringFlagSpec extends FlagSpecBase {
  kind: 'string';
  default?: string;
}

export interface IntFlagSpec extends FlagSpecBase {
  kind: 'int';
  /** Without one, the value is undefined unless the flag is given. */
  default?: number;
  /** Smallest accepted value. */
  min?: number;
}

export interface NumberFlagSpec extends FlagSpecBase {
  kind: 'number';
  default: number;
  /** Values must be strictly greater than this. */
  greaterThan?: number;
}

export interface BoolFlagSpec extends FlagSpecBase {
  kind: 'bool';
}

export type FlagSpec = StringFlagSpec | IntFlagSpec | NumberFlagSpec | BoolFlagSpec;

export type FlagSpecs = Record<string, FlagSpec>;

/** The parsed value of each flag: strings without a default may be absent. */
export type FlagValues<S extends FlagSpecs> = {
  [K in keyof S]: S[K] extends BoolFlagSpec
    ? boolean
    : S[K] extends IntFlagSpec | NumberFlagSpec
      ? S[K] extends { default: number }
        ? number
        : number | undefined
      : S[K] extends { default: string }
        ? string
        : string | undefined;
};

export type ParsedFlags<S extends FlagSpecs> =
  | { help: true }
  | { help: false; values: FlagValues<S>; positionals: string[] };

const INT_PATTERN = /^[+-]?\d+$/;
const NUMBER_PATTERN = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * Parses `argv` against `specs`. Returns `{ help: true }` for `-h`, `-help` or `--help` (unless a flag of that name
 * is defined). Throws `UsageError` with a one-line message naming the flag for anything it cannot accept.
 */
export function parseGoFlags<S extends FlagSpecs>(argv: readonly string[], specs: S): ParsedFlags<S> {
  const values: Record<string, string | number | boolean | undefined> = {};
  for (const [name, spec] of Object.entries(specs)) {
    values[name] = spec.kind === 'bool' ? false : spec.default;
  }

  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      i++;
      break;
    }
    // Like Go: a lone "-" and anything not starting with "-" end the flags.
    if (arg.length < 2 || arg[0] !== '-') break;

    const body = arg.startsWith('--') ? arg.slice(2) : arg.slice(1);
    if (body === '' || body.startsWith('-') || body.startsWith('=')) {
      throw new UsageError(`bad flag syntax: ${arg}`);
    }
    const eq = body.indexOf('=');
    const name = eq === -1 ? body : body.slice(0, eq);
    const inlineValue = eq === -1 ? undefined : body.slice(eq + 1);

    const spec = Object.hasOwn(specs, name) ? specs[name] : undefined;
    if (spec === undefined) {
      if (name === 'h' || name === 'help') return { help: true };
      throw new UsageError(`flag provided but not defined: -${name}`);
    }

    if (spec.kind === 'bool') {
      values[name] = inlineValue === undefined ? true : parseBool(name, inlineValue);
      continue;
    }

    let raw = inlineValue;
    if (raw === undefined) {
      raw = argv[++i];
      if (raw === undefined) throw new UsageError(`flag needs an argument: -${name}`);
    }
    values[name] = convertValue(name, spec, raw);
  }

  return { help: false, values: values as FlagValues<S>, positionals: argv.slice(i) };
}

function parseBool(name: string, raw: string): boolean {
  // The spellings Go's strconv.ParseBool accepts.
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(raw)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(raw)) return false;
  throw new UsageError(`invalid boolean value "${raw}" for -${name}`);
}

function convertValue(name: string, spec: StringFlagSpec | IntFlagSpec | NumberFlagSpec, raw: string): string | number {
  switch (spec.kind) {
    case 'string':
      return raw;
    case 'int': {
      const n = Number(raw);
      if (!INT_PATTERN.test(raw) || !Number.isSafeInteger(n)) {
        throw new UsageError(`invalid value "${raw}" for flag -${name}: not an integer`);
      }
      if (spec.min !== undefined && n < spec.min) {
        throw new UsageError(`invalid value "${raw}" for flag -${name}: must be at least ${spec.min}`);
      }
      return n;
    }
    case 'number': {
      const n = Number(raw);
      if (!NUMBER_PATTERN.test(raw) || !Number.isFinite(n)) {
        throw new UsageError(`invalid value "${raw}" for flag -${name}: not a number`);
      }
      if (spec.greaterThan !== undefined && !(n > spec.greaterThan)) {
        throw new UsageError(`invalid value "${raw}" for flag -${name}: must be greater than ${spec.greaterThan}`);
      }
      return n;
    }
  }
}

/** The flag list of a usage text, one flag per entry, laid out like Go's `PrintDefaults`. */
export function formatFlagUsage(specs: FlagSpecs): string {
  const lines: string[] = [];
  for (const [name, spec] of Object.entries(specs)) {
    const valueName = spec.kind === 'bool' ? '' : ` ${spec.valueName ?? spec.kind}`;
    lines.push(`  -${name}${valueName}`);
    const hasDefault = spec.kind !== 'bool' && spec.default !== undefined && spec.default !== '';
    const defaultText = hasDefault ? ` (default ${JSON.stringify(spec.default)})` : '';
    lines.push(`      ${spec.usage}${defaultText}`);
  }
  return lines.join('\n');
}
