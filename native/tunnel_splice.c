/*
 * The native CONNECT tunnel relay (Linux): moves a tunnel's bytes with splice(2) through a pipe, so they never
 * enter user space and no JavaScript runs per chunk. It polls the two sockets on Node's own event loop (libuv), so
 * it runs on the JavaScript thread, between JavaScript callbacks, like any socket of Node's.
 *
 * src/proxy/splice-tunnel-relay.ts is its only user and keeps all policy: this file only moves bytes, half-closes,
 * watches the idle time and reports one final event per tunnel. The contract:
 *
 *   setEventHandler(onEvent)
 *     Once, before the first open: the one function every tunnel's final event goes to (one per environment, not
 *     one per tunnel: an idle tunnel's memory is a target of issue 13).
 *   open(clientFd, upstreamFd, idleMs, id) -> tunnel
 *     Duplicates both descriptors (the caller then closes its own), and starts relaying. onEvent(id, kind, side,
 *     errno) is called at most once for it, with the caller's int32 `id`: kind 1 = both directions ended cleanly
 *     (each FIN was passed on as a shutdown of the other socket's sending side); 2 = a socket failed (side 0 =
 *     client, 1 = upstream; errno from the kernel); 3 = no byte moved either way for idleMs (checked by one sweep
 *     timer for all tunnels, so to within a quarter of idleMs, at most a second late). The relay has stopped when
 *     it is called; the caller then closes.
 *   close(tunnel, resetSide)
 *     Stops and closes both sockets. resetSide 0 or 1 closes that socket with a TCP RST (SO_LINGER 0) instead of a
 *     FIN, -1 neither. Idempotent.
 *   bytes(tunnel) -> [client-to-upstream, upstream-to-client], bytes delivered so far.
 *   lowMemoryNotification()
 *     V8's memory-reducing full collection (low_memory.cc). Not about tunnels, nor is the next: src/memory/ calls
 *     both once a burst of connections has closed and the process is quiet. They are here because this is the
 *     addon the proxy builds.
 *   trimMalloc() -> true once glibc's malloc_trim(0) has run, false where the C library has none (musl, say):
 *     gives back to the system what glibc keeps of freed native memory (the JavaScript relay's 16 KiB read
 *     buffers, Node's socket structures).
 *
 * Pipes: a direction holds a pipe only while bytes sit in it (spliced in, not yet out: the destination was full).
 * Otherwise the pipe goes back to a small pool shared by all tunnels, so an idle tunnel holds two sockets and this
 * struct, and ten thousand idle tunnels do not hold forty thousand pipe descriptors.
 *
 * What an open tunnel holds outside the JavaScript heap is this struct with its two poll handles (about 500 bytes),
 * and a V8 external with its finalizer; the event handler, its async context and the idle timer are shared.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <errno.h>
#include <fcntl.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#define CLIENT 0
#define UPSTREAM 1
/* What one splice asks for: a default pipe's capacity (16 pages). */
#define CHUNK (64 * 1024)
/* Splices per direction per readiness event before yielding to other sockets (up to 1 MiB). */
#define MAX_ROUNDS 16
#define POOL_MAX 64
/* The idle sweep runs every quarter of the shortest idle timeout among open tunnels, and at least once a second. */
#define SWEEP_MAX_MS 1000

#define EVENT_END 1
#define EVENT_ERROR 2
#define EVENT_IDLE 3

typedef struct {
  int r;
  int w;
} pipe_fds;

/* Per Node environment (main thread or a worker): its pipe pool and open tunnels. */
typedef struct addon_state {
  uv_loop_t *loop;
  napi_env env;
  pipe_fds pool[POOL_MAX];
  int pooled;
  struct tunnel *open_list;
  int handles_open; /* of all tunnels, closing ones included, and the sweep timer */
  napi_ref on_event;
  napi_async_context async_context;
  uv_timer_t sweep;
  uint64_t sweep_ms; /* the period the sweep is running with; 0 = stopped */
  napi_async_cleanup_hook_handle cleanup_hook;
  int cleaning_up;
} addon_state;

