/**
 * The memory block of `npm run bench`: what idle CONNECT tunnels cost the proxy (issue 13: at most 8 KB of RSS per
 * idle tunnel, and the memory returned once they close). Not an "N workers x M POSTs" scenario, so it runs after
 * the workloads with its own output and its own `tunnelMemory` key in --json.
 *
 * It starts the built proxy as `npm start` runs it and a TCP echo target in a process of its own, opens N tunnels
 * through the proxy (in batches), sends one small exchange on each (what a TLS handshake leaves behind: the relay
 * has read both ways), leaves them idle, and reads the proxy's RSS from /proc/PID/status before, with the tunnels
 * open, and after they have all closed; with V8's heap and external memory from the admin listener's /metrics,
 * which tell JavaScript objects from buffers.
 *
 * After the close it reads three times, because V8 gives a closed tunnel's memory back only at a full (mark-compact)
 * collection and an idle proxy allocates nothing that would start one: 5 s after, 30 s after (by then the proxy's
 * idle memory reclaimer, src/memory/, has run its collections and malloc_trim, a few seconds after the process went
 * quiet), and after a full collection forced by the bench, for comparison: what a collection can give back. The
 * proxy runs with the flags `npm start` uses, at log level debug (the reclaimer's line says when it ran and what
 * it freed), plus `--expose-gc` and a SIGUSR2 handler that calls gc(), loaded with --import by the bench alone (the
 * reclaimer does not use them: it asks V8 through the native addon).
 *
 * Each tunnel costs the proxy two descriptors, and this process and the target one each: N is capped by the
 * descriptor limit (the cap is printed).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { BENCH_POLICY_ARGS, PROXY_NODE_FLAGS } from './egress-proxy-process.js';
import { builtCliPath } from './entry-points.js';

/** Issue 13's target, per idle tunnel (10,000 idle tunnels add at most 80 MB). */
export const TUNNEL_MEMORY_TARGET_KB = 8;
/** The count issue 13 states its target for; capped here by the descriptor limit. */
export const DEFAULT_IDLE_TUNNELS = 10_000;

export interface TunnelMemoryOptions {
  tunnels: number;
  /** Bytes sent each way on each tunnel before it goes idle. */
  exchangeBytes?: number;
  /** The relay to force (EGRESS_PROXY_TUNNEL_RELAY); the proxy's own choice when absent. */
  relay?: string;
  cli?: string;
}

/** V8's view, MiB. */
export interface HeapFigures {
  heapUsed: number;
  heapTotal: number;
  external: number;
}

export interface TunnelMemoryResult {
  tunnels: number;
  /** What was asked for, when the descriptor limit made `tunnels` smaller. */
  requested: number;
  relay: string;
  exchangeBytes: number;
  rssKiB: { before: number; open: number; afterClose: number; settled: number; afterGc: number };
  heapMiB: { before: HeapFigures; open: HeapFigures; afterClose: HeapFigures; settled: HeapFigures; afterGc: HeapFigures };
  /** (open - before) RSS per tunnel, 1000 bytes. */
  perTunnelKB: number;
  /** RSS still above `before` 5 s after the last tunnel closed, 10^6 bytes. */
  keptAfterCloseMB: number;
  /** The same SETTLE_SECONDS after the close. */
  keptSettledMB: number;
  /** The same after the bench forced a full collection (see above). */
  keptAfterGcMB: number;
  /** The proxy's own reclaims (its debug lines) up to the SETTLE_SECONDS reading. */
  reclaims: ProxyReclaim[];
  targetMet: boolean;
}

/** One run of the proxy's idle memory reclaimer, from its debug line. */
export interface ProxyReclaim {
  /** When, after the bench destroyed the last tunnel. */
  secondsAfterClose: number;
  rssBeforeMiB: number;
  rssAfterMiB: number;
  gcMs: number;
  trimMs: number;
  mallocTrim: boolean;
}

/** The reclaimer's debug line (src/memory/idle-memory-reclaimer.ts), with the close time; undefined for another. */
export function parseReclaimLine(line: string, closedAtMs: number): ProxyReclaim | undefined {
  if (!line.includes('"msg":"memory reclaimed after connections closed"')) return undefined;
  const record = JSON.parse(line) as { time: string; rss_before_mib: number; rss_after_mib: number; gc_ms: number; trim_ms: number; malloc_trim: boolean };
  return {
    secondsAfterClose: (Date.parse(record.time) - closedAtMs) / 1000,
    rssBeforeMiB: record.rss_before_mib,
    rssAfterMiB: record.rss_after_mib,
    gcMs: record.gc_ms,
    trimMs: record.trim_ms,
    mallocTrim: record.malloc_trim,
  };
}

/** How long after the close the "settled" figure is read: V8's memory reducer waits 8 s before its first look. */
export const SETTLE_SECONDS = 30;
/**
 * Bench-only: lets the bench force a full collection in the proxy (see the top of this file). Twice, half a second
 * apart: the native relay's tunnels are freed by N-API finalizers, which run after the collection that found them
 * unreachable, and what they held on the JavaScript side is collected by the next one. No malloc_trim: this figure
 * is what V8's plain collection gives back.
 */
