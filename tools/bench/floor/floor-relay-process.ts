/**
 * Starts the floor relays for `npm run bench` (`floor-tunnel`, `floor-forward`, `floor-mitm`): the least work each
 * kind of proxy can do on the machine, measured in the same rounds as the proxies, so every report shows how much
 * of a target is reachable at all. See the relays' own files for what each leaves out.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PROXY_NODE_FLAGS } from '../egress-proxy-process.js';
import { runningProxy, spawnUntilLine, type RunningProxy } from '../managed-child.js';
import { packageRoot } from '../../../src/bench/package-root.js';
import { createSelfSignedCert } from '../../../src/bench/self-signed-cert.js';
import { entryPointArgs } from '../entry-points.js';
import { findExecutable } from '../system-proxies.js';

const LISTENING = /^floor relay listening on 127\.0\.0\.1:(\d+)$/;
const START_TIMEOUT_MS = 15_000;

/** The C source of the splice relay: in a clone of the repository (tools/ is not in the published package). */
export function spliceRelaySource(): string {
  return join(packageRoot(), 'tools', 'bench', 'floor', 'splice-tunnel-relay.c');
}

/**
 * Why floor-tunnel cannot run here, or undefined when it can. Only this scenario needs a C compiler, and only when
 * the bench runs it: the relay is compiled when its scenario starts, never by the build or the tests' set-up.
 */
export function spliceRelayUnavailable(find: (name: string) => string | undefined = findExecutable): string | undefined {
  if (!existsSync(spliceRelaySource())) return 'needs the repository source (tools/bench/floor)';
  return find('cc') === undefined ? 'no C compiler (cc) on PATH: install gcc to measure the tunnel floor' : undefined;
}

/** Compiles the splice relay into `workDir` (a second or so) and starts it. */
export async function startSpliceTunnelRelay(workDir: string): Promise<RunningProxy> {
  const binary = join(workDir, 'splice-tunnel-relay');
  await promisify(execFile)(findExecutable('cc') as string, ['-O2', '-pthread', '-o', binary, spliceRelaySource()], { timeout: 60_000 });
  return startRelayProcess(binary, []);
}

export function startForwardFloorRelay(): Promise<RunningProxy> {
  return startRelayProcess(process.execPath, [...PROXY_NODE_FLAGS, ...entryPointArgs(import.meta.url, 'floor-relay-main'), 'forward']);
}

/** Starts the re-encrypting relay with a certificate of its own; `clientCaPem` is what the client must trust. */
export async function startReencryptFloorRelay(workDir: string, upstreamCaFile: string): Promise<RunningProxy & { clientCaPem: string }> {
  const cert = await createSelfSignedCert('egress-proxy bench floor relay');
  const certFile = join(workDir, 'floor-relay-cert.pem');
  const keyFile = join(workDir, 'floor-relay-key.pem');
  await writeFile(certFile, cert.certPem);
  await writeFile(keyFile, cert.keyPem, { mode: 0o600 });
  const args = ['reencrypt', '--cert', certFile, '--key', keyFile, '--upstream-ca', upstreamCaFile];
  const relay = await startRelayProcess(process.execPath, [...PROXY_NODE_FLAGS, ...entryPointArgs(import.meta.url, 'floor-relay-main'), ...args]);
  return { ...relay, clientCaPem: cert.certPem };
}

async function startRelayProcess(command: string, args: string[]): Promise<RunningProxy> {
  const parse = (line: string): number | undefined => {
    const match = LISTENING.exec(line);
    return match === null ? undefined : Number(match[1]);
  };
  const { managed, value: port } = await spawnUntilLine('floor relay', command, args, parse, START_TIMEOUT_MS);
  return runningProxy(managed, port);
}
