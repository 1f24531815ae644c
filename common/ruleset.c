/*
 * ruleset.c - rules files: load, validate, match (see ruleset.h).
 *
 * Loading and checking share one walk over each file (rs_build_file):
 * loading stops at the first problem and keeps the compiled rules, checking
 * goes on and reports every problem.  The files of a directory are walked
 * in name order into one set; duplicate ids are found by sorting
 * (id, index) pairs once everything else is known, so a million rules cost
 * O(n log n), not O(n^2).  Loading reads a file laid out as
 * {"rules": [...]} one rule at a time (each rule's JSON tree is freed as
 * soon as it is compiled, so a million rules never have their trees in
 * memory together), and starts again the ordinary way (whole trees) on any
 * problem at all, so that what is reported is exactly what it always was.
 * Once loaded, the rules are filed in a
 * ruleindex; each matching thread has a worker with its own normalisers
 * (one per rule language), document, regex scratch and candidate marks.
 */
#include "ruleset.h"

#include <dirent.h>
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"
#include "item.h"
#include "jsonfile.h"
#include "ruleindex.h"
#include "text.h"

#define RULESET_DEFAULT_LANG "english"
#define RULESET_FILES_MAX 10000
/* The largest rules file read for streaming: jsonfile's limit (a larger
 * file goes the ordinary way, which reports it). */
#define RULESET_STREAM_MAX (64 * 1024 * 1024)

/* A million of these may be loaded: the rule's strings share one block. */
struct rs_rule {
    struct rule_info info; /* id, query and name point into strs; tags is `tags` */
    char *strs;            /* owned: id, query, then the name when one is given */
    char **tags;           /* owned: info.ntags strings */
    size_t lang;
    struct rule_expr *expr;
};

struct ruleset {
    struct rs_rule *rules;
    size_t n, cap;
    char **langs; /* langs[0] is English */
    size_t nlangs;
    struct ruleindex *index;
    int naive;
    struct ruleset_worker *own;
};

struct ruleset_worker {
    const struct ruleset *rs;
    struct text_norm **norms; /* one per rs->langs */
    size_t nnorms;
    struct text_doc *doc;
    struct rule_ctx *ctx;
    struct ruleindex_scratch *scratch;
    int have_item;
    unsigned long long items, candidates, matches;
};

/* One file's rule ids, for the duplicate check. */
struct id_ref {
    const char *id;  /* borrowed from the file's tree */
    size_t file;     /* index in rs_ctx.files */
    size_t idx;      /* index of the rule in its file */
    size_t order;    /* global order */
};

/* A warning held back while the rules are streamed. */
struct held_warning {
    int line, column;
    char *msg;
};

/* How rs_build reports: stop at the first problem (load) or go on (check). */
struct rs_ctx {
    void (*report)(const na_error *e, void *arg);
    void *arg;
    ruleset_warn_fn warn;
    void *warn_arg;
    int stop;
    int nerr;
    na_error *first; /* where the first problem is copied, may be NULL */
    struct jsonfile **files;
    size_t nfiles;
    struct id_ref *ids;
    size_t nids, idcap;
    /* languages and their normalisers, for compiling */
    char **langs;
    struct text_norm **norms;
    size_t nlangs;
    size_t nrules;
    /* streaming (loading only): the files hold their text but no tree and
     * are read one rule at a time; problems are not reported but make the
     * load start again the ordinary way, and warnings wait until the whole
     * load succeeded (see ruleset_load_warn) */
    int streaming;
    int stream_fail;
    struct held_warning *held;
    size_t nheld, heldcap;
};

static void ctx_problem(struct rs_ctx *c, const na_error *e)
{
    if (c->streaming) {
        c->stream_fail = 1;
        return;
    }
    if (c->nerr == 0 && c->first != NULL)
        *c->first = *e;
    c->nerr++;
    if (c->report != NULL)
        c->report(e, c->arg);
}

static void ctx_warning(struct rs_ctx *c, const na_error *e)
{
    if (c->streaming) {
        struct held_warning *h;
        size_t n;

        if (c->nheld == c->heldcap) {
            size_t ncap = c->heldcap != 0 ? c->heldcap * 2 : 16;

            h = realloc(c->held, ncap * sizeof(*h));
            if (h == NULL) {
                c->stream_fail = 1;
                return;
            }
            c->held = h;
            c->heldcap = ncap;
        }
        h = &c->held[c->nheld];
        n = strlen(e->msg);
        h->msg = malloc(n + 1);
        if (h->msg == NULL) {
            c->stream_fail = 1;
            return;
        }
        memcpy(h->msg, e->msg, n + 1);
        h->line = e->line;
        h->column = e->column;
        c->nheld++;
        return;
    }
    if (c->report != NULL)
        c->report(e, c->arg);
    if (c->warn != NULL)
        c->warn(e, c->warn_arg);
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s);
    char *p = malloc(n + 1);

    if (p != NULL)
        memcpy(p, s, n + 1);
    return p;
}

size_t ruleset_count(const struct ruleset *rs)
{
    return rs->n;
}

const struct rule_info *ruleset_rule(const struct ruleset *rs, size_t i)
{
    return &rs->rules[i].info;
}

const struct rule_expr *ruleset_expr(const struct ruleset *rs, size_t i)
{
    return rs->rules[i].expr;
}

void ruleset_set_naive(struct ruleset *rs, int naive)
{
    rs->naive = naive;
}

