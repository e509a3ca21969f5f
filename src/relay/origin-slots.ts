/**
 * Caps the upstream connections the relay holds per origin (`limits.upstream_max_sockets_per_host`), in use and
 * being opened, for forwarding and MITM alike: ten thousand clients of one proxy must not become ten thousand
 * connections to one ingestion endpoint. Within that cap one client (by address) holds at most
 * `limits.upstream_max_sockets_per_client` of an origin's slots, so a client that opens many slow requests (bodies
 * trickled a byte at a time, say) cannot take every slot and leave every other client waiting for a 504.
 *
 * A request over either cap waits, first come first served among the requests that could use the slot given back:
 * a waiter whose own client is at its share is passed over, not allowed to block the queue.
 */

/** Read at each acquisition (getters over the live settings: a reload's new limits apply to the next request). */
export interface SlotLimits {
  readonly perOrigin: number;
  readonly perClient: number;
}

interface Waiter {
  client: string;
  granted: () => void;
}

interface OriginState {
  inUse: number;
  byClient: Map<string, number>;
  waiting: Waiter[];
}

export class OriginSlots {
  readonly #limits: SlotLimits;
  readonly #origins = new Map<string, OriginState>();

  constructor(limits: SlotLimits) {
    this.#limits = limits;
  }

  /**
   * Calls `granted` once a slot for `origin` is this client's: at once when one is free within both caps, else when
   * one is given back. Returns what withdraws a request still waiting (a no-op once granted).
   */
  acquire(origin: string, client: string, granted: () => void): () => void {
    let state = this.#origins.get(origin);
    if (state === undefined) {
      state = { inUse: 0, byClient: new Map(), waiting: [] };
      this.#origins.set(origin, state);
    }
    // First come, first served among those who could use a slot: a waiter kept back by its own client's share does
    // not hold up a newcomer from another client.
    if (this.#fits(state, client) && !state.waiting.some((waiter) => this.#fits(state, waiter.client))) {
      this.#take(state, client);
      granted();
      return noop;
    }
    const waiter: Waiter = { client, granted };
    state.waiting.push(waiter);
    const queue = state.waiting;
    return () => {
      const index = queue.indexOf(waiter);
      if (index !== -1) queue.splice(index, 1);
      this.#forget(origin);
    };
  }

  /** Gives a slot back, then grants slots to the waiters that now fit, oldest first. */
  release(origin: string, client: string): void {
    const state = this.#origins.get(origin);
    if (state === undefined) return;
    state.inUse--;
    const held = (state.byClient.get(client) ?? 1) - 1;
    if (held <= 0) state.byClient.delete(client);
    else state.byClient.set(client, held);
    for (let i = 0; i < state.waiting.length; ) {
      const waiter = state.waiting[i] as Waiter;
      if (!this.#fits(state, waiter.client)) {
        i++;
        continue;
      }
      state.waiting.splice(i, 1);
      this.#take(state, waiter.client);
      waiter.granted();
      // The grant may have given a slot straight back (a request that failed at once): look again from the start.
      i = 0;
    }
    this.#forget(origin);
  }

  /** Slots in use for `origin`, and by `client` when given (for tests and the curious). */
  inUse(origin: string, client?: string): number {
    const state = this.#origins.get(origin);
    if (state === undefined) return 0;
    return client === undefined ? state.inUse : (state.byClient.get(client) ?? 0);
  }

  #fits(state: OriginState, client: string): boolean {
    const limits = this.#limits;
    return state.inUse < limits.perOrigin && (state.byClient.get(client) ?? 0) < limits.perClient;
  }

  #take(state: OriginState, client: string): void {
    state.inUse++;
    state.byClient.set(client, (state.byClient.get(client) ?? 0) + 1);
  }

  #forget(origin: string): void {
    const state = this.#origins.get(origin);
    if (state !== undefined && state.inUse === 0 && state.waiting.length === 0) this.#origins.delete(origin);
  }
}

function noop(): void {}
