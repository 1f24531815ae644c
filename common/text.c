/*
 * text.c - tokenising, Unicode folding and stemming (see text.h).
 *
 * Cost model (the matcher's hot path): folding a non-ASCII word with
 * utf8proc (~38 ns a byte) and stemming with Snowball (~210 ns a word) are
 * the expensive steps, so every normaliser interns what it has seen: a raw
 * word maps to the ids of its folded form and of its stem, each interned
 * once, so a word seen before costs one hash lookup (short keys are kept in
 * the slot itself, so a hit touches one cache line).  A document keeps,
 * per layer, a map from the normaliser's ids to its own small ids (arrays
 * stamped with an epoch, so emptying it is O(1)), chains the tokens of each
 * stem so that phrases only look at the places where their first word
 * occurs, and never copies a string.  The normaliser's tables are emptied
 * only between two documents (text_doc_reset), when they grew too large,
 * so ids stay valid while a document is filled and used.
 *
 * A document's text is scanned with a byte-class table (only bytes that are
 * not ASCII are decoded); each word of up to 16 bytes is loaded once as two
 * integers, which give its hash (hash16), its key in the normaliser's small
 * cache (compared without memcmp) and, lower-cased 8 bytes at a time, the
 * first bytes of its folded form.  A normaliser with a filter (the rules'
 * vocabulary) caches each word's verdict beside its stem id, so a word no
 * rule names costs one cache look-up and a position, nothing more.
 */
#include "text.h"

#include <assert.h>
#include <libstemmer.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "item.h"

#define NO_INDEX UINT32_MAX
/* In the stem ids the word tables hold (not in those they give out): the
 * normaliser's filter keeps the word (see text_norm_set_filter). */
#define KEEP_BIT 0x80000000u

/* Words longer than this (in bytes) are not remembered by raw form. */
#define CACHE_WORD_MAX 64
/* A normaliser forgets everything (between documents) past these. */
#define CACHE_MAX_WORDS (1u << 19)
#define CACHE_MAX_BYTES (32u << 20)
/* Folded words longer than this are not stemmed (no English word is). */
#define STEM_WORD_MAX 256
/* Keys of at most this many bytes are compared inside the slot. */
#define INLINE_KEY 12
/* The small direct-mapped cache in front of a normaliser's word table:
 * a Zipf vocabulary's few thousand common words stay in a fast cache. */
#define L1_SLOTS 32768
#define L1_KEY 16

/* ---- a string-keyed open-addressing hash table with its own arena ------- */

/* 32 bytes, in a 64-byte aligned array: a look-up touches one cache line
 * (the tables are far larger than the caches: a miss is the cost). */
struct strtab_slot {
    uint32_t tag;  /* the high half of the key's hash (the low half placed it) */
    uint32_t off;  /* key offset in the arena; NO_INDEX: empty slot */
    uint32_t len;  /* key length */
    uint32_t val;  /* caller's values */
    uint32_t val2;
    char inl[INLINE_KEY]; /* the key itself when len <= INLINE_KEY */
};

struct strtab {
    struct strtab_slot *slots;
    size_t cap; /* 0 or a power of two */
    size_t count;
    char *arena;
    size_t alen, acap;
};

/* Little-endian 64-bit load of 8 bytes (byte k in bits 8k..8k+7). */
static inline uint64_t load64_le(const char *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof(v));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/* The first min(n, 8) bytes of p as an integer, byte k in bits 8k..8k+7
 * (the rest zero). */
static uint64_t pack8(const char *p, size_t n)
{
    uint64_t v = 0;

    if (n > 8)
        n = 8;
    for (size_t k = 0; k < n; k++)
        v |= (uint64_t)(unsigned char)p[k] << (8 * k);
    return v;
}

/* The murmur3 finaliser: every bit of the result depends on every bit of x. */
static inline uint64_t fmix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

/* The hash of a key of len <= 16 bytes given as k0 = pack8(key, len) and
 * k1 = pack8(key + 8, len - 8) (0 when len <= 8): the tokeniser loads a
 * word's bytes once and hashes them without another pass. */
static inline uint64_t hash16(uint64_t k0, uint64_t k1, size_t len)
{
    uint64_t a = k0 * 0x87c37b91114253d5ull, b = k1 * 0x4cf5ad432745937full;

    return fmix64(a ^ ((b << 31) | (b >> 33)) ^ ((uint64_t)len * 0x9e3779b97f4a7c15ull));
}

uint64_t text_hash(const char *s, size_t len)
{
    uint64_t h;
    size_t i;

    if (len <= 16)
        return hash16(pack8(s, len), len > 8 ? pack8(s + 8, len - 8) : 0, len);
    /* longer keys (rare: most words are short), 8 bytes at a time */
    h = (uint64_t)len * 0x9e3779b97f4a7c15ull;
    for (i = 0; i + 8 <= len; i += 8) {
        uint64_t k = load64_le(s + i) * 0x87c37b91114253d5ull;

        h ^= (k << 31) | (k >> 33);
        h = ((h << 27) | (h >> 37)) * 5 + 0x52dce729;
    }
    if (i < len) {
        uint64_t k = pack8(s + i, len - i) * 0x4cf5ad432745937full;

        h ^= (k << 33) | (k >> 31);
    }
    return fmix64(h);
}

/* Copy len bytes plus a NUL into the arena; returns the offset, or -1. */
static long strtab_arena_add(struct strtab *t, const char *s, size_t len)
{
    size_t need, off;

    if (len > UINT32_MAX - 2 - t->alen)
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

static int slot_is(const struct strtab *t, const struct strtab_slot *s, const char *key,
                   size_t len, uint64_t h)
{
    if (s->tag != (uint32_t)(h >> 32) || s->len != len)
        return 0;
    if (len <= INLINE_KEY)
        return memcmp(s->inl, key, len) == 0;
    return memcmp(t->arena + s->off, key, len) == 0;
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

        if (s->off == NO_INDEX)
            return NULL;
        if (slot_is(t, s, key, len, h))
            return s;
    }
}

static int strtab_grow(struct strtab *t)
{
    size_t ncap = t->cap != 0 ? t->cap * 2 : 64;
    struct strtab_slot *ns = aligned_alloc(64, ncap * sizeof(*ns));

    if (ns == NULL)
        return -1;
    memset(ns, 0xff, ncap * sizeof(*ns));
    for (size_t i = 0; i < t->cap; i++) {
        size_t j;

        if (t->slots[i].off == NO_INDEX)
            continue;
        for (j = (size_t)text_hash(t->arena + t->slots[i].off, t->slots[i].len) & (ncap - 1);
             ns[j].off != NO_INDEX;
             j = (j + 1) & (ncap - 1))
            ;
        ns[j] = t->slots[i];
    }
    free(t->slots);
    t->slots = ns;
    t->cap = ncap;
    return 0;
}

