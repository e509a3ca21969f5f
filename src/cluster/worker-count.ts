/** How many workers `workers = N | "auto"` means. */
import os from 'node:os';

/**
 * "auto" is one per CPU this process may run on (its affinity mask, as `os.availableParallelism()` reports it). A
 * container's CPU quota is not an affinity mask: in Kubernetes, set the number to the pod's CPU limit instead.
 */
export function workerCount(workers: number | 'auto'): number {
  return workers === 'auto' ? Math.max(1, os.availableParallelism()) : workers;
}
