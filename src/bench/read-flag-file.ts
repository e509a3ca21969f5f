/**
 * Reads a file named by a command-line flag, turning a missing or unreadable file into a usage error that names
 * the flag, so `bench -f typo.data` exits 2 with one clear line instead of a stack trace.
 */
import { readFile } from 'node:fs/promises';
import { UsageError } from '../errors.js';

export async function readFlagFile(flag: string, path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new UsageError(`cannot read ${flag} ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}
