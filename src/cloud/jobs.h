/*
 * jobs.h - the background work queue: a few threads that carry out long
 * operations (a VM's pending op, an image import, a snapshot copy) after the
 * API has committed them. The database is the queue's truth: an operation is
 * pending while its row says so (vms.op set, images/snapshots in state
 * Creating); jobs_submit() only wakes a worker, and at start kumod submits
 * every pending row again, so a kill -9 loses no operation.
 *
 * One job per resource at a time: submitting a busy resource makes the
 * worker run it once more when it is done.
 *
 * jobs_submit() must be called with kumod's state lock held.
 */
#ifndef KUMO_CLOUD_JOBS_H
#define KUMO_CLOUD_JOBS_H

#include <stdbool.h>
#include <stdint.h>

struct kumod;
struct jobs;

enum job_kind { JOB_VM, JOB_IMAGE, JOB_SNAPSHOT };

struct jobs *jobs_start(struct kumod *k, int threads);
void jobs_submit(struct jobs *j, enum job_kind kind, int64_t id);
/* Wait for running jobs to finish their current step and stop the threads. */
void jobs_stop(struct jobs *j);

#endif
