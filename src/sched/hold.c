/* SPDX-License-Identifier: MIT */
/* Holding workers still for inspection (see hold.h). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "sched/hold.h"
#include "sched/sched.h"
#include "sched/worker.h"

struct hold_job {
	struct weft__job job;
	struct weft__hold *h;
};

struct weft__hold {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned refs;     /* under lock: the caller and each job not yet run */
	unsigned nheld;    /* under lock */
	bool released;     /* under lock */
	bool timed_out;    /* under lock: jobs that come later return at once */
	unsigned n;
	bool *held;        /* [n], under lock while holding, fixed after */
	struct hold_job *jobs;
};

/* One hold at a time per process: two holders that each wait for the
 * other's worker would deadlock until both time out. */
static pthread_mutex_t one_at_a_time = PTHREAD_MUTEX_INITIALIZER;

static void put(struct weft__hold *h)
{
	/* caller holds h->lock */
	bool last = --h->refs == 0;
	pthread_mutex_unlock(&h->lock);
	if (last) {
		pthread_cond_destroy(&h->cond);
		pthread_mutex_destroy(&h->lock);
		free(h->held);
		free(h->jobs);
		free(h);
	}
}

static void hold_job(struct weft__worker *w, struct weft__job *j)
{
	struct weft__hold *h = ((struct hold_job *)j)->h;
	pthread_mutex_lock(&h->lock);
	if (!h->timed_out && !h->released) {
		h->held[w->index] = true;
		h->nheld++;
		pthread_cond_broadcast(&h->cond);
		while (!h->released)
			pthread_cond_wait(&h->cond, &h->lock);
	}
	put(h);
}

static void deadline_of(struct timespec *ts, uint64_t ns)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	uint64_t t = (uint64_t)ts->tv_nsec + ns;
	ts->tv_sec += (time_t)(t / 1000000000u);
	ts->tv_nsec = (long)(t % 1000000000u);
}

struct weft__hold *weft__hold_begin(struct weft__sched *s, uint64_t timeout_ns,
				    struct weft__worker *cur)
{
	struct weft__hold *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->n = s->nworkers;
	h->held = calloc(h->n, sizeof(*h->held));
	h->jobs = calloc(h->n, sizeof(*h->jobs));
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (!h->held || !h->jobs || pthread_cond_init(&h->cond, &ca)) {
		pthread_condattr_destroy(&ca);
		free(h->held);
		free(h->jobs);
		free(h);
		return NULL;
	}
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&h->lock, NULL);
	h->refs = 1;
	pthread_mutex_lock(&one_at_a_time);
	unsigned want = 0;
	pthread_mutex_lock(&h->lock);
	/* stopping: the loops exit once nothing is left, and a job posted
	 * now might never run; nothing is held */
	bool stopping = atomic_load_explicit(&s->stop, memory_order_acquire);
	for (unsigned i = 0; i < h->n && !stopping; i++) {
		struct weft__worker *w = &s->workers[i];
		if (w == cur) {
			h->held[i] = true; /* it runs the caller: no task of it moves */
			h->nheld++;
			continue;
		}
		h->jobs[i].job.fn = hold_job;
		h->jobs[i].h = h;
		h->refs++;
		want++;
	}
	unsigned target = h->nheld + want;
	pthread_mutex_unlock(&h->lock);
	for (unsigned i = 0; i < h->n; i++)
		if (h->jobs[i].h)
			weft__worker_post(&s->workers[i], &h->jobs[i].job);
	struct timespec ts;
	deadline_of(&ts, timeout_ns);
	pthread_mutex_lock(&h->lock);
	while (h->nheld < target && pthread_cond_timedwait(&h->cond, &h->lock, &ts) != ETIMEDOUT)
		;
	h->timed_out = true;
	pthread_mutex_unlock(&h->lock);
	return h;
}

bool weft__hold_held(const struct weft__hold *h, unsigned i)
{
	return i < h->n && h->held[i];
}

bool weft__hold_all(const struct weft__hold *h)
{
	for (unsigned i = 0; i < h->n; i++)
		if (!h->held[i])
			return false;
	return true;
}

void weft__hold_end(struct weft__hold *h)
{
	pthread_mutex_lock(&h->lock);
	h->released = true;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&one_at_a_time);
	put(h);
}
