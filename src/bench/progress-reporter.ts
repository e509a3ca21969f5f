/**
 * The `bench client` progress line on stderr: requests done out of the total and the current rate, every 2 s once
 * a run has lasted 3 s, so short runs stay silent and long runs show they are alive. Reads a counter the client
 * bumps; it never touches the request path itself.
 */
import type { Writable } from 'node:stream';
import type { BenchProgress } from './bench-client.js';

export interface ProgressReporterOptions {
  progress: BenchProgress;
  total: number;
  stream: Writable;
  /** Rewrite one line in place (for a terminal) instead of printing a line per update. */
  inPlace: boolean;
  /** Default 3,000 ms. */
  firstAfterMs?: number;
  /** Default 2,000 ms. */
  everyMs?: number;
}

/** Starts reporting; call the returned function when the run ends (it clears an in-place line). */
export function startProgressReporter(options: ProgressReporterOptions): () => void {
  const { progress, total, stream, inPlace } = options;
  let lastCount = progress.completed;
  let lastTime = performance.now();
  let printed = false;
  let interval: NodeJS.Timeout | undefined;

  const report = (): void => {
    const now = performance.now();
    const rate = ((progress.completed - lastCount) * 1000) / Math.max(1, now - lastTime);
    lastCount = progress.completed;
    lastTime = now;
    const text = `${progress.completed}/${total} requests, ${rate.toFixed(0)} req/s`;
    stream.write(inPlace ? `\r\x1b[K${text}` : `${text}\n`);
    printed = true;
  };

  const first = setTimeout(() => {
    report();
    interval = setInterval(report, options.everyMs ?? 2_000);
    interval.unref();
  }, options.firstAfterMs ?? 3_000);
  first.unref();

  return () => {
    clearTimeout(first);
    if (interval !== undefined) clearInterval(interval);
    if (printed && inPlace) stream.write('\r\x1b[K');
  };
}
