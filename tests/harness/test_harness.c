// SPDX-License-Identifier: MIT
// Self-tests of the test harness: more cases than the old fixed table held, and the process helpers.
#include "fp_test.h"

/*
 * The runner once kept cases in a table of 512 and dropped the rest without
 * a word. This binary registers 600 generated cases plus the checks below;
 * the count must be exact. meson runs only the named checks (600 forks
 * under ASan take half a minute); the generated cases need only register.
 */
enum { OTHER_CASES = 1 };

/* Registered first (constructors run in file order), so a capped table would still keep this one. */
FP_TEST(every_registered_case_is_kept)
{
    CHECK_EQ(fp__test_count(), 600 + OTHER_CASES);
}

#define MANY_CASE(n) FP_TEST(many_##n) {}
#define MANY_10(p)                                                                       \
    MANY_CASE(p##0) MANY_CASE(p##1) MANY_CASE(p##2) MANY_CASE(p##3) MANY_CASE(p##4)      \
    MANY_CASE(p##5) MANY_CASE(p##6) MANY_CASE(p##7) MANY_CASE(p##8) MANY_CASE(p##9)
#define MANY_100(p)                                                                      \
    MANY_10(p##0) MANY_10(p##1) MANY_10(p##2) MANY_10(p##3) MANY_10(p##4)                \
    MANY_10(p##5) MANY_10(p##6) MANY_10(p##7) MANY_10(p##8) MANY_10(p##9)
MANY_100(x0)
MANY_100(x1)
MANY_100(x2)
MANY_100(x3)
MANY_100(x4)
MANY_100(x5)