/* Insert a key known to be absent; returns its slot (values zero) or NULL
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
    for (i = (size_t)h & (t->cap - 1); t->slots[i].off != NO_INDEX; i = (i + 1) & (t->cap - 1))
        ;
    s = &t->slots[i];
    s->tag = (uint32_t)(h >> 32);
    s->off = (uint32_t)off;
    s->len = (uint32_t)len;
    s->val = 0;
    s->val2 = 0;
    memset(s->inl, 0, sizeof(s->inl));
    if (len <= INLINE_KEY)
        memcpy(s->inl, key, len);
    t->count++;
    return s;
}

static void strtab_clear(struct strtab *t)
{
    if (t->count != 0)
        memset(t->slots, 0xff, t->cap * sizeof(*t->slots));
    t->count = 0;
    t->alen = 0;
}

static void strtab_release(struct strtab *t)
{
    free(t->slots);
    free(t->arena);
    memset(t, 0, sizeof(*t));
}

/* The capacity to grow an array of `cap` elements to so it holds `need`. */
static size_t grow_cap(size_t cap, size_t need)
{
    size_t ncap = cap != 0 ? cap : 64;

    while (ncap < need)
        ncap *= 2;
    return ncap;
}

/* Reallocate to ncap elements; used through the RESIZE macro so that no
 * pointer is ever accessed through a `void **`. */
static void *resize(void *p, size_t ncap, size_t size)
{
    return realloc(p, ncap * size);
}

#define RESIZE(arr, ncap)                                                                      \
    do {                                                                                       \
        void *np_ = resize((arr), (ncap), sizeof(*(arr)));                                     \
        if (np_ == NULL)                                                                       \
            return -1;                                                                         \
        (arr) = np_;                                                                           \
    } while (0)

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

/* ---- fields and languages ---------------------------------------------------- */

static const char *const field_names[TEXT_FIELD_COUNT] = {
    "title", "summary", "content", "author", "category", "feed", "link",
};

const char *text_field_name(int field)
{
    return field >= 0 && field < TEXT_FIELD_COUNT ? field_names[field] : NULL;
}

int text_field_lookup(const char *name, size_t len)
{
    for (int i = 0; i < TEXT_FIELD_COUNT; i++)
        if (strlen(field_names[i]) == len && memcmp(field_names[i], name, len) == 0)
            return i;
    return -1;
}

int text_lang_known(const char *lang)
{
    const char **l = sb_stemmer_list();

    for (; *l != NULL; l++)
        if (strcmp(*l, lang) == 0)
            return 1;
    return 0;
}

const char *text_lang_list(void)
{
    static char buf[1024];
    static int done;
    const char **l;
    size_t len = 0;

    if (done)
        return buf;
    buf[0] = '\0';
    for (l = sb_stemmer_list(); *l != NULL; l++) {
        size_t n = strlen(*l);

        if (len + n + 3 >= sizeof(buf))
            break;
        if (len > 0) {
            memcpy(buf + len, ", ", 2);
            len += 2;
        }
        memcpy(buf + len, *l, n);
        len += n;
        buf[len] = '\0';
    }
    done = 1;
    return buf;
}

/* ---- the normaliser --------------------------------------------------------- */

/* 32 bytes, 64-byte aligned: one cache line.  The key is held as two
 * integers (see hash16), so a hit is compared without a memcmp. */
struct l1_slot {
    uint64_t k0, k1;
    uint32_t fid, sid;
    uint32_t len; /* 0: empty */
};

/* A stem's hash, length and first bytes: 32 bytes in a 64-byte aligned
 * array, so a document copies what it needs of a new term from one cache
 * line, and can then tell its terms apart without the normaliser's
 * tables. */
struct stem_key {
    uint64_t hash;   /* text_hash */
    uint64_t k0, k1; /* its first 16 bytes, zero-padded (see hash16) */
    uint32_t len;
    uint32_t unused;
};

struct text_norm {
    struct sb_stemmer *stemmer;
    struct l1_slot *l1;   /* L1_SLOTS, by hash */
    struct strtab words;  /* raw word -> fold id (val), stem id (val2) */
    struct strtab folds;  /* folded form -> fold id (val) */
    struct strtab stems;  /* stem -> stem id (val) */
    uint32_t *fold_off, *fold_len, *fold_stem; /* per fold id */
    size_t nfolds, fcap;
    uint32_t *stem_off, *stem_len; /* per stem id */
    struct stem_key *skey;         /* per stem id */
    size_t nstems, scap;
    unsigned generation; /* bumped whenever the ids are forgotten */
    text_keep_fn keep;   /* the filter, or NULL: keep every word */
    void *keep_arg;
    char *fold;          /* scratch: the folded word */
    size_t foldcap;
};

struct text_norm *text_norm_new_lang(const char *lang)
{
    struct text_norm *n;

    if (lang == NULL || !text_lang_known(lang))
        return NULL;
    n = calloc(1, sizeof(*n));
    if (n == NULL)
        return NULL;
    n->l1 = aligned_alloc(64, L1_SLOTS * sizeof(*n->l1));
    if (n->l1 != NULL)
        memset(n->l1, 0, L1_SLOTS * sizeof(*n->l1));
    n->stemmer = n->l1 != NULL ? sb_stemmer_new(lang, NULL) : NULL;
    if (n->stemmer == NULL) {
        free(n->l1);
        free(n);
        return NULL;
    }
    return n;
}

struct text_norm *text_norm_new(void)
{
    return text_norm_new_lang("english");
}

void text_norm_free(struct text_norm **pn)
{
    struct text_norm *n;

    if (pn == NULL || *pn == NULL)
        return;
    n = *pn;
    sb_stemmer_delete(n->stemmer);
    free(n->l1);
    strtab_release(&n->words);
    strtab_release(&n->folds);
    strtab_release(&n->stems);
    free(n->fold_off);
    free(n->fold_len);
    free(n->fold_stem);
    free(n->stem_off);
    free(n->stem_len);
    free(n->skey);
    free(n->fold);
    free(n);
    *pn = NULL;
}

/* Forget every id.  Only between documents. */
static void norm_forget(struct text_norm *n)
{
    strtab_clear(&n->words);
    strtab_clear(&n->folds);
    strtab_clear(&n->stems);
    memset(n->l1, 0, L1_SLOTS * sizeof(*n->l1));
    n->nfolds = 0;
    n->nstems = 0;
    n->generation++;
}

/* Forget every id when the tables grew too large.  Only between documents. */
static void norm_maintain(struct text_norm *n)
{
    if (n->words.count < CACHE_MAX_WORDS && n->folds.count < CACHE_MAX_WORDS &&
        n->words.alen + n->folds.alen + n->stems.alen < CACHE_MAX_BYTES)
        return;
    norm_forget(n);
}

