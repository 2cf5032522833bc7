/* epoll_load.c -- the load generator of `sqsocket bench`'s server-capacity rows.
 *
 *     cc -O2 -o epoll_load epoll_load.c
 *     ./epoll_load ADDRESS CONNECTIONS SIZE WARMUP_MS WINDOW_MS REPS
 *
 * ADDRESS is unix:PATH or tcp:127.0.0.1:PORT. Opens CONNECTIONS connections (each
 * connect waits at most 10 s), prints "CONNECTED n", then keeps every connection busy
 * with closed-loop echo exchanges: send SIZE bytes, read until the same SIZE bytes came
 * back (checked), send again. After WARMUP_MS it counts the exchanges completed in REPS
 * windows of WINDOW_MS each and prints one line per window:
 *
 *     REP <exchanges> <elapsed nanoseconds>
 *
 * then "DONE errors=<n>" (a wrong echo, an early close or no progress for 10 s is an
 * error) and exits 0 (1 if there were errors). Written in C so that the client costs
 * little next to the server under test; compiled by sqsocket.bench.native at bench
 * time. Nothing here is a test.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define STALL_NS (10LL * 1000000000LL)

struct client {
    int fd;
    size_t sent;
    size_t got;
};

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int open_one(const char *spec) {
    struct timeval tv = {10, 0};
    int fd;
    if (strncmp(spec, "unix:", 5) == 0) {
        struct sockaddr_un sun;
        memset(&sun, 0, sizeof sun);
        sun.sun_family = AF_UNIX;
        snprintf(sun.sun_path, sizeof sun.sun_path, "%s", spec + 5);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        /* SO_SNDTIMEO bounds a blocking connect, also on a Unix socket with a full backlog */
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
            close(fd);
            return -1;
        }
    } else {
        struct sockaddr_in sin;
        const char *colon = strrchr(spec, ':');
        int one = 1;
        if (strncmp(spec, "tcp:127.0.0.1:", 14) != 0 || colon == NULL)
            return -1;
        memset(&sin, 0, sizeof sin);
        sin.sin_family = AF_INET;
        sin.sin_port = htons((unsigned short)atoi(colon + 1));
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
            close(fd);
            return -1;
        }
    }
    return fd;
}

int main(int argc, char **argv) {
    struct rlimit rl;
    struct client *clients;
    struct epoll_event ev, *events;
    char *payload, *reply;
    int n, ep, reps, errors = 0;
    size_t size;
    long long warmup, window, last_progress, window_start;
    long long exchanges = 0;
    if (argc != 7) {
        fprintf(stderr, "usage: epoll_load ADDRESS CONNECTIONS SIZE WARMUP_MS WINDOW_MS REPS\n");
        return 2;
    }
    n = atoi(argv[2]);
    size = (size_t)atol(argv[3]);
    warmup = atoll(argv[4]) * 1000000LL;
    window = atoll(argv[5]) * 1000000LL;
    reps = atoi(argv[6]);
    if (n < 1 || size < 1 || size > (1u << 20) || reps < 1 || window <= 0) {
        fprintf(stderr, "epoll_load: CONNECTIONS >= 1, 1 <= SIZE <= 1 MiB, REPS >= 1\n");
        return 2;
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    clients = calloc((size_t)n, sizeof *clients);
    events = calloc((size_t)n, sizeof *events);
    payload = malloc(size);
    reply = malloc(size);
    if (clients == NULL || events == NULL || payload == NULL || reply == NULL)
        return 1;
    for (size_t i = 0; i < size; i++)
        payload[i] = (char)('a' + i % 26);
    ep = epoll_create1(EPOLL_CLOEXEC);
    for (int i = 0; i < n; i++) {
        int fd = open_one(argv[1]);
        if (fd < 0) {
            fprintf(stderr, "epoll_load: connection %d of %d failed: %s\n", i + 1, n,
                    strerror(errno));
            printf("DONE errors=1\n");
            return 1;
        }
        clients[i].fd = fd;
    }
    printf("CONNECTED %d\n", n);
    fflush(stdout);
    for (int i = 0; i < n; i++) {
        fcntl(clients[i].fd, F_SETFL, fcntl(clients[i].fd, F_GETFL) | O_NONBLOCK);
        ev.events = EPOLLOUT;
        ev.data.u32 = (unsigned)i;
        epoll_ctl(ep, EPOLL_CTL_ADD, clients[i].fd, &ev);
    }
    last_progress = now_ns();
    window_start = last_progress + warmup;
    int rep = -1; /* -1: warming up */
    while (rep < reps) {
        int ready = epoll_wait(ep, events, n, 100);
        long long t = now_ns();
        for (int k = 0; k < ready; k++) {
            struct client *c = &clients[events[k].data.u32];
            if (c->sent < size) {
                ssize_t w = send(c->fd, payload + c->sent, size - c->sent, MSG_NOSIGNAL);
                if (w < 0 && errno != EAGAIN && errno != EINTR) {
                    errors++;
                    goto done;
                }
                if (w > 0)
                    c->sent += (size_t)w;
                if (c->sent == size) {
                    ev.events = EPOLLIN;
                    ev.data.u32 = events[k].data.u32;
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                }
                continue;
            }
            ssize_t r = recv(c->fd, reply + c->got, size - c->got, 0);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
                errors++;
                goto done;
            }
            if (r < 0)
                continue;
            if (memcmp(reply + c->got, payload + c->got, (size_t)r) != 0) {
                errors++;
                goto done;
            }
            c->got += (size_t)r;
            if (c->got == size) {
                c->got = c->sent = 0;
                exchanges++;
                last_progress = t;
                ev.events = EPOLLOUT;
                ev.data.u32 = events[k].data.u32;
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
            }
        }
        if (t - last_progress > STALL_NS) {
            fprintf(stderr, "epoll_load: no exchange completed for 10 s\n");
            errors++;
            goto done;
        }
        if (t >= window_start + (rep < 0 ? 0 : window)) {
            if (rep >= 0)
                printf("REP %lld %lld\n", exchanges, t - window_start);
            fflush(stdout);
            exchanges = 0;
            window_start = t;
            rep++;
        }
    }
done:
    for (int i = 0; i < n; i++)
        close(clients[i].fd);
    close(ep);
    printf("DONE errors=%d\n", errors);
    return errors ? 1 : 0;
}
