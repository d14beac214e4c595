/* loop.c — owld's HTTP server: one thread per worker, each with its own SO_REUSEPORT
 * listening socket and epoll loop over non-blocking connections driven through the engine
 * in http.c.
 *
 * Invariants: a connection lives on exactly one worker and is only touched by its thread;
 * the server-wide connection count is atomic; stop() may run on any thread — it shuts the
 * listeners down and wakes each worker through its eventfd, then joins them. Timeouts
 * are found by scanning a worker's connections every SCAN_MS. A detached stream written
 * from another thread puts its connection on the worker's ready list (under ready_mu) and
 * signals the same eventfd; the worker then moves the bytes on its own thread. A
 * connection leaves the ready list when it is closed, after its stream was detached, so
 * the list never names a freed connection. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server/http_int.h"

#define SCAN_MS 100
#define MAX_EVENTS 128
#define ACCEPTS_PER_EVENT 64
#define MAX_WORKERS 256
#define WAKES_PER_EVENT 256 /* ready connections served per wakeup before others get a turn */

typedef struct worker {
    owl_http_server *srv;
    int idx;
    int lfd;        /* listening socket, owned by the server (closed in stop) */
    int ep;
    int wakefd;
    int spare;      /* reserved descriptor, given up to shed connections on EMFILE */
    int listening;  /* lfd is in the epoll set */
    int64_t relisten_at;
    int64_t emfile_logged;
    pthread_t thread;
    int started;
    owl_http_conn *conns;
    owl_http_conn *reaped;             /* closed during this event batch, freed after it */
    int stopping;
    int64_t grace_until;
    pthread_mutex_t ready_mu;
    int ready_mu_init;
    owl_http_conn *ready;              /* connections whose stream has output (ready_mu) */
} worker;

struct owl_http_server {
    owl_http_limits lim;
    owl_http_callbacks cb;
    int port;
    int nworkers;
    worker *w;
    atomic_long nconns;
    atomic_int stop_requested;
    atomic_size_t buffered; /* request body bytes held by all connections (max_buffered_bytes) */
    pthread_mutex_t mu; /* serializes start and the joins of stop */
    int started;
};

/* The server whose worker runs on this thread (NULL elsewhere). */
static __thread owl_http_server *current_server;

/* ------------------------------------------------------------------ connections */

static void conn_link(worker *w, owl_http_conn *c)
{
    c->prev = NULL;
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
}

/* Unlinks c and stops watching it. The memory lives until reap(): later events of the same
 * epoll_wait batch may still name c, and must find it marked, not freed. */
static void conn_close(worker *w, owl_http_conn *c)
{
    if (c->reaped)
        return;
    owl_http_conn_stream_detach(c); /* first: no wake can name c after this */
    pthread_mutex_lock(&w->ready_mu);
    if (c->in_ready) {
        if (c->ready_prev)
            c->ready_prev->ready_next = c->ready_next;
        else
            w->ready = c->ready_next;
        if (c->ready_next)
            c->ready_next->ready_prev = c->ready_prev;
        c->in_ready = 0;
    }
    pthread_mutex_unlock(&w->ready_mu);
    epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    atomic_fetch_sub(&w->srv->nconns, 1);
    c->reaped = 1;
    c->prev = NULL;
    c->next = w->reaped;
    w->reaped = c;
}

/* Frees the connections closed since the last call (between event batches only). */
static void reap(worker *w)
{
    while (w->reaped) {
        owl_http_conn *c = w->reaped;
        w->reaped = c->next;
        owl_http_conn_free(c);
    }
}

/* Brings the epoll registration in line with what the engine wants, or closes. */
static void conn_update(worker *w, owl_http_conn *c)
{
    unsigned want = owl_http_conn_interest(c);
    if (want & OWL_HTTP_CLOSE) {
        conn_close(w, c);
        return;
    }
    uint32_t ev = ((want & OWL_HTTP_WANT_READ) ? EPOLLIN : 0) |
                  ((want & OWL_HTTP_WANT_WRITE) ? EPOLLOUT : 0);
    if (ev == c->registered)
        return;
    struct epoll_event e = {.events = ev, .data.ptr = c};
    if (epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &e) != 0) {
        conn_close(w, c);
        return;
    }
    c->registered = ev;
}

