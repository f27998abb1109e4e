/*
 * offload.h - one worker thread for the few system calls whose time the sidecar cannot bound
 * (unmounting a VM's filesystems waits for the kernel's RCU grace periods: usually a tenth of a
 * millisecond, sometimes ten), so that the event loop never waits for them.
 */
#ifndef SC_OFFLOAD_H
#define SC_OFFLOAD_H

#include "loop.h"

/*
 * A job: work runs on the worker thread, then done on the loop. work may only make system
 * calls on data the job owns until done runs: no allocation, no stdio, no lock, nothing of
 * the sidecar's state (a lock held by the worker would also stay locked in a child the loop
 * clones, which copies only the calling thread).
 */
typedef struct sc_job sc_job_t;
struct sc_job {
    void (*work)(sc_job_t *job);
    void (*done)(sc_job_t *job);
};

/* Starts the worker, its completions read on loop; 0, or -1 (jobs then run inline). */
int sc_offload_start(sc_loop_t *loop);
/* Runs job: on the worker when there is one (done later, on the loop), else at once. */
void sc_offload(sc_job_t *job);
/* Waits for the worker to finish what was queued, runs those jobs' done, and ends it. */
void sc_offload_stop(void);

#endif
