// Turns a failed zod validation into the one-line ConfigError users see: the source, the key as they spelled it,
// what was expected and what was found. Only the first issue is reported: one clear line beats a wall of them.

import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { WHOLE_PROBLEM_PARAMS } from './value-schemas.js';

export type IssuePath = readonly PropertyKey[];

const BARE_TOML_KEY = /^[A-Za-z0-9_-]+$/;

/** A path as a dotted TOML key: `inputs.proxy[0].port`, quoting keys that are not bare (`proxy."a.b"`). */
export function tomlKeyName(path: IssuePath): string {
  let name = '';
  for (const part of path) {
    if (typeof part === 'number') {
      name += `[${part}]`;
      continue;
    }
    const key = String(part);
    name += (name ? '.' : '') + (BARE_TOML_KEY.test(key) ? key : JSON.stringify(key));
  }
  return name;
}

function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function valueAt(root: unknown, path: IssuePath): unknown {
  let value = root;
  for (const part of path) {
    if (Array.isArray(value) && typeof part === 'number') value = value[part];
    else if (isTable(value)) value = value[String(part)];
    else return undefined;
  }
  return value;
}

const MAX_QUOTED_LENGTH = 60;

/** What was found, for "got ...": short, and one line whatever the value holds. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') {
    const shown = value.length > MAX_QUOTED_LENGTH ? `${value.slice(0, MAX_QUOTED_LENGTH)}...` : value;
    return JSON.stringify(shown);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value instanceof Date) return `a date-time (${value.toISOString()})`;
  if (Array.isArray(value)) {
    if (value.length === 0) return 'an empty array';
    if (value.every(isTable)) return value.length === 1 ? '1 table' : `${value.length} tables`;
    return `an array of ${value.length} items`;
  }
  if (isTable(value)) return 'a table';
  return typeof value;
}

function isWholeProblem(issue: z.core.$ZodIssue): boolean {
  return issue.code === 'custom' && issue.params?.['wholeProblem'] === WHOLE_PROBLEM_PARAMS.wholeProblem;
}

/**
 * The ConfigError for the first issue of `error`. `input` is what was validated (to show what was found);
 * `keyName` spells an issue's path the way this source names keys.
 */
export function configErrorFromZod(
  source: string,
  error: z.ZodError,
  input: unknown,
  keyName: (path: IssuePath) => string,
): ConfigError {
  const issue = error.issues[0];
  if (issue === undefined) return new ConfigError(source, keyName([]), 'invalid value');
  if (issue.code === 'unrecognized_keys') {
    const path = [...issue.path, issue.keys[0] ?? ''];
    const value = valueAt(input, path);
    const isSection = isTable(value) || (Array.isArray(value) && value.length > 0 && value.every(isTable));
    const what = isSection ? 'section' : 'key';
    return new ConfigError(source, keyName(path), `unknown ${what}`);
  }
  if (isWholeProblem(issue)) return new ConfigError(source, keyName(issue.path), issue.message);
  return new ConfigError(
    source,
    keyName(issue.path),
    `expected ${issue.message}, got ${describeValue(valueAt(input, issue.path))}`,
  );
}

/** Validates one value from the environment or the command line, where the key is a variable or flag name. */
export function parseValue<T extends z.ZodType>(schema: T, input: unknown, source: string, key: string): z.output<T> {
  const result = schema.safeParse(input);
  if (!result.success) throw configErrorFromZod(source, result.error, input, () => key);
  return result.data;
}