static void conn_event(worker *w, owl_http_conn *c, uint32_t ev)
{
    if (c->reaped)
        return;
    if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))
        owl_http_conn_on_writable(c);
    if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))
        owl_http_conn_on_readable(c);
    conn_update(w, c);
}

/* ------------------------------------------------------------------ stream wakeups */

/* Called by a stream writer on any thread (stream lock held): queue c, signal the worker.
 * Only the first connection of an empty list writes the eventfd; the worker takes the list
 * after draining the eventfd, so a later addition always finds it empty again. */
static void worker_wake_conn(void *ud, owl_http_conn *c)
{
    worker *w = ud;
    pthread_mutex_lock(&w->ready_mu);
    int signal = !w->ready;
    if (!c->in_ready) {
        c->ready_prev = NULL;
        c->ready_next = w->ready;
        if (w->ready)
            w->ready->ready_prev = c;
        w->ready = c;
        c->in_ready = 1;
    }
    pthread_mutex_unlock(&w->ready_mu);
    uint64_t one = 1;
    if (signal && write(w->wakefd, &one, sizeof one) < 0 && errno != EAGAIN)
        owl_warn("http: cannot wake worker %d: %s", w->idx, strerror(errno));
}

/* Serves the ready list, a bounded number per call; re-signals when some are left. */
static void worker_serve_ready(worker *w)
{
    for (int i = 0; i < WAKES_PER_EVENT; i++) {
        pthread_mutex_lock(&w->ready_mu);
        owl_http_conn *c = w->ready;
        if (c) {
            w->ready = c->ready_next;
            if (w->ready)
                w->ready->ready_prev = NULL;
            c->in_ready = 0;
            c->ready_next = c->ready_prev = NULL;
        }
        pthread_mutex_unlock(&w->ready_mu);
        if (!c)
            return;
        owl_http_conn_on_wake(c);
        conn_update(w, c);
    }
    uint64_t one = 1;
    if (write(w->wakefd, &one, sizeof one) < 0 && errno != EAGAIN)
        owl_warn("http: cannot wake worker %d: %s", w->idx, strerror(errno));
}

/* ------------------------------------------------------------------ accepting */

static void peer_text(const struct sockaddr_storage *ss, char *out, size_t outsz)
{
    out[0] = '\0';
    if (ss->ss_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, out, (socklen_t)outsz);
    } else if (ss->ss_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a)) /* show 1.2.3.4, not ::ffff:1.2.3.4 */
            inet_ntop(AF_INET, &a->s6_addr[12], out, (socklen_t)outsz);
        else
            inet_ntop(AF_INET6, a, out, (socklen_t)outsz);
    }
}

static void listener_pause(worker *w, int64_t now)
{
    if (w->listening) {
        epoll_ctl(w->ep, EPOLL_CTL_DEL, w->lfd, NULL);
        w->listening = 0;
    }
    w->relisten_at = now + (int64_t)SCAN_MS * 1000000;
}

/* Out of descriptors: accept-and-close one pending connection with the spare descriptor
 * so the listener stops reporting readiness; without a spare, stop listening briefly. */
static void accept_shed(worker *w)
{
    int64_t now = owl_mono_ns();
    if (now - w->emfile_logged > 1000000000LL) {
        owl_warn("http: out of file descriptors, shedding new connections");
        w->emfile_logged = now;
    }
    if (w->spare < 0) {
        listener_pause(w, now);
        return;
    }
    close(w->spare);
    w->spare = -1;
    int fd = accept4(w->lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0)
        close(fd);
    w->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (w->spare < 0)
        listener_pause(w, now);
}

static void worker_accept(worker *w)
{
    owl_http_server *s = w->srv;
    for (int i = 0; i < ACCEPTS_PER_EVENT && w->listening; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(w->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE) {
                accept_shed(w);
                continue;
            }
            if (errno == ENOBUFS || errno == ENOMEM)
                listener_pause(w, owl_mono_ns());
            else if (errno != EAGAIN && errno != EWOULDBLOCK)
                listener_pause(w, owl_mono_ns()); /* e.g. EINVAL once stop() shut it down */
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        char peer[64];
        peer_text(&ss, peer, sizeof peer);
        owl_http_conn *c = owl_http_conn_new(&s->lim, &s->cb, fd, peer);
        if (!c) {
            close(fd);
            continue;
        }
        c->stop_flag = &s->stop_requested;
        c->buffered = &s->buffered;
        c->wake = worker_wake_conn;
        c->wake_ud = w;
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &e) != 0) {
            owl_http_conn_free(c);
            continue;
        }
        c->registered = EPOLLIN;
        long n = atomic_fetch_add(&s->nconns, 1) + 1;
        conn_link(w, c);
        if (n > s->lim.max_connections) {
            owl_http_conn_reject(c, 503, "ServiceUnavailable",
                                 "the server has too many open connections");
            conn_update(w, c);
        }
    }
}

