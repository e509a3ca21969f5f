/**
 * Notices the process being out of file descriptors when nothing else would say so. On Linux, libuv answers an
 * accept() that fails with EMFILE or ENFILE by closing the waiting connections on a descriptor it keeps in reserve,
 * and reports nothing: Node's listener never emits 'error', and every new client (the admin listener's included) is
 * reset without a trace. So every few seconds this opens and closes /dev/null: EMFILE or ENFILE there means new
 * connections are being dropped now. Two system calls on the thread pool per interval; the timer never keeps the
 * process alive.
 */
import { close, open } from 'node:fs';
import { isDescriptorExhaustion } from './open-files-limit.js';

export const DESCRIPTOR_PROBE_INTERVAL_MS = 5000;

export class DescriptorProbe {
  readonly #onExhausted: (err: NodeJS.ErrnoException) => void;
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(onExhausted: (err: NodeJS.ErrnoException) => void, intervalMs = DESCRIPTOR_PROBE_INTERVAL_MS) {
    this.#onExhausted = onExhausted;
    this.#intervalMs = intervalMs;
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => this.probe(), this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One probe now (the interval calls it; a test may too). */
  probe(): void {
    open('/dev/null', 'r', (err, fd) => {
      if (err === null) close(fd, () => undefined);
      else if (isDescriptorExhaustion(err)) this.#onExhausted(err);
    });
  }
}
