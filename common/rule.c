/*
 * rule.c - the watch-rule language: parse, evaluate, explain (see rule.h).
 *
 * The query is first cut into tokens (so that an unbalanced quote is found
 * wherever it is), then a recursive-descent parser builds the tree with one
 * function per precedence level: and > or > near > unary > fielded >
 * primary.  Terms are folded and stemmed with text.h at compile time, so
 * evaluation only looks term ids up in the document; phrases and NEAR are
 * confirmed from word positions.  Regexes are compiled (and JIT-compiled)
 * once; matching them uses per-thread scratch (struct rule_ctx).
 */
#include "rule.h"

#define PCRE2_CODE_UNIT_WIDTH 8

#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "strbuf.h"
#include "text.h"

/* Deeper nesting of groups and NOTs than this is rejected (stack bound). */
#define RULE_MAX_DEPTH 64
/* Regex limits: backtracking steps, depth, and the JIT stack. */
#define RULE_RE_MATCH_LIMIT 200000
#define RULE_RE_DEPTH_LIMIT 2000
#define RULE_RE_JIT_STACK_MAX (512 * 1024)
/* At most this many hits are kept for an explanation. */
#define RULE_HITS_MAX 256

enum tok_kind {
    TK_WORD,
    TK_PHRASE,
    TK_REGEX,
    TK_FIELD,
    TK_LPAREN,
    TK_RPAREN,
    TK_AND,
    TK_OR,
    TK_NOT,
    TK_MINUS,
    TK_NEAR,
    TK_EOF
};

struct tok {
    enum tok_kind kind;
    size_t off, len; /* bytes of the term, phrase or regex body */
    int column;      /* 1-based, in code points */
    int value;       /* TK_FIELD: the field; TK_NEAR: the distance or -1 */
};

struct parser {
    const char *q;
    struct tok *toks;
    size_t ntoks, cap, i;
    struct text_norm *norm;
    na_error *err;
    int depth;
    unsigned fields; /* the scope of the terms being parsed */
};

static int perr(struct parser *p, int column, const char *problem, const char *detail)
{
    if (detail != NULL)
        return na_error_set(p->err, 0, column, "col %d: %s%s", column, problem, detail);
    return na_error_set(p->err, 0, column, "col %d: %s", column, problem);
}

static int oom(struct parser *p)
{
    return na_error_set(p->err, 0, 0, "out of memory");
}

/* ---- lexer ----------------------------------------------------------------- */

static int is_space(int32_t cp)
{
    utf8proc_category_t c;

    if (cp < 0)
        return 0;
    if (cp <= 0x20 || cp == 0x7f)
        return 1;
    if (cp < 0x80)
        return 0;
    c = utf8proc_category(cp);
    return c == UTF8PROC_CATEGORY_ZS || c == UTF8PROC_CATEGORY_ZL ||
           c == UTF8PROC_CATEGORY_ZP || c == UTF8PROC_CATEGORY_CC;
}

static int push_tok(struct parser *p, enum tok_kind kind, size_t off, size_t len, int column,
                    int value)
{
    struct tok *t;

    if (p->ntoks == p->cap) {
        size_t ncap = p->cap != 0 ? p->cap * 2 : 16;
        struct tok *nt = realloc(p->toks, ncap * sizeof(*nt));

        if (nt == NULL)
            return oom(p);
        p->toks = nt;
        p->cap = ncap;
    }
    t = &p->toks[p->ntoks++];
    t->kind = kind;
    t->off = off;
    t->len = len;
    t->column = column;
    t->value = value;
    return 0;
}

/* Classify the bare word q[start..start+len). */
static int push_word(struct parser *p, size_t start, size_t len, int col)
{
    const char *w = p->q + start;

    if (len == 3 && memcmp(w, "AND", 3) == 0)
        return push_tok(p, TK_AND, start, len, col, 0);
    if (len == 2 && memcmp(w, "OR", 2) == 0)
        return push_tok(p, TK_OR, start, len, col, 0);
    if (len == 3 && memcmp(w, "NOT", 3) == 0)
        return push_tok(p, TK_NOT, start, len, col, 0);
    if (len >= 4 && memcmp(w, "NEAR", 4) == 0 && (len == 4 || w[4] == '/')) {
        long n = -1;

        if (len > 5) {
            n = 0;
            for (size_t k = 5; k < len; k++) {
                if (w[k] < '0' || w[k] > '9' || n > RULE_NEAR_MAX) {
                    n = -2;
                    break;
                }
                n = n * 10 + (w[k] - '0');
            }
        } else if (len == 5) {
            n = -2;
        }
        if (n == -2 || n == 0 || n > RULE_NEAR_MAX) {
            char detail[64];

            snprintf(detail, sizeof(detail), "; write NEAR/n with 1 <= n <= %d", RULE_NEAR_MAX);
            return perr(p, col, "bad NEAR distance", detail);
        }
        if (n == -1)
            return perr(p, col, "NEAR needs a distance: write NEAR/n, e.g. NEAR/5", NULL);
        return push_tok(p, TK_NEAR, start, len, col, (int)n);
    }
    return push_tok(p, TK_WORD, start, len, col, 0);
}

static int lex(struct parser *p, size_t len)
{
    const char *q = p->q;
    size_t i = 0;
    int col = 1;

    while (i < len) {
        int32_t cp;
        size_t clen = text_utf8_next(q + i, len - i, &cp);

        if (is_space(cp)) {
            i += clen;
            col++;
            continue;
        }
        if (cp == '(' || cp == ')') {
            if (push_tok(p, cp == '(' ? TK_LPAREN : TK_RPAREN, i, 1, col, 0) < 0)
                return -1;
            i++;
            col++;
        } else if (cp == '"') {
            size_t j = i + 1;
            int jcol = col + 1;

            while (j < len && q[j] != '"') {
                j += text_utf8_next(q + j, len - j, &cp);
                jcol++;
            }
            if (j >= len)
                return perr(p, col, "unbalanced quote", NULL);
            if (push_tok(p, TK_PHRASE, i + 1, j - i - 1, col, 0) < 0)
                return -1;
            i = j + 1;
            col = jcol + 1;
        } else if (cp == '/') {
            size_t j = i + 1;
            int jcol = col + 1;

            while (j < len && q[j] != '/') {
                if (q[j] == '\\' && j + 1 < len) {
                    j++;
                    jcol++;
                }
                j += text_utf8_next(q + j, len - j, &cp);
                jcol++;
            }
            if (j >= len)
                return perr(p, col, "unbalanced '/': the regex is never closed", NULL);
            if (j == i + 1)
                return perr(p, col, "empty regex", NULL);
            if (push_tok(p, TK_REGEX, i + 1, j - i - 1, col, 0) < 0)
                return -1;
            i = j + 1;
            col = jcol + 1;
        } else if (cp == '-') {
            int32_t next = -1;

            if (i + 1 < len)
                text_utf8_next(q + i + 1, len - i - 1, &next);
            if (i + 1 >= len || is_space(next))
                return perr(p, col, "missing operand after '-'", NULL);
            if (push_tok(p, TK_MINUS, i, 1, col, 0) < 0)
                return -1;
            i++;
            col++;
        } else {
            size_t start = i;
            int startcol = col;

            while (i < len) {
                clen = text_utf8_next(q + i, len - i, &cp);
                if (is_space(cp) || cp == '(' || cp == ')' || cp == '"')
                    break;
                if (cp == ':') {
                    int f = text_field_lookup(q + start, i - start);

                    if (f >= 0) {
                        if (push_tok(p, TK_FIELD, start, i - start, startcol, f) < 0)
                            return -1;
                        i++;
                        col++;
                        goto next;
                    }
                }
                i += clen;
                col++;
            }
            if (push_word(p, start, i - start, startcol) < 0)
                return -1;
        }
    next:;
    }
    return push_tok(p, TK_EOF, len, 0, col, 0);
}

