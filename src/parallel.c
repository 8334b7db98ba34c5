#include "parallel.h"

#ifdef _OPENMP
#include <omp.h>
#endif

void sn_parallel_for(ptrdiff_t count, int threads, sn_task_fn task, void *context)
{
    if (threads > count)
        threads = (int)count;
    if (threads <= 1) {
        for (ptrdiff_t i = 0; i < count; i++)
            task(context, i, 0);
        return;
    }
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(static)
    for (ptrdiff_t i = 0; i < count; i++)
        task(context, i, omp_get_thread_num());
#else
    for (ptrdiff_t i = 0; i < count; i++)
        task(context, i, 0);
#endif
}