void text_norm_set_filter(struct text_norm *n, text_keep_fn keep, void *arg)
{
    n->keep = keep;
    n->keep_arg = arg;
    norm_forget(n); /* what it knew was decided without the filter */
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

/* The stem id of `st`, interned when new; -1 when out of memory. */
static long norm_stem(struct text_norm *n, const char *st, size_t slen)
{
    uint64_t h = text_hash(st, slen);
    struct strtab_slot *s = strtab_lookup(&n->stems, st, slen, h);

    if (s != NULL)
        return (long)s->val;
    if (n->nstems >= NO_INDEX - 1)
        return -1;
    if (n->nstems >= n->scap) {
        size_t ncap = grow_cap(n->scap, n->nstems + 1);

        struct stem_key *nk;

        RESIZE(n->stem_off, ncap);
        RESIZE(n->stem_len, ncap);
        /* ncap is a power of two >= 64: a multiple of the alignment */
        nk = aligned_alloc(64, ncap * sizeof(*nk));
        if (nk == NULL)
            return -1;
        if (n->nstems != 0)
            memcpy(nk, n->skey, n->nstems * sizeof(*nk));
        free(n->skey);
        n->skey = nk;
        n->scap = ncap;
    }
    s = strtab_insert(&n->stems, st, slen, h);
    if (s == NULL)
        return -1;
    s->val = (uint32_t)n->nstems;
    n->stem_off[n->nstems] = s->off;
    n->stem_len[n->nstems] = s->len;
    n->skey[n->nstems].hash = h;
    n->skey[n->nstems].k0 = pack8(st, slen);
    n->skey[n->nstems].k1 = slen > 8 ? pack8(st + 8, slen - 8) : 0;
    n->skey[n->nstems].len = (uint32_t)slen;
    n->skey[n->nstems].unused = 0;
    return (long)n->nstems++;
}

/* The fold id of the folded form `f` (stemmed and interned when new); -1
 * when out of memory. */
static long norm_fold(struct text_norm *n, const char *f, size_t flen)
{
    uint64_t h = text_hash(f, flen);
    struct strtab_slot *s = strtab_lookup(&n->folds, f, flen, h);
    const char *st;
    size_t slen;
    long sid;
    uint32_t sidk;

    if (s != NULL)
        return (long)s->val;
    if (n->nfolds >= NO_INDEX - 1)
        return -1;
    if (flen <= STEM_WORD_MAX) {
        st = (const char *)sb_stemmer_stem(n->stemmer, (const sb_symbol *)f, (int)flen);
        if (st == NULL)
            return -1;
        slen = (size_t)sb_stemmer_length(n->stemmer);
    } else {
        st = f;
        slen = flen;
    }
    sid = norm_stem(n, st, slen);
    if (sid < 0)
        return -1;
    /* decided once per folded form, then kept beside its stem id */
    sidk = (uint32_t)sid;
    if (n->keep == NULL ||
        n->keep(n->keep_arg, n->stems.arena + n->stem_off[sid], n->stem_len[sid], f, flen) != 0)
        sidk |= KEEP_BIT;
    if (n->nfolds >= n->fcap) {
        size_t ncap = grow_cap(n->fcap, n->nfolds + 1);

        RESIZE(n->fold_off, ncap);
        RESIZE(n->fold_len, ncap);
        RESIZE(n->fold_stem, ncap);
        n->fcap = ncap;
    }
    s = strtab_insert(&n->folds, f, flen, h);
    if (s == NULL)
        return -1;
    s->val = (uint32_t)n->nfolds;
    n->fold_off[n->nfolds] = s->off;
    n->fold_len[n->nfolds] = s->len;
    n->fold_stem[n->nfolds] = sidk;
    return (long)n->nfolds++;
}

/* The small cache's slot for a word of hash h (when 1 <= len <= L1_KEY). */
static inline struct l1_slot *l1_slot_of(const struct text_norm *n, uint64_t h)
{
    return &n->l1[(h >> 20) & (L1_SLOTS - 1)];
}

/* Whether small-cache slot c holds the word of len bytes given as k0, k1
 * (see hash16). */
static inline int l1_holds(const struct l1_slot *c, size_t len, uint64_t k0, uint64_t k1)
{
    return c->k0 == k0 && c->k1 == k1 && c->len == len;
}

/* Start fetching the word-table slot that a look-up of a word of hash h
 * will read first (a document's words are looked up well after this, so
 * that the cache misses of a large vocabulary overlap instead of adding
 * up). */
static inline void norm_prefetch_words(const struct text_norm *n, size_t len, uint64_t h)
{
    if (len <= CACHE_WORD_MAX && n->words.cap != 0)
        __builtin_prefetch(&n->words.slots[(size_t)h & (n->words.cap - 1)]);
}

/* The word-table slot of a raw word of len <= L1_KEY bytes given as k0, k1
 * (see hash16) with hash h, or NULL. */
static const struct strtab_slot *words_lookup_k(const struct strtab *t, const char *word,
                                                size_t len, uint64_t h, uint64_t k0,
                                                uint64_t k1)
{
    size_t mask, i;

    if (t->cap == 0)
        return NULL;
    mask = t->cap - 1;
    for (i = (size_t)h & mask;; i = (i + 1) & mask) {
        const struct strtab_slot *s = &t->slots[i];

        if (s->off == NO_INDEX)
            return NULL;
        if (s->tag != (uint32_t)(h >> 32) || s->len != len)
            continue;
        if (len <= INLINE_KEY) {
            /* the inline key is zero-padded, like k0 and k1 */
            uint32_t hi;

            memcpy(&hi, s->inl + 8, sizeof(hi));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
            hi = __builtin_bswap32(hi);
#endif
            if (load64_le(s->inl) == k0 && hi == (uint32_t)k1)
                return s;
        } else if (memcmp(t->arena + s->off, word, len) == 0) {
            return s;
        }
    }
}

/* The fold and stem ids of a raw word whose text_hash is h (any value when
 * len > CACHE_WORD_MAX) and, when len <= L1_KEY, whose bytes are k0, k1
 * (see hash16), once the small cache was found not to hold it: c is its
 * small-cache slot (filled on the way), NULL when len is not 1..L1_KEY.
 * *sid has KEEP_BIT set when the filter keeps the word.  Returns 0 or -1
 * (out of memory). */
static int norm_ids_miss(struct text_norm *n, const char *word, size_t len, uint64_t h,
                         uint64_t k0, uint64_t k1, struct l1_slot *c, uint32_t *fid,
                         uint32_t *sid)
{
    const char *folded;
    char *owned;
    size_t flen;
    long f;

    if (len <= CACHE_WORD_MAX) {
        const struct strtab_slot *s;

        if (c != NULL)
            s = words_lookup_k(&n->words, word, len, h, k0, k1);
        else
            s = strtab_lookup(&n->words, word, len, h);
        if (s != NULL) {
            *fid = s->val;
            *sid = s->val2;
            if (c != NULL) {
                c->k0 = k0;
                c->k1 = k1;
                c->len = (uint32_t)len;
                c->fid = *fid;
                c->sid = *sid;
            }
            return 0;
        }
    }
    folded = fold_word(n, word, len, &flen, &owned);
    if (folded == NULL)
        return -1;
    f = norm_fold(n, folded, flen);
    free(owned);
    if (f < 0)
        return -1;
    *fid = (uint32_t)f;
    *sid = n->fold_stem[f];
    if (len <= CACHE_WORD_MAX) {
        struct strtab_slot *s = strtab_insert(&n->words, word, len, h);

        if (s == NULL)
            return -1;
        s->val = *fid;
        s->val2 = *sid;
    }
    return 0;
}

/* The same, looking in the small cache first. */
static int norm_ids_k(struct text_norm *n, const char *word, size_t len, uint64_t h,
                      uint64_t k0, uint64_t k1, uint32_t *fid, uint32_t *sid)
{
    struct l1_slot *c = NULL;

    if (len != 0 && len <= L1_KEY) {
        c = l1_slot_of(n, h);
        if (l1_holds(c, len, k0, k1)) {
            *fid = c->fid;
            *sid = c->sid;
            return 0;
        }
    }
    return norm_ids_miss(n, word, len, h, k0, k1, c, fid, sid);
}

/* The fold and stem ids of a raw word.  Returns 0 or -1 (out of memory). */
static int norm_ids(struct text_norm *n, const char *word, size_t len, uint32_t *fid,
                    uint32_t *sid)
{
    uint64_t k0 = 0, k1 = 0;

    if (len <= L1_KEY) {
        k0 = pack8(word, len);
        k1 = len > 8 ? pack8(word + 8, len - 8) : 0;
    }
    if (norm_ids_k(n, word, len, len <= CACHE_WORD_MAX ? text_hash(word, len) : 0, k0, k1, fid,
                   sid) < 0)
        return -1;
    *sid &= ~KEEP_BIT;
    return 0;
}

int text_norm_word2(struct text_norm *n, const char *word, size_t len, const char **stem,
                    size_t *stem_len, const char **folded_out, size_t *folded_len)
{
    uint32_t fid, sid;

    if (norm_ids(n, word, len, &fid, &sid) < 0)
        return -1;
    *stem = n->stems.arena + n->stem_off[sid];
    *stem_len = n->stem_len[sid];
    *folded_out = n->folds.arena + n->fold_off[fid];
    *folded_len = n->fold_len[fid];
    return 0;
}

unsigned text_norm_generation(const struct text_norm *n)
{
    return n->generation;
}

int text_norm_word(struct text_norm *n, const char *word, size_t len, const char **stem,
                   size_t *stem_len)
{
    const char *f;
    size_t flen;

    return text_norm_word2(n, word, len, stem, stem_len, &f, &flen);
}

/* ---- splitting ------------------------------------------------------------------ */

typedef int (*raw_word_fn)(void *arg, const char *s, size_t off, size_t wlen, size_t column);

/* Call cb for each word of s[0..len), in order.  Returns 0 or cb's value. */
static int split_raw(const char *s, size_t len, raw_word_fn cb, void *arg)
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
                r = cb(arg, s, start, i - start, startcol);
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
        return cb(arg, s, start, len - start, startcol);
    return 0;
}

