/*
 * loop.c - the sidecar's only event loop: epoll over fds, a sorted list of one-shot timers
 * (the epoll timeout is the next deadline), and signals read from a signalfd so no work ever
 * runs inside a signal handler.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"

struct sc_watch {
    sc_watch_t *next; /* in the loop's list, for freeing */
    int fd;
    uint32_t events;
    sc_watch_fn *fn;
    void *ud;
    bool dead;
    bool always_ready; /* a regular file: epoll refuses it, and it never blocks */
};

struct sc_timer {
    sc_timer_t *next;
    uint64_t deadline;
    sc_timer_fn *fn;
    void *ud;
};

#define MAX_SIGNALS 8
#define TIMER_BUDGET_US 1000

struct sc_loop {
    int epfd;
    sc_watch_t *watches;
    sc_timer_t *timers; /* sorted by deadline */
    bool stop;
    int sigfd;
    sc_watch_t *sigwatch;
    sigset_t sigmask;
    struct {
        int signo;
        sc_signal_fn *fn;
        void *ud;
    } signals[MAX_SIGNALS];
    int nsignals;
};

uint64_t sc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

sc_loop_t *sc_loop_new(void)
{
    sc_loop_t *loop = calloc(1, sizeof *loop);
    if (!loop)
        return NULL;
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    loop->sigfd = -1;
    sigemptyset(&loop->sigmask);
    if (loop->epfd < 0) {
        free(loop);
        return NULL;
    }
    return loop;
}

static void free_dead(sc_loop_t *loop)
{
    sc_watch_t **p = &loop->watches;
    while (*p) {
        sc_watch_t *w = *p;
        if (w->dead) {
            *p = w->next;
            free(w);
        } else {
            p = &w->next;
        }
    }
}

void sc_loop_free(sc_loop_t *loop)
{
    if (!loop)
        return;
    for (sc_watch_t *w = loop->watches; w; w = w->next)
        w->dead = true;
    free_dead(loop);
    while (loop->timers) {
        sc_timer_t *t = loop->timers;
        loop->timers = t->next;
        free(t);
    }
    if (loop->sigfd >= 0)
        close(loop->sigfd);
    close(loop->epfd);
    free(loop);
}

sc_watch_t *sc_loop_watch(sc_loop_t *loop, int fd, uint32_t events, sc_watch_fn *fn, void *ud)
{
    sc_watch_t *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->fd = fd;
    w->events = events;
    w->fn = fn;
    w->ud = ud;
    struct epoll_event ev = {.events = events, .data.ptr = w};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        if (errno != EPERM) {
            free(w);
            return NULL;
        }
        w->always_ready = true;
    }
    w->next = loop->watches;
    loop->watches = w;
    return w;
}

int sc_loop_modify(sc_loop_t *loop, sc_watch_t *w, uint32_t events)
{
    if (w->events == events)
        return 0;
    if (w->always_ready) {
        w->events = events;
        return 0;
    }
    struct epoll_event ev = {.events = events, .data.ptr = w};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, w->fd, &ev) != 0)
        return -1;
    w->events = events;
    return 0;
}

uint32_t sc_watch_events(const sc_watch_t *w)
{
    return w->events;
}

void sc_loop_unwatch(sc_loop_t *loop, sc_watch_t *w)
{
    if (!w || w->dead)
        return;
    if (!w->always_ready)
        epoll_ctl(loop->epfd, EPOLL_CTL_DEL, w->fd, NULL);
    w->dead = true; /* freed after the current batch of events */
}

sc_timer_t *sc_loop_timer(sc_loop_t *loop, uint64_t ms, sc_timer_fn *fn, void *ud)
{
    sc_timer_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->deadline = sc_now_ms() + ms;
    t->fn = fn;
    t->ud = ud;
    sc_timer_t **p = &loop->timers;
    while (*p && (*p)->deadline <= t->deadline)
        p = &(*p)->next;
    t->next = *p;
    *p = t;
    return t;
}

void sc_loop_cancel(sc_loop_t *loop, sc_timer_t *t)
{
    for (sc_timer_t **p = &loop->timers; *p; p = &(*p)->next) {
        if (*p == t) {
            *p = t->next;
            free(t);
            return;
        }
    }
}

static void on_signalfd(sc_loop_t *loop, sc_watch_t *w, uint32_t events, void *ud)
{
    struct signalfd_siginfo si;
    (void)w;
    (void)events;
    (void)ud;
    while (read(loop->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
        for (int i = 0; i < loop->nsignals; i++)
            if (loop->signals[i].signo == (int)si.ssi_signo)
                loop->signals[i].fn(loop, (int)si.ssi_signo, loop->signals[i].ud);
    }
}

int sc_loop_signal(sc_loop_t *loop, int signo, sc_signal_fn *fn, void *ud)
{
    if (loop->nsignals == MAX_SIGNALS)
        return -1;
    sigaddset(&loop->sigmask, signo);
    if (sigprocmask(SIG_BLOCK, &loop->sigmask, NULL) != 0)
        return -1;
    int fd = signalfd(loop->sigfd, &loop->sigmask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        return -1;
    if (loop->sigfd < 0) {
        loop->sigfd = fd;
        loop->sigwatch = sc_loop_watch(loop, fd, EPOLLIN, on_signalfd, NULL);
        if (!loop->sigwatch)
            return -1;
    }
    loop->signals[loop->nsignals].signo = signo;
    loop->signals[loop->nsignals].fn = fn;
    loop->signals[loop->nsignals].ud = ud;
    loop->nsignals++;
    return 0;
}

void sc_loop_stop(sc_loop_t *loop)
{
    loop->stop = true;
}

/* Microseconds on the monotonic clock. */
static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/*
 * Runs the timers that are due, for TIMER_BUDGET_US at most: timers due together (the grace
 * periods of VMs disposed at once, say) then take turns with the descriptors, whose events
 * come first on the next turn (the epoll timeout is 0 while a timer is overdue).
 */
static void run_timers(sc_loop_t *loop)
{
    uint64_t now = sc_now_ms(), start = now_us();
    while (loop->timers && loop->timers->deadline <= now && !loop->stop) {
        sc_timer_t *t = loop->timers;
        loop->timers = t->next;
        t->fn(loop, t, t->ud);
        free(t);
        if (now_us() - start >= TIMER_BUDGET_US)
            break;
    }
}

/* Regular files are always readable and writable: their watches run on every turn. */
static bool run_always_ready(sc_loop_t *loop)
{
    bool any = false;
    for (sc_watch_t *w = loop->watches; w && !loop->stop; w = w->next) {
        if (w->always_ready && !w->dead && w->events) {
            any = true;
            w->fn(loop, w, w->events, w->ud);
        }
    }
    return any;
}

int sc_loop_run(sc_loop_t *loop)
{
    struct epoll_event evs[32];
    loop->stop = false;
    while (!loop->stop) {
        int timeout = -1;
        if (run_always_ready(loop))
            timeout = 0;
        if (loop->stop)
            break;
        if (loop->timers && timeout != 0) {
            uint64_t now = sc_now_ms();
            uint64_t d = loop->timers->deadline;
            timeout = d <= now ? 0 : (d - now > 60000 ? 60000 : (int)(d - now));
        }
        int n = epoll_wait(loop->epfd, evs, 32, timeout);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        for (int i = 0; i < n && !loop->stop; i++) {
            sc_watch_t *w = evs[i].data.ptr;
            if (!w->dead)
                w->fn(loop, w, evs[i].events, w->ud);
        }
        free_dead(loop);
        run_timers(loop);
    }
    return 0;
}
