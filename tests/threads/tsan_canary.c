/*
 * Proves that the ThreadSanitizer build can fail, and that it understands
 * OpenMP: first a correctly synchronized parallel region (critical section,
 * barrier, reduction) that TSan reports as a race unless LLVM's Archer tool
 * tells it about OpenMP's synchronization, then a real race. ctest passes
 * only when the first report is the real race in racy_increment
 * (TSAN_OPTIONS=halt_on_error=1 stops at the first report).
 */
#include <omp.h>
#include <stdio.h>

static int shared_counter;

__attribute__((noinline)) static void increment(void)
{
    shared_counter++;
}

__attribute__((noinline)) static void racy_increment(void)
{
    shared_counter++;
}

int main(void)
{
    int sum = 0;
#pragma omp parallel num_threads(2) reduction(+ : sum)
    {
#pragma omp critical
        increment();
#pragma omp barrier
        sum += omp_get_thread_num();
    }
    printf("synchronized region: counter %d, sum %d\n", shared_counter, sum);
    fflush(stdout);
#pragma omp parallel num_threads(2)
    racy_increment();
    printf("racy region: counter %d (TSan should have stopped the program)\n", shared_counter);
    return 0;
}