/* ---- tree ------------------------------------------------------------------- */

static void free_regexes(struct rule_expr *e)
{
    if (e->re != NULL) {
        pcre2_code_free(e->re);
        e->re = NULL;
    }
    for (size_t i = 0; i < e->nkids; i++)
        free_regexes(e->kids[i]);
}

#define PACK_ALIGN(n) (((n) + 7u) & ~(size_t)7u)

#if UINTPTR_MAX == 0xffffffffffffffffu
_Static_assert(sizeof(struct rule_expr) == 96, "struct rule_expr grew: a rule set costs more");
#endif

static size_t pack_size(const struct rule_expr *e)
{
    size_t n = PACK_ALIGN(sizeof(*e)) + PACK_ALIGN(e->nkids * sizeof(*e->kids));

    if (e->nwords != 0) {
        n += e->nwords * (sizeof(*e->hashes) + sizeof(*e->words) + sizeof(*e->lens));
        n += e->prefix != NULL ? e->nwords : 0;
        for (size_t k = 0; k < e->nwords; k++)
            n += strlen(e->words[k]) + 1;
    }
    if (e->text != NULL)
        n += strlen(e->text) + 1;
    n = PACK_ALIGN(n);
    for (size_t i = 0; i < e->nkids; i++)
        n += pack_size(e->kids[i]);
    return n;
}

static struct rule_expr *pack_node(const struct rule_expr *e, char **cur)
{
    struct rule_expr *n = (struct rule_expr *)(void *)*cur;
    char *at;

    *cur += PACK_ALIGN(sizeof(*n));
    *n = *e;
    n->packed = 2;
    n->block = NULL;
    if (e->nkids != 0) {
        n->kids = (struct rule_expr **)(void *)*cur;
        *cur += PACK_ALIGN(e->nkids * sizeof(*n->kids));
    } else {
        n->kids = NULL;
    }
    at = *cur;
    if (e->nwords != 0) {
        uint64_t *hashes = (uint64_t *)(void *)at;
        char **words = (char **)(void *)(at + e->nwords * sizeof(*hashes));
        size_t *lens = (size_t *)(void *)(at + e->nwords * (sizeof(*hashes) + sizeof(*words)));

        at += e->nwords * (sizeof(*hashes) + sizeof(*words) + sizeof(*lens));
        n->hashes = e->hashes != NULL ? hashes : NULL;
        n->lens = e->lens != NULL ? lens : NULL;
        n->words = words;
        for (size_t k = 0; k < e->nwords; k++) {
            if (e->hashes != NULL)
                hashes[k] = e->hashes[k];
            if (e->lens != NULL)
                lens[k] = e->lens[k];
        }
        if (e->prefix != NULL) {
            n->prefix = (unsigned char *)at;
            memcpy(at, e->prefix, e->nwords);
            at += e->nwords;
        }
        for (size_t k = 0; k < e->nwords; k++) {
            size_t len = strlen(e->words[k]) + 1;

            words[k] = at;
            memcpy(at, e->words[k], len);
            at += len;
        }
    }
    if (e->text != NULL) {
        size_t len = strlen(e->text) + 1;

        n->text = at;
        memcpy(at, e->text, len);
        at += len;
    }
    *cur += PACK_ALIGN((size_t)(at - *cur));
    for (size_t i = 0; i < e->nkids; i++)
        n->kids[i] = pack_node(e->kids[i], cur);
    return n;
}

/* The regexes now belong to the packed copy. */
static void forget_regexes(struct rule_expr *e)
{
    e->re = NULL;
    for (size_t i = 0; i < e->nkids; i++)
        forget_regexes(e->kids[i]);
}

int rule_expr_pack(struct rule_expr **pe)
{
    struct rule_expr *root;
    char *buf, *cur;

    if ((*pe)->packed != 0)
        return 0;
    buf = malloc(pack_size(*pe));
    if (buf == NULL)
        return -1;
    cur = buf;
    root = pack_node(*pe, &cur);
    root->packed = 1;
    forget_regexes(*pe);
    rule_expr_free(pe);
    *pe = root;
    return 0;
}

void rule_expr_free(struct rule_expr **pe)
{
    struct rule_expr *e;

    if (pe == NULL || *pe == NULL)
        return;
    e = *pe;
    if (e->packed != 0) {
        free_regexes(e);
        if (e->packed == 1)
            free(e);
        *pe = NULL;
        return;
    }
    if (e->block != NULL) {
        free(e->block); /* words, lens, hashes, prefix and text live in it */
    } else {
        for (size_t i = 0; i < e->nwords; i++)
            free(e->words[i]);
        free(e->words);
        free(e->prefix);
        free(e->lens);
        free(e->hashes);
        free(e->text);
    }
    if (e->re != NULL)
        pcre2_code_free(e->re);
    for (size_t i = 0; i < e->nkids; i++)
        rule_expr_free(&e->kids[i]);
    free(e->kids);
    free(e);
    *pe = NULL;
}

static struct rule_expr *node_new(enum rule_kind kind, int column)
{
    struct rule_expr *e = calloc(1, sizeof(*e));

    if (e == NULL)
        return NULL;
    e->kind = kind;
    e->column = column;
    e->fields = TEXT_FIELDS_DEFAULT;
    return e;
}

/* Append kid to e (taking it); on failure kid is freed.  Returns 0 / -1. */
static int node_add(struct rule_expr *e, struct rule_expr *kid)
{
    struct rule_expr **nk = realloc(e->kids, (e->nkids + 1) * sizeof(*nk));

    if (nk == NULL) {
        rule_expr_free(&kid);
        return -1;
    }
    e->kids = nk;
    e->kids[e->nkids++] = kid;
    return 0;
}

static char *dup_len(const char *s, size_t len)
{
    char *p = malloc(len + 1);

    if (p != NULL) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}

void rule_set_layer(struct rule_expr *e, size_t layer)
{
    e->layer = layer;
    for (size_t i = 0; i < e->nkids; i++)
        rule_set_layer(e->kids[i], layer);
}

/* ---- parser ----------------------------------------------------------------- */

static int parse_and(struct parser *p, struct rule_expr **out);

static const struct tok *peek(const struct parser *p)
{
    return &p->toks[p->i];
}

static int starts_operand(enum tok_kind k)
{
    return k == TK_WORD || k == TK_PHRASE || k == TK_REGEX || k == TK_FIELD || k == TK_LPAREN ||
           k == TK_NOT || k == TK_MINUS;
}

static const char *op_name(enum tok_kind k)
{
    switch (k) {
    case TK_AND: return "AND";
    case TK_OR: return "OR";
    case TK_NOT: return "NOT";
    case TK_MINUS: return "'-'";
    case TK_NEAR: return "NEAR";
    default: return "?";
    }
}

static int missing_after(struct parser *p, const struct tok *op)
{
    return perr(p, op->column, "missing operand after ", op_name(op->kind));
}

