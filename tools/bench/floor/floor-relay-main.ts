/**
 * Entry point of the Node.js floor relays (forward-floor-relay.ts, reencrypt-floor-relay.ts), which
 * `npm run bench` runs as processes of their own, like every proxy it measures:
 *
 *   node floor-relay-main.js forward
 *   node floor-relay-main.js reencrypt --cert FILE --key FILE --upstream-ca FILE
 *
 * Listens on an ephemeral loopback port, prints `floor relay listening on 127.0.0.1:PORT`, and exits on SIGTERM.
 */
import { readFile } from 'node:fs/promises';
import type { AddressInfo, Server } from 'node:net';
import { parseArgs } from 'node:util';
import { createForwardFloorRelay } from './forward-floor-relay.js';
import { createReencryptFloorRelay } from './reencrypt-floor-relay.js';

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { cert: { type: 'string' }, key: { type: 'string' }, 'upstream-ca': { type: 'string' } },
  });
  let server: Server;
  if (positionals[0] === 'forward') {
    server = createForwardFloorRelay();
  } else if (positionals[0] === 'reencrypt' && values.cert && values.key && values['upstream-ca']) {
    server = createReencryptFloorRelay({
      certPem: await readFile(values.cert, 'utf8'),
      keyPem: await readFile(values.key, 'utf8'),
      upstreamCaPem: await readFile(values['upstream-ca'], 'utf8'),
    });
  } else {
    throw new Error('usage: floor-relay-main forward | reencrypt --cert FILE --key FILE --upstream-ca FILE');
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  process.stdout.write(`floor relay listening on 127.0.0.1:${(server.address() as AddressInfo).port}\n`);
  process.once('SIGTERM', () => process.exit(0));
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`floor relay: ${(err as Error).message}\n`);
  process.exit(2);
});
