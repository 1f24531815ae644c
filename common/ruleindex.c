/*
 * ruleindex.c - an index of rules by the terms they need (see ruleindex.h).
 *
 * Keys are byte strings: one byte for the layer (the rule's language), one
 * for the kind ('s' a stem, 'p' a folded prefix), then the term.  They live
 * in one arena with an open-addressing table of key ids; the postings
 * (rule numbers per key) are one array in CSR form, built with a counting
 * sort once all (key, rule) pairs are known.  A query looks up each
 * distinct stem of each layer of the document (and each prefix length in
 * use of each distinct folded word), lists the rules filed under them,
 * adds the "always" list, sorts and drops the rules listed twice.
 *
 * A rule is filed under the keys of one requirement (its rarest word, or
 * the words of an OR group); its postings also name a second requirement
 * (another word it needs, or an OR group of which it needs one word), and
 * the rule is listed only when the document hit that too: the document's
 * keys are known (a bit each in the scratch) before any posting is read.
 */
#include "ruleindex.h"

#include <stdlib.h>
#include <string.h>

#define KEY_MAX 512  /* longer terms are not indexed */
#define NO_KEY UINT32_MAX
#define KEY2_GROUP 0x80000000u /* a posting's key2: an offset in groups, not a key */
#define PREFIX_LEN_MAX 64 /* longer prefixes are filed under their first 64 bytes */

struct ix_slot {
    uint64_t hash;
    uint32_t id;
};

/* A posting: the rule, and its second requirement (key2): NO_KEY when it
 * has none, a key id when it needs one more word (or prefix), KEY2_GROUP |
 * an offset in groups when it needs one of several (an OR group).  A rule
 * filed under its rarest word is listed as a candidate only when the
 * document also holds its second requirement. */
struct ix_post {
    uint32_t rule, key2;
};

struct ruleindex {
    /* keys */
    char *arena;
    size_t alen, acap;
    uint32_t *koff, *klen, *kcount; /* per key: arena offset, length, rule-side count */
    uint64_t *khash;
    size_t nkeys, kcap;
    struct ix_slot *slots; /* id NO_KEY: empty */
    size_t nslots;         /* a power of two */
    /* postings */
    uint32_t *pstart; /* nkeys + 1 */
    struct ix_post *post;
    size_t npost;
    uint32_t *always;
    size_t nalways;
    uint32_t *groups; /* second requirements of several keys: a count, then the key ids */
    size_t ngroups;
    size_t nrules;
    uint64_t prefix_lens; /* bit l-1: some prefix key has l bytes (l <= 64) */
    size_t max_layer;     /* highest layer of a stem key, plus one */
    /* the vocabulary: every word of every rule, positive or not, as keys of
     * kind 'v' (a stem, by layer) and 'w' (a prefix, at most 64 bytes) */
    uint64_t vocab_prefix_lens; /* as prefix_lens, for 'w' keys */
    size_t vocab_layers;        /* highest layer of a 'v' key, plus one */
    int vocab_all;              /* some word could not be filed: keep every word */
};

/* What the index holds for the words a worker has seen, by the
 * normaliser's ids (so a word costs one array read after its first
 * document): 0 unknown, 1 nothing, k + 2 key id k (stems; for prefixes,
 * the one prefix key the word starts with), MEMO_POOL | k pool offset k
 * (prefixes, when the word starts with several: pool[k] is a count, then
 * that many key ids). */
struct memo {
    uint32_t *v;
    size_t cap;
    unsigned gen;
};

#define MEMO_LAYERS 64
#define MEMO_POOL 0x80000000u
#define MEMO_AHEAD 8 /* terms looked up ahead */

struct ruleindex_scratch {
    uint32_t *cand;
    size_t ncand, cap;
    size_t nrules;
    struct memo stems[MEMO_LAYERS];
    struct memo folds;
    uint32_t *pool;
    size_t npool, poolcap;
    uint32_t *keys; /* the keys the document hit, before their postings are read */
    size_t nkeys, keycap;
    uint32_t *tmp;  /* cap entries: the radix sort's other half */
    size_t tmpcap;
    uint64_t *hit;  /* bit k: the document hit key k (cleared by the next query) */
    size_t hitcap;  /* in 64-bit words */
};

/* A key's hash: the word's text_hash (so a document's stems need no
 * hashing again), salted by layer and kind. */
static uint64_t key_hash(unsigned layer, char kind, uint64_t word_hash)
{
    uint64_t salt = kind == 'p'   ? 0xC2B2AE3D27D4EB4Full
                    : kind == 'w' ? 0x165667B19E3779F9ull
                                  : ((uint64_t)layer + 1) * 0x9E3779B97F4A7C15ull;

    return word_hash ^ (kind == 'v' ? salt * 3 : salt);
}

