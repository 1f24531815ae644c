/*
 * bytescan.h - find the first of two bytes in a buffer, in time linear in
 * how far it is.
 *
 * Two memchr() calls over the rest of a buffer (one for each byte, then the
 * nearer wins) read to the end whenever one of the bytes is absent; a
 * scanner that does that for each of n tokens is quadratic in the input (a
 * hostile feed of 8 MB: tens of seconds).  bytescan2() looks in windows
 * that double from 64 bytes, so each call costs about twice the distance
 * to what it finds (or to the end), whatever lies beyond.
 */
#ifndef NEWSALERT_BYTESCAN_H
#define NEWSALERT_BYTESCAN_H

#include <stddef.h>
#include <string.h>

/* The first byte of s[0..len) equal to a or b, or NULL. */
static inline const char *bytescan2(const char *s, size_t len, char a, char b)
{
    size_t at = 0, win = 64;

    while (at < len) {
        size_t n = len - at < win ? len - at : win;
        const char *pa = memchr(s + at, a, n);
        const char *pb = memchr(s + at, b, pa != NULL ? (size_t)(pa - (s + at)) : n);

        if (pb != NULL)
            return pb;
        if (pa != NULL)
            return pa;
        at += n;
        win *= 2;
    }
    return NULL;
}

#endif
