/**
 * Adds a set of event listeners and returns what removes exactly those: for sockets that change hands (an upstream
 * connection parked in the pool, then taken by another tunnel's relay), where a listener left behind would act on
 * someone else's traffic.
 */
import type { EventEmitter } from 'node:events';

/** Event name to listener; `any[]` as in EventEmitter.on itself, since each event has arguments of its own. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- EventEmitter's own listener type, see above
export type Listeners = Record<string, (...args: any[]) => void>;

export function addListeners(emitter: EventEmitter, listeners: Listeners): () => void {
  for (const [event, listener] of Object.entries(listeners)) emitter.on(event, listener);
  return () => {
    for (const [event, listener] of Object.entries(listeners)) emitter.removeListener(event, listener);
  };
}