static void rule_release(struct rs_rule *r)
{
    free(r->strs);
    for (size_t t = 0; t < r->info.ntags; t++)
        free(r->tags[t]);
    free(r->tags);
    rule_expr_free(&r->expr);
}

void ruleset_free(struct ruleset **prs)
{
    struct ruleset *rs;

    if (prs == NULL || *prs == NULL)
        return;
    rs = *prs;
    ruleset_worker_free(&rs->own);
    for (size_t i = 0; i < rs->n; i++)
        rule_release(&rs->rules[i]);
    free(rs->rules);
    for (size_t i = 0; i < rs->nlangs; i++)
        free(rs->langs[i]);
    free(rs->langs);
    ruleindex_free(&rs->index);
    free(rs);
    *prs = NULL;
}

/* 1 when the string value holds a NUL or another control character. */
static int has_control(json_t *v)
{
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c < 0x20 || c == 0x7f)
            return 1;
    }
    return 0;
}

/* ---- languages ------------------------------------------------------------------- */

/* The index of language `lang` in the context, added (with its normaliser)
 * when new; -1 when out of memory. */
static long ctx_lang(struct rs_ctx *c, const char *lang)
{
    char **nl;
    struct text_norm **nn;

    for (size_t i = 0; i < c->nlangs; i++)
        if (strcmp(c->langs[i], lang) == 0)
            return (long)i;
    nl = realloc(c->langs, (c->nlangs + 1) * sizeof(*nl));
    if (nl == NULL)
        return -1;
    c->langs = nl;
    nn = realloc(c->norms, (c->nlangs + 1) * sizeof(*nn));
    if (nn == NULL)
        return -1;
    c->norms = nn;
    c->langs[c->nlangs] = dup_str(lang);
    c->norms[c->nlangs] = text_norm_new_lang(lang);
    if (c->langs[c->nlangs] == NULL || c->norms[c->nlangs] == NULL) {
        free(c->langs[c->nlangs]);
        text_norm_free(&c->norms[c->nlangs]);
        return -1;
    }
    return (long)c->nlangs++;
}

static void ctx_release(struct rs_ctx *c)
{
    for (size_t i = 0; i < c->nlangs; i++) {
        free(c->langs[i]);
        text_norm_free(&c->norms[i]);
    }
    free(c->langs);
    free(c->norms);
    for (size_t i = 0; i < c->nfiles; i++)
        jsonfile_close(&c->files[i]);
    free(c->files);
    free(c->ids);
    for (size_t i = 0; i < c->nheld; i++)
        free(c->held[i].msg);
    free(c->held);
}

/* ---- duplicates ------------------------------------------------------------------- */

static int id_ref_cmp(const void *a, const void *b)
{
    const struct id_ref *x = a, *y = b;
    int r = strcmp(x->id, y->id);

    if (r != 0)
        return r;
    return x->order < y->order ? -1 : x->order > y->order;
}

struct dup {
    const struct id_ref *dup, *first;
};

static int dup_cmp(const void *a, const void *b)
{
    const struct dup *x = a, *y = b;

    return x->dup->order < y->dup->order ? -1 : x->dup->order > y->dup->order;
}

/* Report every rule whose id was used by an earlier rule.  Returns 0 or -1
 * (ENOMEM). */
static int check_duplicates(struct rs_ctx *c)
{
    size_t n = c->nids, ndups = 0;
    struct dup *dups = malloc((n != 0 ? n : 1) * sizeof(*dups));

    if (dups == NULL)
        return -1;
    if (n > 1)
        qsort(c->ids, n, sizeof(*c->ids), id_ref_cmp);
    for (size_t i = 1, first = 0; i < n; i++) {
        if (strcmp(c->ids[i].id, c->ids[first].id) != 0) {
            first = i;
            continue;
        }
        dups[ndups].dup = &c->ids[i];
        dups[ndups].first = &c->ids[first];
        ndups++;
    }
    if (ndups > 1)
        qsort(dups, ndups, sizeof(*dups), dup_cmp); /* file order */
    for (size_t k = 0; k < ndups; k++) {
        const struct jsonfile *f = c->files[dups[k].dup->file];
        const struct jsonfile *ff = c->files[dups[k].first->file];
        char path[64], firstpath[64];
        int line, col;
        na_error e;

        snprintf(path, sizeof(path), "rules[%zu].id", dups[k].dup->idx);
        snprintf(firstpath, sizeof(firstpath), "rules[%zu].id", dups[k].first->idx);
        jsonfile_locate(ff, firstpath, &line, &col);
        if (ff == f)
            jsonfile_error(f, &e, path, "duplicate rule id '%s' (first used at line %d)",
                           dups[k].dup->id, line);
        else
            jsonfile_error(f, &e, path, "duplicate rule id '%s' (first used at %s:%d)",
                           dups[k].dup->id, ff->path, line);
        ctx_problem(c, &e);
        if (c->stop)
            break;
    }
    free(dups);
    return 0;
}

/* ---- one rule ---------------------------------------------------------------------- */

struct warn_fwd {
    struct rs_ctx *c;
    const struct jsonfile *f;
    const char *fpath;
    const char *label;
};

static void forward_warning(const na_error *w, void *arg)
{
    struct warn_fwd *fw = arg;
    const char *problem = w->msg;
    int skip = 0;
    na_error e;

    if (w->column > 0 && sscanf(w->msg, "col %*d: %n", &skip) == 0 && skip > 0)
        problem = w->msg + skip;
    jsonfile_error(fw->f, &e, fw->fpath, "warning: %s: column %d: %s", fw->label, w->column,
                   problem);
    ctx_warning(fw->c, &e);
}

