/**
 * `limits.max_connections_per_client`: how many connections one client address may hold open at once, tunnels and
 * idle keep-alive connections included. Without it one client (a misbehaving agent, or anyone with one address)
 * can open connections until `limits.max_client_connections` is reached and every other client is refused: 100
 * idle tunnels were enough with a small global cap. A connection over the cap is answered 503 at accept, before a
 * byte is read, and counted as a reject (`client_limit`).
 *
 * Counts live only while a client has connections open, so the table is never larger than the number of open
 * connections. IPv4-mapped IPv6 addresses are counted with their IPv4 form (the caller passes the display form).
 */
import { ClientConnectionLimitError } from '../errors.js';

export class ClientConnectionLimit {
  readonly #max: () => number;
  readonly #open = new Map<string, number>();

  /** `max` is read at each accept (a getter over the live settings: a reload's new cap applies to new connections). */
  constructor(max: number | (() => number)) {
    this.#max = typeof max === 'number' ? () => max : max;
  }

  /**
   * Admits one more connection from `client` (counting it) or refuses it. An admitted connection must be released
   * exactly once when it closes.
   */
  admit(client: string): ClientConnectionLimitError | undefined {
    const open = this.#open.get(client) ?? 0;
    if (open >= this.#max()) return new ClientConnectionLimitError();
    this.#open.set(client, open + 1);
    return undefined;
  }

  release(client: string): void {
    const open = this.#open.get(client);
    if (open === undefined) return;
    if (open <= 1) this.#open.delete(client);
    else this.#open.set(client, open - 1);
  }

  /** Connections `client` holds now (for tests and the curious). */
  openConnections(client: string): number {
    return this.#open.get(client) ?? 0;
  }

  /** Client addresses with connections open now. */
  get clients(): number {
    return this.#open.size;
  }
}