/* ------------------------------------------------------------------ worker loop */

static void worker_scan(worker *w, int64_t now)
{
    for (owl_http_conn *c = w->conns, *next; c; c = next) {
        next = c->next;
        if (owl_http_conn_deadline(c) <= now) {
            owl_http_conn_on_timeout(c, now);
            conn_update(w, c);
        }
    }
    if (!w->listening && !w->stopping && !atomic_load(&w->srv->stop_requested) &&
        w->relisten_at && now >= w->relisten_at) {
        if (w->spare < 0)
            w->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = &w->lfd};
        if (epoll_ctl(w->ep, EPOLL_CTL_ADD, w->lfd, &e) == 0)
            w->listening = 1;
        w->relisten_at = 0;
    }
}

static void worker_begin_stop(worker *w)
{
    if (w->stopping)
        return;
    w->stopping = 1;
    w->grace_until = owl_mono_ns() + (int64_t)w->srv->lim.shutdown_grace_ms * 1000000;
    if (w->listening) {
        epoll_ctl(w->ep, EPOLL_CTL_DEL, w->lfd, NULL);
        w->listening = 0;
    }
    for (owl_http_conn *c = w->conns, *next; c; c = next) {
        next = c->next;
        owl_http_conn_shutdown(c);
        conn_update(w, c);
    }
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    current_server = w->srv;
    struct epoll_event evs[MAX_EVENTS];
    int64_t next_scan = owl_mono_ns() + (int64_t)SCAN_MS * 1000000;
    for (;;) {
        int64_t now = owl_mono_ns();
        int timeout = next_scan > now ? (int)((next_scan - now) / 1000000) + 1 : 0;
        int n = epoll_wait(w->ep, evs, MAX_EVENTS, timeout);
        if (n < 0 && errno != EINTR) {
            owl_errorf("http: epoll_wait: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++) {
            void *tag = evs[i].data.ptr;
            if (tag == &w->lfd) {
                worker_accept(w);
            } else if (tag == &w->wakefd) {
                uint64_t v;
                while (read(w->wakefd, &v, sizeof v) > 0)
                    ;
                if (atomic_load(&w->srv->stop_requested))
                    worker_begin_stop(w);
                worker_serve_ready(w);
            } else {
                conn_event(w, tag, evs[i].events);
            }
        }
        now = owl_mono_ns();
        if (now >= next_scan) {
            worker_scan(w, now);
            next_scan = now + (int64_t)SCAN_MS * 1000000;
        }
        reap(w);
        if (w->stopping && (!w->conns || now >= w->grace_until))
            break;
    }
    while (w->conns)
        conn_close(w, w->conns);
    reap(w);
    return NULL;
}

/* ------------------------------------------------------------------ setup */

/* Resolves host (IPv4/IPv6 literal, "[v6]", or a name such as "localhost") and port. */
static int resolve(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len,
                   owl_error *err)
{
    char h[256];
    if (!host || !*host)
        host = "0.0.0.0";
    size_t hl = strlen(host);
    if (hl >= sizeof h)
        return owl_error_set(err, OWL_EINVAL, "listen address is too long");
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
        memcpy(h, host + 1, hl - 2);
        h[hl - 2] = '\0';
    } else {
        memcpy(h, host, hl + 1);
    }
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, h, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *len = sizeof *a4;
        return OWL_OK;
    }
    if (inet_pton(AF_INET6, h, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *len = sizeof *a6;
        return OWL_OK;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_ADDRCONFIG;
    int g = getaddrinfo(h, NULL, &hints, &res);
    if (g != 0 || !res)
        return owl_error_set(err, OWL_EINVAL, "cannot resolve listen address \"%s\": %s", host,
                             g ? gai_strerror(g) : "no address");
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = (socklen_t)res->ai_addrlen;
    freeaddrinfo(res);
    if (ss->ss_family == AF_INET)
        a4->sin_port = htons((uint16_t)port);
    else if (ss->ss_family == AF_INET6)
        a6->sin6_port = htons((uint16_t)port);
    else
        return owl_error_set(err, OWL_EINVAL, "listen address \"%s\" is not IP", host);
    return OWL_OK;
}

static int addr_port(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)ss)->sin_port);
    return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