static long key_find(const struct ruleindex *ix, unsigned layer, char kind, const char *w,
                     size_t len, uint64_t h)
{
    size_t mask = ix->nslots - 1;

    if (ix->nslots == 0)
        return -1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        const struct ix_slot *sl = &ix->slots[i];
        const char *k;

        if (sl->id == NO_KEY)
            return -1;
        if (sl->hash != h || ix->klen[sl->id] != len + 2)
            continue;
        k = ix->arena + ix->koff[sl->id];
        if ((unsigned char)k[0] == (layer & 0xff) && k[1] == kind && memcmp(k + 2, w, len) == 0)
            return (long)sl->id;
    }
}

static int slots_grow(struct ruleindex *ix)
{
    size_t n = ix->nslots != 0 ? ix->nslots * 2 : 1024;
    struct ix_slot *s = malloc(n * sizeof(*s));

    if (s == NULL)
        return -1;
    for (size_t i = 0; i < n; i++)
        s[i].id = NO_KEY;
    for (size_t id = 0; id < ix->nkeys; id++) {
        size_t i;

        for (i = (size_t)ix->khash[id] & (n - 1); s[i].id != NO_KEY; i = (i + 1) & (n - 1))
            ;
        s[i].id = (uint32_t)id;
        s[i].hash = ix->khash[id];
    }
    free(ix->slots);
    ix->slots = s;
    ix->nslots = n;
    return 0;
}

#define RESIZE(arr, ncap)                                                                      \
    do {                                                                                       \
        void *np_ = realloc((arr), (ncap) * sizeof(*(arr)));                                   \
        if (np_ == NULL)                                                                       \
            return -1;                                                                         \
        (arr) = np_;                                                                           \
    } while (0)

/* Append v to the growable array *a (*n used of *cap; the first
 * allocation holds `first`).  0, or -1 when out of memory. */
static inline int u32_push(uint32_t **a, size_t *n, size_t *cap, size_t first, uint32_t v)
{
    if (*n == *cap) {
        size_t ncap = *cap != 0 ? *cap * 2 : first;
        uint32_t *na = realloc(*a, ncap * sizeof(*na));

        if (na == NULL)
            return -1;
        *a = na;
        *cap = ncap;
    }
    (*a)[(*n)++] = v;
    return 0;
}

/* The id of key (layer, kind, w) (added when new); -1 when out of memory. */
static long key_intern(struct ruleindex *ix, unsigned layer, char kind, const char *w,
                       size_t len)
{
    uint64_t h = key_hash(layer, kind, text_hash(w, len));
    long id = key_find(ix, layer, kind, w, len, h);
    size_t i;

    if (id >= 0)
        return id;
    if ((ix->nkeys + 1) * 2 > ix->nslots && slots_grow(ix) < 0)
        return -1;
    if (ix->nkeys == ix->kcap) {
        size_t ncap = ix->kcap != 0 ? ix->kcap * 2 : 1024;

        RESIZE(ix->koff, ncap);
        RESIZE(ix->klen, ncap);
        RESIZE(ix->kcount, ncap);
        RESIZE(ix->khash, ncap);
        ix->kcap = ncap;
    }
    if (ix->alen + len + 2 > ix->acap) {
        size_t ncap = ix->acap != 0 ? ix->acap : 4096;

        while (ncap < ix->alen + len + 2)
            ncap *= 2;
        RESIZE(ix->arena, ncap);
        ix->acap = ncap;
    }
    if (ix->alen + len + 2 > UINT32_MAX || ix->nkeys >= KEY2_GROUP - 1)
        return -1;
    ix->arena[ix->alen] = (char)(layer & 0xff);
    ix->arena[ix->alen + 1] = kind;
    memcpy(ix->arena + ix->alen + 2, w, len);
    ix->koff[ix->nkeys] = (uint32_t)ix->alen;
    ix->klen[ix->nkeys] = (uint32_t)(len + 2);
    ix->kcount[ix->nkeys] = 0;
    ix->khash[ix->nkeys] = h;
    ix->alen += len + 2;
    for (i = (size_t)h & (ix->nslots - 1); ix->slots[i].id != NO_KEY;
         i = (i + 1) & (ix->nslots - 1))
        ;
    ix->slots[i].id = (uint32_t)ix->nkeys;
    ix->slots[i].hash = h;
    return (long)ix->nkeys++;
}

/* The key of word k of a TERM: sets *layer, *kind, *len; returns the word,
 * or NULL when it is too long to index. */
static const char *term_key(const struct rule_expr *e, size_t k, unsigned *layer, char *kind,
                            size_t *len)
{
    const char *w = e->words[k];
    int pfx = e->prefix != NULL && e->prefix[k];

    *len = strlen(w);
    if (pfx && *len > PREFIX_LEN_MAX)
        *len = PREFIX_LEN_MAX; /* a shorter prefix still must occur */
    if (*len + 2 > KEY_MAX)
        return NULL;
    *layer = pfx ? 0 : (unsigned)(e->layer & 0xff);
    *kind = pfx ? 'p' : 's';
    return w;
}

