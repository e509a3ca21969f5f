/**
 * Locates files shipped with the package (the sample payloads) the same way whether this code runs compiled from
 * `dist/bench/`, from `src/bench/` through tsx, or from the lab tools' build (tools/bench), and wherever the
 * working directory is.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_NAME = 'egress-proxy';

let cachedRoot: string | undefined;

/** The directory holding this package's package.json, found by walking up from this module. */
export function packageRoot(): string {
  if (cachedRoot !== undefined) return cachedRoot;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && readPackageName(manifest) === PACKAGE_NAME) {
      cachedRoot = dir;
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find the ${PACKAGE_NAME} package root above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

function readPackageName(manifest: string): string | undefined {
  try {
    const parsed = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown };
    return typeof parsed.name === 'string' ? parsed.name : undefined;
  } catch {
    return undefined;
  }
}

/** The payload the bench client posts by default: a DataKit-like line-protocol batch of the reference's size. */
export function defaultSampleDataPath(): string {
  return benchDataPath('metric.data');
}

/** A file shipped in bench-data/ (the payloads of `npm run bench`'s workloads). */
export function benchDataPath(file: string): string {
  return join(packageRoot(), 'bench-data', file);
}
