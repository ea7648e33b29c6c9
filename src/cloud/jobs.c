/*
 * jobs.c - the worker threads behind long operations (see jobs.h). The
 * queue and the busy set live under kumod's state lock.
 */
#include "cloud/jobs.h"

#include "cloud/kumod.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

struct job {
    enum job_kind kind;
    int64_t id;
};

struct jobs {
    struct kumod *k;
    job_fn run[JOB_KINDS];
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
    assert(kumod_lock_held(j->k));
    assert(kind >= 0 && kind < JOB_KINDS);
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
            j->run[job.kind](k, job.id);
            kumod_lock(k);
        } while (j->again[me] && !j->stop);
        j->busy[me] = (struct job){0, 0};
    }
    kumod_unlock(k);
    return NULL;
}

struct jobs *jobs_start(struct kumod *k, int threads, const job_fn run[JOB_KINDS])
{
    struct jobs *j = calloc(1, sizeof(*j));
    if (!j) return NULL;
    j->k = k;
    for (int i = 0; i < JOB_KINDS; i++) {
        assert(run[i]);
        j->run[i] = run[i];
    }
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
    assert(!j || !kumod_lock_held(j->k));
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
