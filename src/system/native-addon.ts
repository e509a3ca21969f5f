/**
 * The optional native addon built at install (native/tunnel_splice.c: the splice(2) tunnel relay, and glibc's
 * malloc_trim for src/memory/), or why it is not here. It is optional everywhere: each user checks for the functions
 * it needs, since a build left from an older checkout may lack newer ones (the build is redone only by `npm ci` or
 * `npm rebuild`). Node caches the module: every caller gets the same one.
 */
import { createRequire } from 'node:module';

/** This file sits in src/system or dist/system: the addon is built into native/ at the package root. */
const ADDON_PATH = '../../native/build/Release/tunnel_splice.node';

/** The addon's exports, or an Error saying why there are none. */
export function loadNativeAddon(): Record<string, unknown> | Error {
  try {
    return createRequire(import.meta.url)(ADDON_PATH) as Record<string, unknown>;
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' ? 'not built at install' : (err as Error).message;
    return new Error(reason);
  }
}
