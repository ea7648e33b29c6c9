/*
 * jobs.c - the worker threads behind long operations (see jobs.h). The
 * queue and the busy set live under kumod's state lock.
 */
#include "cloud/jobs.h"

#include "cloud/diskops.h"
#include "cloud/kumod.h"
#include "cloud/vmops.h"

#include <stdlib.h>
#include <string.h>

struct job {
    enum job_kind kind;
    int64_t id;
};

struct jobs {
    struct kumod *k;
    pthread_t *threads;
    int nthreads;
    struct job *queue;
    size_t n, cap;
    struct job *busy; /* one per thread */
    bool *again;      /* busy[i] was submitted again while running */
    pthread_cond_t cv;
    bool stop;
};

static bool same(struct job a, struct job b)
{
    return a.kind == b.kind && a.id == b.id;
}

void jobs_submit(struct jobs *j, enum job_kind kind, int64_t id)
{
    struct job nj = {kind, id};
    for (int i = 0; i < j->nthreads; i++) {
        if (same(j->busy[i], nj)) {
            j->again[i] = true;
            return;
        }
    }
    for (size_t i = 0; i < j->n; i++)
        if (same(j->queue[i], nj)) return;
    if (j->n == j->cap) {
        size_t cap = j->cap ? j->cap * 2 : 64;
        struct job *q = realloc(j->queue, cap * sizeof(*q));
        if (!q) return; /* the row stays pending: the next start picks it up */
        j->queue = q;
        j->cap = cap;
    }
    j->queue[j->n++] = nj;
    pthread_cond_signal(&j->cv);
}

struct worker_arg {
    struct jobs *j;
    int index;
};

static void run(struct kumod *k, struct job job)
{
    switch (job.kind) {
    case JOB_VM: vmops_run(k, job.id); break;
    case JOB_IMAGE: diskops_import_image(k, job.id); break;
    case JOB_SNAPSHOT: diskops_take_snapshot(k, job.id); break;
    }
}

static void *worker(void *arg)
{
    struct worker_arg *wa = arg;
    struct jobs *j = wa->j;
    int me = wa->index;
    free(wa);
    struct kumod *k = j->k;
    kumod_lock(k);
    for (;;) {
        while (!j->stop && j->n == 0)
            pthread_cond_wait(&j->cv, &k->lock);
        if (j->stop) break;
        struct job job = j->queue[0];
        memmove(j->queue, j->queue + 1, (j->n - 1) * sizeof(*j->queue));
        j->n--;
        j->busy[me] = job;
        do {
            j->again[me] = false;
            kumod_unlock(k);
            run(k, job);
            kumod_lock(k);
        } while (j->again[me] && !j->stop);
        j->busy[me] = (struct job){0, 0};
    }
    kumod_unlock(k);
    return NULL;
}

struct jobs *jobs_start(struct kumod *k, int threads)
{
    struct jobs *j = calloc(1, sizeof(*j));
    if (!j) return NULL;
    j->k = k;
    j->threads = calloc((size_t)threads, sizeof(*j->threads));
    j->busy = calloc((size_t)threads, sizeof(*j->busy));
    j->again = calloc((size_t)threads, sizeof(*j->again));
    pthread_cond_init(&j->cv, NULL);
    if (!j->threads || !j->busy || !j->again) goto fail;
    for (int i = 0; i < threads; i++) {
        struct worker_arg *wa = malloc(sizeof(*wa));
        if (!wa) goto fail;
        *wa = (struct worker_arg){j, i};
        if (pthread_create(&j->threads[i], NULL, worker, wa) != 0) {
            free(wa);
            goto fail;
        }
        j->nthreads++;
    }
    return j;
fail:
    jobs_stop(j);
    return NULL;
}

void jobs_stop(struct jobs *j)
{
    if (!j) return;
    kumod_lock(j->k);
    j->stop = true;
    pthread_cond_broadcast(&j->cv);
    kumod_unlock(j->k);
    for (int i = 0; i < j->nthreads; i++)
        pthread_join(j->threads[i], NULL);
    pthread_cond_destroy(&j->cv);
    free(j->threads);
    free(j->busy);
    free(j->again);
    free(j->queue);
    free(j);
}
