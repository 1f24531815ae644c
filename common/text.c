/*
 * text.c - tokenising, Unicode folding and stemming (see text.h).
 *
 * Cost model: folding a non-ASCII word with utf8proc and stemming with
 * Snowball are the expensive steps, so ASCII words are folded with a few
 * bit operations and every normaliser keeps a bounded cache from the raw
 * word to its stem; a hit skips both steps.  Documents intern their stems
 * in a hash table so that a rule term is one lookup, and chain the tokens
 * of each stem so that phrases only look at the places where their first
 * word occurs.
 */
#include "text.h"

#include <libstemmer.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "item.h"

#define NO_INDEX UINT32_MAX

/* Words longer than this (in bytes) are not cached. */
#define CACHE_WORD_MAX 64
/* The cache is emptied when it holds this many words or this many bytes. */
#define CACHE_MAX_WORDS (1u << 16)
#define CACHE_MAX_BYTES (4u << 20)
/* Folded words longer than this are not stemmed (no English word is). */
#define STEM_WORD_MAX 256

/* ---- a string-keyed open-addressing hash table with its own arena ------- */

struct strtab_slot {
    uint64_t hash;
    uint32_t off;  /* key offset in the arena */
    uint32_t len;  /* key length */
    uint32_t val;  /* caller's value */
    uint32_t vlen; /* caller's value (second word) */
    int used;
};

struct strtab {
    struct strtab_slot *slots;
    size_t cap; /* 0 or a power of two */
    size_t count;
    char *arena;
    size_t alen, acap;
};

