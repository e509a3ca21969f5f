/**
 * What idle CONNECT tunnels cost the proxy in memory (issue 13: at most 8 KB of RSS per idle tunnel, and the memory
 * returned once they close). Starts the built proxy (`dist/cli.js run`, as `npm start` runs it) and a TCP echo
 * target in its own process, opens N tunnels through the proxy, sends one small exchange on each (what a TLS
 * handshake leaves behind: the relay has read both ways), leaves them idle, and reads the proxy's RSS from
 * /proc/PID/status: before, with the tunnels open, and after they have all closed. Needs `npm run build` first.
 *
 *   npx tsx scripts/tunnel-memory.ts [--tunnels N] [--relay js|splice] [--exchange BYTES] [--node-flags "..."]
 *                                    [--snapshot]
 *
 * Each tunnel costs the proxy two descriptors and this process and the target one each, so N is bounded by the
 * descriptor limit (`ulimit -n`): on a machine with a limit of 20,000, N = 9,000 is the most that fits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    tunnels: { type: 'string', default: '5000' },
    relay: { type: 'string', default: '' },
    exchange: { type: 'string', default: '512' },
    batch: { type: 'string', default: '200' },
    // Diagnosis: a heap snapshot (which collects garbage first) with the tunnels open, to tell live from garbage.
    snapshot: { type: 'boolean', default: false },
    // Node flags for the proxy; the default is what `npm start` runs it with.
    'node-flags': { type: 'string', default: '--initial-old-space-size=64' },
  },
});
const tunnels = Number(values.tunnels);
const exchangeBytes = Number(values.exchange);
const batch = Number(values.batch);

const TARGET_SOURCE = `
const net = require('node:net');
const server = net.createServer({ allowHalfOpen: false }, (s) => { s.on('data', (d) => s.write(d)); s.on('error', () => {}); });
server.listen(0, '127.0.0.1', () => console.log('target ' + server.address().port));
`;

/** Every stdout line of `child`, and a way to wait for the first one matching a pattern. */
function lineReader(child: ChildProcess): (pattern: RegExp) => Promise<RegExpExecArray> {
  const lines: string[] = [];
  const waiters: Array<() => void> = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line);
    for (const wake of waiters.splice(0)) wake();
  });
  return async (pattern) => {
    for (;;) {
      for (const line of lines) {
        const match = pattern.exec(line);
        if (match) return match;
      }
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
}

/** V8's view from the admin listener's /metrics: heap used and total, and external memory (Buffers), in MiB. */
async function heapMiB(adminPort: number): Promise<string> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  const metric = (name: string): string => (Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN) / 1048576).toFixed(1);
  return `heap ${metric('nodejs_heap_size_used_bytes')} of ${metric('nodejs_heap_size_total_bytes')} MiB, external ${metric('nodejs_external_memory_bytes')} MiB`;
}

async function rssKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1] ?? NaN);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function openIdleTunnel(proxyPort: number, targetPort: number, payload: Buffer): Promise<net.Socket> {
  const socket = net.connect({ port: proxyPort, host: '127.0.0.1' });
  await once(socket, 'connect');
  socket.write(`CONNECT 127.0.0.1:${targetPort} HTTP/1.1\r\nHost: 127.0.0.1:${targetPort}\r\n\r\n`);
  socket.write(payload);
  const expected = 'HTTP/1.1 200 Connection established\r\n\r\n'.length + payload.length;
  let received = 0;
  await new Promise<void>((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received >= expected) resolve();
    });
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('tunnel closed early')));
  });
  socket.removeAllListeners('data');
  return socket;
}

async function main(): Promise<void> {
  const target = spawn(process.execPath, ['-e', TARGET_SOURCE], { stdio: ['ignore', 'pipe', 'inherit'] });
  const proxy = spawn(
    process.execPath,
    [...values['node-flags'].split(' ').filter((flag) => flag !== ''), ...(values.snapshot ? ['--heapsnapshot-signal=SIGUSR2'] : []), 'dist/cli.js', 'run', '--bind', '127.0.0.1', '--port', '0', '--admin-port', '0'],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, EGRESS_PROXY_TUNNEL_RELAY: values.relay } },
  );
  const targetLine = lineReader(target);
  const proxyLine = lineReader(proxy);
  try {
    const targetPort = Number((await targetLine(/^target (\d+)$/))[1]);
    const relayLine = /"tunnel_relay":"([^"]+)"/.exec((await proxyLine(/"msg":"tunnel relay"/)).input)?.[1];
    const listening = await proxyLine(/^\{.*"msg":"proxy listening".*\}$/);
    const proxyPort = Number(/"port":(\d+)/.exec(listening.input)?.[1]);
    const adminPort = Number(/"port":(\d+)/.exec((await proxyLine(/"msg":"admin listening"/)).input)?.[1]);
    const payload = Buffer.alloc(exchangeBytes, 0x16);
    // Warm-up: the code paths of a tunnel are loaded and compiled before the baseline is read.
    for (let i = 0; i < 3; i++) (await openIdleTunnel(proxyPort, targetPort, payload)).destroy();
    await sleep(1000);
    const before = await rssKiB(proxy.pid!);
    const heapBefore = await heapMiB(adminPort);

    const sockets: net.Socket[] = [];
    for (let opened = 0; opened < tunnels; opened += batch) {
      const count = Math.min(batch, tunnels - opened);
      sockets.push(...(await Promise.all(Array.from({ length: count }, () => openIdleTunnel(proxyPort, targetPort, payload)))));
    }
    await sleep(2000);
    const open = await rssKiB(proxy.pid!);
    const heapOpen = await heapMiB(adminPort);

    if (values.snapshot) {
      proxy.kill('SIGUSR2');
      await sleep(8000);
      console.log(`after a full GC (heap snapshot): RSS ${((await rssKiB(proxy.pid!)) / 1024).toFixed(1)} MiB, ${await heapMiB(adminPort)}`);
    }
    for (const socket of sockets) socket.destroy();
    await sleep(5000);
    const after = await rssKiB(proxy.pid!);
    const heapAfter = await heapMiB(adminPort);

    const perTunnel = ((open - before) * 1024) / tunnels / 1000;
    console.log(`relay: ${relayLine ?? (values.relay || 'default')}; ${tunnels} idle tunnels, ${exchangeBytes} bytes each way on each`);
    console.log(`proxy RSS: ${(before / 1024).toFixed(1)} MiB before, ${(open / 1024).toFixed(1)} MiB with the tunnels open, ${(after / 1024).toFixed(1)} MiB 5 s after they closed`);
    console.log(`V8: ${heapBefore} before; ${heapOpen} open; ${heapAfter} after`);
    console.log(
      `per idle tunnel: ${perTunnel.toFixed(1)} KB (target <= 8 KB: ${perTunnel <= 8 ? 'ok' : 'MISSED'}); ` +
        `kept after close: ${(((after - before) * 1024) / 1e6).toFixed(1)} MB`,
    );
  } finally {
    proxy.kill('SIGTERM');
    target.kill('SIGTERM');
  }
}

await main();