typedef struct tunnel tunnel;

typedef struct {
  int from; /* side read */
  int to;   /* side written */
  pipe_fds pipe; /* r == -1: none held */
  size_t pending; /* bytes in the pipe, not yet written to `to` */
  int eof;        /* `from` sent its FIN */
  int shut;       /* the FIN was passed on: shutdown(to, SHUT_WR) */
  uint64_t delivered;
} direction;

struct tunnel {
  addon_state *state;
  napi_env env;
  int fd[2];
  uv_poll_t poll[2];
  int polling[2]; /* events the poll handle was started with; 0 = stopped */
  direction dir[2]; /* dir[CLIENT]: client -> upstream; dir[UPSTREAM]: upstream -> client */
  uint64_t idle_ms;
  uint64_t last_activity;
  int32_t id; /* the caller's, passed back with the final event */
  int stopped; /* the final event was raised, or close() was called */
  int closed;  /* close() ran: descriptors closed, handles closing */
  int handles_open;
  int js_alive; /* the JavaScript object still refers to this struct */
  tunnel *prev, *next;
};

static void close_pipe(pipe_fds *p) {
  if (p->r >= 0) close(p->r);
  if (p->w >= 0) close(p->w);
  p->r = p->w = -1;
}

static int take_pipe(addon_state *state, pipe_fds *p) {
  if (state->pooled > 0) {
    *p = state->pool[--state->pooled];
    return 0;
  }
  int fds[2];
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return -1;
  p->r = fds[0];
  p->w = fds[1];
  return 0;
}

/* Only an empty pipe may be shared; one that still holds bytes is closed with them. */
static void give_back_pipe(addon_state *state, direction *d) {
  if (d->pipe.r < 0) return;
  if (d->pending == 0 && state->pooled < POOL_MAX) {
    state->pool[state->pooled++] = d->pipe;
    d->pipe.r = d->pipe.w = -1;
  } else {
    close_pipe(&d->pipe);
  }
}

static void free_if_unused(tunnel *t) {
  if (t->handles_open == 0 && !t->js_alive) free(t);
}

static void close_pipe_pool(addon_state *state) {
  while (state->pooled > 0) close_pipe(&state->pool[--state->pooled]);
}

/* The environment is going away and every handle of ours has closed: let it finish. */
static void finish_cleanup(addon_state *state) {
  close_pipe_pool(state);
  napi_remove_async_cleanup_hook(state->cleanup_hook);
  free(state);
}

static void after_state_handle(addon_state *state) {
  state->handles_open--;
  if (state->cleaning_up && state->handles_open == 0) finish_cleanup(state);
}

static void on_handle_closed(uv_handle_t *handle) {
  tunnel *t = handle->data;
  addon_state *state = t->state;
  t->handles_open--;
  free_if_unused(t);
  after_state_handle(state);
}

static void on_sweep_closed(uv_handle_t *handle) {
  after_state_handle(handle->data);
}

static void stop_io(tunnel *t) {
  for (int side = 0; side < 2; side++) {
    if (t->polling[side]) uv_poll_stop(&t->poll[side]);
    t->polling[side] = 0;
  }
}

/* Raises the tunnel's one final event. The JavaScript side may call close() from inside it. */
static void raise_event(tunnel *t, int kind, int side, int err) {
  if (t->stopped) return;
  t->stopped = 1;
  stop_io(t);
  napi_env env = t->env;
  addon_state *state = t->state;
  if (state->on_event == NULL) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value callback, resource, argv[4], result;
  if (napi_get_reference_value(env, state->on_event, &callback) == napi_ok && callback != NULL) {
    napi_create_int32(env, t->id, &argv[0]);
    napi_create_int32(env, kind, &argv[1]);
    napi_create_int32(env, side, &argv[2]);
    napi_create_int32(env, err, &argv[3]);
    napi_get_global(env, &resource);
    /* make_callback, not call_function: it runs process.nextTick callbacks and promise jobs afterwards, and an
     * exception thrown by the handler is passed on below. */
    if (napi_make_callback(env, state->async_context, resource, callback, 4, argv, &result) != napi_ok) {
      /* A throwing handler: hand the exception to process 'uncaughtException', as Node does for its callbacks. */
      bool pending = false;
      napi_value exception;
      if (napi_is_exception_pending(env, &pending) == napi_ok && pending &&
          napi_get_and_clear_last_exception(env, &exception) == napi_ok) {
        napi_fatal_exception(env, exception);
      }
    }
  }
  napi_close_handle_scope(env, scope);
}