static void addr_set_port(struct sockaddr_storage *ss, int port)
{
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
}

/* Binds one socket to ss; reuseport selects SO_REUSEPORT. listen_it also listens. */
static int bind_one(const struct sockaddr_storage *ss, socklen_t len, int reuseport,
                    int listen_it, const char *host, int *out, owl_error *err)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return owl_error_set(err, OWL_EIO, "socket: %s", strerror(errno));
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
        int e = errno;
        close(fd);
        return owl_error_set(err, OWL_EIO, "SO_REUSEPORT: %s", strerror(e));
    }
    if (bind(fd, (const struct sockaddr *)ss, len) != 0) {
        int e = errno;
        close(fd);
        return owl_error_set(err, OWL_EIO, "cannot bind %s port %d: %s", host ? host : "0.0.0.0",
                             addr_port(ss), strerror(e));
    }
    if (listen_it && listen(fd, SOMAXCONN) != 0) {
        int e = errno;
        close(fd);
        return owl_error_set(err, OWL_EIO, "cannot listen on %s port %d: %s",
                             host ? host : "0.0.0.0", addr_port(ss), strerror(e));
    }
    *out = fd;
    return OWL_OK;
}

/* Binds one listener per worker on the same port. A first plain bind (no SO_REUSEPORT)
 * makes "address in use" visible even when another process listens with SO_REUSEPORT,
 * and picks the port when port is 0. */
static int bind_all(owl_http_server *s, const char *host, struct sockaddr_storage *ss,
                    socklen_t len, owl_error *err)
{
    int probe = -1;
    int rc = bind_one(ss, len, 0, 0, host, &probe, err);
    if (rc != OWL_OK)
        return rc;
    struct sockaddr_storage got;
    socklen_t gl = sizeof got;
    if (getsockname(probe, (struct sockaddr *)&got, &gl) != 0) {
        int e = errno;
        close(probe);
        return owl_error_set(err, OWL_EIO, "getsockname: %s", strerror(e));
    }
    close(probe);
    s->port = addr_port(&got);
    addr_set_port(ss, s->port);
    for (int i = 0; i < s->nworkers; i++) {
        rc = bind_one(ss, len, 1, 1, host, &s->w[i].lfd, err);
        if (rc != OWL_OK)
            return rc;
    }
    return OWL_OK;
}

static int worker_setup(worker *w, owl_error *err)
{
    w->ep = epoll_create1(EPOLL_CLOEXEC);
    if (w->ep < 0)
        return owl_error_set(err, OWL_EIO, "epoll_create1: %s", strerror(errno));
    pthread_mutex_init(&w->ready_mu, NULL);
    w->ready_mu_init = 1;
    w->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->wakefd < 0)
        return owl_error_set(err, OWL_EIO, "eventfd: %s", strerror(errno));
    w->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = &w->lfd};
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, w->lfd, &e) != 0)
        return owl_error_set(err, OWL_EIO, "epoll_ctl: %s", strerror(errno));
    w->listening = 1;
    struct epoll_event we = {.events = EPOLLIN, .data.ptr = &w->wakefd};
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, w->wakefd, &we) != 0)
        return owl_error_set(err, OWL_EIO, "epoll_ctl: %s", strerror(errno));
    return OWL_OK;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