struct split_ctx {
    struct text_norm *n;
    text_word_fn cb;
    void *arg;
};

static int split_stem(void *arg, const char *s, size_t off, size_t wlen, size_t column)
{
    struct split_ctx *c = arg;
    const char *stem, *folded;
    size_t slen, flen;

    if (text_norm_word2(c->n, s + off, wlen, &stem, &slen, &folded, &flen) < 0)
        return -1;
    return c->cb(c->arg, stem, slen, off, wlen, column);
}

int text_norm_split(struct text_norm *n, const char *s, size_t len, text_word_fn cb, void *arg)
{
    struct split_ctx c = {n, cb, arg};

    return split_raw(s, len, split_stem, &c);
}

/* ---- documents ----------------------------------------------------------- */

struct doc_tok {
    uint32_t fold;  /* doc fold id */
    uint32_t fnext; /* next token with the same folded form, or NO_INDEX */
    uint32_t pos;
    uint32_t src;
    uint32_t off, len;
    int field;
};

/* A word of the field being added, between splitting and interning. */
struct doc_word {
    uint64_t hash;
    uint64_t k0, k1;  /* its bytes when len <= L1_KEY (see hash16), else 0 */
    uint32_t off, len;
    uint32_t nf, sid; /* layer 0 normaliser's fold and stem ids */
    uint8_t ascii;    /* only ASCII bytes */
    uint8_t keep;     /* the normaliser's filter keeps it */
    uint8_t pending;  /* not in the normaliser's small cache: nf, sid unknown yet */
};

struct doc_source {
    int field;
    const char *text;
    size_t len;
};

struct term_slot {
    uint64_t hash;
    uint32_t term, epoch;
};

/* A map from a normaliser's ids to the document's, valid for one epoch:
 * a small open-addressing table of the document's own ids (slots stamped
 * with another epoch are empty, so emptying it is free), which stays in
 * the processor's caches, where an array indexed by the normaliser's ids
 * would be as large as the vocabulary and cost a cache miss per word. */
struct idmap_slot {
    uint32_t key, val, epoch;
};

struct idmap {
    struct idmap_slot *s;
    size_t cap;       /* 0 or a power of two */
    size_t n;         /* keys of epoch n_epoch */
    uint32_t n_epoch;
};

struct doc_layer {
    struct text_norm *norm;
    struct idmap map;           /* norm stem id -> doc term */
    uint32_t *first, *last;     /* per doc term: token chain */
    uint32_t *nid;              /* per doc term: the norm's stem id */
    size_t nterms, tcap;
    uint32_t *tok_next, *tok_term; /* per token */
    size_t tokcap;
    uint32_t *fold_term;        /* per doc fold */
    size_t foldcap;
    /* the document's terms by stem hash (slots of other epochs are empty),
     * so that a rule's word absent from the document is rejected without
     * touching the normaliser's large tables */
    struct term_slot *ht;
    size_t htcap;               /* 0 or a power of two */
    struct stem_key *tkey;      /* per doc term: its stem's hash and bytes */
};

struct text_doc {
    int own_norm;
    struct doc_layer *layers;
    size_t nlayers;
    uint32_t epoch;
    struct idmap foldmap;       /* layer 0 norm fold id -> doc fold */
    uint32_t *fnid, *ffirst, *flast; /* per doc fold */
    uint32_t *flen;             /* per doc fold: its length */
    uint64_t *fpfx;             /* per doc fold: its first 8 bytes (see pack8) */
    size_t nfolds, fcap;
    struct doc_tok *tok;
    size_t ntok, tokcap;
    struct doc_source *src;
    size_t nsrc, srccap;
    uint32_t next_pos[TEXT_FIELD_COUNT];
    int used[TEXT_FIELD_COUNT]; /* the field already has a source */
    int cur_field;
    uint32_t cur_src;
    struct doc_word *wb; /* the words of the field being added */
    size_t nwb, wbcap;
};

static void idmap_release(struct idmap *m)
{
    free(m->s);
}

/* The first slot to look at for key id (a table of cap slots). */
static inline size_t idmap_home(uint32_t id, size_t cap)
{
    return (size_t)(((uint64_t)id * 0x9E3779B97F4A7C15ull) >> 32) & (cap - 1);
}

/* The doc id mapped to norm id `id` in this epoch, or NO_INDEX. */
static uint32_t idmap_get(const struct idmap *m, uint32_t id, uint32_t epoch)
{
    if (m->cap == 0)
        return NO_INDEX;
    for (size_t i = idmap_home(id, m->cap); m->s[i].epoch == epoch; i = (i + 1) & (m->cap - 1))
        if (m->s[i].key == id)
            return m->s[i].val;
    return NO_INDEX;
}