struct term_build {
    struct parser *p;
    struct rule_expr *e;
    const char *src; /* the text being split */
    size_t srclen;
    int bad_star;    /* column offset (1-based) of a '*' inside a word, or 0 */
    int short_prefix;
    int too_long;
};

static int term_add_word(void *arg, const char *stem, size_t slen, size_t off, size_t wlen,
                         size_t column)
{
    struct term_build *b = arg;
    struct rule_expr *e = b->e;
    int is_prefix = off + wlen < b->srclen && b->src[off + wlen] == '*';
    char **nw;
    unsigned char *np;
    char *w;

    if (e->nwords >= RULE_PHRASE_MAX) {
        b->too_long = 1;
        return 1;
    }
    if (is_prefix && off + wlen + 1 < b->srclen) {
        int32_t cp;

        text_utf8_next(b->src + off + wlen + 1, b->srclen - off - wlen - 1, &cp);
        if (cp >= 0 && (text_is_word_char(cp) || cp == '*')) {
            size_t i = off, n = 0;

            while (i < off + wlen) {
                i += text_utf8_next(b->src + i, off + wlen - i, &cp);
                n++;
            }
            b->bad_star = (int)(column + n);
            return 1;
        }
    }
    nw = realloc(e->words, (e->nwords + 1) * sizeof(*nw));
    if (nw == NULL)
        return -1;
    e->words = nw;
    np = realloc(e->prefix, e->nwords + 1);
    if (np == NULL)
        return -1;
    e->prefix = np;
    {
        size_t *nl = realloc(e->lens, (e->nwords + 1) * sizeof(*nl));
        uint64_t *nh;

        if (nl == NULL)
            return -1;
        e->lens = nl;
        nh = realloc(e->hashes, (e->nwords + 1) * sizeof(*nh));
        if (nh == NULL)
            return -1;
        e->hashes = nh;
    }
    if (is_prefix) {
        const char *st, *folded;
        size_t sl, fl;

        if (text_norm_word2(b->p->norm, b->src + off, wlen, &st, &sl, &folded, &fl) < 0)
            return -1;
        if (fl < RULE_PREFIX_MIN) {
            b->short_prefix = (int)column;
            return 1;
        }
        w = dup_len(folded, fl);
    } else {
        w = dup_len(stem, slen);
    }
    if (w == NULL)
        return -1;
    e->prefix[e->nwords] = (unsigned char)is_prefix;
    e->lens[e->nwords] = strlen(w);
    e->hashes[e->nwords] = text_hash(w, e->lens[e->nwords]);
    e->words[e->nwords++] = w;
    return 0;
}

/* Column of byte `off` of the query (1-based, in code points). */
static int query_column(const char *q, size_t off)
{
    int col = 1;
    size_t i = 0;

    while (i < off) {
        int32_t cp;

        i += text_utf8_next(q + i, off - i, &cp);
        col++;
    }
    return col;
}

static int parse_substr(struct parser *p, const struct tok *t, struct rule_expr **out)
{
    struct rule_expr *e = node_new(RULE_SUBSTR, t->column);
    char *needle;

    if (e == NULL)
        return oom(p);
    if (t->len == 0) {
        rule_expr_free(&e);
        return perr(p, t->column, "empty link: substring", NULL);
    }
    e->fields = 1u << TEXT_FIELD_LINK;
    e->words = calloc(1, sizeof(*e->words));
    needle = dup_len(p->q + t->off, t->len);
    e->text = t->kind == TK_PHRASE ? dup_len(p->q + t->off - 1, t->len + 2)
                                   : dup_len(p->q + t->off, t->len);
    if (e->words == NULL || needle == NULL || e->text == NULL) {
        free(needle);
        rule_expr_free(&e);
        return oom(p);
    }
    for (size_t k = 0; k < t->len; k++)
        if (needle[k] >= 'A' && needle[k] <= 'Z')
            needle[k] = (char)(needle[k] | 0x20);
    e->words[0] = needle;
    e->nwords = 1;
    e->lens = malloc(sizeof(*e->lens));
    if (e->lens == NULL) {
        rule_expr_free(&e);
        return oom(p);
    }
    e->lens[0] = t->len;
    *out = e;
    return 0;
}

