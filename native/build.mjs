// Builds the optional splice(2) tunnel relay (tunnel_splice.c) at `npm install` / `npm ci`. It is optional: on
// another platform, without a C compiler or Node's headers, or when the build fails, this prints why and exits 0,
// and the proxy relays tunnels in JavaScript (src/proxy/tunnel-relay.ts picks at start and logs which).
// EGRESS_PROXY_NATIVE=0 skips the build.
import { spawnSync } from 'node:child_process';
import console from 'node:console';
import { existsSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const say = (text) => console.log(`egress-proxy: ${text}`);

function nodeGyp() {
  // npm names its bundled node-gyp for lifecycle scripts; outside npm, look beside npm itself.
  const candidates = [
    process.env.npm_config_node_gyp,
    join(dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
  ];
  return candidates.find((path) => path !== undefined && path !== '' && existsSync(path));
}

function build() {
  if (process.platform !== 'linux') return 'splice(2) is Linux-only';
  if (process.env.EGRESS_PROXY_NATIVE === '0') return 'EGRESS_PROXY_NATIVE=0';
  const gyp = nodeGyp();
  if (gyp === undefined) return 'node-gyp not found';
  const args = [gyp, 'rebuild', '--directory', here];
  // Build against the headers installed with this Node (never download them): npm may say where, else beside node.
  const prefix = join(dirname(process.execPath), '..');
  if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include/node/node_api.h'))) args.push(`--nodedir=${prefix}`);
  const result = spawnSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (result.status === 0 && existsSync(join(here, 'build/Release/tunnel_splice.node'))) return undefined;
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim().split('\n');
  const detail = output.filter((line) => /error|not found|not ok/i.test(line)).slice(0, 3).join(' | ');
  return `the build failed${detail ? `: ${detail}` : ''}`;
}

const failure = build();
if (failure === undefined) {
  say('built the splice(2) tunnel relay (native/build/Release/tunnel_splice.node)');
} else {
  rmSync(join(here, 'build'), { recursive: true, force: true });
  say(`no native tunnel relay (${failure}); tunnels will be relayed in JavaScript`);
}
