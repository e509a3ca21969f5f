/**
 * `egress-proxy ca export|path`: hands users the CA certificate their clients must trust. `export` creates the CA
 * first if needed, so it can be distributed before the proxy's first start.
 */

import type { MitmConfig } from '../config/proxy-config.js';
import { caFilePaths, loadOrCreateCa } from './ca-store.js';

export type CaSubcommand = 'export' | 'path';

/**
 * `export`: prints the CA certificate (PEM; for a user-supplied CA, its whole chain file), generating and storing a
 * CA if none exists. `path`: prints the certificate path, then the key path on a second line, whether or not the
 * files exist yet. Returns the exit code (0); CA problems are thrown as the typed errors of `mitm-errors.ts`.
 */
export async function runCaCommand(subcommand: CaSubcommand, mitm: MitmConfig, out: NodeJS.WritableStream): Promise<number> {
  switch (subcommand) {
    case 'export': {
      // Nothing is logged here: the PEM on stdout is often piped straight into a trust store.
      const ca = await loadOrCreateCa(mitm);
      await write(out, ca.chainPem);
      return 0;
    }
    case 'path': {
      const { certPath, keyPath } = caFilePaths(mitm);
      await write(out, `${certPath}\n${keyPath}\n`);
      return 0;
    }
  }
}

function write(out: NodeJS.WritableStream, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    out.write(text, (err) => (err ? reject(err) : resolve()));
  });
}
