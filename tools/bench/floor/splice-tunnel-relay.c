/*
 * The least work a CONNECT tunnel can cost on this machine, in any language: the `floor-tunnel` scenario of
 * `npm run bench`, a measuring stick for the tunnel target, never a proxy. `npm run bench` compiles it with the
 * system C compiler (cc -O2 -pthread) into a temp dir; the scenario is skipped when there is no compiler.
 *
 * Per connection: read the CONNECT head, connect to the target, answer 200, then move bytes in each direction
 * with splice(2) through a pipe, in a thread per direction, so the data never enters user space. No allow-list,
 * no timeouts, no limits, loopback targets only.
 *
 * Prints "floor relay listening on 127.0.0.1:PORT" once it listens on an ephemeral loopback port.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PIPE_BYTES (1 << 20)

struct direction {
  int from;
  int to;
};

static int write_all(int fd, const char *data, size_t length) {
  while (length > 0) {
    ssize_t n = write(fd, data, length);
    if (n <= 0) return -1;
    data += n;
    length -= (size_t)n;
  }
  return 0;
}

static int write_text(int fd, const char *text) { return write_all(fd, text, strlen(text)); }

static void *pump(void *arg) {
  struct direction *d = arg;
  int pipe_fds[2];
  if (pipe(pipe_fds) == 0) {
    fcntl(pipe_fds[0], F_SETPIPE_SZ, PIPE_BYTES);
    for (;;) {
      ssize_t in = splice(d->from, NULL, pipe_fds[1], NULL, PIPE_BYTES, SPLICE_F_MOVE);
      if (in <= 0) break;
      while (in > 0) {
        ssize_t out = splice(pipe_fds[0], NULL, d->to, NULL, (size_t)in, SPLICE_F_MOVE);
        if (out <= 0) goto done;
        in -= out;
      }
    }
  done:
    close(pipe_fds[0]);
    close(pipe_fds[1]);
  }
  /* The half-close: the other direction goes on until its own end. */
  shutdown(d->to, SHUT_WR);
  return NULL;
}

static void *serve(void *arg) {
  int client = (int)(long)arg;
  char head[4096];
  size_t length = 0;
  char *end = NULL;
  while (end == NULL && length < sizeof head - 1) {
    ssize_t n = read(client, head + length, sizeof head - 1 - length);
    if (n <= 0) goto close_client;
    length += (size_t)n;
    head[length] = '\0';
    end = strstr(head, "\r\n\r\n");
  }
  char host[256];
  int port;
  struct sockaddr_in target = {.sin_family = AF_INET};
  if (end == NULL || sscanf(head, "CONNECT %255[^:]:%d ", host, &port) != 2 || port <= 0 || port > 65535 ||
      inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1" : host, &target.sin_addr) != 1) {
    write_text(client, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    goto close_client;
  }
  target.sin_port = htons((unsigned short)port);
  int upstream = socket(AF_INET, SOCK_STREAM, 0);
  if (upstream < 0 || connect(upstream, (struct sockaddr *)&target, sizeof target) != 0) {
    write_text(client, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
    if (upstream >= 0) close(upstream);
    goto close_client;
  }
  int one = 1;
  setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(upstream, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  static const char established[] = "HTTP/1.1 200 Connection established\r\n\r\n";
  char *pipelined = end + 4;
  if (write_all(client, established, sizeof established - 1) == 0 &&
      write_all(upstream, pipelined, (size_t)(head + length - pipelined)) == 0) {
    struct direction up = {client, upstream}, down = {upstream, client};
    pthread_t thread;
    if (pthread_create(&thread, NULL, pump, &up) == 0) {
      pump(&down);
      pthread_join(thread, NULL);
    }
  }
  close(upstream);
close_client:
  close(client);
  return NULL;
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in address = {.sin_family = AF_INET};
  socklen_t address_length = sizeof address;
  inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  if (listener < 0 || bind(listener, (struct sockaddr *)&address, sizeof address) != 0 || listen(listener, 128) != 0 ||
      getsockname(listener, (struct sockaddr *)&address, &address_length) != 0) {
    perror("splice-tunnel-relay: listen");
    return 1;
  }
  printf("floor relay listening on 127.0.0.1:%d\n", ntohs(address.sin_port));
  fflush(stdout);
  for (;;) {
    int client = accept(listener, NULL, NULL);
    if (client < 0) continue;
    pthread_t thread;
    if (pthread_create(&thread, NULL, serve, (void *)(long)client) != 0) {
      close(client);
      continue;
    }
    pthread_detach(thread);
  }
}
