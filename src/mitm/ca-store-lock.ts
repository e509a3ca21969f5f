/**
 * A lock file around creating the CA in the data directory. Renaming a temp file makes each file appear whole, but
 * the CA is two files: two processes starting at once could otherwise leave one's key next to the other's
 * certificate. The holder creates `ca.lock` with O_EXCL; a lock older than `staleAfterMs` is from a process that
 * died mid-write and is broken.
 */

import { open, stat, unlink } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { CaStoreError } from './mitm-errors.js';

export interface CaStoreLockOptions {
  /** Give up after waiting this long for another process. Default 60 s. */
  waitMs?: number;
  /** Break a lock older than this. Default 30 s: generating and writing a CA takes well under a second. */
  staleAfterMs?: number;
  /** Delay between attempts. Default 50 ms. */
  retryMs?: number;
}

/** Runs `critical` while holding the lock at `lockPath`, then removes the lock. */
export async function withCaStoreLock<T>(
  lockPath: string,
  critical: () => Promise<T>,
  options: CaStoreLockOptions = {},
): Promise<T> {
  const waitMs = options.waitMs ?? 60_000;
  const staleAfterMs = options.staleAfterMs ?? 30_000;
  const retryMs = options.retryMs ?? 50;
  const deadline = Date.now() + waitMs;

  for (;;) {
    try {
      const handle = await open(lockPath, 'wx', 0o600);
      try {
        await handle.writeFile(`${process.pid}\n`);
      } finally {
        await handle.close();
      }
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new CaStoreError(lockPath, `cannot create the lock file (${(err as Error).message})`, { cause: err });
      }
    }
    if (await isStale(lockPath, staleAfterMs)) {
      await unlink(lockPath).catch(ignoreMissing);
      continue;
    }
    if (Date.now() >= deadline) {
      throw new CaStoreError(lockPath, `another process has held this lock for over ${waitMs} ms; remove it if none runs`);
    }
    await sleep(retryMs);
  }

  try {
    return await critical();
  } finally {
    await unlink(lockPath).catch(ignoreMissing);
  }
}

async function isStale(lockPath: string, staleAfterMs: number): Promise<boolean> {
  try {
    return Date.now() - (await stat(lockPath)).mtimeMs > staleAfterMs;
  } catch (err) {
    ignoreMissing(err);
    return false; // just released: the next attempt takes it
  }
}

function ignoreMissing(err: unknown): void {
  if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
}