/* The optional "tags": an array of non-empty strings without control
 * characters.  Sets *tags and *ntags (borrowed from the tree).  0 or -1. */
static int get_tags(const struct jsonfile *f, json_t *obj, const char *path, const char *label,
                    const char ***tags, size_t *ntags, na_error *e)
{
    json_t *v = json_object_get(obj, "tags");
    char fpath[96];
    size_t n;

    *tags = NULL;
    *ntags = 0;
    if (v == NULL)
        return 0;
    snprintf(fpath, sizeof(fpath), "%s.tags", path);
    if (!json_is_array(v))
        return jsonfile_error(f, e, fpath, "%s: 'tags' must be an array of strings", label);
    n = json_array_size(v);
    if (n > RULESET_TAGS_MAX)
        return jsonfile_error(f, e, fpath, "%s: too many tags (%zu, at most %d)", label, n,
                              RULESET_TAGS_MAX);
    *tags = calloc(n != 0 ? n : 1, sizeof(**tags));
    if (*tags == NULL)
        return jsonfile_error(f, e, fpath, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *t = json_array_get(v, i);

        snprintf(fpath, sizeof(fpath), "%s.tags[%zu]", path, i);
        if (!json_is_string(t) || json_string_length(t) == 0 || has_control(t) ||
            json_string_length(t) > RULESET_ID_MAX) {
            free(*tags);
            *tags = NULL;
            return jsonfile_error(f, e, fpath,
                                  "%s: a tag must be a non-empty string of at most %d bytes "
                                  "without control characters",
                                  label, RULESET_ID_MAX);
        }
        (*tags)[i] = json_string_value(t);
    }
    *ntags = n;
    return 0;
}

/* Validate one rule object; on success fill *r (when r != NULL) and set
 * *id_out to the id borrowed from the tree.  Returns 0 or -1 (reported). */
static int build_rule(struct rs_ctx *c, const struct jsonfile *f, json_t *obj, size_t i,
                      struct rs_rule *r, const char **id_out)
{
    static const char *const keys[] = {"id", "name", "query", "lang", "enabled", "tags", NULL};
    const char *id = NULL, *name = NULL, *query = NULL, *lang = RULESET_DEFAULT_LANG;
    const char **tags = NULL;
    size_t ntags = 0;
    char path[64], fpath[80], label[RULESET_ID_MAX + 16];
    struct rule_expr *expr = NULL;
    long langidx = 0;
    int bad = 0, enabled = 1;
    na_error e;

    *id_out = NULL;
    snprintf(path, sizeof(path), "rules[%zu]", i);
    if (!json_is_object(obj)) {
        jsonfile_error(f, &e, path, "a rule must be an object, not %s",
                       json_is_array(obj) ? "an array" : json_is_string(obj) ? "a string"
                                                       : "a scalar");
        ctx_problem(c, &e);
        return -1;
    }
#define PROBLEM()                                                                              \
    do {                                                                                       \
        ctx_problem(c, &e);                                                                    \
        if (c->stop)                                                                           \
            goto fail;                                                                         \
        bad = 1;                                                                               \
    } while (0)
    if (jsonfile_check_keys(f, obj, path, keys, &e) < 0)
        PROBLEM();

    if (jsonfile_get_string(f, obj, path, "id", 1, &id, &e) < 0) {
        id = NULL;
        PROBLEM();
    } else {
        json_t *v = json_object_get(obj, "id");
        size_t idlen = json_string_length(v);
        int problem = 1;

        snprintf(fpath, sizeof(fpath), "%s.id", path);
        if (idlen == 0)
            jsonfile_error(f, &e, fpath, "rule id must not be empty");
        else if (idlen > RULESET_ID_MAX)
            jsonfile_error(f, &e, fpath, "rule id is too long (%zu bytes, at most %d)", idlen,
                           RULESET_ID_MAX);
        else if (has_control(v))
            jsonfile_error(f, &e, fpath, "rule id must not contain control characters");
        else
            problem = 0;
        if (problem) {
            id = NULL;
            PROBLEM();
        }
    }
    if (id != NULL)
        snprintf(label, sizeof(label), "rule '%s'", id);
    else
        snprintf(label, sizeof(label), "rule %zu", i + 1);

    if (jsonfile_get_string(f, obj, path, "name", 0, &name, &e) < 0) {
        PROBLEM();
    } else if (name != NULL && has_control(json_object_get(obj, "name"))) {
        snprintf(fpath, sizeof(fpath), "%s.name", path);
        jsonfile_error(f, &e, fpath, "%s: name must not contain control characters", label);
        PROBLEM();
    }
    if (jsonfile_get_bool(f, obj, path, "enabled", 0, &enabled, &e) < 0)
        PROBLEM();
    if (get_tags(f, obj, path, label, &tags, &ntags, &e) < 0)
        PROBLEM();
    if (jsonfile_get_string(f, obj, path, "lang", 0, &lang, &e) < 0) {
        lang = NULL;
        PROBLEM();
    } else if (!text_lang_known(lang)) {
        snprintf(fpath, sizeof(fpath), "%s.lang", path);
        jsonfile_error(f, &e, fpath, "%s: unknown language '%s' (libstemmer knows: %s)", label,
                       lang, text_lang_list());
        lang = NULL;
        PROBLEM();
    } else if ((langidx = ctx_lang(c, lang)) < 0) {
        na_error_set(&e, 0, 0, "%s: out of memory", f->path);
        PROBLEM();
    }

