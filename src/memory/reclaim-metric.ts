/**
 * `egress_proxy_memory_reclaims_total`: how often the proxy gave memory back after connections closed
 * (idle-memory-reclaimer.ts). Registered on the proxy's registry beside the others; a cluster's primary adds up the
 * workers' counts like every counter.
 */
import { Counter, type Registry } from 'prom-client';

export function memoryReclaimCounter(registry: Registry): () => void {
  const counter = new Counter({
    name: 'egress_proxy_memory_reclaims_total',
    help: 'Full garbage collections (each followed by malloc_trim where glibc has it) the proxy ran to give memory back after many connections closed and it went quiet.',
    registers: [registry],
  });
  return () => counter.inc();
}
