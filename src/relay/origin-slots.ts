/**
 * Caps the upstream connections the relay holds per origin (`limits.upstream_max_sockets_per_host`), in use and
 * being opened, for forwarding and MITM alike: ten thousand clients of one proxy must not become ten thousand
 * connections to one ingestion endpoint. Within that cap one client (by address) holds at most
 * `limits.upstream_max_sockets_per_client` of an origin's slots, so a client that opens many slow requests (bodies
 * trickled a byte at a time, say) cannot take every slot and leave every other client waiting for a 504.
 *
 * A request over either cap waits, first come first served among the requests that could use the slot given back:
 * a waiter whose own client is at its share is passed over, not allowed to block the queue.
 *
 * The bookkeeping of an origin (and of a client within it) stays while it is in use and is dropped by the timeout
 * sweep once idle: allocating and dropping it around every request was a measurable part of a small request.
 */
import type { Expiring } from './timeout-sweep.js';

/** Read at each acquisition (getters over the live settings: a reload's new limits apply to the next request). */
export interface SlotLimits {
  readonly perOrigin: number;
  readonly perClient: number;
}

/** Who waits for a slot: told once it has one. */
export interface SlotHolder {
  slotGranted(): void;
}

interface Waiter {
  client: string;
  holder: SlotHolder;
}

interface OriginState {
  inUse: number;
  byClient: Map<string, number>;
  waiting: Waiter[];
}

export class OriginSlots implements Expiring {
  readonly #limits: SlotLimits;
  readonly #origins = new Map<string, OriginState>();

  constructor(limits: SlotLimits) {
    this.#limits = limits;
  }

  /**
   * A slot for `origin` for this client: true when it is `holder`'s at once, else false and `holder.slotGranted()`
   * is called once one is given back (unless withdrawn first).
   */
  acquire(origin: string, client: string, holder: SlotHolder): boolean {
    let state = this.#origins.get(origin);
    if (state === undefined) {
      state = { inUse: 0, byClient: new Map(), waiting: [] };
      this.#origins.set(origin, state);
    }
    // First come, first served among those who could use a slot: a waiter kept back by its own client's share does
    // not hold up a newcomer from another client.
    if (this.#fits(state, client) && (state.waiting.length === 0 || !state.waiting.some((waiter) => this.#fits(state, waiter.client)))) {
      this.#take(state, client);
      return true;
    }
    state.waiting.push({ client, holder });
    return false;
  }

  /** Withdraws a request still waiting (nothing if it was granted or never waited). */
  withdraw(origin: string, holder: SlotHolder): void {
    const waiting = this.#origins.get(origin)?.waiting;
    const index = waiting?.findIndex((waiter) => waiter.holder === holder) ?? -1;
    if (index !== -1) waiting?.splice(index, 1);
  }

  /** Gives a slot back, then grants slots to the waiters that now fit, oldest first. */
  release(origin: string, client: string): void {
    const state = this.#origins.get(origin);
    if (state === undefined) return;
    state.inUse--;
    state.byClient.set(client, (state.byClient.get(client) ?? 1) - 1);
    for (let i = 0; i < state.waiting.length; ) {
      const waiter = state.waiting[i] as Waiter;
      if (!this.#fits(state, waiter.client)) {
        i++;
        continue;
      }
      state.waiting.splice(i, 1);
      this.#take(state, waiter.client);
      waiter.holder.slotGranted();
      // The grant may have given a slot straight back (a request that failed at once): look again from the start.
      i = 0;
    }
  }

  /** Slots in use for `origin`, and by `client` when given (for tests and the curious). */
  inUse(origin: string, client?: string): number {
    const state = this.#origins.get(origin);
    if (state === undefined) return 0;
    return client === undefined ? state.inUse : (state.byClient.get(client) ?? 0);
  }

  /** Drops the bookkeeping of origins and clients holding nothing and waiting for nothing. */
  expire(): void {
    for (const [origin, state] of this.#origins) {
      if (state.inUse === 0 && state.waiting.length === 0) {
        this.#origins.delete(origin);
        continue;
      }
      for (const [client, held] of state.byClient) if (held <= 0) state.byClient.delete(client);
    }
  }

  #fits(state: OriginState, client: string): boolean {
    const limits = this.#limits;
    return state.inUse < limits.perOrigin && (state.byClient.get(client) ?? 0) < limits.perClient;
  }

  #take(state: OriginState, client: string): void {
    state.inUse++;
    state.byClient.set(client, (state.byClient.get(client) ?? 0) + 1);
  }
}