int owl_http_server_create(const char *host, int port, int workers, const owl_http_limits *lim,
                           const owl_http_callbacks *cb, owl_http_server **out, owl_error *err)
{
    static const owl_http_limits defaults = OWL_HTTP_DEFAULT_LIMITS;
    owl_http_server *s = NULL;
    int rc = OWL_OK;
    if (!out || !cb || !cb->handle || port < 0 || port > 65535)
        return owl_error_set(err, OWL_EINVAL, "invalid HTTP server arguments");
    *out = NULL;
    struct sockaddr_storage ss;
    socklen_t len = 0;
    rc = resolve(host, port, &ss, &len, err);
    if (rc != OWL_OK)
        return rc;
    if (workers <= 0) {
        size_t ncpu = owl_cpus();
        workers = ncpu < MAX_WORKERS ? (int)ncpu : MAX_WORKERS;
    }
    if (workers > MAX_WORKERS)
        workers = MAX_WORKERS;
    s = calloc(1, sizeof *s);
    if (!s)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    pthread_mutex_init(&s->mu, NULL);
    s->lim = lim ? *lim : defaults;
    s->cb = *cb;
    s->nworkers = workers;
    s->w = calloc((size_t)workers, sizeof *s->w);
    if (!s->w) {
        rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < workers; i++) {
        worker *w = &s->w[i];
        w->srv = s;
        w->idx = i;
        w->lfd = w->ep = w->wakefd = w->spare = -1;
    }
    rc = bind_all(s, host, &ss, len, err);
    for (int i = 0; rc == OWL_OK && i < workers; i++)
        rc = worker_setup(&s->w[i], err);
out:
    if (rc != OWL_OK) {
        owl_http_server_destroy(s);
        return rc;
    }
    *out = s;
    return OWL_OK;
}

int owl_http_server_port(const owl_http_server *s)
{
    return s ? s->port : 0;
}

int owl_http_server_start(owl_http_server *s, owl_error *err)
{
    if (!s)
        return owl_error_set(err, OWL_EINVAL, "no server");
    int rc = OWL_OK;
    pthread_mutex_lock(&s->mu);
    if (s->started || atomic_load(&s->stop_requested)) {
        rc = owl_error_set(err, OWL_EINVAL, "HTTP server already started or stopped");
        goto out;
    }
    /* workers take no signals: the main thread owns them (sigwait) */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (int i = 0; i < s->nworkers; i++) {
        int e = pthread_create(&s->w[i].thread, NULL, worker_main, &s->w[i]);
        if (e != 0) {
            rc = owl_error_set(err, OWL_EIO, "cannot start HTTP worker: %s", strerror(e));
            break;
        }
        s->w[i].started = 1;
        char name[16];
        snprintf(name, sizeof name, "owl-http-%d", i % 1000);
        pthread_setname_np(s->w[i].thread, name);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    s->started = 1;
out:
    pthread_mutex_unlock(&s->mu);
    if (rc != OWL_OK)
        owl_http_server_stop(s);
    return rc;
}

void owl_http_server_stop(owl_http_server *s)
{
    if (!s)
        return;
    if (!atomic_exchange(&s->stop_requested, 1)) {
        /* shutdown, not close: the workers may still be using the descriptors */
        for (int i = 0; i < s->nworkers; i++)
            if (s->w[i].lfd >= 0)
                shutdown(s->w[i].lfd, SHUT_RDWR);
        for (int i = 0; i < s->nworkers; i++) {
            uint64_t one = 1;
            if (s->w[i].wakefd >= 0 && write(s->w[i].wakefd, &one, sizeof one) < 0)
                owl_warn("http: cannot wake worker %d: %s", i, strerror(errno));
        }
    }
    if (current_server == s)
        return; /* called by a handler: joining itself would deadlock; destroy joins */
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->nworkers; i++) {
        if (s->w[i].started)
            pthread_join(s->w[i].thread, NULL);
        s->w[i].started = 0;
        close_fd(&s->w[i].lfd);
    }
    pthread_mutex_unlock(&s->mu);
}

void owl_http_server_destroy(owl_http_server *s)
{
    if (!s)
        return;
    owl_http_server_stop(s);
    for (int i = 0; s->w && i < s->nworkers; i++) {
        worker *w = &s->w[i];
        while (w->conns) /* only when the worker never ran */
            conn_close(w, w->conns);
        reap(w);
        close_fd(&w->lfd);
        close_fd(&w->ep);
        close_fd(&w->wakefd);
        close_fd(&w->spare);
        if (w->ready_mu_init)
            pthread_mutex_destroy(&w->ready_mu);
    }
    free(s->w);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

long owl_http_server_connections(const owl_http_server *s)
{
    return s ? atomic_load(&s->nconns) : 0;
}
