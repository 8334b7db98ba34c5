/* The per-thread detail of the last error (sn_last_error_detail). */
#ifndef SN_ERROR_H
#define SN_ERROR_H

#include "simdnorm.h"

/* Records a printf-style detail for this thread and returns `status`. */
sn_status sn_fail(sn_status status, const char *format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Forgets the detail: every entry point that can record one starts with it,
 * so that a detail always belongs to the call that just failed. */
void sn_error_clear(void);

#endif