static uint64_t hash_bytes(const char *s, size_t len)
{
    uint64_t h = 14695981039346656037ull; /* FNV-1a */

    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* Copy len bytes plus a NUL into the arena; returns the offset, or -1. */
static long strtab_arena_add(struct strtab *t, const char *s, size_t len)
{
    size_t need, off;

    if (len > UINT32_MAX - 1 - t->alen)
        return -1;
    need = t->alen + len + 1;
    if (need > t->acap) {
        size_t ncap = t->acap != 0 ? t->acap : 256;
        char *p;

        while (ncap < need)
            ncap *= 2;
        p = realloc(t->arena, ncap);
        if (p == NULL)
            return -1;
        t->arena = p;
        t->acap = ncap;
    }
    off = t->alen;
    memcpy(t->arena + off, s, len);
    t->arena[off + len] = '\0';
    t->alen = need;
    return (long)off;
}

static struct strtab_slot *strtab_lookup(const struct strtab *t, const char *key,
                                         size_t len, uint64_t h)
{
    size_t mask, i;

    if (t->cap == 0)
        return NULL;
    mask = t->cap - 1;
    for (i = (size_t)h & mask;; i = (i + 1) & mask) {
        struct strtab_slot *s = &t->slots[i];

        if (!s->used)
            return NULL;
        if (s->hash == h && s->len == len && memcmp(t->arena + s->off, key, len) == 0)
            return s;
    }
}

static int strtab_grow(struct strtab *t)
{
    size_t ncap = t->cap != 0 ? t->cap * 2 : 64;
    struct strtab_slot *ns = calloc(ncap, sizeof(*ns));

    if (ns == NULL)
        return -1;
    for (size_t i = 0; i < t->cap; i++) {
        size_t j;

        if (!t->slots[i].used)
            continue;
        for (j = (size_t)t->slots[i].hash & (ncap - 1); ns[j].used; j = (j + 1) & (ncap - 1))
            ;
        ns[j] = t->slots[i];
    }
    free(t->slots);
    t->slots = ns;
    t->cap = ncap;
    return 0;
}

/* Insert a key known to be absent; returns its slot (val/vlen zero) or NULL
 * when out of memory. */
static struct strtab_slot *strtab_insert(struct strtab *t, const char *key, size_t len,
                                         uint64_t h)
{
    struct strtab_slot *s;
    long off;
    size_t i;

    if ((t->count + 1) * 2 > t->cap && strtab_grow(t) < 0)
        return NULL;
    off = strtab_arena_add(t, key, len);
    if (off < 0)
        return NULL;
    for (i = (size_t)h & (t->cap - 1); t->slots[i].used; i = (i + 1) & (t->cap - 1))
        ;
    s = &t->slots[i];
    s->hash = h;
    s->off = (uint32_t)off;
    s->len = (uint32_t)len;
    s->val = 0;
    s->vlen = 0;
    s->used = 1;
    t->count++;
    return s;
}

static void strtab_clear(struct strtab *t)
{
    if (t->count != 0)
        memset(t->slots, 0, t->cap * sizeof(*t->slots));
    t->count = 0;
    t->alen = 0;
}

static void strtab_release(struct strtab *t)
{
    free(t->slots);
    free(t->arena);
    memset(t, 0, sizeof(*t));
}

/* ---- code points ---------------------------------------------------------- */

size_t text_utf8_next(const char *s, size_t len, int32_t *cp)
{
    utf8proc_int32_t c;
    utf8proc_ssize_t n;

    if ((unsigned char)s[0] < 0x80) {
        *cp = (unsigned char)s[0];
        return 1;
    }
    n = utf8proc_iterate((const utf8proc_uint8_t *)s, len > 4 ? 4 : (utf8proc_ssize_t)len, &c);
    if (n <= 0 || c < 0) {
        *cp = -1;
        return 1;
    }
    *cp = c;
    return (size_t)n;
}

int text_is_word_char(int32_t cp)
{
    utf8proc_category_t c;

    if (cp < 0x80)
        return cp >= 0 && ((cp >= '0' && cp <= '9') || ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z'));
    c = utf8proc_category(cp);
    return (c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO) ||
           (c >= UTF8PROC_CATEGORY_ND && c <= UTF8PROC_CATEGORY_NO);
}

int text_is_mark(int32_t cp)
{
    utf8proc_category_t c;

    if (cp < 0x80)
        return 0;
    c = utf8proc_category(cp);
    return c >= UTF8PROC_CATEGORY_MN && c <= UTF8PROC_CATEGORY_ME;
}

/* ---- the normaliser --------------------------------------------------------- */

struct text_norm {
    struct sb_stemmer *stemmer;
    struct strtab cache; /* raw word -> stem (val = offset, vlen = length) */
    char *fold;          /* scratch: the folded word */
    size_t foldcap;
    char *out;           /* scratch: the stem of an uncached word */
    size_t outcap;
};

struct text_norm *text_norm_new(void)
{
    struct text_norm *n = calloc(1, sizeof(*n));

    if (n == NULL)
        return NULL;
    n->stemmer = sb_stemmer_new("english", NULL);
    if (n->stemmer == NULL) {
        free(n);
        return NULL;
    }
    return n;
}

void text_norm_free(struct text_norm **pn)
{
    struct text_norm *n;

    if (pn == NULL || *pn == NULL)
        return;
    n = *pn;
    sb_stemmer_delete(n->stemmer);
    strtab_release(&n->cache);
    free(n->fold);
    free(n->out);
    free(n);
    *pn = NULL;
}

static int ensure(char **buf, size_t *cap, size_t need)
{
    char *p;
    size_t ncap;

    if (need <= *cap)
        return 0;
    ncap = *cap != 0 ? *cap : 64;
    while (ncap < need)
        ncap *= 2;
    p = realloc(*buf, ncap);
    if (p == NULL)
        return -1;
    *buf = p;
    *cap = ncap;
    return 0;
}

/* Fold the word into a string; *owned is set when it must be free()d.
 * Returns the folded bytes or NULL when out of memory. */
static const char *fold_word(struct text_norm *n, const char *w, size_t len, size_t *flen,
                             char **owned)
{
    size_t i;

    *owned = NULL;
    for (i = 0; i < len; i++)
        if ((unsigned char)w[i] >= 0x80)
            break;
    if (i < len) {
        utf8proc_uint8_t *dst = NULL;
        utf8proc_ssize_t r;

        r = utf8proc_map((const utf8proc_uint8_t *)w, (utf8proc_ssize_t)len, &dst,
                         UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_DECOMPOSE |
                             UTF8PROC_CASEFOLD | UTF8PROC_STRIPMARK);
        if (r >= 0) {
            *owned = (char *)dst;
            *flen = (size_t)r;
            return (char *)dst;
        }
        free(dst);
        if (r == UTF8PROC_ERROR_NOMEM)
            return NULL;
        /* Not valid UTF-8 (only possible through text_norm_word): fold the
         * ASCII bytes and keep the others as they are. */
    }
    if (ensure(&n->fold, &n->foldcap, len + 1) < 0)
        return NULL;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)w[i];

        n->fold[i] = (char)(c >= 'A' && c <= 'Z' ? c | 0x20 : c);
    }
    n->fold[len] = '\0';
    *flen = len;
    return n->fold;
}

