/*
 * rule.c - the watch-rule language: parse and evaluate (see rule.h).
 *
 * The query is first cut into tokens (so that an unbalanced quote is found
 * wherever it is), then a recursive-descent parser builds the tree with one
 * function per precedence level: and_expr > or_expr > unary > primary.
 * Terms are folded and stemmed with text.h at compile time, so evaluation
 * only looks stems up in the document.
 */
#include "rule.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "strbuf.h"
#include "text.h"

/* Deeper nesting of groups and NOTs than this is rejected (stack bound). */
#define RULE_MAX_DEPTH 64

enum tok_kind { TK_WORD, TK_PHRASE, TK_LPAREN, TK_RPAREN, TK_AND, TK_OR, TK_NOT, TK_MINUS, TK_EOF };

struct tok {
    enum tok_kind kind;
    size_t off, len; /* bytes of the term or phrase body */
    int column;      /* 1-based, in code points */
};

struct parser {
    const char *q;
    struct tok *toks;
    size_t ntoks, cap, i;
    struct text_norm *norm;
    na_error *err;
    int depth;
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

static int push_tok(struct parser *p, enum tok_kind kind, size_t off, size_t len, int column)
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
    return 0;
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
            if (push_tok(p, cp == '(' ? TK_LPAREN : TK_RPAREN, i, 1, col) < 0)
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
            if (push_tok(p, TK_PHRASE, i + 1, j - i - 1, col) < 0)
                return -1;
            i = j + 1;
            col = jcol + 1;
        } else if (cp == '-') {
            int32_t next = -1;

            if (i + 1 < len)
                text_utf8_next(q + i + 1, len - i - 1, &next);
            if (i + 1 >= len || is_space(next))
                return perr(p, col, "missing operand after '-'", NULL);
            if (push_tok(p, TK_MINUS, i, 1, col) < 0)
                return -1;
            i++;
            col++;
        } else {
            size_t start = i;
            int startcol = col;
            enum tok_kind kind = TK_WORD;

            while (i < len) {
                clen = text_utf8_next(q + i, len - i, &cp);
                if (is_space(cp) || cp == '(' || cp == ')' || cp == '"')
                    break;
                i += clen;
                col++;
            }
            if (i - start == 3 && memcmp(q + start, "AND", 3) == 0)
                kind = TK_AND;
            else if (i - start == 2 && memcmp(q + start, "OR", 2) == 0)
                kind = TK_OR;
            else if (i - start == 3 && memcmp(q + start, "NOT", 3) == 0)
                kind = TK_NOT;
            if (push_tok(p, kind, start, i - start, startcol) < 0)
                return -1;
        }
    }
    return push_tok(p, TK_EOF, len, 0, col);
}

/* ---- tree ------------------------------------------------------------------- */