static int parse_regex(struct parser *p, const struct tok *t, struct rule_expr **out)
{
    struct rule_expr *e = node_new(RULE_REGEX, t->column);
    uint32_t opts = PCRE2_UTF | PCRE2_CASELESS | PCRE2_UCP;
    int ecode;
    PCRE2_SIZE eoff;
    pcre2_code *re;

#ifdef PCRE2_MATCH_INVALID_UTF
    opts |= PCRE2_MATCH_INVALID_UTF;
#endif
    if (e == NULL)
        return oom(p);
    e->fields = p->fields;
    e->text = dup_len(p->q + t->off - 1, t->len + 2);
    if (e->text == NULL) {
        rule_expr_free(&e);
        return oom(p);
    }
    re = pcre2_compile((PCRE2_SPTR)(p->q + t->off), t->len, opts, &ecode, &eoff, NULL);
    if (re == NULL) {
        PCRE2_UCHAR msg[256];
        char detail[300];

        pcre2_get_error_message(ecode, msg, sizeof(msg));
        if (ecode == PCRE2_ERROR_NOMEMORY) {
            rule_expr_free(&e);
            return oom(p);
        }
        snprintf(detail, sizeof(detail), "%s", (const char *)msg);
        rule_expr_free(&e);
        return perr(p, query_column(p->q, t->off + (eoff <= t->len ? eoff : t->len)),
                    "regex does not compile: ", detail);
    }
    /* A pattern JIT cannot take still works, interpreted, under the limits.
     * NEWSALERT_NO_JIT=1 turns JIT off: its SIMD code reads a few bytes past
     * the subject, which valgrind reports (the valgrind test runs set it). */
    if (getenv("NEWSALERT_NO_JIT") == NULL)
        (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    e->re = re;
    *out = e;
    return 0;
}

/* Move a TERM's arrays and strings into one allocation (a million rules
 * would otherwise cost a dozen small allocations each).  0 or -1. */
static int compact_term(struct rule_expr *e)
{
    size_t n = e->nwords, strings = strlen(e->text) + 1, size;
    char *block, *at;
    char **words;
    size_t *lens;
    uint64_t *hashes;
    unsigned char *prefix = NULL;

    for (size_t k = 0; k < n; k++)
        strings += e->lens[k] + 1;
    size = n * (sizeof(*hashes) + sizeof(*words) + sizeof(*lens)) +
           (e->prefix != NULL ? n : 0) + strings;
    block = malloc(size);
    if (block == NULL)
        return -1;
    hashes = (uint64_t *)(void *)block;
    words = (char **)(void *)(block + n * sizeof(*hashes));
    lens = (size_t *)(void *)(block + n * (sizeof(*hashes) + sizeof(*words)));
    at = block + n * (sizeof(*hashes) + sizeof(*words) + sizeof(*lens));
    if (e->prefix != NULL) {
        prefix = (unsigned char *)at;
        memcpy(prefix, e->prefix, n);
        at += n;
    }
    for (size_t k = 0; k < n; k++) {
        hashes[k] = e->hashes[k];
        lens[k] = e->lens[k];
        words[k] = at;
        memcpy(at, e->words[k], e->lens[k] + 1);
        at += e->lens[k] + 1;
        free(e->words[k]);
    }
    memcpy(at, e->text, strlen(e->text) + 1);
    free(e->words);
    free(e->lens);
    free(e->hashes);
    free(e->prefix);
    free(e->text);
    e->words = words;
    e->lens = lens;
    e->hashes = hashes;
    e->prefix = prefix;
    e->text = at;
    e->block = block;
    return 0;
}

static int parse_term(struct parser *p, const struct tok *t, struct rule_expr **out)
{
    struct rule_expr *e;
    struct term_build b = {0};
    int r;

    if (p->fields == (1u << TEXT_FIELD_LINK))
        return parse_substr(p, t, out);
    e = node_new(RULE_TERM, t->column);
    if (e == NULL)
        return oom(p);
    e->fields = p->fields;
    e->phrase = t->kind == TK_PHRASE;
    e->text = e->phrase ? dup_len(p->q + t->off - 1, t->len + 2) : dup_len(p->q + t->off, t->len);
    if (e->text == NULL) {
        rule_expr_free(&e);
        return oom(p);
    }
    b.p = p;
    b.e = e;
    b.src = p->q + t->off;
    b.srclen = t->len;
    r = text_norm_split(p->norm, p->q + t->off, t->len, term_add_word, &b);
    if (r < 0) {
        rule_expr_free(&e);
        return oom(p);
    }
    if (r > 0) {
        int col;

        rule_expr_free(&e);
        if (b.too_long) {
            char detail[64];

            snprintf(detail, sizeof(detail), " (at most %d words)", RULE_PHRASE_MAX);
            return perr(p, t->column, "phrase too long", detail);
        }
        col = t->column + (t->kind == TK_PHRASE ? 1 : 0);
        if (b.bad_star)
            return perr(p, col + b.bad_star - 1, "'*' must end a word (a prefix)", NULL);
        return perr(p, col + b.short_prefix - 1, "prefix too short", NULL);
    }
    if (e->nwords == 0) {
        rule_expr_free(&e);
        if (t->kind == TK_PHRASE)
            return perr(p, t->column, "empty phrase", NULL);
        return perr(p, t->column, "term has no letters or digits", NULL);
    }
    {
        int any = 0;

        for (size_t k = 0; k < e->nwords; k++)
            any |= e->prefix[k];
        if (!any) {
            free(e->prefix);
            e->prefix = NULL;
        }
    }
    if (compact_term(e) < 0) {
        rule_expr_free(&e);
        return oom(p);
    }
    *out = e;
    return 0;
}

static int parse_primary(struct parser *p, struct rule_expr **out)
{
    const struct tok *t = peek(p);

    switch (t->kind) {
    case TK_WORD:
    case TK_PHRASE:
        p->i++;
        return parse_term(p, t, out);
    case TK_REGEX:
        p->i++;
        return parse_regex(p, t, out);
    case TK_LPAREN: {
        int r;

        if (p->depth >= RULE_MAX_DEPTH)
            return perr(p, t->column, "too deeply nested", NULL);
        p->i++;
        if (peek(p)->kind == TK_RPAREN)
            return perr(p, t->column, "empty group", NULL);
        if (peek(p)->kind == TK_EOF)
            return perr(p, t->column, "unbalanced parenthesis: '(' is never closed", NULL);
        p->depth++;
        r = parse_and(p, out);
        p->depth--;
        if (r < 0)
            return r;
        if (peek(p)->kind != TK_RPAREN) {
            rule_expr_free(out);
            return perr(p, t->column, "unbalanced parenthesis: '(' is never closed", NULL);
        }
        p->i++;
        return 0;
    }
    case TK_RPAREN:
        return perr(p, t->column, "unbalanced parenthesis: ')' without '('", NULL);
    case TK_AND:
    case TK_OR:
    case TK_NEAR:
        return perr(p, t->column, "missing operand before ", op_name(t->kind));
    default:
        return perr(p, t->column, "missing operand", NULL);
    }
}

/* [field:] primary */
static int parse_fielded(struct parser *p, struct rule_expr **out)
{
    const struct tok *t = peek(p);
    unsigned saved = p->fields;
    enum tok_kind next;
    int r;

    if (t->kind != TK_FIELD)
        return parse_primary(p, out);
    p->i++;
    next = peek(p)->kind;
    if ((next != TK_WORD && next != TK_PHRASE && next != TK_REGEX && next != TK_LPAREN) ||
        peek(p)->off != t->off + t->len + 1 + (next == TK_WORD ? 0 : 1) - (next == TK_LPAREN)) {
        char detail[80];

        snprintf(detail, sizeof(detail), "'%s:' (a word, a phrase, a /regex/ or a group)",
                 text_field_name(t->value));
        return perr(p, t->column, "missing term right after ", detail);
    }
    p->fields = 1u << t->value;
    r = parse_primary(p, out);
    p->fields = saved;
    return r;
}

static int parse_unary(struct parser *p, struct rule_expr **out)
{
    const struct tok *t = peek(p);
    struct rule_expr *e, *kid = NULL;
    int r;

    if (t->kind != TK_NOT && t->kind != TK_MINUS)
        return parse_fielded(p, out);
    p->i++;
    if (!starts_operand(peek(p)->kind))
        return missing_after(p, t);
    if (p->depth >= RULE_MAX_DEPTH)
        return perr(p, t->column, "too deeply nested", NULL);
    p->depth++;
    r = parse_unary(p, &kid);
    p->depth--;
    if (r < 0)
        return r;
    e = node_new(RULE_NOT, t->column);
    if (e == NULL || node_add(e, kid) < 0) {
        if (e == NULL)
            rule_expr_free(&kid);
        rule_expr_free(&e);
        return oom(p);
    }
    *out = e;
    return 0;
}

/* unary [NEAR/n unary] */
static int parse_near(struct parser *p, struct rule_expr **out)
{
    struct rule_expr *a = NULL, *b = NULL, *e;
    const struct tok *op;
    int acol = peek(p)->column, bcol;

    if (parse_unary(p, &a) < 0)
        return -1;
    op = peek(p);
    if (op->kind != TK_NEAR) {
        *out = a;
        return 0;
    }
    p->i++;
    if (!starts_operand(peek(p)->kind)) {
        rule_expr_free(&a);
        return missing_after(p, op);
    }
    bcol = peek(p)->column;
    if (a->kind != RULE_TERM) {
        rule_expr_free(&a);
        return perr(p, acol, "NEAR needs a word, a prefix or a phrase on each side", NULL);
    }
    if (parse_unary(p, &b) < 0) {
        rule_expr_free(&a);
        return -1;
    }
    if (b->kind != RULE_TERM) {
        rule_expr_free(&a);
        rule_expr_free(&b);
        return perr(p, bcol, "NEAR needs a word, a prefix or a phrase on each side", NULL);
    }
    if (peek(p)->kind == TK_NEAR) {
        rule_expr_free(&a);
        rule_expr_free(&b);
        return perr(p, peek(p)->column,
                    "NEAR cannot be chained; write (a NEAR/n b) (b NEAR/n c)", NULL);
    }
    e = node_new(RULE_NEAR, op->column);
    if (e == NULL) {
        rule_expr_free(&a);
        rule_expr_free(&b);
        return oom(p);
    }
    e->dist = (unsigned)op->value;
    if (node_add(e, a) < 0) {
        rule_expr_free(&b);
        rule_expr_free(&e);
        return oom(p);
    }
    if (node_add(e, b) < 0) {
        rule_expr_free(&e);
        return oom(p);
    }
    *out = e;
    return 0;
}

/* Parse `sub (SEP sub)*`; with sep == TK_AND the separator is optional. */
static int parse_list(struct parser *p, enum rule_kind kind, enum tok_kind sep,
                      int (*sub)(struct parser *, struct rule_expr **), struct rule_expr **out)
{
    struct rule_expr *first = NULL, *e = NULL, *kid;

    if (sub(p, &first) < 0)
        return -1;
    for (;;) {
        const struct tok *t = peek(p);

        if (t->kind == sep) {
            p->i++;
            if (!starts_operand(peek(p)->kind)) {
                missing_after(p, t);
                goto fail;
            }
        } else if (sep != TK_AND || !starts_operand(t->kind)) {
            break;
        }
        kid = NULL;
        if (sub(p, &kid) < 0)
            goto fail;
        if (e == NULL) {
            e = node_new(kind, first->column);
            if (e == NULL || node_add(e, first) < 0) {
                if (e == NULL)
                    rule_expr_free(&first);
                first = NULL;
                rule_expr_free(&kid);
                oom(p);
                goto fail;
            }
            first = NULL;
        }
        if (node_add(e, kid) < 0) {
            oom(p);
            goto fail;
        }
    }
    *out = e != NULL ? e : first;
    return 0;
fail:
    rule_expr_free(&first);
    rule_expr_free(&e);
    return -1;
}

static int parse_or(struct parser *p, struct rule_expr **out)
{
    return parse_list(p, RULE_OR, TK_OR, parse_near, out);
}

static int parse_and(struct parser *p, struct rule_expr **out)
{
    return parse_list(p, RULE_AND, TK_AND, parse_or, out);
}

/* Whether the expression demands that at least one thing be present. */
static int has_positive(const struct rule_expr *e)
{
    switch (e->kind) {
    case RULE_TERM:
    case RULE_NEAR:
    case RULE_REGEX:
    case RULE_SUBSTR:
        return 1;
    case RULE_NOT:
        return 0;
    case RULE_AND:
    case RULE_OR:
        for (size_t i = 0; i < e->nkids; i++)
            if (has_positive(e->kids[i]))
                return 1;
        return 0;
    }
    return 0;
}

int rule_compile_norm(struct text_norm *norm, const char *query, struct rule_expr **out,
                      na_error *err)
{
    struct parser p = {0};
    struct rule_expr *e = NULL;
    size_t len = strlen(query);
    int r = -1;

    *out = NULL;
    p.q = query;
    p.norm = norm;
    p.err = err;
    p.fields = TEXT_FIELDS_DEFAULT;
    if (len > RULE_QUERY_MAX)
        return na_error_set(err, 0, 1, "col 1: query too long (%zu bytes, at most %d)", len,
                            RULE_QUERY_MAX);
    if (lex(&p, len) < 0)
        goto done;
    if (p.toks[0].kind == TK_EOF) {
        perr(&p, 1, "empty query", NULL);
        goto done;
    }
    if (parse_and(&p, &e) < 0)
        goto done;
    if (peek(&p)->kind == TK_RPAREN) {
        perr(&p, peek(&p)->column, "unbalanced parenthesis: ')' without '('", NULL);
        goto done;
    }
    if (peek(&p)->kind != TK_EOF) {
        /* The AND list stops only at ')' or at the end; keep this honest. */
        perr(&p, peek(&p)->column, "unexpected ", op_name(peek(&p)->kind));
        goto done;
    }
    if (!has_positive(e)) {
        perr(&p, e->column,
             "the query has only negative terms and would match almost every story; "
             "add a word it must contain",
             NULL);
        goto done;
    }
    *out = e;
    e = NULL;
    r = 0;
done:
    rule_expr_free(&e);
    free(p.toks);
    return r;
}

int rule_compile(const char *query, struct rule_expr **out, na_error *err)
{
    struct text_norm *n = text_norm_new();
    int r;

    if (n == NULL) {
        *out = NULL;
        return na_error_set(err, 0, 0, "out of memory");
    }
    r = rule_compile_norm(n, query, out, err);
    text_norm_free(&n);
    return r;
}

/* ---- warnings ------------------------------------------------------------------- */

/* Whether x and y are the same query (fields aside). */
static int same_shape(const struct rule_expr *x, const struct rule_expr *y)
{
    if (x->kind != y->kind || x->nwords != y->nwords || x->nkids != y->nkids ||
        x->dist != y->dist)
        return 0;
    if (x->kind == RULE_REGEX)
        return strcmp(x->text, y->text) == 0;
    for (size_t i = 0; i < x->nwords; i++) {
        int px = x->prefix != NULL && x->prefix[i], py = y->prefix != NULL && y->prefix[i];

        if (px != py || strcmp(x->words[i], y->words[i]) != 0)
            return 0;
    }
    for (size_t i = 0; i < x->nkids; i++)
        if (!same_shape(x->kids[i], y->kids[i]) || x->kids[i]->fields != y->kids[i]->fields)
            return 0;
    return 1;
}

/* Whether every story that matches `pos` also matches `neg`. */
static int implies(const struct rule_expr *pos, const struct rule_expr *neg)
{
    if (!same_shape(pos, neg))
        return 0;
    if (pos->kind == RULE_TERM || pos->kind == RULE_REGEX || pos->kind == RULE_SUBSTR)
        return (pos->fields & ~neg->fields) == 0;
    return 1;
}

struct warn_ctx {
    void (*warn)(const na_error *w, void *arg);
    void *arg;
    int n;
};

static void emit_warning(struct warn_ctx *w, int column, const char *fmt, const char *a)
{
    na_error e;

    na_error_set(&e, 0, column, fmt, column, a);
    w->n++;
    if (w->warn != NULL)
        w->warn(&e, w->arg);
}

static void walk_warnings(const struct rule_expr *e, struct warn_ctx *w)
{
    if (e->kind == RULE_AND) {
        for (size_t i = 0; i < e->nkids; i++) {
            const struct rule_expr *n = e->kids[i];

            if (n->kind != RULE_NOT)
                continue;
            for (size_t j = 0; j < e->nkids; j++) {
                const struct rule_expr *pk = e->kids[j];

                if (pk->kind != RULE_NOT && implies(pk, n->kids[0])) {
                    emit_warning(w, n->column,
                                 "col %d: can never match: '%s' is both required and excluded",
                                 pk->text != NULL ? pk->text : "(group)");
                    break;
                }
            }
        }
    }
    if (e->kind == RULE_OR) {
        for (size_t i = 0; i < e->nkids; i++)
            if (!has_positive(e->kids[i]))
                emit_warning(w, e->kids[i]->column,
                             "col %d: an OR branch with only negative terms matches almost "
                             "every story%s",
                             "");
    }
    for (size_t i = 0; i < e->nkids; i++)
        walk_warnings(e->kids[i], w);
}

int rule_warnings(const struct rule_expr *e, void (*warn)(const na_error *w, void *arg),
                  void *arg)
{
    struct warn_ctx w = {warn, arg, 0};

    walk_warnings(e, &w);
    return w.n;
}

/* ---- evaluation scratch ----------------------------------------------------------- */

struct rule_ctx {
    pcre2_match_data *md;
    pcre2_match_context *mc;
    pcre2_jit_stack *js;
    unsigned long limit_hits;
};

struct rule_ctx *rule_ctx_new(void)
{
    struct rule_ctx *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    c->md = pcre2_match_data_create(16, NULL);
    c->mc = pcre2_match_context_create(NULL);
    c->js = pcre2_jit_stack_create(32 * 1024, RULE_RE_JIT_STACK_MAX, NULL);
    if (c->md == NULL || c->mc == NULL || c->js == NULL) {
        rule_ctx_free(&c);
        return NULL;
    }
    pcre2_set_match_limit(c->mc, RULE_RE_MATCH_LIMIT);
    pcre2_set_depth_limit(c->mc, RULE_RE_DEPTH_LIMIT);
    pcre2_jit_stack_assign(c->mc, NULL, c->js);
    return c;
}

void rule_ctx_free(struct rule_ctx **pc)
{
    struct rule_ctx *c;

    if (pc == NULL || *pc == NULL)
        return;
    c = *pc;
    pcre2_match_data_free(c->md);
    pcre2_match_context_free(c->mc);
    pcre2_jit_stack_free(c->js);
    free(c);
    *pc = NULL;
}

unsigned long rule_ctx_limit_hits(const struct rule_ctx *c)
{
    return c->limit_hits;
}

/* ---- hits, for explanations ----------------------------------------------------------- */

struct hit {
    uint32_t src, off, len;
    int field;
    const struct rule_expr *term;
};

struct rec {
    struct hit *hits;
    size_t n, cap;
    int oom;
};

static void rec_add(struct rec *r, const struct rule_expr *term, uint32_t src, int field,
                    uint32_t off, uint32_t len)
{
    if (r == NULL || r->n >= RULE_HITS_MAX)
        return;
    if (r->n == r->cap) {
        size_t ncap = r->cap != 0 ? r->cap * 2 : 16;
        struct hit *nh = realloc(r->hits, ncap * sizeof(*nh));

        if (nh == NULL) {
            r->oom = 1;
            return;
        }
        r->hits = nh;
        r->cap = ncap;
    }
    r->hits[r->n].src = src;
    r->hits[r->n].off = off;
    r->hits[r->n].len = len;
    r->hits[r->n].field = field;
    r->hits[r->n].term = term;
    r->n++;
}

/* ---- evaluation ------------------------------------------------------------------------ */

/* The occurrences of a TERM (word, prefix or phrase) in token order. */
struct occ_it {
    const struct rule_expr *e;
    const struct text_doc *d;
    long ids[RULE_PHRASE_MAX]; /* term id per non-prefix word */
    long tok;                  /* the current anchor token, -1 before the first */
    int done;
    /* the current occurrence */
    long start;                /* token index of its first word */
    int field;
    uint32_t pos;              /* position of its first word */
};

/* Prepare; returns 0 when the term cannot occur at all. */
static int occ_init(struct occ_it *it, const struct rule_expr *e, const struct text_doc *d)
{
    it->e = e;
    it->d = d;
    it->tok = -1;
    it->done = 0;
    for (size_t k = 0; k < e->nwords; k++) {
        if (e->prefix != NULL && e->prefix[k]) {
            it->ids[k] = -1;
            continue;
        }
        it->ids[k] = text_doc_layer_term_h(d, e->layer, e->words[k], e->lens[k], e->hashes[k]);
        if (it->ids[k] < 0)
            return 0;
    }
    return 1;
}

/* Whether word k of the term is at token j. */
static int word_at(const struct occ_it *it, size_t k, size_t j)
{
    if (it->ids[k] >= 0)
        return text_doc_layer_tok_term(it->d, it->e->layer, j) == (uint32_t)it->ids[k];
    return text_doc_fold_has_prefix(it->d, text_doc_tok_fold(it->d, j), it->e->words[k],
                                    it->e->lens[k]);
}

/* Advance to the next occurrence; returns 1, or 0 at the end. */
static int occ_next(struct occ_it *it)
{
    const struct rule_expr *e = it->e;
    size_t ntok = text_doc_ntokens(it->d);

    while (!it->done) {
        int f0;
        uint32_t p0;
        size_t k;

        if (it->ids[0] >= 0) {
            it->tok = it->tok < 0 ? text_doc_layer_first(it->d, e->layer, (uint32_t)it->ids[0])
                                  : text_doc_layer_next(it->d, e->layer, it->tok);
        } else {
            /* a prefix anchor: look at every token, in order */
            long j = it->tok + 1;

            for (; (size_t)j < ntok && !word_at(it, 0, (size_t)j); j++)
                ;
            it->tok = (size_t)j < ntok ? j : -1;
        }
        if (it->tok < 0) {
            it->done = 1;
            break;
        }
        text_doc_tok_pos(it->d, (size_t)it->tok, &f0, &p0);
        if ((e->fields & (1u << f0)) == 0)
            continue;
        for (k = 1; k < e->nwords; k++) {
            size_t j = (size_t)it->tok + k;
            int fk;
            uint32_t pk;

            if (j >= ntok)
                break;
            text_doc_tok_pos(it->d, j, &fk, &pk);
            if (fk != f0 || pk != p0 + k || !word_at(it, k, j))
                break;
        }
        if (k == e->nwords) {
            it->start = it->tok;
            it->field = f0;
            it->pos = p0;
            return 1;
        }
    }
    return 0;
}

static void rec_occ(struct rec *r, const struct occ_it *it)
{
    struct text_token a, b;

    if (r == NULL)
        return;
    text_doc_token(it->d, (size_t)it->start, &a);
    text_doc_token(it->d, (size_t)it->start + it->e->nwords - 1, &b);
    rec_add(r, it->e, a.src, a.field, a.off, b.off + b.len - a.off);
}

static int eval_term(const struct rule_expr *e, const struct text_doc *d, struct rec *r)
{
    struct occ_it it;
    int found = 0;

    if (e->nwords == 1 && e->prefix != NULL && r == NULL) {
        /* a lone prefix: look at the distinct words, not every token */
        size_t nf = text_doc_nfolds(d);

        for (long i = text_doc_fold_find_prefix(d, 0, e->words[0], e->lens[0]); i >= 0;
             i = (size_t)i + 1 < nf
                     ? text_doc_fold_find_prefix(d, (size_t)i + 1, e->words[0], e->lens[0])
                     : -1) {
            for (long t = text_doc_fold_first(d, (size_t)i); t >= 0;
                 t = text_doc_fold_next(d, t)) {
                int field;
                uint32_t pos;

                text_doc_tok_pos(d, (size_t)t, &field, &pos);
                if (e->fields & (1u << field))
                    return 1;
            }
        }
        return 0;
    }
    if (!occ_init(&it, e, d))
        return 0;
    while (occ_next(&it)) {
        found = 1;
        if (r == NULL)
            break;
        rec_occ(r, &it);
    }
    return found;
}

/* Distance between two occurrences (same field), or 0 when they overlap. */
static long occ_dist(const struct occ_it *a, const struct occ_it *b)
{
    long aend = (long)a->pos + (long)a->e->nwords - 1, bend = (long)b->pos + (long)b->e->nwords - 1;

    if (aend < (long)b->pos)
        return (long)b->pos - aend;
    if (bend < (long)a->pos)
        return (long)a->pos - bend;
    return 0;
}

static int eval_near(const struct rule_expr *e, const struct text_doc *d, struct rec *r)
{
    struct occ_it a, b0;
    long n = (long)e->dist;
    int have_b0;

    if (!occ_init(&a, e->kids[0], d) || !occ_init(&b0, e->kids[1], d))
        return 0;
    have_b0 = occ_next(&b0);
    while (have_b0 && occ_next(&a)) {
        struct occ_it b;
        int have_b;

        /* drop B occurrences that lie before every later A's window */
        while (have_b0 && b0.start < a.start &&
               (b0.field != a.field ||
                (long)b0.pos + (long)b0.e->nwords - 1 + n < (long)a.pos))
            have_b0 = occ_next(&b0);
        if (!have_b0)
            break;
        b = b0;
        for (have_b = 1; have_b; have_b = occ_next(&b)) {
            if (b.start > a.start &&
                (b.field != a.field || (long)b.pos > (long)a.pos + (long)a.e->nwords - 1 + n))
                break;
            if (b.field == a.field) {
                long dist = occ_dist(&a, &b);

                if (dist >= 1 && dist <= n) {
                    rec_occ(r, &a);
                    rec_occ(r, &b);
                    return 1;
                }
            }
        }
    }
    return 0;
}

static int eval_regex(const struct rule_expr *e, const struct text_doc *d, struct rule_ctx *ctx,
                      struct rec *r)
{
    struct rule_ctx *own = NULL;
    size_t nsrc = text_doc_nsources(d);
    int found = 0;

    if (ctx == NULL) {
        own = rule_ctx_new();
        if (own == NULL)
            return 0;
        ctx = own;
    }
    for (size_t i = 0; i < nsrc && !found; i++) {
        int field, rc;
        const char *text;
        size_t len;

        text_doc_source(d, i, &field, &text, &len);
        if ((e->fields & (1u << field)) == 0)
            continue;
        rc = pcre2_match(e->re, (PCRE2_SPTR)text, len, 0, 0, ctx->md, ctx->mc);
        if (rc >= 0) {
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(ctx->md);

            found = 1;
            if (ov[1] >= ov[0])
                rec_add(r, e, (uint32_t)i, field, (uint32_t)ov[0], (uint32_t)(ov[1] - ov[0]));
        } else if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
                   rc == PCRE2_ERROR_JIT_STACKLIMIT || rc == PCRE2_ERROR_HEAPLIMIT) {
            ctx->limit_hits++;
        }
    }
    rule_ctx_free(&own);
    return found;
}

