/* epoll_echo.c -- the native ceiling for `sqsocket bench`: a one-thread epoll echo server.
 *
 *     cc -O2 -o epoll_echo epoll_echo.c
 *     ./epoll_echo unix:/tmp/x.sock      (or tcp:127.0.0.1:0 for an ephemeral port)
 *
 * Prints "listening on unix:PATH" / "listening on tcp:127.0.0.1:PORT" on stdout once it
 * listens (the ready line of `sqsocket serve`), echoes every byte back to whoever sent
 * it, and exits 0 on SIGTERM or SIGINT, removing the socket file it created.
 *
 * Each connection queues what it could not send yet, up to MAX_QUEUE bytes; past that
 * it is not read until the client takes some (back-pressure), so a client that sends
 * 1 MiB before reading (the bench's bulk rows) is served without a deadlock.
 * Loopback only: a TCP host other than 127.0.0.1 or ::1 is refused.
 * Compiled by sqsocket.bench.native at bench time; nothing here is a test.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_QUEUE (16u << 20) /* bytes queued per connection before reading pauses */
#define CHUNK 65536
#define MAX_EVENTS 256

struct conn {
    char *buf;     /* bytes received and not yet sent back */
    size_t start;  /* first unsent byte */
    size_t len;    /* bytes in buf from start */
    size_t cap;
    unsigned events;
};

static volatile sig_atomic_t stopping;
static struct conn *conns;
static int nconns;

static void on_signal(int sig) {
    (void)sig;
    stopping = 1;
}

static int listen_on(const char *spec, char *ready, size_t ready_size, char *path, size_t path_size) {
    int fd = -1;
    if (strncmp(spec, "unix:", 5) == 0) {
        struct sockaddr_un sun;
        const char *p = spec + 5;
        memset(&sun, 0, sizeof sun);
        sun.sun_family = AF_UNIX;
        if (strlen(p) >= sizeof sun.sun_path) {
            fprintf(stderr, "epoll_echo: path too long: %s\n", p);
            return -1;
        }
        strcpy(sun.sun_path, p);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
            perror("epoll_echo: bind");
            return -1;
        }
        snprintf(path, path_size, "%s", p);
        snprintf(ready, ready_size, "listening on unix:%s", p);
    } else if (strncmp(spec, "tcp:", 4) == 0) {
        char host[64];
        const char *colon = strrchr(spec + 4, ':');
        struct sockaddr_in sin;
        socklen_t len = sizeof sin;
        int one = 1;
        if (colon == NULL || (size_t)(colon - (spec + 4)) >= sizeof host) {
            fprintf(stderr, "epoll_echo: expected tcp:127.0.0.1:PORT, not %s\n", spec);
            return -1;
        }
        memcpy(host, spec + 4, (size_t)(colon - (spec + 4)));
        host[colon - (spec + 4)] = '\0';
        if (strcmp(host, "127.0.0.1") != 0) {
            fprintf(stderr, "epoll_echo: refusing non-loopback host %s\n", host);
            return -1;
        }
        memset(&sin, 0, sizeof sin);
        sin.sin_family = AF_INET;
        sin.sin_port = htons((unsigned short)atoi(colon + 1));
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            perror("epoll_echo: socket");
            return -1;
        }
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0 ||
            getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
            perror("epoll_echo: bind");
            return -1;
        }
        snprintf(ready, ready_size, "listening on tcp:127.0.0.1:%d", ntohs(sin.sin_port));
    } else {
        fprintf(stderr, "epoll_echo: address must be unix:PATH or tcp:127.0.0.1:PORT\n");
        return -1;
    }
    if (listen(fd, 4096) < 0) {
        perror("epoll_echo: listen");
        return -1;
    }
    return fd;
}

static void set_events(int ep, int fd, unsigned events) {
    struct epoll_event ev;
    if (conns[fd].events == events)
        return;
    ev.events = events;
    ev.data.fd = fd;
    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
    conns[fd].events = events;
}

static void drop(int ep, int fd) {
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
    free(conns[fd].buf);
    memset(&conns[fd], 0, sizeof conns[fd]);
}

/* Send what the socket takes; answer -1 when the connection is gone. */
static int flush(int fd) {
    struct conn *c = &conns[fd];
    while (c->len > 0) {
        ssize_t n = send(fd, c->buf + c->start, c->len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return 0;
            return -1;
        }
        c->start += (size_t)n;
        c->len -= (size_t)n;
    }
    c->start = 0;
    return 0;
}

/* Read once into the queue; answer -1 at end of stream or on an error. */
static int fill(int fd) {
    struct conn *c = &conns[fd];
    ssize_t n;
    if (c->start > 0 && c->start + c->len + CHUNK > c->cap) {
        memmove(c->buf, c->buf + c->start, c->len);
        c->start = 0;
    }
    if (c->start + c->len + CHUNK > c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 2 * CHUNK;
        char *grown;
        while (cap < c->start + c->len + CHUNK)
            cap *= 2;
        grown = realloc(c->buf, cap);
        if (grown == NULL)
            return -1;
        c->buf = grown;
        c->cap = cap;
    }
    n = recv(fd, c->buf + c->start + c->len, CHUNK, 0);
    if (n == 0)
        return -1;
    if (n < 0)
        return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
    c->len += (size_t)n;
    return 0;
}

int main(int argc, char **argv) {
    char ready[200], path[200] = "";
    struct epoll_event ev, events[MAX_EVENTS];
    struct rlimit rl;
    struct sigaction sa;
    int lfd, ep;
    if (argc != 2) {
        fprintf(stderr, "usage: epoll_echo unix:PATH | tcp:127.0.0.1:PORT\n");
        return 2;
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    nconns = (int)(rl.rlim_cur > 1048576 ? 1048576 : rl.rlim_cur);
    conns = calloc((size_t)nconns, sizeof *conns);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    lfd = listen_on(argv[1], ready, sizeof ready, path, sizeof path);
    if (lfd < 0 || conns == NULL)
        return 1;
    ep = epoll_create1(EPOLL_CLOEXEC);
    ev.events = EPOLLIN;
    ev.data.fd = lfd;
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    printf("%s\n", ready);
    fflush(stdout);
    while (!stopping) {
        int n = epoll_wait(ep, events, MAX_EVENTS, 1000);
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == lfd) {
                for (;;) {
                    int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (cfd < 0)
                        break;
                    if (cfd >= nconns) {
                        close(cfd);
                        continue;
                    }
                    if (strncmp(argv[1], "tcp:", 4) == 0) {
                        int one = 1;
                        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    }
                    ev.events = EPOLLIN;
                    ev.data.fd = cfd;
                    conns[cfd].events = EPOLLIN;
                    epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &ev);
                }
                continue;
            }
            if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                if (conns[fd].len < MAX_QUEUE && fill(fd) < 0) {
                    drop(ep, fd);
                    continue;
                }
            }
            if (flush(fd) < 0) {
                drop(ep, fd);
                continue;
            }
            set_events(ep, fd,
                       (conns[fd].len < MAX_QUEUE ? EPOLLIN : 0) | (conns[fd].len ? EPOLLOUT : 0));
        }
    }
    for (int fd = 0; fd < nconns; fd++)
        if (conns[fd].events)
            drop(ep, fd);
    close(lfd);
    close(ep);
    if (path[0] != '\0') {
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
            unlink(path);
    }
    return 0;
}
