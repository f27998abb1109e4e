/* loop.h - a single-threaded epoll loop: fd watchers, one-shot timers and signals. */
#ifndef SC_LOOP_H
#define SC_LOOP_H

#include <stdbool.h>
#include <stdint.h>

typedef struct sc_loop sc_loop_t;
typedef struct sc_watch sc_watch_t;
typedef struct sc_timer sc_timer_t;

/* Called with the epoll events (EPOLLIN, EPOLLOUT, EPOLLHUP, EPOLLERR) of a watched fd. */
typedef void sc_watch_fn(sc_loop_t *loop, sc_watch_t *w, uint32_t events, void *ud);
typedef void sc_timer_fn(sc_loop_t *loop, sc_timer_t *t, void *ud);
typedef void sc_signal_fn(sc_loop_t *loop, int signo, void *ud);

sc_loop_t *sc_loop_new(void);
void sc_loop_free(sc_loop_t *loop);

/* Watches fd for events (EPOLLIN and/or EPOLLOUT); NULL on failure. */
sc_watch_t *sc_loop_watch(sc_loop_t *loop, int fd, uint32_t events, sc_watch_fn *fn, void *ud);
/* Changes the events of a watch (0 pauses it). */
int sc_loop_modify(sc_loop_t *loop, sc_watch_t *w, uint32_t events);
uint32_t sc_watch_events(const sc_watch_t *w);
/* Stops watching; the fd is not closed. Safe inside the watch's own callback. */
void sc_loop_unwatch(sc_loop_t *loop, sc_watch_t *w);

/* A one-shot timer after ms milliseconds; cancel before it fires to free it. */
sc_timer_t *sc_loop_timer(sc_loop_t *loop, uint64_t ms, sc_timer_fn *fn, void *ud);
void sc_loop_cancel(sc_loop_t *loop, sc_timer_t *t);

/* Delivers signo through the loop (blocked for the process, read from a signalfd). */
int sc_loop_signal(sc_loop_t *loop, int signo, sc_signal_fn *fn, void *ud);

/* Runs until sc_loop_stop(); returns 0, or -1 when epoll fails. */
int sc_loop_run(sc_loop_t *loop);
void sc_loop_stop(sc_loop_t *loop);
/* Milliseconds on the monotonic clock. */
uint64_t sc_now_ms(void);

#endif
