#include "scratch.h"

#include <stdatomic.h>
#include <stdlib.h>

/* Under AddressSanitizer a kept block is poisoned, so that a use after
 * sn_scratch_free is still reported although the memory is not freed. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SN_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define SN_ASAN 1
#endif
#ifdef SN_ASAN
#include <sanitizer/asan_interface.h>
#define SN_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define SN_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define SN_POISON(p, n) ((void)(p), (void)(n))
#define SN_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* Each block starts with a line that records its usable size. */
#define SN_HEADER 64
/* Blocks kept, and their total size: a call uses at most four blocks at once
 * (parameter copy, lane arrays, partial moments and shifts and constants),
 * and kept memory stays bounded whatever the shapes seen. */
#define SN_KEPT_BLOCKS 8
#define SN_KEPT_MAX_BYTES ((size_t)64 << 20)

static struct {
    atomic_flag busy;
    char *blocks[SN_KEPT_BLOCKS];
    size_t bytes;
} kept = { ATOMIC_FLAG_INIT, { 0 }, 0 };

static size_t usable(const char *block)
{
    return *(const size_t *)(block - SN_HEADER);
}

/* The lock is held for a few dozen instructions: a spin on a flag. */
static void lock(void)
{
    while (atomic_flag_test_and_set_explicit(&kept.busy, memory_order_acquire))
        ;
}

static void unlock(void)
{
    atomic_flag_clear_explicit(&kept.busy, memory_order_release);
}

/* The slot of the smallest kept block that holds `bytes` (0: any), or -1. */
static int smallest_kept(size_t bytes)
{
    int best = -1;
    for (int i = 0; i < SN_KEPT_BLOCKS; i++)
        if (kept.blocks[i] && usable(kept.blocks[i]) >= bytes &&
            (best < 0 || usable(kept.blocks[i]) < usable(kept.blocks[best])))
            best = i;
    return best;
}

static char *take(int slot)
{
    char *block = kept.blocks[slot];
    kept.blocks[slot] = NULL;
    kept.bytes -= usable(block);
    SN_UNPOISON(block, usable(block));
    return block;
}

void *sn_scratch_alloc(size_t bytes)
{
    bytes = sn_line_bytes(bytes);
    lock();
    int slot = smallest_kept(bytes);
    char *found = slot >= 0 ? take(slot) : NULL;
    unlock();
    if (found)
        return found;
    if (bytes > (size_t)-1 - SN_HEADER)
        return NULL;
    char *base = aligned_alloc(64, SN_HEADER + bytes);
    if (!base)
        return NULL;
    *(size_t *)base = bytes;
    return base + SN_HEADER;
}

void sn_scratch_free(void *memory)
{
    char *block = memory, *dropped[SN_KEPT_BLOCKS + 1];
    int drops = 0;
    if (!block)
        return;
    lock();
    /* Kept in an empty slot, or in place of a smaller block; then the
     * smallest blocks go while the total is past the bound. */
    int slot = 0;
    while (slot < SN_KEPT_BLOCKS && kept.blocks[slot])
        slot++;
    if (slot == SN_KEPT_BLOCKS) {
        slot = smallest_kept(0);
        if (usable(kept.blocks[slot]) < usable(block))
            dropped[drops++] = take(slot);
        else
            slot = -1;
    }
    if (slot >= 0) {
        SN_POISON(block, usable(block));
        kept.blocks[slot] = block;
        kept.bytes += usable(block);
        while (kept.bytes > SN_KEPT_MAX_BYTES)
            dropped[drops++] = take(smallest_kept(0));
    } else {
        dropped[drops++] = block;
    }
    unlock();
    while (drops > 0)
        free(dropped[--drops] - SN_HEADER);
}

void sn_scratch_release(void)
{
    char *dropped[SN_KEPT_BLOCKS];
    int drops = 0;
    lock();
    for (int i = 0; i < SN_KEPT_BLOCKS; i++)
        if (kept.blocks[i])
            dropped[drops++] = take(i);
    unlock();
    while (drops > 0)
        free(dropped[--drops] - SN_HEADER);
}

/* Kept blocks go back to the system when the library is unloaded (or the
 * program exits), so that leak checkers see every block freed. */
__attribute__((destructor)) static void release_at_exit(void)
{
    sn_scratch_release();
}
