/*
 * oomutil.c - the allocation wrappers of oomutil.h.
 */
#include "oomutil.h"

#include <stddef.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);

static long countdown = -1; /* -1: never fail */
static long failures;

void oomutil_fail_at(long k)
{
    countdown = k;
}

void oomutil_off(void)
{
    countdown = -1;
}

long oomutil_failures(void)
{
    return failures;
}

static int should_fail(void)
{
    if (countdown < 0)
        return 0;
    if (countdown-- == 0) {
        failures++;
        return 1;
    }
    return 0;
}

void *__wrap_malloc(size_t n)
{
    return should_fail() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return should_fail() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
    return should_fail() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
    return should_fail() ? NULL : __real_strdup(s);
}