/* File every word of e, positive or not, in the vocabulary; 0 or -1. */
static int add_vocab(struct ruleindex *ix, const struct rule_expr *e)
{
    if (e->kind == RULE_TERM) {
        for (size_t k = 0; k < e->nwords; k++) {
            unsigned layer;
            char kind;
            size_t len;
            const char *w = term_key(e, k, &layer, &kind, &len);

            if (w == NULL) {
                ix->vocab_all = 1;
                continue;
            }
            if (key_intern(ix, layer, kind == 'p' ? 'w' : 'v', w, len) < 0)
                return -1;
            if (kind == 'p')
                ix->vocab_prefix_lens |= 1ull << (len - 1);
            else if ((size_t)layer + 1 > ix->vocab_layers)
                ix->vocab_layers = (size_t)layer + 1;
        }
        return 0;
    }
    for (size_t i = 0; i < e->nkids; i++)
        if (add_vocab(ix, e->kids[i]) < 0)
            return -1;
    return 0;
}

int ruleindex_keeps(const struct ruleindex *ix, size_t layer, const char *stem, size_t slen,
                    const char *folded, size_t flen)
{
    if (ix->vocab_all)
        return 1;
    if (layer < ix->vocab_layers && slen + 2 <= KEY_MAX &&
        key_find(ix, (unsigned)layer, 'v', stem, slen,
                 key_hash((unsigned)layer, 'v', text_hash(stem, slen))) >= 0)
        return 1;
    for (size_t l = 1; l <= flen && l <= PREFIX_LEN_MAX; l++)
        if ((ix->vocab_prefix_lens & (1ull << (l - 1))) != 0 &&
            key_find(ix, 0, 'w', folded, l, key_hash(0, 'w', text_hash(folded, l))) >= 0)
            return 1;
    return 0;
}

/* Pass 1: count how many rules use each positive word. */
static int count_terms(struct ruleindex *ix, const struct rule_expr *e)
{
    switch (e->kind) {
    case RULE_TERM:
        for (size_t k = 0; k < e->nwords; k++) {
            unsigned layer;
            char kind;
            size_t len;
            const char *w = term_key(e, k, &layer, &kind, &len);
            long id;

            if (w == NULL)
                continue;
            id = key_intern(ix, layer, kind, w, len);
            if (id < 0)
                return -1;
            ix->kcount[id]++;
        }
        return 0;
    case RULE_NOT:
    case RULE_REGEX:
    case RULE_SUBSTR:
        return 0;
    default:
        for (size_t i = 0; i < e->nkids; i++)
            if (count_terms(ix, e->kids[i]) < 0)
                return -1;
        return 0;
    }
}

struct keyvec {
    uint32_t *v;
    size_t n, cap;
};

static int kv_push(struct keyvec *kv, uint32_t id)
{
    if (kv->n == kv->cap) {
        size_t ncap = kv->cap != 0 ? kv->cap * 2 : 8;

        RESIZE(kv->v, ncap);
        kv->cap = ncap;
    }
    kv->v[kv->n++] = id;
    return 0;
}

/* The keys that e needs, into kv (appended), with their cost (the sum of
 * their rule-side counts).  Returns 1 when e is indexable, 0 when it is not
 * (kv unchanged), -1 when out of memory. */
static int required(struct ruleindex *ix, const struct rule_expr *e, struct keyvec *kv,
                    double *cost)
{
    size_t mark = kv->n;

    switch (e->kind) {
    case RULE_TERM: {
        long best = -1;
        double bestc = 0;
        int best_pfx = 1;

        for (size_t k = 0; k < e->nwords; k++) {
            unsigned layer;
            char kind;
            size_t len;
            const char *w = term_key(e, k, &layer, &kind, &len);
            int pfx = kind == 'p';
            long id;
            double c;

            if (w == NULL)
                continue;
            id = key_find(ix, layer, kind, w, len, key_hash(layer, kind, text_hash(w, len)));
            if (id < 0)
                return -1; /* counted in pass 1: cannot happen but OOM */
            /* a word beats a prefix; then the cheaper: used by fewer rules
             * and longer (long words are rarer in text, as Lucene Monitor's
             * term weighting assumes too) */
            c = ((double)ix->kcount[id] + 1.0) / (double)(len * len) + (pfx ? 1e12 : 0);
            if (best < 0 || c < bestc) {
                best = id;
                bestc = c;
                best_pfx = pfx;
            }
        }
        (void)best_pfx;
        if (best < 0)
            return 0;
        if (kv_push(kv, (uint32_t)best) < 0)
            return -1;
        *cost = bestc;
        return 1;
    }
    case RULE_NEAR: {
        double c0 = 0, c1 = 0;
        int r0, r1;
        struct keyvec tmp = {0};

        r0 = required(ix, e->kids[0], kv, &c0);
        if (r0 < 0)
            return -1;
        r1 = required(ix, e->kids[1], &tmp, &c1);
        if (r1 < 0) {
            free(tmp.v);
            return -1;
        }
        if (r1 == 1 && (r0 == 0 || c1 < c0)) {
            kv->n = mark;
            for (size_t i = 0; i < tmp.n; i++)
                if (kv_push(kv, tmp.v[i]) < 0) {
                    free(tmp.v);
                    return -1;
                }
            c0 = c1;
            r0 = 1;
        }
        free(tmp.v);
        *cost = c0;
        return r0;
    }
    case RULE_AND: {
        struct keyvec best = {0}, tmp = {0};
        double bestc = 0;
        int have = 0;

        for (size_t i = 0; i < e->nkids; i++) {
            double c = 0;
            int r;

            tmp.n = 0;
            r = required(ix, e->kids[i], &tmp, &c);
            if (r < 0) {
                free(best.v);
                free(tmp.v);
                return -1;
            }
            if (r == 1 && (!have || c < bestc)) {
                struct keyvec sw = best;

                best = tmp;
                tmp = sw;
                bestc = c;
                have = 1;
            }
        }
        free(tmp.v);
        if (!have) {
            free(best.v);
            return 0;
        }
        for (size_t i = 0; i < best.n; i++)
            if (kv_push(kv, best.v[i]) < 0) {
                free(best.v);
                return -1;
            }
        free(best.v);
        *cost = bestc;
        return 1;
    }
    case RULE_OR: {
        double total = 0;

        for (size_t i = 0; i < e->nkids; i++) {
            double c = 0;
            int r = required(ix, e->kids[i], kv, &c);

            if (r <= 0) {
                kv->n = mark;
                return r;
            }
            total += c;
        }
        *cost = total;
        return 1;
    }
    case RULE_NOT:
    case RULE_REGEX:
    case RULE_SUBSTR:
        return 0;
    }
    return 0;
}