    if (jsonfile_get_string(f, obj, path, "query", 1, &query, &e) < 0) {
        PROBLEM();
    } else if (lang != NULL && langidx >= 0) {
        json_t *v = json_object_get(obj, "query");
        na_error qe;

        snprintf(fpath, sizeof(fpath), "%s.query", path);
        na_error_clear(&qe);
        if (json_string_length(v) != strlen(query)) {
            jsonfile_error(f, &e, fpath, "%s: the query contains a NUL character", label);
            PROBLEM();
        } else if (rule_compile_norm(c->norms[langidx], query, &expr, &qe) < 0) {
            const char *problem = qe.msg;
            int skip = 0;

            /* rule.h promises "col C: problem"; keep only the problem. */
            if (qe.column > 0 && sscanf(qe.msg, "col %*d: %n", &skip) == 0 && skip > 0)
                problem = qe.msg + skip;
            if (qe.column > 0)
                jsonfile_error(f, &e, fpath, "%s: column %d: %s", label, qe.column, problem);
            else
                jsonfile_error(f, &e, fpath, "%s: %s", label, problem);
            PROBLEM();
        } else {
            struct warn_fwd fw = {c, f, fpath, label};

            rule_set_layer(expr, (size_t)langidx);
            rule_warnings(expr, forward_warning, &fw);
            /* one block per rule: a large set is evaluated with few cache misses */
            if (r != NULL && rule_expr_pack(&expr) < 0) {
                na_error_set(&e, 0, 0, "%s: out of memory", f->path);
                PROBLEM();
            }
        }
    }
#undef PROBLEM

    *id_out = id;
    if (bad)
        goto fail;
    if (r == NULL) {
        rule_expr_free(&expr);
        free(tags);
        return 0;
    }
    r->expr = expr;
    expr = NULL;
    {
        size_t il = strlen(id) + 1, ql = strlen(query) + 1;
        size_t nl = name != NULL ? strlen(name) + 1 : 0;

        r->strs = malloc(il + ql + nl);
        if (r->strs == NULL)
            goto nomem;
        memcpy(r->strs, id, il);
        memcpy(r->strs + il, query, ql);
        if (name != NULL)
            memcpy(r->strs + il + ql, name, nl);
        r->info.id = r->strs;
        r->info.query = r->strs + il;
        r->info.name = name != NULL ? r->strs + il + ql : r->info.id; /* the id by default */
    }
    r->lang = (size_t)langidx;
    r->tags = ntags != 0 ? calloc(ntags, sizeof(*r->tags)) : NULL;
    r->info.tags = (const char *const *)r->tags;
    if (ntags != 0 && r->tags == NULL)
        goto nomem;
    for (size_t t = 0; t < ntags; t++) {
        r->tags[t] = dup_str(tags[t]);
        if (r->tags[t] == NULL)
            goto nomem;
        r->info.ntags = t + 1;
    }
    free(tags);
    r->info.enabled = enabled;
    return 0;
nomem:
    na_error_set(&e, 0, 0, "%s: out of memory", f->path);
    ctx_problem(c, &e);
    free(tags);
    return -1; /* the caller frees r's fields with the ruleset */
fail:
    rule_expr_free(&expr);
    free(tags);
    return -1;
}

/* ---- files ---------------------------------------------------------------------------- */

static int push_id(struct rs_ctx *c, const char *id, size_t file, size_t idx)
{
    if (c->nids == c->idcap) {
        size_t ncap = c->idcap != 0 ? c->idcap * 2 : 256;
        struct id_ref *n = realloc(c->ids, ncap * sizeof(*n));

        if (n == NULL)
            return -1;
        c->ids = n;
        c->idcap = ncap;
    }
    c->ids[c->nids].id = id;
    c->ids[c->nids].file = file;
    c->ids[c->nids].idx = idx;
    c->ids[c->nids].order = c->nids;
    c->nids++;
    return 0;
}

/* Walk file number `fi` (already in c->files).  With rs != NULL append its
 * rules.  Returns 0, or -1 when the walk must stop. */
static int rs_build_file(struct rs_ctx *c, size_t fi, struct ruleset *rs)
{
    static const char *const root_keys[] = {"rules", NULL};
    const struct jsonfile *f = c->files[fi];
    json_t *rules;
    size_t n;
    na_error e;

    if (jsonfile_check_keys(f, f->root, "", root_keys, &e) < 0) {
        ctx_problem(c, &e);
        if (c->stop || !json_is_object(f->root))
            return c->stop ? -1 : 0;
    }
    rules = json_object_get(f->root, "rules");
    if (rules == NULL) {
        jsonfile_error(f, &e, "", "missing key 'rules'");
        ctx_problem(c, &e);
        return c->stop ? -1 : 0;
    }
    if (!json_is_array(rules)) {
        jsonfile_error(f, &e, "rules", "'rules' must be an array");
        ctx_problem(c, &e);
        return c->stop ? -1 : 0;
    }
    n = json_array_size(rules);
    c->nrules += n;
    if (rs != NULL && rs->n + n > rs->cap) {
        size_t ncap = rs->n + n;
        struct rs_rule *nr = realloc(rs->rules, (ncap != 0 ? ncap : 1) * sizeof(*nr));

        if (nr == NULL)
            goto nomem;
        rs->rules = nr;
        rs->cap = ncap;
    }
    for (size_t i = 0; i < n; i++) {
        struct rs_rule *r = NULL;
        const char *id = NULL;
        int rc;

        if (rs != NULL) {
            r = &rs->rules[rs->n];
            memset(r, 0, sizeof(*r));
            rs->n++; /* so ruleset_free releases what this rule took */
        }
        rc = build_rule(c, f, json_array_get(rules, i), i, r, &id);
        if (id != NULL && push_id(c, id, fi, i) < 0)
            goto nomem;
        if (rc < 0 && c->stop)
            return -1;
    }
    return 0;
nomem:
    na_error_set(&e, 0, 0, "%s: out of memory", f->path);
    ctx_problem(c, &e);
    return -1;
}

