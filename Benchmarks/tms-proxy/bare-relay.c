/* The benchmark's floor: the least a TCP proxy can do per request on this host.
 *
 *   bare-relay LISTEN_PORT BACKEND_PORT      (127.0.0.1 both)
 *
 * One thread, one edge-triggered epoll set; each accepted connection gets a connection to the
 * backend, and bytes are relayed with recv and send through one buffer: no configuration, no
 * balancing, no quota, no counters, no timers. A proxy's latency below this one's is noise of
 * the host, not the proxy: bench.sh measures it beside the two proxies in the tcp rows.
 * Not a product: it trusts both sides and stops at the first failure to set itself up. */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum { MAXFD = 65536, BUF = 65536 };

/* Per descriptor: its peer, and bytes the peer could not take yet (sent when it is writable). */
static int peer[MAXFD];
static char *pending[MAXFD];
static size_t pending_len[MAXFD];

static struct sockaddr_in loopback(int port) {
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static void drop(int fd) {
    free(pending[fd]);
    pending[fd] = NULL;
    pending_len[fd] = 0;
    peer[fd] = -1;
    close(fd);
}

static void close_pair(int fd) {
    int other = peer[fd];
    drop(fd);
    if (other >= 0) drop(other);
}

/* Sends what `to` still owes (pending[to]); 0 while it keeps some. */
static int flush(int to) {
    while (pending_len[to] > 0) {
        ssize_t n = send(to, pending[to], pending_len[to], MSG_NOSIGNAL);
        if (n < 0) return errno == EAGAIN ? 0 : -1;
        memmove(pending[to], pending[to] + n, pending_len[to] - (size_t)n);
        pending_len[to] -= (size_t)n;
    }
    return 1;
}

/* Sends `len` bytes to `to`, keeping what it cannot take; -1 when `to` failed. */
static int relay(int to, const char *data, size_t len) {
    if (pending_len[to] == 0) {
        ssize_t n = send(to, data, len, MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN) return -1;
        if (n > 0) { data += n; len -= (size_t)n; }
    }
    if (len == 0) return 0;
    pending[to] = realloc(pending[to], pending_len[to] + len);
    if (!pending[to]) return -1;
    memcpy(pending[to] + pending_len[to], data, len);
    pending_len[to] += len;
    return 0;
}

static void watch(int epoll, int fd) {
    struct epoll_event event = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.fd = fd };
    if (epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) != 0) { perror("epoll_ctl"); exit(1); }
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: %s LISTEN_PORT BACKEND_PORT\n", argv[0]); return 2; }
    struct sockaddr_in listen_at = loopback(atoi(argv[1])), backend = loopback(atoi(argv[2]));
    int one = 1;
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(listener, (struct sockaddr *)&listen_at, sizeof listen_at) != 0 || listen(listener, 1024) != 0) {
        perror("bind/listen");
        return 1;
    }
    int epoll = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event event = { .events = EPOLLIN, .data.fd = listener };
    epoll_ctl(epoll, EPOLL_CTL_ADD, listener, &event);
    for (int i = 0; i < MAXFD; i++) peer[i] = -1;
    static char buffer[BUF];
    struct epoll_event events[256];
    for (;;) {
        int count = epoll_wait(epoll, events, 256, -1);
        for (int i = 0; i < count; i++) {
            int fd = events[i].data.fd;
            if (fd == listener) {
                int client;
                while ((client = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    int server = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                    if (client >= MAXFD || server < 0 || server >= MAXFD
                        || (connect(server, (struct sockaddr *)&backend, sizeof backend) != 0 && errno != EINPROGRESS)) {
                        close(client);
                        if (server >= 0) close(server);
                        continue;
                    }
                    setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    peer[client] = server;
                    peer[server] = client;
                    watch(epoll, client);
                    watch(epoll, server);
                }
                continue;
            }
            if (peer[fd] < 0) continue; /* closed earlier in this batch */
            if ((events[i].events & EPOLLOUT) && flush(fd) < 0) { close_pair(fd); continue; }
            if (!(events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) continue;
            for (;;) {
                ssize_t n = recv(fd, buffer, BUF, 0);
                if (n > 0) {
                    if (relay(peer[fd], buffer, (size_t)n) < 0) { close_pair(fd); break; }
                    /* A short read drained the socket, unless its end came with it (read on to see it). */
                    if (n < BUF && !(events[i].events & (EPOLLRDHUP | EPOLLHUP))) break;
                } else if (n == 0 || errno != EAGAIN) {
                    /* The end of either side ends both, after what the other still owes. */
                    int other = peer[fd];
                    if (other >= 0 && pending_len[other] > 0) flush(other);
                    close_pair(fd);
                    break;
                } else {
                    break;
                }
            }
        }
    }
}