/* Case-insensitive (ASCII) search of a lower-case needle. */
static long find_ci(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
    if (nlen > hlen)
        return -1;
    for (size_t i = 0; i + nlen <= hlen; i++) {
        size_t k;

        for (k = 0; k < nlen; k++) {
            unsigned char c = (unsigned char)hay[i + k];

            if ((c >= 'A' && c <= 'Z' ? (char)(c | 0x20) : (char)c) != needle[k])
                break;
        }
        if (k == nlen)
            return (long)i;
    }
    return -1;
}

static int eval_substr(const struct rule_expr *e, const struct text_doc *d, struct rec *r)
{
    size_t nsrc = text_doc_nsources(d), nlen = e->lens[0];

    for (size_t i = 0; i < nsrc; i++) {
        int field;
        const char *text;
        size_t len;
        long at;

        text_doc_source(d, i, &field, &text, &len);
        if ((e->fields & (1u << field)) == 0)
            continue;
        at = find_ci(text, len, e->words[0], nlen);
        if (at >= 0) {
            rec_add(r, e, (uint32_t)i, field, (uint32_t)at, (uint32_t)nlen);
            return 1;
        }
    }
    return 0;
}

static int eval(const struct rule_expr *e, const struct text_doc *d, struct rule_ctx *ctx,
                struct rec *r)
{
    switch (e->kind) {
    case RULE_TERM:
        return eval_term(e, d, r);
    case RULE_NEAR:
        return eval_near(e, d, r);
    case RULE_REGEX:
        return eval_regex(e, d, ctx, r);
    case RULE_SUBSTR:
        return eval_substr(e, d, r);
    case RULE_NOT:
        return !eval(e->kids[0], d, ctx, NULL);
    case RULE_AND: {
        size_t mark = r != NULL ? r->n : 0;

        for (size_t i = 0; i < e->nkids; i++)
            if (!eval(e->kids[i], d, ctx, r)) {
                if (r != NULL)
                    r->n = mark;
                return 0;
            }
        return 1;
    }
    case RULE_OR: {
        int any = 0;

        for (size_t i = 0; i < e->nkids; i++) {
            size_t mark = r != NULL ? r->n : 0;

            if (eval(e->kids[i], d, ctx, r)) {
                any = 1;
                if (r == NULL)
                    break;
            } else if (r != NULL) {
                r->n = mark;
            }
        }
        return any;
    }
    }
    return 0;
}

