/**
 * What every client connection's relay shares with the others (relay-engine.ts provides it): the live settings,
 * the origins' slots, the in-flight bookkeeping, the one timeout sweep and its clock.
 */
import type { ConnectionTracker } from './connection-tracker.js';
import type { OriginSlots } from './origin-slots.js';
import type { LiveSettings } from './relay-settings.js';
import type { TimeoutSweep } from './timeout-sweep.js';

export interface RelayEnvironment {
  readonly settings: LiveSettings;
  readonly slots: OriginSlots;
  readonly tracker: ConnectionTracker;
  readonly sweep: TimeoutSweep;
  /** The sweep's clock (ms): every deadline is measured on it. */
  readonly now: () => number;
  /** Whether a graceful stop has begun: every response then closes its connection. */
  isDraining(): boolean;
}