int text_norm_word(struct text_norm *n, const char *word, size_t len, const char **stem,
                   size_t *stem_len)
{
    const char *folded, *st;
    char *owned;
    size_t flen, slen;
    uint64_t h = 0;
    int cacheable = len <= CACHE_WORD_MAX;

    if (cacheable) {
        const struct strtab_slot *s;

        h = hash_bytes(word, len);
        s = strtab_lookup(&n->cache, word, len, h);
        if (s != NULL) {
            *stem = n->cache.arena + s->val;
            *stem_len = s->vlen;
            return 0;
        }
    }
    folded = fold_word(n, word, len, &flen, &owned);
    if (folded == NULL)
        return -1;
    if (flen <= STEM_WORD_MAX) {
        st = (const char *)sb_stemmer_stem(n->stemmer, (const sb_symbol *)folded, (int)flen);
        if (st == NULL) {
            free(owned);
            return -1;
        }
        slen = (size_t)sb_stemmer_length(n->stemmer);
    } else {
        st = folded;
        slen = flen;
    }
    if (cacheable) {
        struct strtab_slot *s;
        long off;

        if (n->cache.count >= CACHE_MAX_WORDS || n->cache.alen >= CACHE_MAX_BYTES)
            strtab_clear(&n->cache);
        s = strtab_insert(&n->cache, word, len, h);
        off = s != NULL ? strtab_arena_add(&n->cache, st, slen) : -1;
        if (off >= 0) {
            s->val = (uint32_t)off;
            s->vlen = (uint32_t)slen;
            free(owned);
            *stem = n->cache.arena + off;
            *stem_len = slen;
            return 0;
        }
        /* No memory for the cache: drop it, still answer below. */
        strtab_clear(&n->cache);
    }
    if (ensure(&n->out, &n->outcap, slen + 1) < 0) {
        free(owned);
        return -1;
    }
    memcpy(n->out, st, slen);
    n->out[slen] = '\0';
    free(owned);
    *stem = n->out;
    *stem_len = slen;
    return 0;
}

static int emit_word(struct text_norm *n, const char *s, size_t start, size_t end, size_t col,
                     text_word_fn cb, void *arg)
{
    const char *stem;
    size_t slen;

    if (text_norm_word(n, s + start, end - start, &stem, &slen) < 0)
        return -1;
    return cb(arg, stem, slen, start, end - start, col);
}

int text_norm_split(struct text_norm *n, const char *s, size_t len, text_word_fn cb, void *arg)
{
    size_t i = 0, col = 1, start = 0, startcol = 0;
    int in_word = 0, r;

    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        size_t clen = 1;
        int word, mark = 0;

        if (c < 0x80) {
            word = (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
        } else {
            int32_t cp;

            clen = text_utf8_next(s + i, len - i, &cp);
            word = cp >= 0 && text_is_word_char(cp);
            mark = cp >= 0 && !word && text_is_mark(cp);
        }
        if (in_word) {
            if (!word && !mark) {
                r = emit_word(n, s, start, i, startcol, cb, arg);
                if (r != 0)
                    return r;
                in_word = 0;
            }
        } else if (word) {
            in_word = 1;
            start = i;
            startcol = col;
        }
        i += clen;
        col++;
    }
    if (in_word)
        return emit_word(n, s, start, len, startcol, cb, arg);
    return 0;
}

/* ---- documents ----------------------------------------------------------- */

struct doc_tok {
    uint32_t term;
    uint32_t next; /* next token with the same term, or NO_INDEX */
    uint32_t pos;
    int field;
};

struct doc_term {
    uint32_t first, last; /* token chain */
    uint32_t off, len;    /* the stem in terms.arena */
};

struct text_doc {
    struct text_norm *norm;
    int own_norm;
    struct strtab terms; /* stem -> term id (val) */
    struct doc_term *tv;
    size_t nterms, tvcap;
    struct doc_tok *tok;
    size_t ntok, tokcap;
    uint32_t next_pos[TEXT_FIELD_COUNT];
    int cur_field; /* the field being added */
};

struct text_doc *text_doc_new(struct text_norm *norm)
{
    struct text_doc *d = calloc(1, sizeof(*d));

    if (d == NULL)
        return NULL;
    if (norm == NULL) {
        norm = text_norm_new();
        if (norm == NULL) {
            free(d);
            return NULL;
        }
        d->own_norm = 1;
    }
    d->norm = norm;
    return d;
}

