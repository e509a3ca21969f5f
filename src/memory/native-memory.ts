/**
 * What the proxy asks of V8 and glibc to give memory back, through the native addon (native/low_memory.cc and
 * native/tunnel_splice.c):
 *
 * - V8's LowMemoryNotification: full collections in V8's memory-reducing mode, repeated while they free something,
 *   which also return the freed heap pages to the system and shrink the young generation. Chosen over `gc()` of
 *   `--expose-gc` (a flag in every start command users wrote, or set at run time with v8.setFlagsFromString and a
 *   new context): on Node 20 that collection left the young generation at its grown size (30 MiB more RSS in the
 *   bench), and on Node 24 it kept the freed pages pooled (RSS 138 MiB with 7 MiB of heap, in a probe) unless asked
 *   with an option Node 20's V8 does not have. This call does both on both, with no flag (docs/memory.md).
 * - glibc's malloc_trim(0): memory the C library handed to Node (socket structures, the JavaScript relay's 16 KiB
 *   read buffers) and got back stays in malloc's arenas; only a trim returns the free pages that sit below memory
 *   still in use. A no-op (false) where the C library is not glibc.
 *
 * Absent where the addon was not built (macOS, Windows, no compiler, EGRESS_PROXY_NATIVE=0) or was built by an
 * older version: the proxy then leaves its memory to V8's own schedule, as before.
 */
import { loadNativeAddon } from '../system/native-addon.js';

export interface NativeMemory {
  lowMemoryNotification(): void;
  trimMalloc(): boolean;
}

/** The two functions, or an Error saying why they are not here. */
export function loadNativeMemory(): NativeMemory | Error {
  const addon = loadNativeAddon();
  if (addon instanceof Error) return new Error(`native addon unavailable: ${addon.message}`);
  if (typeof addon.lowMemoryNotification !== 'function' || typeof addon.trimMalloc !== 'function') {
    return new Error('the native addon was built by an older version (run npm rebuild)');
  }
  return addon as unknown as NativeMemory;
}
