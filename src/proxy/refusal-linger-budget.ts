/**
 * How many connections refused at accept may linger after their answer. A refusal is answered and the socket kept
 * open a moment, reading and discarding, so a client that already sent its request head still reads the answer
 * instead of a TCP reset (RFC 9112 §9.6). Those sockets are outside the connection cap (a denied client must not
 * be able to fill it and lock the allowed ones out), so what they may hold is bounded here instead: a few per
 * client address and a total. A refusal over either budget is closed as soon as its answer has left.
 */
import { ClientConnectionLimit } from '../policy/client-connection-limit.js';

/** Lingering refusals one client address may have at a time. */
export const REFUSAL_LINGERS_PER_ADDRESS = 4;
/** Lingering refusals in all: well inside the descriptors kept back from the cap (open-files-limit.ts). */
export const REFUSAL_LINGERS_TOTAL = 32;
/** How long a refusal at accept lingers after its answer has left: enough for the client's in-flight bytes. */
export const ACCEPT_REFUSAL_LINGER_MS = 250;

export class RefusalLingerBudget {
  /** The per-address count is the per-client connection cap's mechanism, with its own limit. */
  readonly #byAddress = new ClientConnectionLimit(REFUSAL_LINGERS_PER_ADDRESS);
  #total = 0;

  /** Takes a place for `address` if both budgets have one; `release` gives it back when the socket has closed. */
  take(address: string): boolean {
    if (this.#total >= REFUSAL_LINGERS_TOTAL || this.#byAddress.admit(address) !== undefined) return false;
    this.#total++;
    return true;
  }

  release(address: string): void {
    this.#byAddress.release(address);
    this.#total--;
  }
}