/* ---- streaming ------------------------------------------------------------------------ */

static size_t skip_json_ws(const char *t, size_t len, size_t p)
{
    while (p < len && (t[p] == ' ' || t[p] == '\t' || t[p] == '\n' || t[p] == '\r'))
        p++;
    return p;
}

/* Make room in rs for one more rule; 0 or -1. */
static int rs_reserve_one(struct ruleset *rs)
{
    struct rs_rule *nr;
    size_t ncap;

    if (rs->n < rs->cap)
        return 0;
    ncap = rs->cap != 0 ? rs->cap * 2 : 256;
    nr = realloc(rs->rules, ncap * sizeof(*nr));
    if (nr == NULL)
        return -1;
    rs->rules = nr;
    rs->cap = ncap;
    return 0;
}

/* Stream file fi (its text only: no tree) into rs: the file must be
 * exactly {"rules": [ rule, rule... ]}; each rule is parsed (jansson, as
 * for a whole file, with JSON_DISABLE_EOF_CHECK so that it stops after the
 * rule and says where), compiled and its tree freed at once, so the trees
 * of a million rules never sit in memory together.  Returns 0, or -1 with
 * c->stream_fail set when the file must be read the ordinary way:
 * anything else (another layout, a syntax error, a problem with a rule:
 * the ordinary way reports it exactly as it always did). */
static int rs_stream_file(struct rs_ctx *c, size_t fi, struct ruleset *rs)
{
    static const char key[] = "\"rules\"";
    const struct jsonfile *f = c->files[fi];
    const char *t = f->text;
    size_t len = f->len, p, i = 0;

    p = skip_json_ws(t, len, 0);
    if (p >= len || t[p] != '{')
        goto fallback;
    p = skip_json_ws(t, len, p + 1);
    if (len - p < sizeof(key) - 1 || memcmp(t + p, key, sizeof(key) - 1) != 0)
        goto fallback;
    p = skip_json_ws(t, len, p + sizeof(key) - 1);
    if (p >= len || t[p] != ':')
        goto fallback;
    p = skip_json_ws(t, len, p + 1);
    if (p >= len || t[p] != '[')
        goto fallback;
    p = skip_json_ws(t, len, p + 1);
    if (p < len && t[p] == ']')
        goto end;
    for (;;) {
        json_error_t jerr;
        json_t *obj;
        struct rs_rule *r;
        const char *id = NULL;
        int rc;

        obj = json_loadb(t + p, len - p, JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES, &jerr);
        if (obj == NULL)
            goto fallback;
        if (!json_is_object(obj) || jerr.position <= 0 || (size_t)jerr.position > len - p ||
            rs_reserve_one(rs) < 0) {
            json_decref(obj);
            goto fallback;
        }
        p += (size_t)jerr.position;
        r = &rs->rules[rs->n];
        memset(r, 0, sizeof(*r));
        rs->n++; /* so ruleset_free releases what this rule took */
        rc = build_rule(c, f, obj, i, r, &id);
        json_decref(obj); /* id pointed into it: info.id is the rule's copy */
        if (rc < 0 || c->stream_fail || push_id(c, r->info.id, fi, i) < 0)
            goto fallback;
        i++;
        c->nrules++;
        p = skip_json_ws(t, len, p);
        if (p < len && t[p] == ',') {
            p = skip_json_ws(t, len, p + 1);
            continue;
        }
        if (p < len && t[p] == ']')
            break;
        goto fallback;
    }
end:
    p = skip_json_ws(t, len, p + 1);
    if (p >= len || t[p] != '}')
        goto fallback;
    if (skip_json_ws(t, len, p + 1) != len)
        goto fallback;
    return 0;
fallback:
    c->stream_fail = 1;
    return -1;
}

/* A jsonfile holding `len` bytes of `text` (taken: freed with it) and no
 * tree, for streaming; NULL when out of memory (text is then freed). */
static struct jsonfile *text_file(const char *path, char *text, size_t len)
{
    struct jsonfile *f = calloc(1, sizeof(*f));