/* Map norm id `id` (not mapped in this epoch) to val.  0 or -1. */
static int idmap_set(struct idmap *m, uint32_t id, uint32_t val, uint32_t epoch)
{
    size_t i;

    if (m->n_epoch != epoch) {
        m->n = 0;
        m->n_epoch = epoch;
    }
    if ((m->n + 1) * 2 > m->cap) {
        size_t ncap = m->cap != 0 ? m->cap * 2 : 256;
        struct idmap_slot *ns = calloc(ncap, sizeof(*ns));

        if (ns == NULL)
            return -1;
        for (size_t k = 0; k < m->cap; k++) {
            if (m->s[k].epoch != epoch)
                continue;
            for (i = idmap_home(m->s[k].key, ncap); ns[i].epoch == epoch; i = (i + 1) & (ncap - 1))
                ;
            ns[i] = m->s[k];
        }
        free(m->s);
        m->s = ns;
        m->cap = ncap;
    }
    for (i = idmap_home(id, m->cap); m->s[i].epoch == epoch; i = (i + 1) & (m->cap - 1))
        ;
    m->s[i].key = id;
    m->s[i].val = val;
    m->s[i].epoch = epoch;
    m->n++;
    return 0;
}

static void idmap_forget(struct idmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        m->s[i].epoch = 0;
    m->n = 0;
    m->n_epoch = 0;
}

static void layer_release(struct doc_layer *l)
{
    idmap_release(&l->map);
    free(l->first);
    free(l->last);
    free(l->nid);
    free(l->tok_next);
    free(l->tok_term);
    free(l->fold_term);
    free(l->ht);
    free(l->tkey);
}

struct text_doc *text_doc_new(struct text_norm *norm)
{
    struct text_doc *d = calloc(1, sizeof(*d));

    if (d == NULL)
        return NULL;
    d->layers = calloc(1, sizeof(*d->layers));
    if (d->layers == NULL) {
        free(d);
        return NULL;
    }
    if (norm == NULL) {
        norm = text_norm_new();
        if (norm == NULL) {
            free(d->layers);
            free(d);
            return NULL;
        }
        d->own_norm = 1;
    }
    d->layers[0].norm = norm;
    d->nlayers = 1;
    d->epoch = 1;
    return d;
}

int text_doc_add_layer(struct text_doc *d, struct text_norm *norm)
{
    struct doc_layer *nl;

    if (d->ntok != 0 || d->nfolds != 0 || norm == NULL)
        return -1;
    for (size_t i = 0; i < d->nlayers; i++)
        if (d->layers[i].norm == norm)
            return -1;
    nl = realloc(d->layers, (d->nlayers + 1) * sizeof(*nl));
    if (nl == NULL)
        return -1;
    d->layers = nl;
    memset(&nl[d->nlayers], 0, sizeof(*nl));
    nl[d->nlayers].norm = norm;
    return (int)d->nlayers++;
}

size_t text_doc_nlayers(const struct text_doc *d)
{
    return d->nlayers;
}

void text_doc_free(struct text_doc **pd)
{
    struct text_doc *d;

    if (pd == NULL || *pd == NULL)
        return;
    d = *pd;
    if (d->own_norm)
        text_norm_free(&d->layers[0].norm);
    for (size_t i = 0; i < d->nlayers; i++)
        layer_release(&d->layers[i]);
    free(d->layers);
    idmap_release(&d->foldmap);
    free(d->fnid);
    free(d->ffirst);
    free(d->flast);
    free(d->flen);
    free(d->fpfx);
    free(d->tok);
    free(d->src);
    free(d->wb);
    free(d);
    *pd = NULL;
}

void text_doc_reset(struct text_doc *d)
{
    for (size_t i = 0; i < d->nlayers; i++) {
        struct doc_layer *l = &d->layers[i];

        norm_maintain(l->norm);
        l->nterms = 0;
    }
    d->nfolds = 0;
    d->ntok = 0;
    d->nsrc = 0;
    memset(d->next_pos, 0, sizeof(d->next_pos));
    memset(d->used, 0, sizeof(d->used));
    if (++d->epoch == 0) {
        /* after 2^32 documents: forget every stamp once */
        idmap_forget(&d->foldmap);
        for (size_t i = 0; i < d->nlayers; i++) {
            struct doc_layer *l = &d->layers[i];

            idmap_forget(&l->map);
            for (size_t k = 0; k < l->htcap; k++)
                l->ht[k].epoch = 0;
        }
        d->epoch = 1;
    }
}

/* Put doc term t (stem hash h) into l's table of terms. */
static void ht_put(struct term_slot *ht, size_t cap, uint64_t h, uint32_t t, uint32_t epoch)
{
    size_t i;

    for (i = (size_t)h & (cap - 1); ht[i].epoch == epoch; i = (i + 1) & (cap - 1))
        ;
    ht[i].hash = h;
    ht[i].term = t;
    ht[i].epoch = epoch;
}

/* Make room in l's table of terms for one more; 0 or -1. */
static int ht_reserve(struct text_doc *d, struct doc_layer *l)
{
    struct term_slot *nh;
    size_t ncap;

    if ((l->nterms + 1) * 2 <= l->htcap)
        return 0;
    ncap = l->htcap != 0 ? l->htcap * 2 : 256;
    nh = calloc(ncap, sizeof(*nh));
    if (nh == NULL)
        return -1;
    for (size_t t = 0; t < l->nterms; t++)
        ht_put(nh, ncap, l->tkey[t].hash, (uint32_t)t, d->epoch);
    free(l->ht);
    l->ht = nh;
    l->htcap = ncap;
    return 0;
}

/* The doc term of norm stem `sid` in layer l, added when new; -1 on ENOMEM. */
static long layer_term(struct text_doc *d, struct doc_layer *l, uint32_t sid)
{
    uint32_t t = idmap_get(&l->map, sid, d->epoch);

    if (t != NO_INDEX)
        return (long)t;
    if (l->nterms >= l->tcap) /* doc_reserve made room */
        return -1;
    if (ht_reserve(d, l) < 0)
        return -1;
    t = (uint32_t)l->nterms;
    l->tkey[t] = l->norm->skey[sid];
    ht_put(l->ht, l->htcap, l->tkey[t].hash, t, d->epoch);
    l->first[t] = NO_INDEX;
    l->last[t] = NO_INDEX;
    l->nid[t] = sid;
    if (idmap_set(&l->map, sid, t, d->epoch) < 0)
        return -1;
    l->nterms++;
    return (long)t;
}

/* The 8 ASCII bytes of k (byte k in bits 8k..8k+7, all < 0x80) with the
 * upper-case letters made lower case, all at once. */
static inline uint64_t ascii_lower8(uint64_t k)
{
    const uint64_t ones = 0x0101010101010101ull;
    uint64_t ge_a = k + (0x80 - 'A') * ones;     /* high bit: byte >= 'A' */
    uint64_t gt_z = k + (0x80 - 'Z' - 1) * ones; /* high bit: byte > 'Z' */

    return k | ((ge_a & ~gt_z & (0x80 * ones)) >> 2);
}

/* Make room for n more tokens and n more folds (and terms) in every array
 * that grows with them, so that appending a field's words checks nothing.
 * 0 or -1. */