int rule_eval_ctx(const struct rule_expr *e, const struct text_doc *doc, struct rule_ctx *ctx)
{
    return eval(e, doc, ctx, NULL);
}

int rule_eval(const struct rule_expr *e, const struct text_doc *doc)
{
    return eval(e, doc, NULL, NULL);
}

/* ---- explanations --------------------------------------------------------------------- */

void rule_explanation_free(struct rule_explanation **px)
{
    struct rule_explanation *x;

    if (px == NULL || *px == NULL)
        return;
    x = *px;
    for (size_t i = 0; i < x->nterms; i++)
        free(x->terms[i]);
    free(x->terms);
    free(x->fields);
    free(x->snippet);
    free(x);
    *px = NULL;
}

static int hit_cmp(const void *a, const void *b)
{
    const struct hit *x = a, *y = b;

    if (x->src != y->src)
        return x->src < y->src ? -1 : 1;
    if (x->off != y->off)
        return x->off < y->off ? -1 : 1;
    return x->len > y->len ? -1 : x->len < y->len;
}

/* Start of the code point that contains byte i. */
static size_t cp_start(const char *s, size_t i)
{
    while (i > 0 && ((unsigned char)s[i] & 0xc0) == 0x80)
        i--;
    return i;
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* The mark of a cut in a snippet (U+2026). */
#define SNIPPET_ELLIPSIS "\xe2\x80\xa6"

/* Byte classes of the snippet's folding: 0 kept, 1 whitespace (folded),
 * 2 another control byte or DEL (dropped).  Every whitespace byte but ' '
 * is a control byte, so a run of kept bytes stops at both. */
static const unsigned char snip_class[256] = {
    2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 2, 2, /* \t \n \v \f \r */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    1, [0x7f] = 2,
};

/* The snippet being written: memory sized once for the window (folding
 * only ever shrinks the text; see make_snippet). */
struct snip {
    char *p;
    size_t len;
};

static void snip_put(struct snip *s, const char *src, size_t n)
{
    memcpy(s->p + s->len, src, n);
    s->len += n;
}

/* Append s[from..to) with whitespace runs folded to one space and control
 * bytes dropped; a pending space (*space) is written before the next kept
 * byte, unless nothing was written yet.  Kept bytes, and single spaces
 * between them, are copied a run at a time. */
static void add_folded(struct snip *b, const char *s, size_t from, size_t to, int *space)
{
    size_t i = from;

    while (i < to) {
        unsigned cls = snip_class[(unsigned char)s[i]];
        size_t run;

        if (cls != 0) {
            *space |= cls == 1;
            i++;
            continue;
        }
        /* a single space between two kept bytes is what folding writes:
         * it stays in the run */
        for (run = i + 1; run < to; run++) {
            unsigned char c = (unsigned char)s[run];

            if (snip_class[c] != 0 &&
                (c != ' ' || run + 1 >= to || snip_class[(unsigned char)s[run + 1]] != 0))
                break;
        }
        if (*space && b->len > 0)
            b->p[b->len++] = ' ';
        *space = 0;
        snip_put(b, s + i, run - i);
        i = run;
    }
}

/* Move `n` code points back from byte i (not before `lo`). */
static size_t back_chars(const char *s, size_t i, size_t lo, size_t n)
{
    while (n > 0 && i > lo) {
        i = cp_start(s, i - 1);
        n--;
    }
    return i;
}

/* Move `n` code points forward from byte i (not past `hi`); an ASCII byte
 * is one code point, as text_utf8_next says, without the call. */
static size_t fwd_chars(const char *s, size_t i, size_t hi, size_t n)
{
    while (n > 0 && i < hi) {
        int32_t cp;

        if ((unsigned char)s[i] < 0x80)
            i++;
        else
            i += text_utf8_next(s + i, hi - i, &cp);
        n--;
    }
    return i;
}

/* The snippet around hits[0] (hits sorted), marking every hit of the same
 * source inside the window. */
static char *make_snippet(const struct text_doc *d, const struct hit *hits, size_t n)
{
    struct snip b = {NULL, 0};
    int field, space = 0;
    const char *text;
    size_t len, from, to, at;

    if (n == 0)
        return calloc(1, 1);
    text_doc_source(d, hits[0].src, &field, &text, &len);
    from = back_chars(text, hits[0].off, 0, RULE_SNIPPET_CHARS / 3);
    /* start at a word boundary when the cut is inside the text */
    if (from > 0) {
        size_t w = from;

        while (w < hits[0].off && !is_ws(text[w]))
            w++;
        if (w < hits[0].off)
            from = w;
    }
    to = fwd_chars(text, from, len, RULE_SNIPPET_CHARS);
    if (to < len) {
        size_t w = to;

        while (w > hits[0].off + hits[0].len && !is_ws(text[w - 1]))
            w--;
        if (w > hits[0].off + hits[0].len)
            to = w;
    }
    /* at most: the window's bytes (folding writes one space for one or
     * more whitespace bytes and drops control bytes), two ellipses, a
     * bracket pair per hit and the NUL */
    b.p = malloc((to - from) + 2 * (sizeof(SNIPPET_ELLIPSIS) - 1) + 2 * n + 1);
    if (b.p == NULL)
        return NULL;
    if (from > 0)
        snip_put(&b, SNIPPET_ELLIPSIS, sizeof(SNIPPET_ELLIPSIS) - 1);
    at = from;
    for (size_t i = 0; i < n; i++) {
        const struct hit *h = &hits[i];
        size_t hend = h->off + h->len;

        if (h->src != hits[0].src || h->off < at)
            continue;
        if (hend > to)
            break;
        add_folded(&b, text, at, h->off, &space);
        if (space && b.len > 0)
            b.p[b.len++] = ' ';
        space = 0;
        b.p[b.len++] = '[';
        add_folded(&b, text, h->off, hend, &space);
        space = 0;
        b.p[b.len++] = ']';
        at = hend;
    }
    add_folded(&b, text, at, to, &space);
    if (to < len)
        snip_put(&b, SNIPPET_ELLIPSIS, sizeof(SNIPPET_ELLIPSIS) - 1);
    b.p[b.len] = '\0';
    return b.p;
}

int rule_explain(const struct rule_expr *e, const struct text_doc *doc, struct rule_ctx *ctx,
                 struct rule_explanation **out)
{
    struct rec r = {0};
    struct rule_explanation *x = NULL;
    int m;

    *out = NULL;
    m = eval(e, doc, ctx, &r);
    if (r.oom)
        goto nomem;
    if (!m) {
        free(r.hits);
        return 0;
    }
    x = calloc(1, sizeof(*x));
    if (x == NULL)
        goto nomem;
    x->terms = calloc(r.n != 0 ? r.n : 1, sizeof(*x->terms));
    x->fields = calloc(r.n != 0 ? r.n : 1, sizeof(*x->fields));
    if (x->terms == NULL || x->fields == NULL)
        goto nomem;
    /* one entry per (term, field), in the order of the hits found */
    for (size_t i = 0; i < r.n; i++) {
        const char *name = text_field_name(r.hits[i].field);
        size_t k;

        for (k = 0; k < i; k++)
            if (r.hits[k].term == r.hits[i].term && r.hits[k].field == r.hits[i].field)
                break;
        if (k < i)
            continue;
        x->terms[x->nterms] = dup_len(r.hits[i].term->text, strlen(r.hits[i].term->text));
        if (x->terms[x->nterms] == NULL)
            goto nomem;
        x->fields[x->nterms++] = name;
    }
    qsort(r.hits, r.n, sizeof(*r.hits), hit_cmp);
    x->snippet = make_snippet(doc, r.hits, r.n);
    if (x->snippet == NULL)
        goto nomem;
    free(r.hits);
    *out = x;
    return 1;
nomem:
    free(r.hits);
    rule_explanation_free(&x);
    return -1;
}

/* ---- formatting ------------------------------------------------------------------ */

static void format_fields(struct strbuf *b, unsigned fields)
{
    int first = 1;

    if (fields == TEXT_FIELDS_DEFAULT)
        return;
    for (int f = 0; f < TEXT_FIELD_COUNT; f++) {
        if ((fields & (1u << f)) == 0)
            continue;
        if (!first)
            strbuf_adds(b, ",");
        strbuf_adds(b, text_field_name(f));
        first = 0;
    }
    strbuf_adds(b, ":");
}

static void format_expr(struct strbuf *b, const struct rule_expr *e)
{
    static const char *const names[] = {"TERM", "AND", "OR", "NOT", "NEAR", "RE", "SUB"};

    if (e->kind == RULE_TERM) {
        int quoted = e->phrase || e->nwords > 1;

        format_fields(b, e->fields);
        if (quoted)
            strbuf_adds(b, "\"");
        for (size_t i = 0; i < e->nwords; i++) {
            if (i > 0)
                strbuf_adds(b, " ");
            strbuf_adds(b, e->words[i]);
            if (e->prefix != NULL && e->prefix[i])
                strbuf_adds(b, "*");
        }
        if (quoted)
            strbuf_adds(b, "\"");
        return;
    }
    if (e->kind == RULE_REGEX) {
        format_fields(b, e->fields);
        strbuf_adds(b, e->text);
        return;
    }
    if (e->kind == RULE_SUBSTR) {
        strbuf_adds(b, "link:\"");
        strbuf_adds(b, e->words[0]);
        strbuf_adds(b, "\"");
        return;
    }
    strbuf_adds(b, "(");
    strbuf_adds(b, names[e->kind]);
    if (e->kind == RULE_NEAR) {
        char n[16];

        snprintf(n, sizeof(n), "/%u", e->dist);
        strbuf_adds(b, n);
    }
    for (size_t i = 0; i < e->nkids; i++) {
        strbuf_adds(b, " ");
        format_expr(b, e->kids[i]);
    }
    strbuf_adds(b, ")");
}

char *rule_expr_format(const struct rule_expr *e)
{
    struct strbuf b = {0};

    format_expr(&b, e);
    return strbuf_take(&b);
}