    if (f == NULL || (f->path = dup_str(path)) == NULL) {
        free(f);
        free(text);
        return NULL;
    }
    f->text = text;
    f->len = len;
    return f;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int has_json_suffix(const char *name)
{
    size_t n = strlen(name);

    return n > 5 && name[0] != '.' && strcmp(name + n - 5, ".json") == 0;
}

/* Open the rules file, or every .json file of the directory, into
 * c->files.  Problems are reported; returns 0 or -1. */
static int open_files(struct rs_ctx *c, const char *path)
{
    struct stat st;
    na_error e;
    DIR *dir;
    struct dirent *de;
    char **names = NULL;
    size_t nnames = 0, cap = 0;
    int rc = -1;

    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        dir = opendir(path);
        if (dir == NULL) {
            na_error_set(&e, 0, 0, "%s: cannot open directory: %s", path, strerror(errno));
            ctx_problem(c, &e);
            return -1;
        }
        while ((de = readdir(dir)) != NULL) {
            if (!has_json_suffix(de->d_name))
                continue;
            if (nnames == cap) {
                size_t ncap = cap != 0 ? cap * 2 : 16;
                char **nn = realloc(names, ncap * sizeof(*nn));

                if (nn == NULL || ncap > RULESET_FILES_MAX) {
                    free(nn != NULL ? nn : names);
                    names = NULL;
                    nnames = 0;
                    closedir(dir);
                    na_error_set(&e, 0, 0, "%s: %s", path,
                                 nn == NULL ? "out of memory" : "too many rules files");
                    ctx_problem(c, &e);
                    return -1;
                }
                names = nn;
                cap = ncap;
            }
            names[nnames] = malloc(strlen(path) + strlen(de->d_name) + 2);
            if (names[nnames] == NULL)
                break;
            snprintf(names[nnames], strlen(path) + strlen(de->d_name) + 2, "%s/%s", path,
                     de->d_name);
            nnames++;
        }
        closedir(dir);
        if (de != NULL) {
            na_error_set(&e, 0, 0, "%s: out of memory", path);
            ctx_problem(c, &e);
            goto done;
        }
        if (nnames == 0) {
            na_error_set(&e, 0, 0, "%s: no *.json rules files in the directory", path);
            ctx_problem(c, &e);
            goto done;
        }
        qsort(names, nnames, sizeof(*names), name_cmp);
    } else {
        names = malloc(sizeof(*names));
        if (names == NULL || (names[0] = dup_str(path)) == NULL) {
            free(names);
            names = NULL;
            na_error_set(&e, 0, 0, "%s: out of memory", path);
            ctx_problem(c, &e);
            return -1;
        }
        nnames = 1;
    }
    c->files = calloc(nnames, sizeof(*c->files));
    if (c->files == NULL) {
        na_error_set(&e, 0, 0, "%s: out of memory", path);
        ctx_problem(c, &e);
        goto done;
    }
    rc = 0;
    for (size_t i = 0; i < nnames; i++) {
        na_error_clear(&e);
        if (c->streaming) {
            /* the text only; standard input could not be read twice */
            char *text;
            size_t len;

            if (strcmp(names[i], "-") == 0 ||
                fileio_read_all(names[i], RULESET_STREAM_MAX, &text, &len, &e) != 0 ||
                (c->files[c->nfiles] = text_file(names[i], text, len)) == NULL) {
                c->stream_fail = 1;
                rc = -1;
                break;
            }
        } else if (jsonfile_open(names[i], &c->files[c->nfiles], &e) < 0) {
            ctx_problem(c, &e);
            rc = -1;
            if (c->stop)
                break;
            continue;
        }
        c->nfiles++;
    }
done:
    for (size_t i = 0; i < nnames; i++)
        free(names[i]);
    free(names);
    return rc;
}

/* Build from the files in c (checking only when out == NULL).  Returns the
 * number of problems. */
static int rs_build(struct rs_ctx *c, struct ruleset **out)
{
    struct ruleset *rs = NULL;
    na_error e;

    if (ctx_lang(c, RULESET_DEFAULT_LANG) != 0)
        goto nomem;
    if (out != NULL) {
        rs = calloc(1, sizeof(*rs));
        if (rs == NULL)
            goto nomem;
    }
    for (size_t fi = 0; fi < c->nfiles; fi++)
        if ((c->files[fi]->root == NULL && rs != NULL ? rs_stream_file(c, fi, rs)
                                                      : rs_build_file(c, fi, rs)) < 0)
            goto done;
    if (check_duplicates(c) < 0)
        goto nomem;
    if (rs != NULL && c->nerr == 0 && !c->stream_fail) {
        if (rs->cap > rs->n && rs->n != 0) {
            /* streaming grew the array by doubling */
            struct rs_rule *nr = realloc(rs->rules, rs->n * sizeof(*nr));

            if (nr != NULL) {
                rs->rules = nr;
                rs->cap = rs->n;
            }
        }
        const struct rule_expr **ex = malloc((rs->n != 0 ? rs->n : 1) * sizeof(*ex));

        if (ex == NULL)
            goto nomem;
        for (size_t i = 0; i < rs->n; i++) {
            struct rs_rule *r = &rs->rules[i];

            r->info.lang = c->langs[r->lang];
            r->info.index = i;
            ex[i] = r->info.enabled ? r->expr : NULL;
        }
        /* what only compiling needed goes before the index is built (the
         * peak of a large load): the files (text, trees), the ids and the
         * normalisers (the rules hold copies of their words) */
        for (size_t i = 0; i < c->nfiles; i++)
            jsonfile_close(&c->files[i]);
        c->nfiles = 0;
        free(c->ids);
        c->ids = NULL;
        c->nids = c->idcap = 0;
        for (size_t i = 0; i < c->nlangs; i++)
            text_norm_free(&c->norms[i]);
#ifdef __GLIBC__
        malloc_trim(0);
#endif
        {
            /* the disabled rules: not indexed, but their words are in the
             * vocabulary (an explanation may evaluate them) */
            const struct rule_expr **off = malloc((rs->n != 0 ? rs->n : 1) * sizeof(*off));
            size_t noff = 0;

            if (off == NULL) {
                free(ex);
                goto nomem;
            }
            for (size_t i = 0; i < rs->n; i++)
                if (!rs->rules[i].info.enabled)
                    off[noff++] = rs->rules[i].expr;
            rs->index = ruleindex_build_vocab(ex, rs->n, off, noff);
            free(off);
        }
        free(ex);
        if (rs->index == NULL)
            goto nomem;
        /* hand the languages over; rule_info.lang points into them */
        rs->langs = c->langs;
        rs->nlangs = c->nlangs;
        c->langs = NULL;
        for (size_t i = 0; i < c->nlangs; i++)
            text_norm_free(&c->norms[i]);
        c->nlangs = 0;
    }
    goto done;
nomem:
    na_error_set(&e, 0, 0, "out of memory");
    ctx_problem(c, &e);
done:
    if (out != NULL) {
        if (c->nerr == 0 && !c->stream_fail)
            *out = rs;
        else
            ruleset_free(&rs);
    }
    return c->nerr + c->stream_fail;
}