void text_doc_free(struct text_doc **pd)
{
    struct text_doc *d;

    if (pd == NULL || *pd == NULL)
        return;
    d = *pd;
    if (d->own_norm)
        text_norm_free(&d->norm);
    strtab_release(&d->terms);
    free(d->tv);
    free(d->tok);
    free(d);
    *pd = NULL;
}

void text_doc_reset(struct text_doc *d)
{
    strtab_clear(&d->terms);
    d->nterms = 0;
    d->ntok = 0;
    memset(d->next_pos, 0, sizeof(d->next_pos));
}

static int doc_add_word(void *arg, const char *stem, size_t slen, size_t off, size_t wlen,
                        size_t column)
{
    struct text_doc *d = arg;
    struct strtab_slot *s;
    struct doc_tok *t;
    uint64_t h = hash_bytes(stem, slen);
    uint32_t term, idx;

    (void)off;
    (void)wlen;
    (void)column;
    if (d->ntok >= NO_INDEX - 1 || d->next_pos[d->cur_field] >= NO_INDEX - 1)
        return -1;
    s = strtab_lookup(&d->terms, stem, slen, h);
    if (s == NULL) {
        struct doc_term *dt;

        if (d->nterms == d->tvcap) {
            size_t ncap = d->tvcap != 0 ? d->tvcap * 2 : 64;
            struct doc_term *p = realloc(d->tv, ncap * sizeof(*p));

            if (p == NULL)
                return -1;
            d->tv = p;
            d->tvcap = ncap;
        }
        s = strtab_insert(&d->terms, stem, slen, h);
        if (s == NULL)
            return -1;
        s->val = (uint32_t)d->nterms;
        dt = &d->tv[d->nterms++];
        dt->first = NO_INDEX;
        dt->last = NO_INDEX;
        dt->off = s->off;
        dt->len = s->len;
    }
    term = s->val;
    if (d->ntok == d->tokcap) {
        size_t ncap = d->tokcap != 0 ? d->tokcap * 2 : 256;
        struct doc_tok *p = realloc(d->tok, ncap * sizeof(*p));

        if (p == NULL)
            return -1;
        d->tok = p;
        d->tokcap = ncap;
    }
    idx = (uint32_t)d->ntok++;
    t = &d->tok[idx];
    t->term = term;
    t->next = NO_INDEX;
    t->pos = d->next_pos[d->cur_field]++;
    t->field = d->cur_field;
    if (d->tv[term].last == NO_INDEX)
        d->tv[term].first = idx;
    else
        d->tok[d->tv[term].last].next = idx;
    d->tv[term].last = idx;
    return 0;
}

int text_doc_add_field_len(struct text_doc *d, int field, const char *utf8, size_t len)
{
    if (field < 0 || field >= TEXT_FIELD_COUNT)
        return -1;
    if (utf8 == NULL || len == 0)
        return 0;
    d->cur_field = field;
    return text_norm_split(d->norm, utf8, len, doc_add_word, d) != 0 ? -1 : 0;
}

int text_doc_add_field(struct text_doc *d, int field, const char *utf8)
{
    return text_doc_add_field_len(d, field, utf8, utf8 != NULL ? strlen(utf8) : 0);
}

int text_doc_add_item(struct text_doc *d, const struct item *it)
{
    if (text_doc_add_field(d, TEXT_FIELD_TITLE, it->title) < 0 ||
        text_doc_add_field(d, TEXT_FIELD_SUMMARY, it->summary) < 0 ||
        text_doc_add_field(d, TEXT_FIELD_CONTENT, it->content) < 0)
        return -1;
    return 0;
}

size_t text_doc_ntokens(const struct text_doc *d)
{
    return d->ntok;
}

void text_doc_token(const struct text_doc *d, size_t i, struct text_token *out)
{
    const struct doc_tok *t = &d->tok[i];
    const struct doc_term *dt = &d->tv[t->term];

    out->stem = d->terms.arena + dt->off;
    out->stem_len = dt->len;
    out->term = t->term;
    out->pos = t->pos;
    out->field = t->field;
}

long text_doc_find(const struct text_doc *d, const char *stem, size_t len)
{
    const struct strtab_slot *s = strtab_lookup(&d->terms, stem, len, hash_bytes(stem, len));

    if (s == NULL)
        return -1;
    return (long)d->tv[s->val].first;
}

long text_doc_next(const struct text_doc *d, long tok)
{
    uint32_t n = d->tok[tok].next;

    return n == NO_INDEX ? -1 : (long)n;
}
