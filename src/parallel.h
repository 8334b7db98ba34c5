/* The one place that talks to OpenMP. */
#ifndef SN_PARALLEL_H
#define SN_PARALLEL_H

#include <stddef.h>

typedef void (*sn_task_fn)(void *context, ptrdiff_t item, int thread);

/* Run task(context, item, thread) for item in [0, count) on `threads` threads,
 * each taking a contiguous range of items (OpenMP static schedule). With one
 * thread it is a plain loop: no parallel region is entered. `thread` is the
 * OpenMP thread number, for indexing per-thread scratch. */
void sn_parallel_for(ptrdiff_t count, int threads, sn_task_fn task, void *context);

#endif
