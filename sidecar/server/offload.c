/*
 * offload.c - the worker thread of offload.h. Jobs travel as pointers through two pipes: the
 * loop writes one to the worker's pipe, the worker runs its work and writes it back to the
 * completion pipe, which the loop watches and answers with the job's done. A pointer is
 * smaller than PIPE_BUF, so every write and read of one is whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "log.h"
#include "offload.h"

static int to_worker[2] = {-1, -1}, from_worker[2] = {-1, -1};
static pthread_t worker;
static bool running;
static sc_loop_t *owner;
static sc_watch_t *watch;
static size_t in_flight;

static bool read_job(int fd, sc_job_t **job)
{
    for (;;) {
        ssize_t n = read(fd, job, sizeof *job);
        if (n == (ssize_t)sizeof *job)
            return true;
        if (n < 0 && errno == EINTR)
            continue;
        return false; /* EOF, EAGAIN or an error */
    }
}

static bool write_job(int fd, sc_job_t *job)
{
    for (;;) {
        ssize_t n = write(fd, &job, sizeof job);
        if (n == (ssize_t)sizeof job)
            return true;
        if (n < 0 && errno == EINTR)
            continue;
        return false;
    }
}

/* The worker: system calls only (see offload.h), until its pipe is closed. */
static void *work_loop(void *arg)
{
    (void)arg;
    sc_job_t *job;
    while (read_job(to_worker[0], &job)) {
        job->work(job);
        write_job(from_worker[1], job);
    }
    return NULL;
}

static void complete(sc_job_t *job)
{
    in_flight--;
    job->done(job);
}

static void on_done(sc_loop_t *loop, sc_watch_t *w, uint32_t events, void *ud)
{
    (void)loop;
    (void)w;
    (void)events;
    (void)ud;
    sc_job_t *job;
    while (read_job(from_worker[0], &job))
        complete(job);
}

int sc_offload_start(sc_loop_t *loop)
{
    if (pipe2(to_worker, O_CLOEXEC) != 0)
        return -1;
    if (pipe2(from_worker, O_CLOEXEC | O_NONBLOCK) != 0)
        goto fail;
    owner = loop;
    watch = sc_loop_watch(loop, from_worker[0], EPOLLIN, on_done, NULL);
    /* The worker takes no signal: every one (SIGCHLD above all) is the loop's, through its
     * signalfd; a thread with a signal unblocked would swallow it. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = watch ? pthread_create(&worker, NULL, work_loop, NULL) : -1;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        goto fail;
    running = true;
    return 0;
fail:
    if (watch)
        sc_loop_unwatch(loop, watch);
    watch = NULL;
    for (int i = 0; i < 2; i++) {
        if (to_worker[i] >= 0)
            close(to_worker[i]);
        if (from_worker[i] >= 0)
            close(from_worker[i]);
        to_worker[i] = from_worker[i] = -1;
    }
    return -1;
}

void sc_offload(sc_job_t *job)
{
    if (running) {
        in_flight++;
        if (write_job(to_worker[1], job))
            return;
        in_flight--;
        sc_warn("cannot hand a job to the worker: %s; running it here", strerror(errno));
    }
    job->work(job);
    job->done(job);
}

void sc_offload_stop(void)
{
    if (!running)
        return;
    running = false;
    close(to_worker[1]); /* the worker ends after what is queued */
    pthread_join(worker, NULL);
    sc_job_t *job;
    while (in_flight > 0 && read_job(from_worker[0], &job))
        complete(job);
    sc_loop_unwatch(owner, watch);
    watch = NULL;
    close(to_worker[0]);
    close(from_worker[0]);
    close(from_worker[1]);
    to_worker[0] = to_worker[1] = from_worker[0] = from_worker[1] = -1;
}