void rule_expr_free(struct rule_expr **pe)
{
    struct rule_expr *e;

    if (pe == NULL || *pe == NULL)
        return;
    e = *pe;
    for (size_t i = 0; i < e->nwords; i++)
        free(e->words[i]);
    free(e->words);
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
    e->fields = TEXT_FIELDS_ALL;
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

static int term_add_word(void *arg, const char *stem, size_t slen, size_t off, size_t wlen,
                         size_t column)
{
    struct rule_expr *e = arg;
    char **nw;
    char *w;

    (void)off;
    (void)wlen;
    (void)column;
    nw = realloc(e->words, (e->nwords + 1) * sizeof(*nw));
    if (nw == NULL)
        return -1;
    e->words = nw;
    w = malloc(slen + 1);
    if (w == NULL)
        return -1;
    memcpy(w, stem, slen);
    w[slen] = '\0';
    e->words[e->nwords++] = w;
    return 0;
}

/* ---- parser ----------------------------------------------------------------- */

static int parse_and(struct parser *p, struct rule_expr **out);

static const struct tok *peek(const struct parser *p)
{
    return &p->toks[p->i];
}

static int starts_operand(enum tok_kind k)
{
    return k == TK_WORD || k == TK_PHRASE || k == TK_LPAREN || k == TK_NOT || k == TK_MINUS;
}

static const char *op_name(enum tok_kind k)
{
    switch (k) {
    case TK_AND: return "AND";
    case TK_OR: return "OR";
    case TK_NOT: return "NOT";
    case TK_MINUS: return "'-'";
    default: return "?";
    }
}

static int missing_after(struct parser *p, const struct tok *op)
{
    return perr(p, op->column, "missing operand after ", op_name(op->kind));
}

static int parse_term(struct parser *p, const struct tok *t, struct rule_expr **out)
{
    struct rule_expr *e = node_new(RULE_TERM, t->column);
    int r;

    if (e == NULL)
        return oom(p);
    e->phrase = t->kind == TK_PHRASE;
    r = text_norm_split(p->norm, p->q + t->off, t->len, term_add_word, e);
    if (r != 0) {
        rule_expr_free(&e);
        return oom(p);
    }
    if (e->nwords == 0) {
        rule_expr_free(&e);
        if (t->kind == TK_PHRASE)
            return perr(p, t->column, "empty phrase", NULL);
        return perr(p, t->column, "term has no letters or digits", NULL);
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
        return perr(p, t->column, "missing operand before ", op_name(t->kind));
    default:
        return perr(p, t->column, "missing operand", NULL);
    }
}

static int parse_unary(struct parser *p, struct rule_expr **out)
{
    const struct tok *t = peek(p);
    struct rule_expr *e, *kid = NULL;
    int r;

    if (t->kind != TK_NOT && t->kind != TK_MINUS)
        return parse_primary(p, out);
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
    return parse_list(p, RULE_OR, TK_OR, parse_unary, out);
}

static int parse_and(struct parser *p, struct rule_expr **out)
{
    return parse_list(p, RULE_AND, TK_AND, parse_or, out);
}

/* Whether the expression demands that at least one word be present. */
static int has_positive(const struct rule_expr *e)
{
    switch (e->kind) {
    case RULE_TERM:
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

/* ---- evaluation --------------------------------------------------------------- */

static int eval_term(const struct rule_expr *e, const struct text_doc *d)
{
    long first, t;
    size_t ntok = text_doc_ntokens(d);

    first = text_doc_find(d, e->words[0], strlen(e->words[0]));
    if (first < 0)
        return 0;
    for (size_t k = 1; k < e->nwords; k++)
        if (text_doc_find(d, e->words[k], strlen(e->words[k])) < 0)
            return 0;
    for (t = first; t >= 0; t = text_doc_next(d, t)) {
        struct text_token t0;
        size_t k;

        text_doc_token(d, (size_t)t, &t0);
        if ((e->fields & (1u << t0.field)) == 0)
            continue;
        for (k = 1; k < e->nwords; k++) {
            struct text_token tk;
            size_t j = (size_t)t + k;

            if (j >= ntok)
                break;
            text_doc_token(d, j, &tk);
            if (tk.field != t0.field || tk.pos != t0.pos + k ||
                strcmp(tk.stem, e->words[k]) != 0)
                break;
        }
        if (k == e->nwords)
            return 1;
    }
    return 0;
}

int rule_eval(const struct rule_expr *e, const struct text_doc *doc)
{
    switch (e->kind) {
    case RULE_TERM:
        return eval_term(e, doc);
    case RULE_NOT:
        return !rule_eval(e->kids[0], doc);
    case RULE_AND:
        for (size_t i = 0; i < e->nkids; i++)
            if (!rule_eval(e->kids[i], doc))
                return 0;
        return 1;
    case RULE_OR:
        for (size_t i = 0; i < e->nkids; i++)
            if (rule_eval(e->kids[i], doc))
                return 1;
        return 0;
    }
    return 0;
}

/* ---- formatting ------------------------------------------------------------------ */

static void format_expr(struct strbuf *b, const struct rule_expr *e)
{
    static const char *const names[] = {"TERM", "AND", "OR", "NOT"};

    if (e->kind == RULE_TERM) {
        int quoted = e->phrase || e->nwords > 1;

        if (quoted)
            strbuf_adds(b, "\"");
        for (size_t i = 0; i < e->nwords; i++) {
            if (i > 0)
                strbuf_adds(b, " ");
            strbuf_adds(b, e->words[i]);
        }
        if (quoted)
            strbuf_adds(b, "\"");
        return;
    }
    strbuf_adds(b, "(");
    strbuf_adds(b, names[e->kind]);
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
