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
 * The queue knows nothing of what a job does: jobs_start() takes the
 * function of each kind (main.c gives vmops_run, diskops_import_image,
 * diskops_take_snapshot and runcmd_run; unit tests give their own), so the
 * modules that submit jobs (vmops.c's recovery, the provisioning layer)
 * and the ones that carry them out do not depend on each other through
 * this file.
 *
 * jobs_submit() must be called with kumod's state lock held (asserted).
 */
#ifndef KUMO_CLOUD_JOBS_H
#define KUMO_CLOUD_JOBS_H

#include <stdbool.h>
#include <stdint.h>

struct kumod;
struct jobs;

enum job_kind { JOB_VM, JOB_IMAGE, JOB_SNAPSHOT, JOB_RUN, JOB_KINDS };

/* Carries out the pending operation of row id (no lock held on entry). */
typedef void (*job_fn)(struct kumod *k, int64_t id);

/* threads workers; run[kind] for each kind (none may be NULL). */
struct jobs *jobs_start(struct kumod *k, int threads, const job_fn run[JOB_KINDS]);
void jobs_submit(struct jobs *j, enum job_kind kind, int64_t id);
/* Wait for running jobs to finish their current step and stop the threads. */
void jobs_stop(struct jobs *j);

#endif
