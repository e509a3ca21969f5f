/**
 * Starts egress-proxy in-process for a test, on port 0 with the admin listener on port 0, and captures its log
 * lines. The configuration goes through the real resolver (flags layer), with an empty environment so the
 * developer's own EGRESS_PROXY_* variables never leak into a test.
 *
 * Test origins listen on loopback, which the destination policy refuses by default, on ports CONNECT may not reach
 * by default: OPEN_LOOPBACK opens exactly that (loopback destinations, any port), as `--dest-allow 127.0.0.0/8
 * --dest-allow ::1 --connect-port 1-65535 --http-port 1-65535` would. A test of the policy itself passes its own `destinationsAllow`,
 * `connectPorts` or `httpPorts`, which replace these, or `defaultPolicy: true` to keep what the config says.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { LookupFunction } from 'node:net';
import { pino } from 'pino';
import { resolveConfig, type ConfigOverrides } from '../../src/config/resolve-config.js';
import type { ProxyConfig } from '../../src/config/proxy-config.js';
import { startEgressProxy, type RunningProxy, type StartOptions } from '../../src/egress-proxy.js';
import type { ConnectFunction } from '../../src/relay/upstream-dialer.js';

export interface TestProxy extends RunningProxy {
  config: ProxyConfig;
  /** http://127.0.0.1:port (or the bind address given). */
  url: string;
  port: number;
  adminUrl: string;
  logs: Array<Record<string, unknown>>;
  metricsText(): Promise<string>;
}

/** Loopback destinations on any port: where test origins are. */
export const OPEN_LOOPBACK = { destinationsAllow: ['127.0.0.0/8', '::1'], connectPorts: ['1-65535'], httpPorts: ['1-65535'] } as const satisfies ConfigOverrides;

export async function startTestProxy(
  overrides: ConfigOverrides = {},
  tweak?: (config: ProxyConfig) => void,
  options: {
    lookup?: LookupFunction;
    connect?: ConnectFunction;
    defaultPolicy?: boolean;
    networkInterfaces?: StartOptions['networkInterfaces'];
    verifyPassword?: StartOptions['verifyPassword'];
    memoryReclaim?: StartOptions['memoryReclaim'];
  } = {},
): Promise<TestProxy> {
  const dataDir = overrides.dataDir ?? (await mkdtemp(join(tmpdir(), 'egress-proxy-test-')));
  const open = options.defaultPolicy === true ? {} : OPEN_LOOPBACK;
  const { config } = await resolveConfig({ bind: '127.0.0.1', port: 0, adminPort: 0, dataDir, ...open, ...overrides }, {});
  tweak?.(config);
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  const logger = pino({ level: 'debug' }, sink);
  const running = await startEgressProxy(config, logger, {
    ...(options.lookup ? { lookup: options.lookup } : {}),
    ...(options.connect ? { connect: options.connect } : {}),
    ...(options.networkInterfaces ? { networkInterfaces: options.networkInterfaces } : {}),
    ...(options.verifyPassword ? { verifyPassword: options.verifyPassword } : {}),
    ...(options.memoryReclaim ? { memoryReclaim: options.memoryReclaim } : {}),
  });
  const host = config.bind.includes(':') ? `[${config.bind === '::' ? '::1' : config.bind}]` : config.bind === '0.0.0.0' ? '127.0.0.1' : config.bind;
  const adminUrl = running.adminAddress ? `http://127.0.0.1:${running.adminAddress.port}` : '';
  return Object.assign(running, {
    config,
    url: `http://${host}:${running.proxyAddress.port}`,
    port: running.proxyAddress.port,
    adminUrl,
    logs,
    async metricsText() {
      return running.metrics.registry.metrics();
    },
  });
}