static int doc_reserve(struct text_doc *d, size_t n)
{
    size_t nt = d->ntok + n, nf = d->nfolds + n;

    if (nt >= NO_INDEX - 1 || nf >= NO_INDEX - 1)
        return -1;
    if (nf > d->fcap) {
        size_t ncap = grow_cap(d->fcap, nf);

        RESIZE(d->fnid, ncap);
        RESIZE(d->ffirst, ncap);
        RESIZE(d->flast, ncap);
        RESIZE(d->flen, ncap);
        RESIZE(d->fpfx, ncap);
        d->fcap = ncap;
    }
    if (nt > d->tokcap) {
        size_t ncap = grow_cap(d->tokcap, nt);

        RESIZE(d->tok, ncap);
        d->tokcap = ncap;
    }
    for (size_t i = 0; i < d->nlayers; i++) {
        struct doc_layer *l = &d->layers[i];
        size_t nterm = l->nterms + n;

        if (nf > l->foldcap) {
            size_t ncap = grow_cap(l->foldcap, nf);

            RESIZE(l->fold_term, ncap);
            l->foldcap = ncap;
        }
        if (nt > l->tokcap) {
            size_t ncap = grow_cap(l->tokcap, nt);

            RESIZE(l->tok_next, ncap);
            RESIZE(l->tok_term, ncap);
            l->tokcap = ncap;
        }
        if (nterm > l->tcap) {
            size_t ncap = grow_cap(l->tcap, nterm);

            RESIZE(l->first, ncap);
            RESIZE(l->last, ncap);
            RESIZE(l->nid, ncap);
            RESIZE(l->tkey, ncap);
            l->tcap = ncap;
        }
    }
    return 0;
}

/* A new doc fold for layer-0 norm fold `nf`, of word w of the field being
 * added: its term in every layer.  doc_reserve made room for it. */
static long new_fold(struct text_doc *d, uint32_t nf, uint32_t sid0, const char *s,
                     const struct doc_word *w)
{
    struct text_norm *n0 = d->layers[0].norm;
    size_t f = d->nfolds;
    long term;

    term = layer_term(d, &d->layers[0], sid0);
    if (term < 0)
        return -1;
    d->layers[0].fold_term[f] = (uint32_t)term;
    for (size_t i = 1; i < d->nlayers; i++) {
        struct doc_layer *l = &d->layers[i];
        uint32_t fid, sid;

        /* the folded form is folded again (a no-op) by the other language */
        if (norm_ids(l->norm, n0->folds.arena + n0->fold_off[nf], n0->fold_len[nf], &fid,
                     &sid) < 0)
            return -1;
        term = layer_term(d, l, sid);
        if (term < 0)
            return -1;
        l->fold_term[f] = (uint32_t)term;
    }
    if (idmap_set(&d->foldmap, nf, (uint32_t)f, d->epoch) < 0)
        return -1;
    d->fnid[f] = nf;
    d->ffirst[f] = NO_INDEX;
    if (w->ascii) {
        /* an ASCII word folds to itself in lower case (as fold_word does):
         * no need to read the normaliser's copy */
        d->flen[f] = w->len;
        d->fpfx[f] = ascii_lower8(w->len <= L1_KEY ? w->k0 : pack8(s + w->off, w->len));
    } else {
        d->flen[f] = n0->fold_len[nf];
        d->fpfx[f] = pack8(n0->folds.arena + n0->fold_off[nf], n0->fold_len[nf]);
    }
    d->flast[f] = NO_INDEX;
    d->nfolds++;
    return (long)f;
}

/* Append word w (its ids interned) of the field being added as a token.
 * doc_reserve made room for it. */
static int doc_add_ids(struct text_doc *d, const char *s, const struct doc_word *w)
{
    struct doc_tok *t;
    uint32_t fold, idx;

    if (d->next_pos[d->cur_field] >= NO_INDEX - 1)
        return -1;
    fold = idmap_get(&d->foldmap, w->nf, d->epoch);
    if (fold == NO_INDEX) {
        long f = new_fold(d, w->nf, w->sid, s, w);

        if (f < 0)
            return -1;
        fold = (uint32_t)f;
    }
    idx = (uint32_t)d->ntok++;
    t = &d->tok[idx];
    t->fold = fold;
    t->fnext = NO_INDEX;
    t->pos = d->next_pos[d->cur_field]++;
    t->src = d->cur_src;
    t->off = w->off;
    t->len = w->len;
    t->field = d->cur_field;
    if (d->flast[fold] == NO_INDEX)
        d->ffirst[fold] = idx;
    else
        d->tok[d->flast[fold]].fnext = idx;
    d->flast[fold] = idx;
    for (size_t i = 0; i < d->nlayers; i++) {
        struct doc_layer *l = &d->layers[i];
        uint32_t term = l->fold_term[fold];

        l->tok_term[idx] = term;
        l->tok_next[idx] = NO_INDEX;
        if (l->last[term] == NO_INDEX)
            l->first[term] = idx;
        else
            l->tok_next[l->last[term]] = idx;
        l->last[term] = idx;
    }
    return 0;
}

/* Byte classes for the tokeniser: 0 separator, 1 ASCII letter or digit,
 * 2 not ASCII (decoded to decide). */
static const unsigned char byte_class[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0,
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0,
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
};

/* The end of a word that goes on at s[i] with a byte that is not ASCII (as
 * split_raw decides: letters, digits and marks continue a word). */
static size_t word_rest(const char *s, size_t len, size_t i)
{
    while (i < len) {
        unsigned char c = (unsigned char)s[i];

        if (c < 0x80) {
            if (byte_class[c] == 0)
                break;
            i++;
        } else {
            int32_t cp;
            size_t clen = text_utf8_next(s + i, len - i, &cp);

            if (cp < 0 || !(text_is_word_char(cp) || text_is_mark(cp)))
                break;
            i += clen;
        }
    }
    return i;
}

/* The word of wlen (1..16) bytes at s + off as k0, k1 (see hash16); s has
 * len bytes. */
static inline void word_key(const char *s, size_t len, size_t off, size_t wlen, uint64_t *k0,
                            uint64_t *k1)
{
    if (off + 16 <= len) {
        /* two loads; the bytes after the word are masked off */
        uint64_t a = load64_le(s + off), b = load64_le(s + off + 8);

        if (wlen < 8) {
            *k0 = a & ((1ull << (8 * wlen)) - 1);
            *k1 = 0;
        } else {
            *k0 = a;
            *k1 = wlen == 16 ? b : b & ((1ull << (8 * (wlen - 8))) - 1);
        }
    } else {
        *k0 = pack8(s + off, wlen);
        *k1 = wlen > 8 ? pack8(s + off + 8, wlen - 8) : 0;
    }
    assert(*k0 == pack8(s + off, wlen) && *k1 == (wlen > 8 ? pack8(s + off + 8, wlen - 8) : 0));
}

/* Split s[0..len) into d->wb as split_raw does, loading and hashing each
 * word on the way: ASCII runs are scanned with a table, only bytes that
 * are not ASCII are decoded.  0 or -1. */
