/**
 * The messages between the cluster primary and its workers, over Node's IPC channel (JSON). One type per message,
 * prefixed so that no other user of the channel (prom-client, a debugger) is mistaken for ours.
 *
 * A reload (src/reload/) is resolved and validated once, in the primary, which sends `reload` with the result to
 * every worker; each answers `reloaded` (with why not, if it could not apply it). Restarted workers are started
 * with the latest config.
 */
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { ProxyConfig } from '../config/proxy-config.js';

/** A registry as `registry.getMetricsAsJSON()` gives it: what a worker sends the primary for a scrape. */
export type RegistryJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/** Primary → worker: start serving with this config (the admin listener disabled: the primary serves it). */
export interface StartMessage {
  type: 'egress-proxy:start';
  config: ProxyConfig;
  /** The primary's admin listener: a request aimed at it is a loop. */
  adminListener: { bind: string; port: number } | undefined;
}

/** Primary → worker: stop accepting, finish what is in flight within `drainMs`, then exit. */
export interface DrainMessage {
  type: 'egress-proxy:drain';
  drainMs: number;
}

/** Primary → worker: send your registry as JSON (see cluster-metrics.ts). */
export interface MetricsRequestMessage {
  type: 'egress-proxy:metrics-request';
  id: number;
  /** Only these metrics (the dashboard's samples, every 2 s, skip the costly summaries); all when absent. */
  names?: readonly string[];
}

/** Primary → worker: apply this (validated) config to new connections and requests; answer with `reloaded`. */
export interface ReloadMessage {
  type: 'egress-proxy:reload';
  id: number;
  config: ProxyConfig;
}

export type PrimaryMessage = StartMessage | DrainMessage | MetricsRequestMessage | ReloadMessage;

/**
 * Worker → primary: the worker listens for messages now, so it can be sent its config. (Node's `online` event
 * comes before the worker's modules are loaded, and a message that arrives before a listener is lost.)
 */
export interface HelloMessage {
  type: 'egress-proxy:hello';
}

/** Worker → primary: the proxy listener accepts. */
export interface ListeningMessage {
  type: 'egress-proxy:listening';
  address: AddressInfo;
}

/** Worker → primary: the start failed. `line` is the one-line explanation, when the failure is understood. */
export interface StartFailedMessage {
  type: 'egress-proxy:start-failed';
  line: string | undefined;
  /** The error with its stack, for a failure that is a bug. */
  detail: string;
}

/** Worker → primary: the answer to a MetricsRequestMessage. */
export interface MetricsMessage {
  type: 'egress-proxy:metrics';
  id: number;
  metrics: RegistryJson | undefined;
  error: string | undefined;
}

/** Worker → primary: the drain finished (`forced`: the drain timeout closed what was left). */
export interface StoppedMessage {
  type: 'egress-proxy:stopped';
  forced: boolean;
}

/** Worker → primary: the answer to a ReloadMessage; `error` says why the worker could not apply it. */
export interface ReloadedMessage {
  type: 'egress-proxy:reloaded';
  id: number;
  error: string | undefined;
}

export type WorkerMessage = HelloMessage | ListeningMessage | StartFailedMessage | MetricsMessage | StoppedMessage | ReloadedMessage;

const PRIMARY_TYPES = new Set(['egress-proxy:start', 'egress-proxy:drain', 'egress-proxy:metrics-request', 'egress-proxy:reload']);
const WORKER_TYPES = new Set([
  'egress-proxy:hello',
  'egress-proxy:listening',
  'egress-proxy:start-failed',
  'egress-proxy:metrics',
  'egress-proxy:stopped',
  'egress-proxy:reloaded',
]);

function typeOf(message: unknown): unknown {
  return typeof message === 'object' && message !== null ? (message as { type?: unknown }).type : undefined;
}

export function isPrimaryMessage(message: unknown): message is PrimaryMessage {
  return PRIMARY_TYPES.has(typeOf(message) as string);
}

export function isWorkerMessage(message: unknown): message is WorkerMessage {
  return WORKER_TYPES.has(typeOf(message) as string);
}
