/**
 * Where the bench commands write and how they are told to stop, passed in rather than taken from `process`, so
 * tests can run a command in-process and read exactly what a user would see.
 */
import type { Writable } from 'node:stream';

export interface CommandIo {
  stdout: Writable;
  /** `isTTY` decides whether the client shows progress without `--progress`. */
  stderr: Writable & { isTTY?: boolean };
  /** Stops a long-running command (the null server). Default: SIGINT or SIGTERM. */
  stopSignal?: AbortSignal;
}

export function processIo(): CommandIo {
  return { stdout: process.stdout, stderr: process.stderr };
}

/** Resolves on `io.stopSignal`, or on the first SIGINT/SIGTERM when none is given. */
export function waitForStop(io: CommandIo): Promise<void> {
  const { stopSignal } = io;
  if (stopSignal !== undefined) {
    if (stopSignal.aborted) return Promise.resolve();
    return new Promise((resolve) => stopSignal.addEventListener('abort', () => resolve(), { once: true }));
  }
  return new Promise((resolve) => {
    const onSignal = (): void => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