static void on_poll(uv_poll_t *handle, int status, int events);

static void update_polls(tunnel *t) {
  for (int side = 0; side < 2; side++) {
    direction *out = &t->dir[side];    /* reads this side */
    direction *in = &t->dir[1 - side]; /* writes this side */
    int events = 0;
    if (!out->eof && out->pending == 0) events |= UV_READABLE;
    if (in->pending > 0) events |= UV_WRITABLE;
    if (events == t->polling[side]) continue;
    if (events == 0) {
      uv_poll_stop(&t->poll[side]);
    } else {
      int err = uv_poll_start(&t->poll[side], events, on_poll);
      if (err != 0) {
        raise_event(t, EVENT_ERROR, side, -err);
        return;
      }
    }
    t->polling[side] = events;
  }
}

/* Writes out what `d`'s pipe holds. 1: the pipe is empty (and back in the pool); 0: the destination is full;
 * -1: a final event was raised. */
static int flush(tunnel *t, direction *d) {
  if (d->pending > 0) {
    ssize_t n = splice(d->pipe.r, NULL, t->fd[d->to], NULL, d->pending, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n < 0) {
      if (errno == EAGAIN) return 0;
      raise_event(t, EVENT_ERROR, d->to, errno);
      return -1;
    }
    d->pending -= (size_t)n;
    d->delivered += (uint64_t)n;
    t->last_activity = uv_now(t->state->loop);
    if (d->pending > 0) return 0;
  }
  give_back_pipe(t->state, d);
  return 1;
}

/*
 * Moves what `d` can: first what its pipe still holds, then more from its source, until the source has nothing
 * more, the destination is full, or MAX_ROUNDS splices. Returns -1 once a final event was raised.
 */
static int pump(tunnel *t, direction *d) {
  int flushed = flush(t, d);
  if (flushed <= 0) return flushed;
  for (int round = 0; round < MAX_ROUNDS && !d->eof; round++) {
    if (take_pipe(t->state, &d->pipe) != 0) {
      raise_event(t, EVENT_ERROR, d->from, errno);
      return -1;
    }
    ssize_t n = splice(t->fd[d->from], NULL, d->pipe.w, NULL, CHUNK, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n <= 0) {
      int err = errno;
      give_back_pipe(t->state, d);
      if (n == 0) {
        d->eof = 1;
        return 0;
      }
      if (err == EAGAIN) return 0;
      raise_event(t, EVENT_ERROR, d->from, err);
      return -1;
    }
    d->pending = (size_t)n;
    t->last_activity = uv_now(t->state->loop);
    flushed = flush(t, d);
    if (flushed <= 0) return flushed;
    /* A short read emptied the socket (libuv assumes the same): wait for the next readiness event. */
    if (n < CHUNK) return 0;
  }
  return 0;
}

/* After pumping: pass a FIN on, end the tunnel when both directions are done, else poll for what is needed. */
static void settle(tunnel *t) {
  for (int i = 0; i < 2; i++) {
    direction *d = &t->dir[i];
    if (d->eof && d->pending == 0 && !d->shut) {
      d->shut = 1;
      if (shutdown(t->fd[d->to], SHUT_WR) != 0 && errno != ENOTCONN) {
        raise_event(t, EVENT_ERROR, d->to, errno);
        return;
      }
    }
  }
  if (t->dir[0].shut && t->dir[1].shut) {
    raise_event(t, EVENT_END, -1, 0);
    return;
  }
  update_polls(t);
}

