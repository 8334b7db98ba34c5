/* A suite for the lite harness itself (see selftest.cmake): one test passes,
 * one fails by cr_assert (which must stop it), one by cr_expect (which must
 * not), one skips. The counter shows the order and what ran. */
#include "harness.h"

static int counter;

Test(selftest, passes)
{
    counter++;
    cr_assert(1 + 1 == 2, "arithmetic");
    cr_expect(counter == 1, "first test runs first (counter=%d)", counter);
    cr_log_info("info line %d", 7);
}

Test(selftest, assert_fails)
{
    cr_assert(counter == 1, "runs after passes (counter=%d)", counter);
    cr_assert(0, "deliberate failure %d", 42);
    counter = 100;
}

Test(selftest, expect_continues)
{
    cr_expect(0, "deliberate expect %s", "failure");
    counter += 10;
    cr_log_warn("after expect counter=%d", counter);
}

Test(selftest, skips)
{
    cr_skip_test("deliberate skip %d", 3);
    cr_assert(0, "after skip: not reached");
}