/* After a streamed load: pass on the warnings held back, in order. */
static void flush_held(struct rs_ctx *c)
{
    c->streaming = 0;
    for (size_t i = 0; i < c->nheld; i++) {
        na_error e;
        size_t n = strlen(c->held[i].msg);

        if (n >= sizeof(e.msg))
            n = sizeof(e.msg) - 1;
        e.line = c->held[i].line;
        e.column = c->held[i].column;
        memcpy(e.msg, c->held[i].msg, n);
        e.msg[n] = '\0';
        ctx_warning(c, &e);
    }
}

int ruleset_load_warn(const char *path, ruleset_warn_fn warn, void *arg, struct ruleset **out,
                      na_error *err)
{
    struct rs_ctx c = {.stop = 1, .first = err, .warn = warn, .warn_arg = arg, .streaming = 1};
    int n = 1;

    *out = NULL;
    /* first streamed (a large file's JSON tree never sits in memory); on
     * any problem at all, again the ordinary way, which reports it */
    if (open_files(&c, path) == 0 && !c.stream_fail)
        n = rs_build(&c, out);
    if (c.stream_fail || n != 0) {
        ruleset_free(out);
        ctx_release(&c);
        c = (struct rs_ctx){.stop = 1, .first = err, .warn = warn, .warn_arg = arg};
        n = 1;
        if (open_files(&c, path) == 0)
            n = rs_build(&c, out);
    } else {
        flush_held(&c);
    }
    ctx_release(&c);
#ifdef __GLIBC__
    /* the JSON trees of a large rules file are gone: give their memory back */
    malloc_trim(0);
#endif
    return n == 0 ? 0 : -1;
}

int ruleset_load(const char *path, struct ruleset **out, na_error *err)
{
    return ruleset_load_warn(path, NULL, NULL, out, err);
}

int ruleset_load_buffer(const char *name, const char *json, size_t len, struct ruleset **out,
                        na_error *err)
{
    struct rs_ctx c = {.stop = 1, .first = err, .streaming = 1};
    char *text;
    int n = 1;

    *out = NULL;
    /* streamed first, as ruleset_load_warn */
    c.files = calloc(1, sizeof(*c.files));
    text = len < SIZE_MAX ? malloc(len + 1) : NULL;
    if (c.files != NULL && text != NULL) {
        memcpy(text, json, len);
        text[len] = '\0';
        c.files[0] = text_file(name, text, len);
        if (c.files[0] != NULL) {
            c.nfiles = 1;
            n = rs_build(&c, out);
        }
    } else {
        free(text);
    }
    if (c.stream_fail || n != 0) {
        ruleset_free(out);
        ctx_release(&c);
        c = (struct rs_ctx){.stop = 1, .first = err};
        n = 1;
        c.files = calloc(1, sizeof(*c.files));
        if (c.files == NULL)
            return na_error_set(err, 0, 0, "%s: out of memory", name);
        if (jsonfile_parse(name, json, len, &c.files[0], err) == 0) {
            c.nfiles = 1;
            n = rs_build(&c, out);
        }
    } else {
        flush_held(&c);
    }
    ctx_release(&c);
    return n == 0 ? 0 : -1;
}

int ruleset_check(const char *path, void (*report)(const na_error *e, void *arg), void *arg,
                  size_t *nrules)
{
    struct rs_ctx c = {.report = report, .arg = arg};
    int n;

    open_files(&c, path);
    n = rs_build(&c, NULL);
    if (nrules != NULL)
        *nrules = c.nrules;
    ctx_release(&c);
    return n;
}

int ruleset_check_buffer(const char *name, const char *json, size_t len,
                         void (*report)(const na_error *e, void *arg), void *arg,
                         size_t *nrules)
{
    struct rs_ctx c = {.report = report, .arg = arg};
    na_error e;
    int n;

    na_error_clear(&e);
    if (nrules != NULL)
        *nrules = 0;
    c.files = calloc(1, sizeof(*c.files));
    if (c.files == NULL) {
        na_error_set(&e, 0, 0, "%s: out of memory", name);
        if (report != NULL)
            report(&e, arg);
        return 1;
    }
    if (jsonfile_parse(name, json, len, &c.files[0], &e) < 0) {
        if (report != NULL)
            report(&e, arg);
        ctx_release(&c);
        return 1;
    }
    c.nfiles = 1;
    n = rs_build(&c, NULL);
    if (nrules != NULL)
        *nrules = c.nrules;
    ctx_release(&c);
    return n;
}

