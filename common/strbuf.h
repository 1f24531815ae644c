/*
 * strbuf.h - a growing NUL-terminated string.
 *
 * Every append is a no-op once an allocation failed (b->oom set), so a
 * builder can append freely and check once, at strbuf_take().
 *   struct strbuf b = STRBUF_INIT;
 *   strbuf_adds(&b, "hello");
 *   char *s = strbuf_take(&b);   // caller frees; NULL only when out of memory
 */
#ifndef NEWSALERT_STRBUF_H
#define NEWSALERT_STRBUF_H

#include <stddef.h>

struct strbuf {
    char *p;    /* the string, NUL-terminated once anything was added */
    size_t len; /* bytes in p, without the NUL */
    size_t cap;
    int oom;    /* an allocation failed */
};

#define STRBUF_INIT {NULL, 0, 0, 0}

/* Append n bytes of s. */
void strbuf_add(struct strbuf *b, const char *s, size_t n);

/* Append a NUL-terminated string. */
void strbuf_adds(struct strbuf *b, const char *s);

/* Append code point cp as UTF-8 (cp must be a valid scalar value). */
void strbuf_add_utf8(struct strbuf *b, unsigned cp);

/* Hand over the string (the caller frees it; "" when nothing was added),
 * or NULL when out of memory.  The buffer is left empty and reusable. */
char *strbuf_take(struct strbuf *b);

/* Free the string and empty the buffer.  Safe on an empty buffer. */
void strbuf_release(struct strbuf *b);

#endif
