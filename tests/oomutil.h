/*
 * oomutil.h - failing the k-th allocation on purpose, for the tests that
 * check what the code does when memory runs out.
 *
 * A test using it is linked with oomutil.c and
 *   -Wl,--wrap=malloc -Wl,--wrap=calloc -Wl,--wrap=realloc -Wl,--wrap=strdup
 * so that every allocation of the code built into it (the common library
 * included, and jansson's, which item.c routes through malloc) goes
 * through a counter: oomutil_fail_at(k) makes the allocation after k
 * others fail (once), oomutil_off() stops failing, oomutil_failures()
 * counts the allocations failed so far.  Single-threaded tests only.
 */
#ifndef NA_OOMUTIL_H
#define NA_OOMUTIL_H

/* Fail the allocation that comes after k more (k >= 0), once. */
void oomutil_fail_at(long k);

/* Fail nothing from now on. */
void oomutil_off(void);

/* How many allocations were failed so far. */
long oomutil_failures(void);

#endif
