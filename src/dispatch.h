/* The kernel table in use and the thread count the drivers use. */
#ifndef SN_DISPATCH_H
#define SN_DISPATCH_H

#include "kernels.h"

/* The table of the ISA in use now (detection runs on first call). */
const sn_kernels *sn_active_kernels(void);

/* Threads for a problem of `work` elements: 1 below the parallel threshold. */
int sn_threads_for(double work);

#endif