static void on_poll(uv_poll_t *handle, int status, int events) {
  tunnel *t = handle->data;
  if (t->stopped) return;
  int side = handle == &t->poll[CLIENT] ? CLIENT : UPSTREAM;
  if (status < 0) {
    /* libuv reports a socket's POLLERR (a reset, say) as UV_EBADF: the socket itself knows the real error. */
    int err = 0;
    socklen_t length = sizeof err;
    if (getsockopt(t->fd[side], SOL_SOCKET, SO_ERROR, &err, &length) != 0 || err == 0) err = -status;
    raise_event(t, EVENT_ERROR, side, err);
    return;
  }
  /* Writable first: it frees the pipe of the direction that writes here, which may then read again. */
  if ((events & UV_WRITABLE) && pump(t, &t->dir[1 - side]) < 0) return;
  if ((events & UV_READABLE) && pump(t, &t->dir[side]) < 0) return;
  settle(t);
}

static uint64_t sweep_period(uint64_t idle_ms) {
  uint64_t quarter = idle_ms / 4;
  if (quarter < 1) quarter = 1;
  return quarter < SWEEP_MAX_MS ? quarter : SWEEP_MAX_MS;
}

static void on_sweep(uv_timer_t *timer);

static void start_sweep(addon_state *state, uint64_t period) {
  state->sweep_ms = period;
  uv_timer_start(&state->sweep, on_sweep, period, period);
}

/*
 * One timer for all tunnels (a libuv timer per tunnel was 150 bytes of each idle tunnel): the relay only notes the
 * time of each move, and the sweep ends the tunnels that have been quiet for their idle timeout. The quiet ones are
 * collected first: raising an event calls into JavaScript, which closes tunnels (unlinking them from the list). A
 * collected tunnel stays allocated meanwhile: it is freed only after its handles' close callbacks, which libuv runs
 * in a later phase of the loop.
 */
static void on_sweep(uv_timer_t *timer) {
  addon_state *state = timer->data;
  uint64_t now = uv_now(state->loop);
  uint64_t shortest = 0;
  tunnel **due = NULL;
  size_t count = 0, capacity = 0;
  for (tunnel *t = state->open_list; t != NULL; t = t->next) {
    if (t->stopped) continue;
    if (now - t->last_activity < t->idle_ms) {
      if (shortest == 0 || t->idle_ms < shortest) shortest = t->idle_ms;
      continue;
    }
    if (count == capacity) {
      size_t grown = capacity == 0 ? 16 : capacity * 2;
      tunnel **more = realloc(due, grown * sizeof *due);
      if (more == NULL) break; /* the rest waits for the next sweep */
      due = more;
      capacity = grown;
    }
    due[count++] = t;
  }
  for (size_t i = 0; i < count; i++) raise_event(due[i], EVENT_IDLE, -1, 0);
  free(due);
  if (state->cleaning_up) return;
  if (shortest == 0 && count == 0) {
    uv_timer_stop(&state->sweep);
    state->sweep_ms = 0;
  } else if (shortest != 0 && sweep_period(shortest) != state->sweep_ms) {
    start_sweep(state, sweep_period(shortest));
  }
}

static void unlink_tunnel(tunnel *t) {
  if (t->prev) t->prev->next = t->next;
  else if (t->state->open_list == t) t->state->open_list = t->next;
  if (t->next) t->next->prev = t->prev;
  t->prev = t->next = NULL;
}

