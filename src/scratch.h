/*
 * Working memory of a call (partial moments, lane arrays, parameter copies),
 * kept between calls. Fresh memory from the system costs a page fault per
 * 4 KiB on first touch, and glibc hands blocks of a few hundred KiB back to
 * the system at free(): batch norm training on [32,200,512] at 2 threads
 * spent 90 of its 410 us a call faulting in the same 200 KiB of partial
 * moments every time. A few freed blocks are kept for the next call instead.
 */
#ifndef SN_SCRATCH_H
#define SN_SCRATCH_H

#include <stddef.h>

/* At least `bytes` (0 allowed), aligned to a 64-byte cache line and
 * rounded up to whole lines; NULL when out of memory. */
void *sn_scratch_alloc(size_t bytes);

/* Returns a block of sn_scratch_alloc (NULL is ignored). */
void sn_scratch_free(void *block);

/* Frees every kept block (at unload, and for tests that start from none). */
void sn_scratch_release(void);

/* Whole cache lines holding `bytes`. */
static inline size_t sn_line_bytes(size_t bytes)
{
    return (bytes + 63) / 64 * 64;
}

#endif