const FORCE_GC_FLAGS = [
  '--expose-gc',
  `--import=data:text/javascript,process.on('SIGUSR2',()=>{globalThis.gc();setTimeout(()=>globalThis.gc(),500)})`,
];

/** RSS above `before`, 10^6 bytes. */
export function keptMB(beforeKiB: number, nowKiB: number): number {
  return ((nowKiB - beforeKiB) * 1024) / 1e6;
}

/** VmRSS in KiB from the text of /proc/PID/status. */
export function parseVmRssKiB(status: string): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!match) throw new Error('no VmRSS line in /proc/PID/status');
  return Number(match[1]);
}

/** The soft "Max open files" from the text of /proc/self/limits, or undefined. */
export function parseOpenFilesLimit(limits: string): number | undefined {
  const match = /^Max open files\s+(\d+|unlimited)/m.exec(limits);
  if (!match) return undefined;
  return match[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(match[1]);
}

/** The most tunnels that fit: two descriptors each in the proxy, with room for everything else. */
export function tunnelsWithin(openFilesLimit: number | undefined, requested: number): number {
  if (openFilesLimit === undefined || !Number.isFinite(openFilesLimit)) return requested;
  return Math.max(0, Math.min(requested, Math.floor((openFilesLimit - 500) / 2)));
}

export function perTunnelKB(rssBeforeKiB: number, rssOpenKiB: number, tunnels: number): number {
  return tunnels === 0 ? 0 : ((rssOpenKiB - rssBeforeKiB) * 1024) / tunnels / 1000;
}

const TARGET_SOURCE = `
const net = require('node:net');
const server = net.createServer((s) => { s.on('data', (d) => s.write(d)); s.on('error', () => {}); });
server.listen(0, '127.0.0.1', () => console.log('target ' + server.address().port));
`;

/** Every stdout line of `child` (into `lines`), and a way to wait for the first one matching a pattern. */
function lineReader(child: ChildProcess, name: string, lines: string[] = []): (pattern: RegExp) => Promise<string> {
  const waiters: Array<() => void> = [];
  let exited = false;
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line);
    for (const wake of waiters.splice(0)) wake();
  });
  child.once('exit', () => {
    exited = true;
    for (const wake of waiters.splice(0)) wake();
  });
  return async (pattern) => {
    for (;;) {
      const line = lines.find((l) => pattern.test(l));
      if (line !== undefined) return line;
      if (exited) throw new Error(`${name} exited before printing ${String(pattern)}: ${lines.slice(-3).join(' | ')}`);
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
}

async function rssKiB(pid: number): Promise<number> {
  return parseVmRssKiB(await readFile(`/proc/${pid}/status`, 'utf8'));
}

async function heapFigures(adminPort: number): Promise<HeapFigures> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  const mib = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN) / 1048576;
  return { heapUsed: mib('nodejs_heap_size_used_bytes'), heapTotal: mib('nodejs_heap_size_total_bytes'), external: mib('nodejs_external_memory_bytes') };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

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
    socket.once('close', () => reject(new Error('a tunnel closed before its exchange')));
  });
  socket.removeAllListeners('data');
  return socket;
}