static void close_tunnel(tunnel *t, int reset_side) {
  if (t->closed) return;
  t->closed = 1;
  t->stopped = 1;
  stop_io(t);
  /* uv_close on a poll handle removes the descriptor from epoll at once, so the descriptors can be closed now. */
  uv_close((uv_handle_t *)&t->poll[0], on_handle_closed);
  uv_close((uv_handle_t *)&t->poll[1], on_handle_closed);
  for (int side = 0; side < 2; side++) {
    if (side == reset_side) {
      struct linger hard = {1, 0};
      setsockopt(t->fd[side], SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
    }
    close(t->fd[side]);
    t->fd[side] = -1;
    give_back_pipe(t->state, &t->dir[side]);
  }
  unlink_tunnel(t);
}

static void finalize_tunnel(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  tunnel *t = data;
  /* Collected while open cannot happen: the JavaScript relay holds its tunnel until close. Still, never leak. */
  if (!t->closed) close_tunnel(t, -1);
  t->js_alive = 0;
  free_if_unused(t);
}

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char message[160];
  snprintf(message, sizeof message, "%s: %s", what, strerror(err));
  napi_throw_error(env, NULL, message);
  return NULL;
}

static napi_value js_set_event_handler(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  addon_state *state;
  napi_get_cb_info(env, info, &argc, argv, NULL, (void **)&state);
  napi_valuetype type;
  if (argc < 1 || napi_typeof(env, argv[0], &type) != napi_ok || type != napi_function) {
    napi_throw_type_error(env, NULL, "setEventHandler(onEvent)");
    return NULL;
  }
  if (state->on_event != NULL) napi_delete_reference(env, state->on_event);
  napi_create_reference(env, argv[0], 1, &state->on_event);
  if (state->async_context == NULL) {
    napi_value resource_name;
    napi_create_string_utf8(env, "EgressProxyTunnel", NAPI_AUTO_LENGTH, &resource_name);
    napi_async_init(env, NULL, resource_name, &state->async_context);
  }
  return NULL;
}

static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  addon_state *state;
  napi_get_cb_info(env, info, &argc, argv, NULL, (void **)&state);
  int32_t client_fd, upstream_fd, id;
  double idle_ms;
  if (argc < 4 || napi_get_value_int32(env, argv[0], &client_fd) != napi_ok ||
      napi_get_value_int32(env, argv[1], &upstream_fd) != napi_ok ||
      napi_get_value_double(env, argv[2], &idle_ms) != napi_ok || napi_get_value_int32(env, argv[3], &id) != napi_ok ||
      client_fd < 0 || upstream_fd < 0 || idle_ms < 1) {
    napi_throw_type_error(env, NULL, "open(clientFd, upstreamFd, idleMs, id)");
    return NULL;
  }
  if (state->on_event == NULL) {
    napi_throw_error(env, NULL, "open: setEventHandler() was not called");
    return NULL;
  }

  tunnel *t = calloc(1, sizeof *t);
  if (t == NULL) return throw_errno(env, "open", ENOMEM);
  t->state = state;
  t->env = env;
  t->idle_ms = (uint64_t)idle_ms;
  t->id = id;
  t->fd[0] = t->fd[1] = -1;
  for (int i = 0; i < 2; i++) {
    t->dir[i].from = i;
    t->dir[i].to = 1 - i;
    t->dir[i].pipe.r = t->dir[i].pipe.w = -1;
  }
  t->fd[CLIENT] = fcntl(client_fd, F_DUPFD_CLOEXEC, 0);
  t->fd[UPSTREAM] = t->fd[CLIENT] < 0 ? -1 : fcntl(upstream_fd, F_DUPFD_CLOEXEC, 0);
  if (t->fd[UPSTREAM] < 0) {
    int err = errno;
    if (t->fd[CLIENT] >= 0) close(t->fd[CLIENT]);
    free(t);
    return throw_errno(env, "dup", err);
  }
  for (int side = 0; side < 2; side++) {
    uv_poll_init(state->loop, &t->poll[side], t->fd[side]);
    t->poll[side].data = t;
  }
  t->handles_open = 2;
  state->handles_open += 2;
  t->last_activity = uv_now(state->loop);
  uint64_t period = sweep_period(t->idle_ms);
  if (state->sweep_ms == 0 || period < state->sweep_ms) start_sweep(state, period);
  t->next = state->open_list;
  if (t->next) t->next->prev = t;
  state->open_list = t;

  napi_value external;
  if (napi_create_external(env, t, finalize_tunnel, NULL, &external) != napi_ok) {
    close_tunnel(t, -1);
    return NULL;
  }
  t->js_alive = 1;
  for (int side = 0; side < 2; side++) {
    int err = uv_poll_start(&t->poll[side], UV_READABLE, on_poll);
    if (err != 0) {
      close_tunnel(t, -1);
      return throw_errno(env, "uv_poll_start", -err);
    }
    t->polling[side] = UV_READABLE;
  }
  return external;
}

