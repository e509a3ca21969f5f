/**
 * The programs `npm run bench` starts as processes of their own, found the same way whether the tools run compiled
 * (`npm run bench`, from dist-tools/) or from their TypeScript sources through tsx (the tests): the built product
 * for the proxy under test, the product's own `bench server` for the null server, and the tools' floor relays.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../../src/bench/package-root.js';

/** The built command-line entry point: the proxy is always measured as it is deployed, compiled. */
export function builtCliPath(): string {
  return join(packageRoot(), 'dist', 'cli.js');
}

/** Whether this code runs from its TypeScript sources (through tsx) rather than compiled. */
function runningFromSources(): boolean {
  return fileURLToPath(import.meta.url).endsWith('.ts');
}

/**
 * `node` arguments that run the `egress-proxy` command: the built `dist/cli.js` when the tools run compiled (the
 * build is part of `npm run bench`), `src/cli.ts` through tsx when they run from sources (tests need no build).
 */
export function productCliArgs(): string[] {
  return runningFromSources() ? ['--import', import.meta.resolve('tsx'), join(packageRoot(), 'src', 'cli.ts')] : [builtCliPath()];
}

/**
 * `node` arguments that run the module `baseName` in the same folder as `moduleUrl` (pass `import.meta.url`):
 * the built `.js` when running compiled, the `.ts` source through tsx when running from sources (tests).
 */
export function entryPointArgs(moduleUrl: string, baseName: string): string[] {
  if (fileURLToPath(moduleUrl).endsWith('.ts')) {
    return ['--import', import.meta.resolve('tsx'), fileURLToPath(new URL(`./${baseName}.ts`, moduleUrl))];
  }
  return [fileURLToPath(new URL(`./${baseName}.js`, moduleUrl))];
}