static int doc_split(struct text_doc *d, const char *s, size_t len)
{
    size_t i = 0;

    d->nwb = 0;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        unsigned cls = byte_class[c];
        struct doc_word *w;
        size_t start, wlen;
        int ascii = 1;

        if (cls == 0) {
            i++;
            continue;
        }
        start = i;
        if (cls == 1) {
            i++;
            while (i < len && (cls = byte_class[(unsigned char)s[i]]) == 1)
                i++;
            if (i < len && cls == 2) {
                ascii = 0;
                i = word_rest(s, len, i);
            }
        } else {
            int32_t cp;
            size_t clen = text_utf8_next(s + i, len - i, &cp);

            i += clen;
            if (cp < 0 || !text_is_word_char(cp))
                continue; /* a mark, a symbol or an invalid byte */
            ascii = 0;
            i = word_rest(s, len, i);
        }
        wlen = i - start;
        if (start > UINT32_MAX || wlen > UINT32_MAX)
            return -1;
        if (d->nwb >= d->wbcap) {
            size_t ncap = grow_cap(d->wbcap, d->nwb + 1);

            RESIZE(d->wb, ncap);
            d->wbcap = ncap;
        }
        w = &d->wb[d->nwb++];
        w->off = (uint32_t)start;
        w->len = (uint32_t)wlen;
        w->ascii = (uint16_t)ascii;
        if (wlen <= L1_KEY) {
            word_key(s, len, start, wlen, &w->k0, &w->k1);
            w->hash = hash16(w->k0, w->k1, wlen);
        } else {
            w->k0 = 0;
            w->k1 = 0;
            w->hash = wlen <= CACHE_WORD_MAX ? text_hash(s + start, wlen) : 0;
        }
    }
    return 0;
}

/* How many words ahead the small word cache is prefetched (the loop that
 * reads it is short: a miss takes the time of many words). */
#define PREFETCH_AHEAD 24

/* Tokenise s[0..len) into the current field: split it into words (hashing
 * each), then intern them, then append the tokens, each stage fetching the
 * memory of words ahead (a rare word costs cache misses in the
 * normaliser's tables and the document's maps; this way they overlap).
 * Interning is in two passes: the first looks every word up in the
 * normaliser's small cache (which holds the common words) and starts
 * fetching the word-table slot of each word it does not hold, the second
 * looks those up, by then in cache; so the large table is only read, and
 * only brought into the caches, for the words that need it.  0 or -1. */
static int doc_add_words(struct text_doc *d, const char *s, size_t len)
{
    struct text_norm *n0 = d->layers[0].norm;
    /* words the filter drops are left out (one layer only: a word must be
     * kept when any layer's rules may name it) */
    int filtered = n0->keep != NULL && d->nlayers == 1;
    size_t n, npending = 0;

    if (doc_split(d, s, len) < 0)
        return -1;
    n = d->nwb;
    if (doc_reserve(d, n) < 0)
        return -1;
    for (size_t i = 0; i < n && i < PREFETCH_AHEAD; i++)
        if (d->wb[i].len <= L1_KEY)
            __builtin_prefetch(l1_slot_of(n0, d->wb[i].hash));
    for (size_t i = 0; i < n; i++) {
        struct doc_word *w = &d->wb[i];
        const struct l1_slot *c;

        if (i + PREFETCH_AHEAD < n && d->wb[i + PREFETCH_AHEAD].len <= L1_KEY)
            __builtin_prefetch(l1_slot_of(n0, d->wb[i + PREFETCH_AHEAD].hash));
        w->pending = 1;
        if (w->len != 0 && w->len <= L1_KEY) {
            c = l1_slot_of(n0, w->hash);
            if (l1_holds(c, w->len, w->k0, w->k1)) {
                w->nf = c->fid;
                w->keep = (uint8_t)(c->sid >> 31);
                w->sid = c->sid & ~KEEP_BIT;
                w->pending = 0;
                /* what a new term of the document copies (layer_term) */
                if (w->keep || !filtered)
                    __builtin_prefetch(&n0->skey[w->sid]);
            }
        }
        if (w->pending) {
            norm_prefetch_words(n0, w->len, w->hash);
            npending++;
        }
    }
    for (size_t i = 0; i < n && npending != 0; i++) {
        struct doc_word *w = &d->wb[i];

        if (!w->pending)
            continue;
        npending--;
        if (norm_ids_miss(n0, s + w->off, w->len, w->hash, w->k0, w->k1,
                          w->len != 0 && w->len <= L1_KEY ? l1_slot_of(n0, w->hash) : NULL,
                          &w->nf, &w->sid) < 0)
            return -1;
        w->keep = (uint8_t)(w->sid >> 31);
        w->sid &= ~KEEP_BIT;
        if (w->keep || !filtered)
            __builtin_prefetch(&n0->skey[w->sid]);
    }
    for (size_t i = 0; i < n; i++) {
        const struct doc_word *w = &d->wb[i];

        if (!w->keep && filtered) {
            /* no rule names it: only its position counts */
            if (d->next_pos[d->cur_field] >= NO_INDEX - 1)
                return -1;
            d->next_pos[d->cur_field]++;
            continue;
        }
        if (doc_add_ids(d, s, w) < 0)
            return -1;
    }
    return 0;
}

int text_doc_add_field_len(struct text_doc *d, int field, const char *utf8, size_t len)
{
    struct doc_source *s;

    if (field < 0 || field >= TEXT_FIELD_COUNT)
        return -1;
    if (utf8 == NULL || len == 0)
        return 0;
    if (len > UINT32_MAX - 1 || d->nsrc >= NO_INDEX - 1)
        return -1;
    if (d->nsrc >= d->srccap) {
        size_t ncap = grow_cap(d->srccap, d->nsrc + 1);

        RESIZE(d->src, ncap);
        d->srccap = ncap;
    }
    s = &d->src[d->nsrc];
    s->field = field;
    s->text = utf8;
    s->len = len;
    d->cur_src = (uint32_t)d->nsrc++;
    if (field == TEXT_FIELD_LINK)
        return 0;
    if (d->used[field]) {
        if (d->next_pos[field] > NO_INDEX - 2 - TEXT_SOURCE_GAP)
            return -1;
        d->next_pos[field] += TEXT_SOURCE_GAP;
    }
    d->used[field] = 1;
    d->cur_field = field;
    return doc_add_words(d, utf8, len);
}

int text_doc_add_field(struct text_doc *d, int field, const char *utf8)
{
    return text_doc_add_field_len(d, field, utf8, utf8 != NULL ? strlen(utf8) : 0);
}