/* ---- workers ---------------------------------------------------------------------------- */

/* The normaliser's filter: the words some rule of the index may name. */
static int worker_keep(void *arg, const char *stem, size_t slen, const char *folded,
                       size_t flen)
{
    return ruleindex_keeps(arg, 0, stem, slen, folded, flen);
}

struct ruleset_worker *ruleset_worker_new(const struct ruleset *rs)
{
    struct ruleset_worker *w = calloc(1, sizeof(*w));

    if (w == NULL)
        return NULL;
    w->rs = rs;
    w->norms = calloc(rs->nlangs != 0 ? rs->nlangs : 1, sizeof(*w->norms));
    if (w->norms == NULL)
        goto fail;
    w->nnorms = rs->nlangs;
    for (size_t i = 0; i < rs->nlangs; i++)
        if ((w->norms[i] = text_norm_new_lang(rs->langs[i])) == NULL)
            goto fail;
    if (rs->nlangs == 1)
        /* one language: the story's words no rule names need not be
         * tokens (with more, a word must be kept for any layer) */
        text_norm_set_filter(w->norms[0], worker_keep, rs->index);
    w->doc = text_doc_new(w->norms[0]);
    if (w->doc == NULL)
        goto fail;
    for (size_t i = 1; i < rs->nlangs; i++)
        if (text_doc_add_layer(w->doc, w->norms[i]) != (int)i)
            goto fail;
    w->ctx = rule_ctx_new();
    w->scratch = ruleindex_scratch_new(rs->index);
    if (w->ctx == NULL || w->scratch == NULL)
        goto fail;
    return w;
fail:
    ruleset_worker_free(&w);
    return NULL;
}

void ruleset_worker_free(struct ruleset_worker **pw)
{
    struct ruleset_worker *w;

    if (pw == NULL || *pw == NULL)
        return;
    w = *pw;
    text_doc_free(&w->doc);
    /* not w->rs: the set may already be gone */
    if (w->norms != NULL)
        for (size_t i = 0; i < w->nnorms; i++)
            text_norm_free(&w->norms[i]);
    free(w->norms);
    rule_ctx_free(&w->ctx);
    ruleindex_scratch_free(&w->scratch);
    free(w);
    *pw = NULL;
}

int ruleset_worker_match(struct ruleset_worker *w, const struct item *it, ruleset_match_fn cb,
                         void *arg)
{
    const struct ruleset *rs = w->rs;

    w->have_item = 0;
    text_doc_reset(w->doc);
    if (text_doc_add_item(w->doc, it) < 0)
        return -1;
    w->have_item = 1;
    w->items++;
    if (rs->naive) {
        for (size_t i = 0; i < rs->n; i++) {
            const struct rs_rule *r = &rs->rules[i];

            if (!r->info.enabled)
                continue;
            w->candidates++;
            if (rule_eval_ctx(r->expr, w->doc, w->ctx)) {
                int rc;

                w->matches++;
                rc = cb(&r->info, it, arg);
                if (rc != 0)
                    return rc;
            }
        }
        return 0;
    }
    {
        const uint32_t *cand;
        long nc = ruleindex_candidates(rs->index, w->doc, w->scratch, &cand);

        if (nc < 0)
            return -1;
        w->candidates += (unsigned long long)nc;
        for (long k = 0; k < nc; k++) {
            const struct rs_rule *r = &rs->rules[cand[k]];

            /* the rules of a large set are far apart in memory: start
             * fetching the next ones while this one is evaluated (the
             * line that holds the pointer to the query, which is not the
             * rule's first line: struct rs_rule is 96 bytes) */
            if (k + 8 < nc)
                __builtin_prefetch(&rs->rules[cand[k + 8]].expr);
            if (k + 4 < nc)
                __builtin_prefetch(rs->rules[cand[k + 4]].expr);

            if (rule_eval_ctx(r->expr, w->doc, w->ctx)) {
                int rc;

                w->matches++;
                rc = cb(&r->info, it, arg);
                if (rc != 0)
                    return rc;
            }
        }
    }
    return 0;
}

int ruleset_worker_explain(struct ruleset_worker *w, size_t index,
                           struct rule_explanation **out)
{
    *out = NULL;
    if (!w->have_item || index >= w->rs->n)
        return 0;
    return rule_explain(w->rs->rules[index].expr, w->doc, w->ctx, out);
}

void ruleset_worker_stats(const struct ruleset_worker *w, unsigned long long *items,
                          unsigned long long *candidates, unsigned long long *matches)
{
    if (items != NULL)
        *items = w->items;
    if (candidates != NULL)
        *candidates = w->candidates;
    if (matches != NULL)
        *matches = w->matches;
}

int ruleset_match(struct ruleset *rs, const struct item *it, ruleset_match_fn cb, void *arg)
{
    if (rs->own == NULL && (rs->own = ruleset_worker_new(rs)) == NULL)
        return -1;
    return ruleset_worker_match(rs->own, it, cb, arg);
}

int ruleset_explain(struct ruleset *rs, size_t index, struct rule_explanation **out)
{
    *out = NULL;
    if (rs->own == NULL)
        return 0;
    return ruleset_worker_explain(rs->own, index, out);
}
