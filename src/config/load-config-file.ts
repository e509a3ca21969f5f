// Reads one config file (TOML, either form) and turns it into a PartialConfig, or into a one-line ConfigError
// naming the file and the key.

import { readFile } from 'node:fs/promises';
import { parse as parseToml, TomlError } from 'smol-toml';
import { ConfigError } from '../errors.js';
import { configFileSchema } from './file-schema.js';
import { fileValues } from './file-values.js';
import type { PartialConfig } from './partial-config.js';
import { configErrorFromZod, tomlKeyName } from './validation-error.js';

/** smol-toml's message, without its prefix and the multi-line code frame: ConfigError messages are one line. */
function tomlProblem(error: TomlError): string {
  const firstLine = error.message.split('\n', 1)[0] ?? '';
  return firstLine.replace(/^Invalid TOML document: /, '');
}

async function readConfigText(filePath: string): Promise<string> {
  try {
    return await readFile(filePath, 'utf8');
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new ConfigError(filePath, '', `cannot read file: ${detail}`);
  }
}

function parseConfigText(filePath: string, text: string): unknown {
  try {
    return parseToml(text);
  } catch (error) {
    if (error instanceof TomlError) {
      throw new ConfigError(
        filePath,
        '',
        `invalid TOML at line ${error.line}, column ${error.column}: ${tomlProblem(error)}`,
      );
    }
    throw error;
  }
}

/**
 * The values `filePath` sets, and its warnings (deprecated keys). Every failure is a ConfigError whose source is
 * `filePath` as given.
 */
export async function loadConfigFile(filePath: string): Promise<{ values: PartialConfig; warnings: string[] }> {
  const document = parseConfigText(filePath, await readConfigText(filePath));
  const result = configFileSchema.safeParse(document);
  if (!result.success) throw configErrorFromZod(filePath, result.error, document, tomlKeyName);
  return fileValues(result.data, filePath, filePath);
}
