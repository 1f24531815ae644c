/*
 * ruleset.c - rules files: load, validate, match (see ruleset.h).
 *
 * Loading and checking share one walk over the file (rs_build): loading
 * stops at the first problem and keeps the compiled rules, checking goes on
 * and reports every problem.  Duplicate ids are found by sorting (id, index)
 * pairs once everything else is known, so a file of a million rules costs
 * O(n log n), not O(n^2).
 */
#include "ruleset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "item.h"
#include "jsonfile.h"
#include "text.h"

struct rs_rule {
    struct rule_info info;
    char *id, *name, *query;
    struct rule_expr *expr;
};

struct ruleset {
    struct rs_rule *rules;
    size_t n;
    struct text_norm *norm;
    struct text_doc *doc;
};

/* How rs_build reports: stop at the first problem (load) or go on (check). */
struct rs_ctx {
    const struct jsonfile *f;
    void (*report)(const na_error *e, void *arg);
    void *arg;
    int stop;
    int nerr;
    na_error *first; /* where the first problem is copied, may be NULL */
};

static void ctx_problem(struct rs_ctx *c, const na_error *e)
{
    if (c->nerr == 0 && c->first != NULL)
        *c->first = *e;
    c->nerr++;
    if (c->report != NULL)
        c->report(e, c->arg);
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

void ruleset_free(struct ruleset **prs)
{
    struct ruleset *rs;

    if (prs == NULL || *prs == NULL)
        return;
    rs = *prs;
    for (size_t i = 0; i < rs->n; i++) {
        free(rs->rules[i].id);
        free(rs->rules[i].name);
        free(rs->rules[i].query);
        rule_expr_free(&rs->rules[i].expr);
    }
    free(rs->rules);
    text_doc_free(&rs->doc);
    text_norm_free(&rs->norm);
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

struct id_ref {
    const char *id;
    size_t idx;
};

static int id_ref_cmp(const void *a, const void *b)
{
    const struct id_ref *x = a, *y = b;
    int r = strcmp(x->id, y->id);

    if (r != 0)
        return r;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int size_cmp(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;

    return x < y ? -1 : x > y;
}

/* Report every rule whose id was used by an earlier rule.  ids[i] is NULL
 * for rules whose id was already found bad.  Returns 0 or -1 (ENOMEM). */
static int check_duplicates(struct rs_ctx *c, const char *const *ids, size_t n)
{
    struct id_ref *refs = malloc((n != 0 ? n : 1) * sizeof(*refs));
    size_t *dups = malloc((n != 0 ? n : 1) * 2 * sizeof(*dups));
    size_t nrefs = 0, ndups = 0;

    if (refs == NULL || dups == NULL) {
        free(refs);
        free(dups);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (ids[i] == NULL)
            continue;
        refs[nrefs].id = ids[i];
        refs[nrefs].idx = i;
        nrefs++;
    }
    qsort(refs, nrefs, sizeof(*refs), id_ref_cmp);
    for (size_t i = 1, first = 0; i < nrefs; i++) {
        if (strcmp(refs[i].id, refs[first].id) != 0) {
            first = i;
            continue;
        }
        dups[2 * ndups] = refs[i].idx; /* the duplicate, then the first use */
        dups[2 * ndups + 1] = refs[first].idx;
        ndups++;
    }
    qsort(dups, ndups, 2 * sizeof(*dups), size_cmp); /* file order */
    for (size_t k = 0; k < ndups; k++) {
        char path[64], firstpath[64];
        int line, col;
        na_error e;

        snprintf(path, sizeof(path), "rules[%zu].id", dups[2 * k]);
        snprintf(firstpath, sizeof(firstpath), "rules[%zu].id", dups[2 * k + 1]);
        jsonfile_locate(c->f, firstpath, &line, &col);
        jsonfile_error(c->f, &e, path, "duplicate rule id '%s' (first used at line %d)",
                       ids[dups[2 * k]], line);
        ctx_problem(c, &e);
        if (c->stop)
            break;
    }
    free(refs);
    free(dups);
    return 0;
}

/* Validate one rule object; on success fill *r (when r != NULL) and set
 * *id_out to the id borrowed from the tree.  Returns 0 or -1 (reported). */
static int build_rule(struct rs_ctx *c, struct text_norm *norm, json_t *obj, size_t i,
                      struct rs_rule *r, const char **id_out)
{
    static const char *const keys[] = {"id", "name", "query", NULL};
    const struct jsonfile *f = c->f;
    const char *id = NULL, *name = NULL, *query = NULL;
    char path[64], fpath[80], label[RULESET_ID_MAX + 16];
    struct rule_expr *expr = NULL;
    int bad = 0;
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
    if (jsonfile_check_keys(f, obj, path, keys, &e) < 0) {
        ctx_problem(c, &e);
        if (c->stop)
            return -1;
        bad = 1;
    }

    if (jsonfile_get_string(f, obj, path, "id", 1, &id, &e) < 0) {
        ctx_problem(c, &e);
        if (c->stop)
            return -1;
        bad = 1;
        id = NULL;
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
            ctx_problem(c, &e);
            if (c->stop)
                return -1;
            bad = 1;
            id = NULL;
        }
    }
    if (id != NULL)
        snprintf(label, sizeof(label), "rule '%s'", id);
    else
        snprintf(label, sizeof(label), "rule %zu", i + 1);

    if (jsonfile_get_string(f, obj, path, "name", 0, &name, &e) < 0) {
        ctx_problem(c, &e);
        if (c->stop)
            return -1;
        bad = 1;
    } else if (name != NULL && has_control(json_object_get(obj, "name"))) {
        snprintf(fpath, sizeof(fpath), "%s.name", path);
        jsonfile_error(f, &e, fpath, "%s: name must not contain control characters", label);
        ctx_problem(c, &e);
        if (c->stop)
            return -1;
        bad = 1;
    }

    if (jsonfile_get_string(f, obj, path, "query", 1, &query, &e) < 0) {
        ctx_problem(c, &e);
        if (c->stop)
            return -1;
        bad = 1;
    } else {
        json_t *v = json_object_get(obj, "query");
        na_error qe;

        snprintf(fpath, sizeof(fpath), "%s.query", path);
        na_error_clear(&qe);
        if (json_string_length(v) != strlen(query)) {
            jsonfile_error(f, &e, fpath, "%s: the query contains a NUL character", label);
            ctx_problem(c, &e);
            bad = 1;
        } else if (rule_compile_norm(norm, query, &expr, &qe) < 0) {
            const char *problem = qe.msg;
            int skip = 0;

            /* rule.h promises "col C: problem"; keep only the problem. */
            if (qe.column > 0 && sscanf(qe.msg, "col %*d: %n", &skip) == 0 && skip > 0)
                problem = qe.msg + skip;
            if (qe.column > 0)
                jsonfile_error(f, &e, fpath, "%s: column %d: %s", label, qe.column, problem);
            else
                jsonfile_error(f, &e, fpath, "%s: %s", label, problem);
            ctx_problem(c, &e);
            bad = 1;
        }
        if (bad && c->stop) {
            rule_expr_free(&expr);
            return -1;
        }
    }

    *id_out = id;
    if (bad) {
        rule_expr_free(&expr);
        return -1;
    }
    if (r == NULL) {
        rule_expr_free(&expr);
        return 0;
    }
    r->id = dup_str(id);
    r->name = dup_str(name != NULL ? name : id);
    r->query = dup_str(query);
    r->expr = expr;
    if (r->id == NULL || r->name == NULL || r->query == NULL) {
        na_error_set(&e, 0, 0, "%s: out of memory", f->path);
        ctx_problem(c, &e);
        return -1; /* the caller frees r's fields with the ruleset */
    }
    r->info.id = r->id;
    r->info.name = r->name;
    r->info.query = r->query;
    return 0;
}

/* Walk the whole file.  With out != NULL build the ruleset (only when there
 * is no problem).  Returns the number of problems reported. */
static int rs_build(struct rs_ctx *c, struct ruleset **out, size_t *nrules)
{
    static const char *const root_keys[] = {"rules", NULL};
    const struct jsonfile *f = c->f;
    struct ruleset *rs = NULL;
    struct text_norm *norm = NULL;
    const char **ids = NULL;
    json_t *rules;
    size_t n;
    na_error e;

    if (nrules != NULL)
        *nrules = 0;
    if (jsonfile_check_keys(f, f->root, "", root_keys, &e) < 0) {
        ctx_problem(c, &e);
        if (c->stop || !json_is_object(f->root))
            return c->nerr;
    }
    rules = json_object_get(f->root, "rules");
    if (rules == NULL) {
        jsonfile_error(f, &e, "", "missing key 'rules'");
        ctx_problem(c, &e);
        return c->nerr;
    }
    if (!json_is_array(rules)) {
        jsonfile_error(f, &e, "rules", "'rules' must be an array");
        ctx_problem(c, &e);
        return c->nerr;
    }
    n = json_array_size(rules);
    if (nrules != NULL)
        *nrules = n;

    ids = calloc(n != 0 ? n : 1, sizeof(*ids));
    if (out != NULL) {
        rs = calloc(1, sizeof(*rs));
        if (rs != NULL) {
            rs->rules = calloc(n != 0 ? n : 1, sizeof(*rs->rules));
            rs->norm = text_norm_new();
            rs->doc = rs->norm != NULL ? text_doc_new(rs->norm) : NULL;
        }
        if (rs == NULL || rs->rules == NULL || rs->doc == NULL)
            goto nomem;
        norm = rs->norm;
    } else {
        norm = text_norm_new();
    }
    if (ids == NULL || norm == NULL)
        goto nomem;

    for (size_t i = 0; i < n; i++) {
        struct rs_rule *r = rs != NULL ? &rs->rules[i] : NULL;

        if (rs != NULL)
            rs->n = i + 1; /* so ruleset_free releases what this rule took */
        if (build_rule(c, norm, json_array_get(rules, i), i, r, &ids[i]) < 0 && c->stop)
            goto done;
    }
    if (check_duplicates(c, ids, n) < 0)
        goto nomem;
    goto done;

nomem:
    na_error_set(&e, 0, 0, "%s: out of memory", f->path);
    ctx_problem(c, &e);
done:
    if (rs == NULL)
        text_norm_free(&norm);
    free(ids);
    if (out != NULL) {
        if (c->nerr == 0)
            *out = rs;
        else
            ruleset_free(&rs);
    }
    return c->nerr;
}

static int load(struct jsonfile *f, struct ruleset **out, na_error *err)
{
    struct rs_ctx c = {.f = f, .stop = 1, .first = err};
    int n;

    n = rs_build(&c, out, NULL);
    jsonfile_close(&f);
    return n == 0 ? 0 : -1;
}

int ruleset_load(const char *path, struct ruleset **out, na_error *err)
{
    struct jsonfile *f = NULL;

    *out = NULL;
    if (jsonfile_open(path, &f, err) < 0)
        return -1;
    return load(f, out, err);
}

int ruleset_load_buffer(const char *name, const char *json, size_t len, struct ruleset **out,
                        na_error *err)
{
    struct jsonfile *f = NULL;

    *out = NULL;
    if (jsonfile_parse(name, json, len, &f, err) < 0)
        return -1;
    return load(f, out, err);
}

static int check(struct jsonfile *f, void (*report)(const na_error *e, void *arg), void *arg,
                 size_t *nrules)
{
    struct rs_ctx c = {.f = f, .report = report, .arg = arg};
    int n = rs_build(&c, NULL, nrules);

    jsonfile_close(&f);
    return n;
}

static int open_failed(const na_error *e, void (*report)(const na_error *e, void *arg),
                       void *arg, size_t *nrules)
{
    if (nrules != NULL)
        *nrules = 0;
    if (report != NULL)
        report(e, arg);
    return 1;
}

int ruleset_check(const char *path, void (*report)(const na_error *e, void *arg), void *arg,
                  size_t *nrules)
{
    struct jsonfile *f = NULL;
    na_error e;

    na_error_clear(&e);
    if (jsonfile_open(path, &f, &e) < 0)
        return open_failed(&e, report, arg, nrules);
    return check(f, report, arg, nrules);
}

int ruleset_check_buffer(const char *name, const char *json, size_t len,
                         void (*report)(const na_error *e, void *arg), void *arg,
                         size_t *nrules)
{
    struct jsonfile *f = NULL;
    na_error e;

    na_error_clear(&e);
    if (jsonfile_parse(name, json, len, &f, &e) < 0)
        return open_failed(&e, report, arg, nrules);
    return check(f, report, arg, nrules);
}

int ruleset_match(struct ruleset *rs, const struct item *it, ruleset_match_fn cb, void *arg)
{
    text_doc_reset(rs->doc);
    if (text_doc_add_item(rs->doc, it) < 0)
        return -1;
    for (size_t i = 0; i < rs->n; i++) {
        if (rule_eval(rs->rules[i].expr, rs->doc)) {
            int r = cb(&rs->rules[i].info, it, arg);

            if (r != 0)
                return r;
        }
    }
    return 0;
}