static tunnel *tunnel_arg(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_get_cb_info(env, info, argc, argv, NULL, NULL);
  void *data = NULL;
  if (*argc < 1 || napi_get_value_external(env, argv[0], &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, NULL, "expected a tunnel");
    return NULL;
  }
  return data;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  tunnel *t = tunnel_arg(env, info, &argc, argv);
  if (t == NULL) return NULL;
  int32_t reset_side = -1;
  if (argc > 1) napi_get_value_int32(env, argv[1], &reset_side);
  close_tunnel(t, reset_side);
  return NULL;
}

static napi_value js_bytes(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  tunnel *t = tunnel_arg(env, info, &argc, argv);
  if (t == NULL) return NULL;
  napi_value result, value;
  napi_create_array_with_length(env, 2, &result);
  for (uint32_t i = 0; i < 2; i++) {
    napi_create_double(env, (double)t->dir[i].delivered, &value);
    napi_set_element(env, result, i, value);
  }
  return result;
}

void egress_low_memory_notification(void); /* low_memory.cc */

static napi_value js_low_memory_notification(napi_env env, napi_callback_info info) {
  (void)env;
  (void)info;
  egress_low_memory_notification();
  return NULL;
}

static napi_value js_trim_malloc(napi_env env, napi_callback_info info) {
  (void)info;
  bool trimmed = false;
#ifdef __GLIBC__
  /* 0: keep no slack at the top of the heap. Since glibc 2.8 it also releases whole free pages inside every arena
   * (madvise MADV_DONTNEED), which is where a burst's freed buffers sit: below memory still in use. */
  malloc_trim(0);
  trimmed = true;
#endif
  napi_value result;
  napi_get_boolean(env, trimmed, &result);
  return result;
}

/*
 * Pool descriptors and any tunnel left open must not outlive the environment (a worker thread can end): close
 * them, and tell Node the environment may go once the handles have closed (libuv closes handles asynchronously).
 */
static void cleanup(napi_async_cleanup_hook_handle handle, void *arg) {
  addon_state *state = arg;
  (void)handle;
  state->cleaning_up = 1;
  while (state->open_list) close_tunnel(state->open_list, -1);
  if (state->on_event != NULL) napi_delete_reference(state->env, state->on_event);
  state->on_event = NULL;
  if (state->async_context != NULL) napi_async_destroy(state->env, state->async_context);
  state->async_context = NULL;
  uv_close((uv_handle_t *)&state->sweep, on_sweep_closed);
}

NAPI_MODULE_INIT() {
  addon_state *state = calloc(1, sizeof *state);
  if (state == NULL) return NULL;
  if (napi_get_uv_event_loop(env, &state->loop) != napi_ok) return NULL;
  state->env = env;
  uv_timer_init(state->loop, &state->sweep);
  state->sweep.data = state;
  uv_unref((uv_handle_t *)&state->sweep); /* like a socket's timeout: it alone does not keep the process alive */
  state->handles_open = 1;
  if (napi_add_async_cleanup_hook(env, cleanup, state, &state->cleanup_hook) != napi_ok) return NULL;
  napi_property_descriptor properties[] = {
      {"setEventHandler", NULL, js_set_event_handler, NULL, NULL, NULL, napi_default, state},
      {"open", NULL, js_open, NULL, NULL, NULL, napi_default, state},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, state},
      {"bytes", NULL, js_bytes, NULL, NULL, NULL, napi_default, state},
      {"lowMemoryNotification", NULL, js_low_memory_notification, NULL, NULL, NULL, napi_default, NULL},
      {"trimMalloc", NULL, js_trim_malloc, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties);
  return exports;
}