export async function measureTunnelMemory(options: TunnelMemoryOptions): Promise<TunnelMemoryResult> {
  const limits = await readFile('/proc/self/limits', 'utf8').catch(() => '');
  const tunnels = tunnelsWithin(parseOpenFilesLimit(limits), options.tunnels);
  const exchangeBytes = options.exchangeBytes ?? 512;
  const target = spawn(process.execPath, ['-e', TARGET_SOURCE], { stdio: ['ignore', 'pipe', 'inherit'] });
  const proxy = spawn(
    process.execPath,
    [...PROXY_NODE_FLAGS, ...FORCE_GC_FLAGS, options.cli ?? builtCliPath(), 'run', '--bind', '127.0.0.1', '--port', '0', '--admin-port', '0', ...BENCH_POLICY_ARGS,
      // Every tunnel comes from 127.0.0.1: the per-client cap (1,000 by default) must let them all in.
      '--max-connections-per-client', String(tunnels + 100)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, EGRESS_PROXY_LOG_LEVEL: 'debug', ...(options.relay !== undefined ? { EGRESS_PROXY_TUNNEL_RELAY: options.relay } : {}) },
    },
  );
  const sockets: net.Socket[] = [];
  try {
    const targetLine = lineReader(target, 'the echo target');
    const proxyLines: string[] = [];
    const proxyLine = lineReader(proxy, 'egress-proxy', proxyLines);
    const targetPort = Number(/(\d+)$/.exec(await targetLine(/^target \d+$/))?.[1]);
    const relayLine = await proxyLine(/"msg":"tunnel relay"/);
    const relay = /"tunnel_relay":"([^"]+)"/.exec(relayLine)?.[1] ?? 'unknown';
    const proxyPort = Number(/"port":(\d+)/.exec(await proxyLine(/"msg":"proxy listening"/))?.[1]);
    const adminPort = Number(/"port":(\d+)/.exec(await proxyLine(/"msg":"admin listening"/))?.[1]);
    const pid = proxy.pid!;
    const payload = Buffer.alloc(exchangeBytes, 0x16);

    // Warm-up: a tunnel's code paths are loaded and compiled before the baseline is read.
    for (let i = 0; i < 3; i++) (await openIdleTunnel(proxyPort, targetPort, payload)).destroy();
    await sleep(1000);
    const before = { rss: await rssKiB(pid), heap: await heapFigures(adminPort) };
    const batch = 200;
    for (let opened = 0; opened < tunnels; opened += batch) {
      const count = Math.min(batch, tunnels - opened);
      sockets.push(...(await Promise.all(Array.from({ length: count }, () => openIdleTunnel(proxyPort, targetPort, payload)))));
    }
    await sleep(2000);
    const open = { rss: await rssKiB(pid), heap: await heapFigures(adminPort) };
    for (const socket of sockets.splice(0)) socket.destroy();
    const closedAt = Date.now();
    await sleep(5000);
    const after = { rss: await rssKiB(pid), heap: await heapFigures(adminPort) };
    await sleep((SETTLE_SECONDS - 5) * 1000);
    const settled = { rss: await rssKiB(pid), heap: await heapFigures(adminPort) };
    const reclaims = proxyLines.flatMap((line) => parseReclaimLine(line, closedAt) ?? []);
    process.kill(pid, 'SIGUSR2');
    await sleep(2500);
    const collected = { rss: await rssKiB(pid), heap: await heapFigures(adminPort) };

    const perTunnel = perTunnelKB(before.rss, open.rss, tunnels);
    return {
      tunnels,
      requested: options.tunnels,
      relay,
      exchangeBytes,
      rssKiB: { before: before.rss, open: open.rss, afterClose: after.rss, settled: settled.rss, afterGc: collected.rss },
      heapMiB: { before: before.heap, open: open.heap, afterClose: after.heap, settled: settled.heap, afterGc: collected.heap },
      perTunnelKB: perTunnel,
      keptAfterCloseMB: keptMB(before.rss, after.rss),
      keptSettledMB: keptMB(before.rss, settled.rss),
      keptAfterGcMB: keptMB(before.rss, collected.rss),
      reclaims,
      targetMet: perTunnel <= TUNNEL_MEMORY_TARGET_KB,
    };
  } finally {
    for (const socket of sockets) socket.destroy();
    proxy.kill('SIGTERM');
    target.kill('SIGTERM');
  }
}

function renderReclaim(r: ProxyReclaim): string {
  const trim = r.mallocTrim ? `, malloc_trim ${r.trimMs.toFixed(1)} ms` : ', no malloc_trim';
  return `ran ${r.secondsAfterClose.toFixed(1)} s after the close: RSS ${r.rssBeforeMiB.toFixed(1)} -> ${r.rssAfterMiB.toFixed(1)} MiB; paused for GC ${r.gcMs.toFixed(1)} ms${trim}`;
}

export function renderTunnelMemory(r: TunnelMemoryResult): string {
  const mib = (kib: number): string => (kib / 1024).toFixed(1);
  const heap = (h: HeapFigures): string => `heap ${h.heapUsed.toFixed(1)} of ${h.heapTotal.toFixed(1)} MiB, external ${h.external.toFixed(1)} MiB`;
  const capped = r.tunnels < r.requested ? ` (of ${r.requested} asked: the descriptor limit)` : '';
  return [
    `tunnel memory: ${r.tunnels} idle tunnels${capped}, ${r.exchangeBytes} bytes each way on each, relay "${r.relay}"`,
    `proxy RSS:  ${mib(r.rssKiB.before)} MiB before, ${mib(r.rssKiB.open)} MiB with the tunnels open, ${mib(r.rssKiB.afterClose)} MiB 5 s after they closed`,
    `            ${mib(r.rssKiB.settled)} MiB ${SETTLE_SECONDS} s after, ${mib(r.rssKiB.afterGc)} MiB after a full GC forced by the bench (for comparison)`,
    `reclaimer:  ${r.reclaims.length === 0 ? `the proxy did not reclaim within ${SETTLE_SECONDS} s` : r.reclaims.map(renderReclaim).join('; ')}`,
    `V8:         before: ${heap(r.heapMiB.before)}; open: ${heap(r.heapMiB.open)}; after: ${heap(r.heapMiB.afterClose)}`,
    `            ${SETTLE_SECONDS} s after: ${heap(r.heapMiB.settled)}; after the forced GC: ${heap(r.heapMiB.afterGc)}`,
    `targets: tunnel memory ${r.perTunnelKB.toFixed(1)} KB per idle tunnel <= ${TUNNEL_MEMORY_TARGET_KB} KB ${r.targetMet ? 'ok' : 'MISSED'}; ` +
      `kept 5 s after close: ${r.keptAfterCloseMB.toFixed(1)} MB, ${SETTLE_SECONDS} s after: ${r.keptSettledMB.toFixed(1)} MB, ` +
      `after a forced GC: ${r.keptAfterGcMB.toFixed(1)} MB`,
    '',
  ].join('\n');
}
