// epoll(7) and eventfd(2) for the traffic manager's raw sockets (TrafficManager's
// CorePoller): Swift's Glibc module leaves these headers out.
#ifndef CTMS_POLL_H
#define CTMS_POLL_H

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

// accept4(2) is declared only under _GNU_SOURCE, which Swift's Glibc module does not set.
extern int accept4(int sockfd, struct sockaddr *addr, socklen_t *addrlen, int flags);

static inline int ctms_accept4(int fd, struct sockaddr *address, socklen_t *length, int flags) {
    return accept4(fd, address, length, flags);
}

// pipe2(2), likewise (LoopSelector's marker pipe).
extern int pipe2(int fds[2], int flags);

static inline int ctms_pipe2(int fds[2], int flags) {
    return pipe2(fds, flags);
}

#endif
