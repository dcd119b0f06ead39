/* SPDX-License-Identifier: MIT */
/*
 * A thread outside a runtime wakes its last task and the runtime is
 * destroyed at once: a helper thread completes the future the main task
 * awaits (or another runtime's task does), main returns, and the test
 * thread destroys the runtime as soon as main is done. The waker's push
 * lets main run and finish before the waker has read the worker's park
 * word and written its eventfd; destroy must not free or close them
 * until it is out (sched.h: outside). It once did: TSan saw the eventfd's
 * close race the write (task::spawn_into_another_runtime_from_a_worker,
 * 1 run in 10); ASan sees the freed worker when the window is hit.
 */
#include <pthread.h>

#include "harness.h"

static void *complete_it(void *arg)
{
	weft_future_set_result(arg, (void *)7);
	return NULL;
}

static int await_gate(void *arg, void **result)
{
	return weft_await(arg, result);
}

/* Main of runtime b: a task of runtime a awaits it from a's worker. */
static int finish_in_b(void *arg, void **result)
{
	*result = arg;
	return 0;
}

static int await_other_runtime(void *arg, void **result)
{
	weft_future *t = weft_spawn(arg, finish_in_b, (void *)9, NULL);
	int rc = weft_await(t, result);
	weft_future_unref(t);
	return rc;
}

int main(void)
{
	stress_begin("outside_wake_destroy");
	long rounds = stress_count(4000);
	for (long i = 0; i < rounds; i++) {
		weft_config cfg;
		weft_config_init(&cfg);
		cfg.workers = 1 + (unsigned)(i % 2);
		weft_runtime *rt;
		stress_require_runtime(weft_runtime_create(&cfg, &rt));
		void *v = NULL;
		int rc;
		if (i % 4 < 2) {
			/* a foreign thread completes main's future */
			weft_future *gate = weft_future_create(rt);
			weft_future *m = weft_spawn(rt, await_gate, gate, "main");
			pthread_t th;
			pthread_create(&th, NULL, complete_it, gate);
			rc = weft_future_wait(m, 60.0 * WEFT_TEST_SLOW, &v);
			weft_future_unref(m);
			weft_runtime_destroy(rt); /* while the helper may still be waking */
			pthread_join(th, NULL);
			weft_future_unref(gate);
			STRESS_CHECK(rc == 0 && v == (void *)7, "round %ld: rc %d", i, rc);
		} else {
			/* another runtime's worker wakes main */
			weft_runtime *b;
			stress_require_runtime(weft_runtime_create(&cfg, &b));
			weft_future *m = weft_spawn(rt, await_other_runtime, b, "main");
			rc = weft_future_wait(m, 60.0 * WEFT_TEST_SLOW, &v);
			weft_future_unref(m);
			weft_runtime_destroy(rt); /* while b's worker may still be waking */
			weft_runtime_destroy(b);
			STRESS_CHECK(rc == 0 && v == (void *)9, "round %ld: rc %d", i, rc);
		}
	}
	return stress_end();
}