int text_doc_add_item(struct text_doc *d, const struct item *it)
{
    const char *feed = it->feed_title != NULL && it->feed_title[0] != '\0' ? it->feed_title
                                                                           : it->feed;

    if (text_doc_add_field(d, TEXT_FIELD_TITLE, it->title) < 0 ||
        text_doc_add_field(d, TEXT_FIELD_SUMMARY, it->summary) < 0 ||
        text_doc_add_field(d, TEXT_FIELD_CONTENT, it->content) < 0 ||
        text_doc_add_field(d, TEXT_FIELD_AUTHOR, it->author) < 0)
        return -1;
    for (size_t i = 0; i < it->ncategories; i++)
        if (text_doc_add_field(d, TEXT_FIELD_CATEGORY, it->categories[i]) < 0)
            return -1;
    if (text_doc_add_field(d, TEXT_FIELD_FEED, feed) < 0 ||
        text_doc_add_field(d, TEXT_FIELD_LINK, it->link) < 0)
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
    const struct doc_layer *l = &d->layers[0];
    const struct text_norm *n = l->norm;
    uint32_t term = l->tok_term[i], sid = l->nid[term], nf = d->fnid[t->fold];

    out->stem = n->stems.arena + n->stem_off[sid];
    out->stem_len = n->stem_len[sid];
    out->folded = n->folds.arena + n->fold_off[nf];
    out->folded_len = n->fold_len[nf];
    out->term = term;
    out->fold = t->fold;
    out->pos = t->pos;
    out->field = t->field;
    out->src = t->src;
    out->off = t->off;
    out->len = t->len;
}

void text_doc_tok_pos(const struct text_doc *d, size_t i, int *field, uint32_t *pos)
{
    *field = d->tok[i].field;
    *pos = d->tok[i].pos;
}

const char *text_doc_tok_folded(const struct text_doc *d, size_t i, size_t *len)
{
    const struct text_norm *n = d->layers[0].norm;
    uint32_t nf = d->fnid[d->tok[i].fold];

    *len = n->fold_len[nf];
    return n->folds.arena + n->fold_off[nf];
}

size_t text_doc_nsources(const struct text_doc *d)
{
    return d->nsrc;
}

void text_doc_source(const struct text_doc *d, size_t i, int *field, const char **text,
                     size_t *len)
{
    *field = d->src[i].field;
    *text = d->src[i].text;
    *len = d->src[i].len;
}

long text_doc_layer_term_h(const struct text_doc *d, size_t layer, const char *stem, size_t len,
                           uint64_t h)
{
    const struct doc_layer *l;
    const struct text_norm *n;
    size_t mask;

    if (layer >= d->nlayers)
        return -1;
    l = &d->layers[layer];
    if (l->htcap == 0)
        return -1;
    n = l->norm;
    mask = l->htcap - 1;
    for (size_t i = (size_t)h & mask; l->ht[i].epoch == d->epoch; i = (i + 1) & mask) {
        uint32_t t = l->ht[i].term, sid;
        const struct stem_key *k = &l->tkey[t];

        if (l->ht[i].hash != h || k->len != len)
            continue;
        if (len <= 16) {
            /* compared with the document's copy of the stem's bytes: no
             * read of the normaliser's large tables */
            if (k->k0 == pack8(stem, len) && k->k1 == (len > 8 ? pack8(stem + 8, len - 8) : 0))
                return (long)t;
            continue;
        }
        sid = l->nid[t];
        if (memcmp(n->stems.arena + n->stem_off[sid], stem, len) == 0)
            return (long)t;
    }
    return -1;
}

long text_doc_layer_term(const struct text_doc *d, size_t layer, const char *stem, size_t len)
{
    return text_doc_layer_term_h(d, layer, stem, len, text_hash(stem, len));
}

long text_doc_layer_first(const struct text_doc *d, size_t layer, uint32_t term)
{
    uint32_t f = d->layers[layer].first[term];

    return f == NO_INDEX ? -1 : (long)f;
}

long text_doc_layer_next(const struct text_doc *d, size_t layer, long tok)
{
    uint32_t n = d->layers[layer].tok_next[tok];

    return n == NO_INDEX ? -1 : (long)n;
}

uint32_t text_doc_layer_tok_term(const struct text_doc *d, size_t layer, size_t tok)
{
    return d->layers[layer].tok_term[tok];
}

size_t text_doc_layer_nterms(const struct text_doc *d, size_t layer)
{
    return layer < d->nlayers ? d->layers[layer].nterms : 0;
}

const char *text_doc_layer_stem(const struct text_doc *d, size_t layer, size_t i, size_t *len,
                                uint64_t *hash)
{
    const struct doc_layer *l = &d->layers[layer];
    uint32_t sid = l->nid[i];

    *len = l->tkey[i].len;
    if (hash != NULL)
        *hash = l->tkey[i].hash;
    return l->norm->stems.arena + l->norm->stem_off[sid];
}

long text_doc_find(const struct text_doc *d, const char *stem, size_t len)
{
    long t = text_doc_layer_term(d, 0, stem, len);

    return t < 0 ? -1 : text_doc_layer_first(d, 0, (uint32_t)t);
}

long text_doc_next(const struct text_doc *d, long tok)
{
    return text_doc_layer_next(d, 0, tok);
}

uint32_t text_doc_layer_term_nid(const struct text_doc *d, size_t layer, size_t term)
{
    return d->layers[layer].nid[term];
}

const struct text_norm *text_doc_layer_norm(const struct text_doc *d, size_t layer)
{
    return d->layers[layer].norm;
}

uint32_t text_doc_fold_nid(const struct text_doc *d, size_t i)
{
    return d->fnid[i];
}

size_t text_doc_nfolds(const struct text_doc *d)
{
    return d->nfolds;
}

const char *text_doc_fold(const struct text_doc *d, size_t i, size_t *len, long *first)
{
    const struct text_norm *n = d->layers[0].norm;
    uint32_t nf = d->fnid[i];

    *len = n->fold_len[nf];
    *first = d->ffirst[i] == NO_INDEX ? -1 : (long)d->ffirst[i];
    return n->folds.arena + n->fold_off[nf];
}

long text_doc_fold_first(const struct text_doc *d, size_t i)
{
    return d->ffirst[i] == NO_INDEX ? -1 : (long)d->ffirst[i];
}

int text_doc_fold_has_prefix(const struct text_doc *d, size_t i, const char *pfx, size_t n)
{
    static const char ones[8] = {-1, -1, -1, -1, -1, -1, -1, -1};
    const struct text_norm *nm;
    uint32_t nf;

    if (n > d->flen[i] || ((d->fpfx[i] ^ pack8(pfx, n)) & pack8(ones, n)) != 0)
        return 0;
    if (n <= 8)
        return 1;
    nm = d->layers[0].norm;
    nf = d->fnid[i];
    return memcmp(nm->folds.arena + nm->fold_off[nf], pfx, n) == 0;
}

long text_doc_fold_find_prefix(const struct text_doc *d, size_t from, const char *pfx, size_t n)
{
    static const char ones[8] = {-1, -1, -1, -1, -1, -1, -1, -1};
    uint64_t want = pack8(pfx, n), mask = pack8(ones, n);

    for (size_t i = from; i < d->nfolds; i++) {
        if (((d->fpfx[i] ^ want) & mask) != 0 || n > d->flen[i])
            continue;
        if (n <= 8 || text_doc_fold_has_prefix(d, i, pfx, n))
            return (long)i;
    }
    return -1;
}

size_t text_doc_tok_fold(const struct text_doc *d, size_t i)
{
    return d->tok[i].fold;
}

long text_doc_fold_next(const struct text_doc *d, long tok)
{
    uint32_t n = d->tok[tok].fnext;

    return n == NO_INDEX ? -1 : (long)n;
}