void ruleindex_free(struct ruleindex **pix)
{
    struct ruleindex *ix;

    if (pix == NULL || *pix == NULL)
        return;
    ix = *pix;
    free(ix->arena);
    free(ix->koff);
    free(ix->klen);
    free(ix->kcount);
    free(ix->khash);
    free(ix->slots);
    free(ix->pstart);
    free(ix->post);
    free(ix->always);
    free(ix->groups);
    free(ix);
    *pix = NULL;
}

struct pair {
    uint32_t key, rule, key2;
};

/* The cost of key id as a requirement, as `required` weighs a word: used
 * by fewer rules and longer is rarer; a prefix only when nothing else. */
static double key_cost(const struct ruleindex *ix, uint32_t id)
{
    size_t len = ix->klen[id] - 2;

    return ((double)ix->kcount[id] + 1.0) / (double)(len * len) +
           (ix->arena[ix->koff[id] + 1] == 'p' ? 1e12 : 0);
}

/* Whether the candidate loop looks key id up in every document (a stem of a
 * memoised layer, or a prefix of at most PREFIX_LEN_MAX bytes). */
static int key_checkable(const struct ruleindex *ix, uint32_t id)
{
    const char *k = ix->arena + ix->koff[id];

    return k[1] == 'p' ? ix->klen[id] - 2 <= PREFIX_LEN_MAX
                       : (k[1] == 's' && (unsigned char)k[0] < MEMO_LAYERS);
}

/* The requirements of e, appended to g as groups [n, key ids...]: e cannot
 * match unless the document holds one of the keys of each group.  Every
 * word of a TERM is a group of one, an AND or a NEAR has the groups of
 * its children, an OR the one group `required` files it under; nothing
 * under NOT, a regex or a substring.  0 or -1. */
static int necessary(struct ruleindex *ix, const struct rule_expr *e, struct keyvec *g)
{
    switch (e->kind) {
    case RULE_TERM:
        for (size_t k = 0; k < e->nwords; k++) {
            unsigned layer;
            char kind;
            size_t len;
            const char *w = term_key(e, k, &layer, &kind, &len);
            long id;

            if (w == NULL)
                continue;
            id = key_find(ix, layer, kind, w, len, key_hash(layer, kind, text_hash(w, len)));
            if (id >= 0 && (kv_push(g, 1) < 0 || kv_push(g, (uint32_t)id) < 0))
                return -1;
        }
        return 0;
    case RULE_AND:
    case RULE_NEAR:
        for (size_t i = 0; i < e->nkids; i++)
            if (necessary(ix, e->kids[i], g) < 0)
                return -1;
        return 0;
    case RULE_OR: {
        size_t at = g->n;
        double cost = 0;
        int r;

        if (kv_push(g, 0) < 0)
            return -1;
        r = required(ix, e, g, &cost);
        if (r < 0)
            return -1;
        if (r == 0 || g->n - at - 1 > UINT32_MAX)
            g->n = at;
        else
            g->v[at] = (uint32_t)(g->n - at - 1);
        return 0;
    }
    case RULE_NOT:
    case RULE_REGEX:
    case RULE_SUBSTR:
        return 0;
    }
    return 0;
}

/* The second requirement of a rule filed under the keys `filed`: the
 * cheapest group of g (see `necessary`) that shares no key with them and
 * that the candidate loop can check, or NULL; sets *ng to its size. */
