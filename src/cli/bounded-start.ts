/**
 * A start that cannot finish must not hang forever, nor ignore the supervisor: the start races a time limit
 * (`timeouts.startup`) and the stop signals. What can stall it: a CA lock another process holds, a listen address
 * whose name never resolves, a data directory on a stuck disk.
 */
import { StartupTimeoutError } from '../errors.js';

export type StartOutcome<T> = { started: T } | { stoppedBy: NodeJS.Signals };

export async function boundedStart<T>(
  start: Promise<T>,
  stopSignal: Promise<NodeJS.Signals>,
  timeoutMs: number,
): Promise<StartOutcome<T>> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () => reject(new StartupTimeoutError(`the start did not finish within ${timeoutMs / 1000} s (timeouts.startup); nothing is served`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([
      start.then((started) => ({ started })),
      stopSignal.then((stoppedBy) => ({ stoppedBy })),
      timedOut,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
