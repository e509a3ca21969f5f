/*
 * V8's LowMemoryNotification for src/memory/ (through tunnel_splice.c's lowMemoryNotification export): full
 * collections in V8's memory-reducing mode, repeated while they free something, that also give the freed heap pages
 * back to the system (V8 otherwise keeps them pooled for reuse) and shrink the young generation. What `gc()` of
 * `--expose-gc` does not do on Node 20, and does only with an option Node 20's V8 lacks on Node 24
 * (docs/memory.md). The only C++ in the addon: N-API offers no way to ask for a collection.
 */
#include <v8.h>

extern "C" void egress_low_memory_notification(void) {
  v8::Isolate *isolate = v8::Isolate::GetCurrent();
  if (isolate != nullptr) isolate->LowMemoryNotification();
}