static const uint32_t *second_group(const struct ruleindex *ix, const struct keyvec *filed,
                                    const struct keyvec *g, size_t *ng)
{
    const uint32_t *best = NULL;
    double bestc = 0;

    for (size_t at = 0; at < g->n; at += 1 + g->v[at]) {
        const uint32_t *grp = g->v + at + 1;
        size_t n = g->v[at];
        double c = 0;
        int ok = n > 0;

        for (size_t i = 0; i < n && ok; i++) {
            ok = key_checkable(ix, grp[i]);
            for (size_t k = 0; k < filed->n && ok; k++)
                ok = filed->v[k] != grp[i];
            c += key_cost(ix, grp[i]);
        }
        if (ok && (best == NULL || c < bestc)) {
            best = grp;
            bestc = c;
            *ng = n;
        }
    }
    return best;
}

static int pairs_push(struct pair **p, size_t *n, size_t *cap, uint32_t key, uint32_t rule,
                      uint32_t key2)
{
    if (*n == *cap) {
        size_t ncap = *cap != 0 ? *cap * 2 : 1024;
        struct pair *np = realloc(*p, ncap * sizeof(*np));

        if (np == NULL)
            return -1;
        *p = np;
        *cap = ncap;
    }
    (*p)[*n].key = key;
    (*p)[*n].rule = rule;
    (*p)[*n].key2 = key2;
    (*n)++;
    return 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

struct ruleindex *ruleindex_build(const struct rule_expr *const *exprs, size_t n)
{
    return ruleindex_build_vocab(exprs, n, NULL, 0);
}

struct ruleindex *ruleindex_build_vocab(const struct rule_expr *const *exprs, size_t n,
                                        const struct rule_expr *const *more, size_t nmore)
{
    struct ruleindex *ix = calloc(1, sizeof(*ix));
    struct pair *pairs = NULL;
    size_t npairs = 0, pcap = 0, acap = 0, gcap = 0;
    struct keyvec kv = {0}, nec = {0};

    if (ix == NULL || n >= UINT32_MAX)
        goto nomem;
    ix->nrules = n;
    for (size_t i = 0; i < n; i++)
        if (exprs[i] != NULL && count_terms(ix, exprs[i]) < 0)
            goto nomem;
    for (size_t i = 0; i < n; i++)
        if (exprs[i] != NULL && add_vocab(ix, exprs[i]) < 0)
            goto nomem;
    for (size_t i = 0; i < nmore; i++)
        if (more[i] != NULL && add_vocab(ix, more[i]) < 0)
            goto nomem;
    for (size_t i = 0; i < n; i++) {
        double cost = 0;
        uint32_t key2;
        int r;

        if (exprs[i] == NULL)
            continue;
        kv.n = 0;
        r = required(ix, exprs[i], &kv, &cost);
        if (r < 0)
            goto nomem;
        if (r == 0) {
            if (ix->nalways == acap) {
                size_t ncap = acap != 0 ? acap * 2 : 64;
                uint32_t *na = realloc(ix->always, ncap * sizeof(*na));

                if (na == NULL)
                    goto nomem;
                ix->always = na;
                acap = ncap;
            }
            ix->always[ix->nalways++] = (uint32_t)i;
            continue;
        }
        /* an OR may name the same key twice: file the rule once per key */
        qsort(kv.v, kv.n, sizeof(*kv.v), cmp_u32);
        nec.n = 0;
        if (necessary(ix, exprs[i], &nec) < 0)
            goto nomem;
        key2 = NO_KEY;
        {
            size_t ng = 0;
            const uint32_t *grp = second_group(ix, &kv, &nec, &ng);

            if (grp != NULL && ng == 1) {
                key2 = grp[0];
            } else if (grp != NULL) {
                /* a group of several: key2 is its offset in ix->groups */
                if (ix->ngroups + 1 + ng >= KEY2_GROUP)
                    goto nomem;
                key2 = KEY2_GROUP | (uint32_t)ix->ngroups;
                if (u32_push(&ix->groups, &ix->ngroups, &gcap, 256, (uint32_t)ng) < 0)
                    goto nomem;
                for (size_t k = 0; k < ng; k++)
                    if (u32_push(&ix->groups, &ix->ngroups, &gcap, 256, grp[k]) < 0)
                        goto nomem;
            }
            for (size_t k = 0; grp != NULL && k < ng; k++) {
                const char *kk = ix->arena + ix->koff[grp[k]];

                if (kk[1] == 'p')
                    ix->prefix_lens |= 1ull << (ix->klen[grp[k]] - 2 - 1);
                else if ((size_t)(unsigned char)kk[0] + 1 > ix->max_layer)
                    ix->max_layer = (size_t)(unsigned char)kk[0] + 1;
            }
        }
        for (size_t k = 0; k < kv.n; k++) {
            uint32_t id = kv.v[k];

            if (k > 0 && kv.v[k - 1] == id)
                continue;
            if (pairs_push(&pairs, &npairs, &pcap, id, (uint32_t)i, key2) < 0)
                goto nomem;
            if (ix->arena[ix->koff[id] + 1] == 'p') {
                size_t l = ix->klen[id] - 2;

                ix->prefix_lens |= 1ull << (l - 1);
            } else if ((size_t)(unsigned char)ix->arena[ix->koff[id]] + 1 > ix->max_layer) {
                ix->max_layer = (size_t)(unsigned char)ix->arena[ix->koff[id]] + 1;
            }
        }
    }
    free(kv.v);
    kv.v = NULL;
    free(nec.v);
    nec.v = NULL;
    /* CSR: count per key, prefix sums, place (pairs are in rule order, so
     * each posting list comes out sorted) */
    ix->pstart = calloc(ix->nkeys + 1, sizeof(*ix->pstart));
    ix->post = malloc((npairs != 0 ? npairs : 1) * sizeof(*ix->post));
    if (ix->pstart == NULL || ix->post == NULL)
        goto nomem;
    for (size_t i = 0; i < npairs; i++)
        ix->pstart[pairs[i].key + 1]++;
    for (size_t k = 0; k < ix->nkeys; k++)
        ix->pstart[k + 1] += ix->pstart[k];
    {
        uint32_t *fill = malloc((ix->nkeys != 0 ? ix->nkeys : 1) * sizeof(*fill));

        if (fill == NULL)
            goto nomem;
        memcpy(fill, ix->pstart, ix->nkeys * sizeof(*fill));
        for (size_t i = 0; i < npairs; i++) {
            struct ix_post *ps = &ix->post[fill[pairs[i].key]++];

            ps->rule = pairs[i].rule;
            ps->key2 = pairs[i].key2;
        }
        free(fill);
    }
    ix->npost = npairs;
    free(pairs);
    free(ix->kcount); /* only needed while filing */
    ix->kcount = NULL;
    return ix;
nomem:
    free(kv.v);
    free(nec.v);
    free(pairs);
    ruleindex_free(&ix);
    return NULL;
}

struct ruleindex_scratch *ruleindex_scratch_new(const struct ruleindex *ix)
{
    struct ruleindex_scratch *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    s->nrules = ix->nrules;
    return s;
}

void ruleindex_scratch_free(struct ruleindex_scratch **ps)
{
    if (ps == NULL || *ps == NULL)
        return;
    for (size_t i = 0; i < MEMO_LAYERS; i++)
        free((*ps)->stems[i].v);
    free((*ps)->folds.v);
    free((*ps)->pool);
    free((*ps)->cand);
    free((*ps)->keys);
    free((*ps)->tmp);
    free((*ps)->hit);
    free(*ps);
    *ps = NULL;
}

static int add_postings(const struct ruleindex *ix, struct ruleindex_scratch *s, long id)
{
    uint32_t from = ix->pstart[id], to = ix->pstart[id + 1];

    if (to == from)
        return 0;
    if (s->ncand + (to - from) > s->cap) {
        size_t ncap = s->cap != 0 ? s->cap : 256;
        uint32_t *nc;

        while (ncap < s->ncand + (to - from))
            ncap *= 2;
        nc = realloc(s->cand, ncap * sizeof(*nc));
        if (nc == NULL)
            return -1;
        s->cand = nc;
        s->cap = ncap;
    }
    /* a rule filed under several of the document's keys is listed more
     * than once here: sort_cand drops the copies.  A rule whose second key
     * the document does not hold cannot match: it is not listed. */
    for (uint32_t p = from; p < to; p++) {
        const struct ix_post *ps = &ix->post[p];
        uint32_t k2 = ps->key2;
        int keep;

        if (k2 == NO_KEY) {
            keep = 1;
        } else if ((k2 & KEY2_GROUP) == 0) {
            keep = (s->hit[k2 >> 6] >> (k2 & 63) & 1) != 0;
        } else {
            const uint32_t *g = ix->groups + (k2 & ~KEY2_GROUP);

            keep = 0;
            for (uint32_t i = 1; i <= g[0] && !keep; i++)
                keep = (s->hit[g[i] >> 6] >> (g[i] & 63) & 1) != 0;
        }
        s->cand[s->ncand] = ps->rule;
        s->ncand += (size_t)keep;
    }
    return 0;
}

/* Keep one of each run of equal numbers of the sorted candidates. */
static void unique_cand(struct ruleindex_scratch *s)
{
    size_t n = s->ncand, k = 0;

    for (size_t i = 0; i < n; i++)
        if (k == 0 || s->cand[i] != s->cand[k - 1])
            s->cand[k++] = s->cand[i];
    s->ncand = k;
}

/* Sort the candidates (rule numbers, some listed more than once) in
 * increasing order and drop the copies: an insertion sort for a few, else a
 * least-significant-digit radix sort by bytes, skipping the high bytes no
 * rule number uses.  (Sorting copies away costs less than marking each
 * rule as seen: the marks are an array as large as the rule set, read at
 * random.)  0 or -1. */
static int sort_cand(struct ruleindex_scratch *s)
{
    uint32_t *a = s->cand, *b;
    size_t n = s->ncand, passes = 0;

    if (n <= 32) {
        for (size_t i = 1; i < n; i++) {
            uint32_t v = a[i];
            size_t j = i;

            for (; j > 0 && a[j - 1] > v; j--)
                a[j] = a[j - 1];
            a[j] = v;
        }
        unique_cand(s);
        return 0;
    }
    if (s->tmpcap < n) {
        uint32_t *nt = realloc(s->tmp, s->cap * sizeof(*nt));

        if (nt == NULL)
            return -1;
        s->tmp = nt;
        s->tmpcap = s->cap;
    }
    b = s->tmp;
    for (size_t r = s->nrules; r > 0 && passes < 4; r >>= 8)
        passes++;
    for (size_t p = 0; p < passes; p++) {
        size_t count[257] = {0};
        unsigned shift = (unsigned)(8 * p);
        uint32_t *t;

        for (size_t i = 0; i < n; i++)
            count[((a[i] >> shift) & 0xff) + 1]++;
        for (size_t k = 1; k < 257; k++)
            count[k] += count[k - 1];
        for (size_t i = 0; i < n; i++)
            b[count[(a[i] >> shift) & 0xff]++] = a[i];
        t = a;
        a = b;
        b = t;
    }
    if (a != s->cand) {
        /* an odd number of passes: the result is in tmp; swap the buffers */
        s->tmp = s->cand;
        s->cand = a;
        {
            size_t c = s->tmpcap;

            s->tmpcap = s->cap;
            s->cap = c;
        }
    }
    unique_cand(s);
    return 0;
}

/* Note that the document hit key id (its postings are added once all keys
 * are known, so that their cache misses overlap).  0 or -1. */
static int key_push(const struct ruleindex *ix, struct ruleindex_scratch *s, uint32_t id)
{
    if (u32_push(&s->keys, &s->nkeys, &s->keycap, 256, id) != 0)
        return -1;
    s->hit[id >> 6] |= 1ull << (id & 63);
    __builtin_prefetch(&ix->pstart[id]);
    return 0;
}

/* The memo entry for id in m (grown and reset as needed); NULL on ENOMEM. */
static uint32_t *memo_at(struct memo *m, uint32_t id, unsigned gen)
{
    if (m->gen != gen) {
        if (m->cap != 0)
            memset(m->v, 0, m->cap * sizeof(*m->v));
        m->gen = gen;
    }
    if (id >= m->cap) {
        size_t ncap = m->cap != 0 ? m->cap : 1024;
        uint32_t *nv;

        while (ncap <= id)
            ncap *= 2;
        nv = realloc(m->v, ncap * sizeof(*nv));
        if (nv == NULL)
            return NULL;
        memset(nv + m->cap, 0, (ncap - m->cap) * sizeof(*nv));
        m->v = nv;
        m->cap = ncap;
    }
    return &m->v[id];
}

static int pool_push(struct ruleindex_scratch *s, uint32_t v)
{
    return u32_push(&s->pool, &s->npool, &s->poolcap, 1024, v);
}

/* The memo value of the prefix keys that fold `fo` starts with: 1 when
 * none, 2 + its id for one, MEMO_POOL | the pool offset of several; 0
 * when out of memory. */
static uint32_t prefix_keys(const struct ruleindex *ix, struct ruleindex_scratch *s,
                            const char *fo, size_t flen)
{
    size_t at = s->npool, n = 0;

    if (pool_push(s, 0) < 0)
        return 0;
    for (size_t l = 1; l <= flen && l <= PREFIX_LEN_MAX; l++) {
        long id;

        if ((ix->prefix_lens & (1ull << (l - 1))) == 0)
            continue;
        id = key_find(ix, 0, 'p', fo, l, key_hash(0, 'p', text_hash(fo, l)));
        if (id >= 0) {
            if (pool_push(s, (uint32_t)id) < 0)
                return 0;
            n++;
        }
    }
    if (n == 0) {
        s->npool = at;
        return 1;
    }
    if (n == 1 && s->pool[at + 1] < MEMO_POOL - 2) {
        uint32_t id = s->pool[at + 1];

        s->npool = at;
        return id + 2;
    }
    if (at >= MEMO_POOL)
        return 0; /* a pool this large is out of memory in all but name */
    s->pool[at] = (uint32_t)n;
    return MEMO_POOL | (uint32_t)at;
}

long ruleindex_candidates(const struct ruleindex *ix, const struct text_doc *d,
                          struct ruleindex_scratch *s, const uint32_t **out)
{
    size_t nl = text_doc_nlayers(d);

    /* forget the keys the last document hit (also after an error) */
    for (size_t k = 0; k < s->nkeys; k++)
        if ((s->keys[k] >> 6) < s->hitcap)
            s->hit[s->keys[k] >> 6] = 0;
    s->ncand = 0;
    s->nkeys = 0;
    if (s->hitcap < (ix->nkeys + 63) / 64) {
        size_t ncap = (ix->nkeys + 63) / 64;
        uint64_t *nh = realloc(s->hit, ncap * sizeof(*nh));

        if (nh == NULL)
            return -1;
        memset(nh, 0, ncap * sizeof(*nh));
        s->hit = nh;
        s->hitcap = ncap;
    }
    if (ix->nkeys != 0) {
        for (size_t l = 0; l < nl && l < ix->max_layer && l < MEMO_LAYERS; l++) {
            size_t nt = text_doc_layer_nterms(d, l);
            unsigned gen = text_norm_generation(text_doc_layer_norm(d, l));

            for (size_t t = 0; t < nt; t++) {
                uint32_t *m;

                /* the memo is as large as the worker's vocabulary: fetch
                 * a few terms ahead so that the cache misses overlap */
                if (t + MEMO_AHEAD < nt && s->stems[l].gen == gen) {
                    uint32_t a = text_doc_layer_term_nid(d, l, t + MEMO_AHEAD);

                    if (a < s->stems[l].cap)
                        __builtin_prefetch(&s->stems[l].v[a]);
                }
                m = memo_at(&s->stems[l], text_doc_layer_term_nid(d, l, t), gen);

                if (m == NULL)
                    return -1;
                if (*m == 0) {
                    size_t len;
                    uint64_t h;
                    const char *st = text_doc_layer_stem(d, l, t, &len, &h);
                    long id =
                        key_find(ix, (unsigned)l, 's', st, len, key_hash((unsigned)l, 's', h));

                    *m = id >= 0 ? (uint32_t)id + 2 : 1;
                }
                if (*m >= 2 && key_push(ix, s, *m - 2) < 0)
                    return -1;
            }
        }
        if (ix->prefix_lens != 0) {
            size_t nf = text_doc_nfolds(d);
            unsigned gen = text_norm_generation(text_doc_layer_norm(d, 0));

            if (s->folds.gen != gen)
                s->npool = 0; /* the memo below forgets its offsets */
            for (size_t f = 0; f < nf; f++) {
                uint32_t *m;

                if (f + MEMO_AHEAD < nf && s->folds.gen == gen) {
                    uint32_t a = text_doc_fold_nid(d, f + MEMO_AHEAD);

                    if (a < s->folds.cap)
                        __builtin_prefetch(&s->folds.v[a]);
                }
                m = memo_at(&s->folds, text_doc_fold_nid(d, f), gen);

                if (m == NULL)
                    return -1;
                if (*m == 0) {
                    size_t flen;
                    long first;
                    const char *fo = text_doc_fold(d, f, &flen, &first);

                    *m = prefix_keys(ix, s, fo, flen);
                    if (*m == 0)
                        return -1;
                }
                if (*m & MEMO_POOL) {
                    uint32_t off = *m & ~MEMO_POOL, n = s->pool[off];

                    for (uint32_t k = 1; k <= n; k++)
                        if (key_push(ix, s, s->pool[off + k]) < 0)
                            return -1;
                } else if (*m >= 2 && key_push(ix, s, *m - 2) < 0) {
                    return -1;
                }
            }
        }
    }
    for (size_t k = 0; k < s->nkeys; k++) {
        if (k + 4 < s->nkeys)
            __builtin_prefetch(&ix->post[ix->pstart[s->keys[k + 4]]]);
        if (add_postings(ix, s, (long)s->keys[k]) < 0)
            return -1;
    }
    if (ix->nalways != 0) {
        if (s->ncand + ix->nalways > s->cap) {
            size_t ncap = s->cap != 0 ? s->cap : 256;
            uint32_t *nc;

            while (ncap < s->ncand + ix->nalways)
                ncap *= 2;
            nc = realloc(s->cand, ncap * sizeof(*nc));
            if (nc == NULL)
                return -1;
            s->cand = nc;
            s->cap = ncap;
        }
        memcpy(s->cand + s->ncand, ix->always, ix->nalways * sizeof(*s->cand));
        s->ncand += ix->nalways;
    }
    if (sort_cand(s) < 0)
        return -1;
    *out = s->cand;
    return (long)s->ncand;
}

void ruleindex_get_stats(const struct ruleindex *ix, struct ruleindex_stats *st)
{
    size_t filed = 0;

    for (size_t k = 0; k < ix->nkeys; k++)
        filed += ix->pstart[k + 1] != ix->pstart[k];
    (void)filed;
    st->keys = ix->nkeys;
    st->postings = ix->npost;
    st->always = ix->nalways;
    st->rules = ix->nrules;
    st->bytes = ix->acap + ix->kcap * (3 * sizeof(uint32_t) + sizeof(uint64_t)) +
                ix->nslots * sizeof(struct ix_slot) + (ix->nkeys + 1) * sizeof(uint32_t) +
                ix->npost * sizeof(struct ix_post) + ix->nalways * sizeof(uint32_t) +
                ix->ngroups * sizeof(uint32_t);
}
