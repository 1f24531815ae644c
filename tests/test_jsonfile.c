/*
 * test_jsonfile.c - unit tests for common/jsonfile.c and common/error.c.
 *
 * jsonfile is the gate every configuration file passes through, so these
 * tests pin down the positions it reports: jansson's for syntax errors, the
 * text locator's for problems found in the tree (unknown keys, wrong types,
 * values out of range), including paths through arrays and past strings that
 * hold brackets, quotes, escapes and multi-byte characters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "error.h"
#include "jsonfile.h"
#include "testutil.h"

/* --- helpers ------------------------------------------------------------- */

static struct jsonfile *parse_ok(const char *text)
{
    struct jsonfile *f = NULL;
    na_error err;

    na_error_clear(&err);
    if (jsonfile_parse("t.json", text, strlen(text), &f, &err) != 0)
        fail_msg("unexpected parse error: %s", err.msg);
    assert_non_null(f);
    return f;
}

static void assert_locate(const struct jsonfile *f, const char *path, int line, int col)
{
    int l = -1, c = -1;

    jsonfile_locate(f, path, &l, &c);
    if (l != line || c != col)
        fail_msg("locate '%s': got %d:%d, expected %d:%d", path, l, c, line, col);
}

/* A fresh directory under /tmp, removed (with its files) by testutil_rm_tree. */
static char *make_tmpdir(void)
{
    char *dir = strdup("/tmp/na-test-jsonfile-XXXXXX");

    assert_non_null(dir);
    assert_non_null(mkdtemp(dir));
    return dir;
}


static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "wb");

    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
    assert_int_equal(fclose(fp), 0);
}

/* --- na_error ------------------------------------------------------------ */

static void test_error_set_clear(void **state)
{
    na_error e;

    (void)state;
    assert_int_equal(na_error_set(&e, 3, 14, "bad %s at %d", "thing", 7), -1);
    assert_int_equal(e.line, 3);
    assert_int_equal(e.column, 14);
    assert_string_equal(e.msg, "bad thing at 7");
    na_error_clear(&e);
    assert_int_equal(e.line, 0);
    assert_int_equal(e.column, 0);
    assert_string_equal(e.msg, "");
    /* NULL means "the caller does not care" */
    assert_int_equal(na_error_set(NULL, 1, 1, "x"), -1);
    na_error_clear(NULL);
    na_error_prefix(NULL, "p");
}

static void test_error_prefix(void **state)
{
    na_error e;

    (void)state;
    na_error_set(&e, 2, 5, "unknown word");
    na_error_prefix(&e, "rule '%s'", "r1");
    assert_string_equal(e.msg, "rule 'r1': unknown word");
    assert_int_equal(e.line, 2);
    assert_int_equal(e.column, 5);
    na_error_prefix(&e, "rules.json");
    assert_string_equal(e.msg, "rules.json: rule 'r1': unknown word");
}

static void test_error_overlong(void **state)
{
    char big[3000];
    na_error e;

    (void)state;
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    na_error_set(&e, 1, 1, "%s", big);
    assert_int_equal(strlen(e.msg), sizeof(e.msg) - 1);
    /* a long prefix on a full message: cut, terminated, never overflowed */
    na_error_prefix(&e, "%s", big);
    assert_int_equal(strlen(e.msg), sizeof(e.msg) - 1);
    assert_int_equal(e.msg[sizeof(e.msg) - 3], ':');
    assert_int_equal(e.msg[sizeof(e.msg) - 2], ' ');
    na_error_set(&e, 1, 1, "tail");
    na_error_prefix(&e, "%.1100s", big);
    assert_int_equal(strlen(e.msg), sizeof(e.msg) - 1);
    na_error_set(&e, 1, 1, "%.1020s", big);
    na_error_prefix(&e, "short");
    assert_int_equal(strlen(e.msg), sizeof(e.msg) - 1);
    assert_memory_equal(e.msg, "short: aaa", 10);
}

/* --- parsing ------------------------------------------------------------- */

static void test_parse_ok(void **state)
{
    struct jsonfile *f = parse_ok("{\"a\": [1, 2], \"b\": {\"c\": \"d\"}}");

    (void)state;
    assert_string_equal(f->path, "t.json");
    assert_true(json_is_object(f->root));
    assert_int_equal(json_array_size(json_object_get(f->root, "a")), 2);
    assert_int_equal(f->len, strlen(f->text));
    jsonfile_close(&f);
    assert_null(f);
    jsonfile_close(&f); /* NULL-safe */
    jsonfile_close(NULL);
}

static void test_parse_respects_len(void **state)
{
    /* only the first len bytes are JSON; what follows must not be read */
    const char buf[] = "{\"a\": 1}garbage";
    struct jsonfile *f = NULL;
    na_error err;

    (void)state;
    assert_int_equal(jsonfile_parse("m", buf, 8, &f, &err), 0);
    assert_int_equal(f->len, 8);
    assert_string_equal(f->text, "{\"a\": 1}");
    jsonfile_close(&f);
    assert_int_equal(jsonfile_parse("m", buf, strlen(buf), &f, &err), -1);
    assert_null(f);
}

static void test_syntax_error_position(void **state)
{
    const char *text = "{\n  \"a\": 1,\n  \"b\": ]\n}\n";
    struct jsonfile *f = (struct jsonfile *)1;
    na_error err;

    (void)state;
    assert_int_equal(jsonfile_parse("conf.json", text, strlen(text), &f, &err), -1);
    assert_null(f);
    /* the ']' is the 8th character of line 3 */
    assert_int_equal(err.line, 3);
    assert_int_equal(err.column, 8);
    assert_true(strncmp(err.msg, "conf.json:3:8: ", 15) == 0);
}

static void test_syntax_error_missing_comma(void **state)
{
    const char *text = "{\"a\": 1\n \"b\": 2}";
    struct jsonfile *f = NULL;
    na_error err;

    (void)state;
    assert_int_equal(jsonfile_parse("x.json", text, strlen(text), &f, &err), -1);
    /* jansson points at the last character of the unexpected token, "b" */
    assert_int_equal(err.line, 2);
    assert_int_equal(err.column, 4);
    assert_true(strncmp(err.msg, "x.json:2:4: ", 12) == 0);
}

static void test_syntax_error_multibyte_column(void **state)
{
    /* columns count characters, not bytes: "é" and "ü" are one each */
    const char *text = "{\"é\": \"ü\" x}";
    struct jsonfile *f = NULL;
    na_error err;

    (void)state;
    assert_int_equal(jsonfile_parse("u.json", text, strlen(text), &f, &err), -1);
    assert_int_equal(err.line, 1);
    assert_int_equal(err.column, 11);
}

static void test_parse_rejects(void **state)
{
    static const char *const bad[] = {
        "",                          /* empty */
        "   \n",                     /* only white space */
        "42",                        /* not an object or array */
        "\"text\"",
        "{\"a\": 1, \"a\": 2}",      /* duplicate key */
        "{\"a\": 1",                 /* truncated */
        "{\"a\": \"x\\u0000y\"}",    /* NUL inside a string */
        "{\"a\": 1} {\"b\": 2}",     /* two documents */
        "{\"a\": 'x'}",
        "{\"a\": 1,}",               /* trailing comma */
        "{\"a\": 99999999999999999999999}",
        "\xef\xbb\xbf{}",            /* byte order mark */
        "{\"a\": \"\xff\"}",         /* invalid UTF-8 */
        NULL,
    };
    struct jsonfile *f = NULL;
    na_error err;
    size_t i;

    (void)state;
    for (i = 0; bad[i] != NULL; i++) {
        na_error_clear(&err);
        if (jsonfile_parse("bad.json", bad[i], strlen(bad[i]), &f, &err) == 0)
            fail_msg("accepted bad input #%zu", i);
        assert_null(f);
        assert_true(strncmp(err.msg, "bad.json:", 9) == 0);
    }
    /* a NUL byte in the middle of the text */
    assert_int_equal(jsonfile_parse("nul.json", "{}\0{}", 5, &f, &err), -1);
    /* a NULL error report is allowed */
    assert_int_equal(jsonfile_parse("n", "{", 1, &f, NULL), -1);
}

/* --- files ----------------------------------------------------------------- */

static void test_open_file(void **state)
{
    char *dir = make_tmpdir(), path[512];
    struct jsonfile *f = NULL;
    na_error err;

    (void)state;
    snprintf(path, sizeof(path), "%s/ok.json", dir);
    write_file(path, "{\n  \"k\": [true, null]\n}\n");
    assert_int_equal(jsonfile_open(path, &f, &err), 0);
    assert_string_equal(f->path, path);
    assert_locate(f, "k", 2, 3);
    assert_locate(f, "k[1]", 2, 15);
    jsonfile_close(&f);

    snprintf(path, sizeof(path), "%s/bad.json", dir);
    write_file(path, "{\n\n   \"k\" 1}");
    assert_int_equal(jsonfile_open(path, &f, &err), -1);
    assert_int_equal(err.line, 3);
    assert_int_equal(err.column, 8);
    assert_non_null(strstr(err.msg, "bad.json:3:8: "));
    assert_true(strncmp(err.msg, path, strlen(path)) == 0);

    snprintf(path, sizeof(path), "%s/empty.json", dir);
    write_file(path, "");
    assert_int_equal(jsonfile_open(path, &f, &err), -1);
    assert_true(strncmp(err.msg, path, strlen(path)) == 0);
    testutil_rm_tree(dir);
    free(dir);
}

static void test_open_missing(void **state)
{
    char *dir = make_tmpdir(), path[512];
    struct jsonfile *f = (struct jsonfile *)1;
    na_error err;

    (void)state;
    snprintf(path, sizeof(path), "%s/nope.json", dir);
    assert_int_equal(jsonfile_open(path, &f, &err), -1);
    assert_null(f);
    assert_true(strncmp(err.msg, path, strlen(path)) == 0);
    assert_non_null(strstr(err.msg, "No such file"));
    /* a directory is not a configuration file */
    assert_int_equal(jsonfile_open(dir, &f, &err), -1);
    assert_null(f);
    assert_true(strncmp(err.msg, dir, strlen(dir)) == 0);
    assert_int_equal(jsonfile_open(path, &f, NULL), -1);
    testutil_rm_tree(dir);
    free(dir);
}

/* --- the locator ----------------------------------------------------------- */

/* Each line of this document is referred to by number in the tests. */
static const char nested_doc[] =
    "{\n"                                                          /* 1 */
    "  \"s\": \"a]},\\\"[{\\\\\", \"x\": \"\\\"t\\\": 1\",\n"      /* 2 */
    "  \"t\": [1, \"x,]\", {\"u\": 2, \"v\": [[], {\"w\": null}]}],\n" /* 3 */
    "  \"é\": \"ü\", \"k\": true,\n"                               /* 4 */
    "  \"caf\\u00e9\": 1, \"q\\\"uote\": {\"in\": [ ]},\n"         /* 5 */
    "\t\"tab\": -1.5e3\r\n"                                        /* 6 */
    "}\n";

static void test_locate_nested(void **state)
{
    struct jsonfile *f = parse_ok(nested_doc);

    (void)state;
    assert_locate(f, "", 1, 1);
    assert_locate(f, "s", 2, 3);
    /* "x" comes after a string full of brackets, quotes and a trailing
     * escaped backslash; its own value looks like a key "t" */
    assert_locate(f, "x", 2, 22);
    assert_locate(f, "t", 3, 3);
    assert_locate(f, "t[0]", 3, 9);
    assert_locate(f, "t[1]", 3, 12);
    assert_locate(f, "t[2]", 3, 19);
    assert_locate(f, "t[2].u", 3, 20);
    assert_locate(f, "t[2].v", 3, 28);
    assert_locate(f, "t[2].v[0]", 3, 34);
    assert_locate(f, "t[2].v[1]", 3, 38);
    assert_locate(f, "t[2].v[1].w", 3, 39);
    assert_locate(f, "é", 4, 3);
    assert_locate(f, "k", 4, 13);    /* "é" and "ü" count one column each */
    assert_locate(f, "café", 5, 3);  /* a key written with \u escapes */
    assert_locate(f, "q\"uote", 5, 19);
    assert_locate(f, "q\"uote.in", 5, 31);
    assert_locate(f, "tab", 6, 2);
    jsonfile_close(&f);
}

static void test_locate_not_found(void **state)
{
    struct jsonfile *f = parse_ok(nested_doc);

    (void)state;
    assert_locate(f, "nope", 0, 0);
    assert_locate(f, "t[3]", 0, 0);           /* past the end */
    assert_locate(f, "t[99]", 0, 0);
    assert_locate(f, "t[-1]", 0, 0);
    assert_locate(f, "t[x]", 0, 0);
    assert_locate(f, "t[1", 0, 0);
    assert_locate(f, "t[2].v[0][0]", 0, 0);   /* an empty array */
    assert_locate(f, "q\"uote.in[0]", 0, 0);  /* "[ ]" */
    assert_locate(f, "s.x", 0, 0);            /* into a string */
    assert_locate(f, "t.u", 0, 0);            /* a member of an array */
    assert_locate(f, "[0]", 0, 0);            /* an element of an object */
    assert_locate(f, "k.z", 0, 0);            /* into a literal */
    assert_locate(f, "ca", 0, 0);             /* a prefix of a key */
    assert_locate(NULL, "s", 0, 0);
    jsonfile_close(&f);
}

static void test_locate_array_root(void **state)
{
    struct jsonfile *f = parse_ok("\n\n  [{\"a\":1},{\"b\":2}, \"]\", [[3]]]");

    (void)state;
    assert_locate(f, "", 3, 3);
    assert_locate(f, "[0]", 3, 4);
    assert_locate(f, "[0].a", 3, 5);
    assert_locate(f, "[1]", 3, 12);
    assert_locate(f, "[1].b", 3, 13);
    assert_locate(f, "[2]", 3, 21);
    assert_locate(f, "[3][0][0]", 3, 28);
    assert_locate(f, "[4]", 0, 0);
    assert_locate(f, "[0].b", 0, 0);
    jsonfile_close(&f);
}

static void test_error_at_path(void **state)
{
    struct jsonfile *f = parse_ok(nested_doc);
    na_error err;

    (void)state;
    assert_int_equal(jsonfile_error(f, &err, "t[2].v", "bad %s", "v"), -1);
    assert_string_equal(err.msg, "t.json:3:28: bad v");
    assert_int_equal(err.line, 3);
    assert_int_equal(err.column, 28);
    /* a path that is not there: the file name, no position */
    assert_int_equal(jsonfile_error(f, &err, "zz", "gone"), -1);
    assert_string_equal(err.msg, "t.json: gone");
    assert_int_equal(err.line, 0);
    assert_int_equal(err.column, 0);
    assert_int_equal(jsonfile_error(f, NULL, "zz", "gone"), -1);
    jsonfile_close(&f);
}

/* --- key checks and typed getters ------------------------------------------ */

static void test_check_keys(void **state)
{
    static const char *const top[] = {"s", "x", "t", "é", "k", "café", "q\"uote", "tab", NULL};
    static const char *const inner[] = {"u", NULL};
    static const char *const none[] = {NULL};
    struct jsonfile *f = parse_ok(nested_doc);
    json_t *t2 = json_array_get(json_object_get(f->root, "t"), 2);
    na_error err;

    (void)state;
    assert_int_equal(jsonfile_check_keys(f, f->root, "", top, &err), 0);
    assert_int_equal(jsonfile_check_keys(f, t2, "t[2]", inner, &err), -1);
    assert_string_equal(err.msg, "t.json:3:28: unknown key 'v' in t[2]");
    assert_int_equal(jsonfile_check_keys(f, json_object_get(f->root, "q\"uote"), "q\"uote",
                                         none, &err), -1);
    assert_string_equal(err.msg, "t.json:5:31: unknown key 'in' in q\"uote");
    /* not an object */
    assert_int_equal(jsonfile_check_keys(f, json_object_get(f->root, "t"), "t", inner, &err),
                     -1);
    assert_string_equal(err.msg, "t.json:3:3: t must be an object");
    jsonfile_close(&f);

    f = parse_ok("[1]");
    assert_int_equal(jsonfile_check_keys(f, f->root, "", top, &err), -1);
    assert_string_equal(err.msg, "t.json:1:1: the top level must be an object");
    jsonfile_close(&f);
}

static void test_check_keys_top_level(void **state)
{
    static const char *const allowed[] = {"name", "list", NULL};
    struct jsonfile *f = parse_ok("{\n  \"name\": \"x\",\n  \"list\": [],\n    \"nmae\": 1\n}");
    na_error err;

    (void)state;
    assert_int_equal(jsonfile_check_keys(f, f->root, "", allowed, &err), -1);
    assert_string_equal(err.msg, "t.json:4:5: unknown key 'nmae'");
    assert_int_equal(err.line, 4);
    assert_int_equal(err.column, 5);
    jsonfile_close(&f);
}

static void test_check_keys_odd_names(void **state)
{
    static const char *const allowed[] = {"a", NULL};
    struct jsonfile *f;
    na_error err;

    (void)state;
    /* the unknown key "a.b" must not be located at a.b: point at the object */
    f = parse_ok("{\"a\": {\"b\": 1},\n \"a.b\": 2}");
    assert_int_equal(jsonfile_check_keys(f, f->root, "", allowed, &err), -1);
    assert_int_equal(err.line, 1);
    assert_int_equal(err.column, 1);
    assert_non_null(strstr(err.msg, "unknown key 'a.b'"));
    jsonfile_close(&f);

    f = parse_ok("{\"a\": [5],\n \"a[0]\": 2}");
    assert_int_equal(jsonfile_check_keys(f, f->root, "", allowed, &err), -1);
    assert_int_equal(err.line, 1);
    assert_int_equal(err.column, 1);
    jsonfile_close(&f);

    /* an escaped unknown key is still found */
    f = parse_ok("{\"a\": 1,\n \"\\u0062\": 2}");
    assert_int_equal(jsonfile_check_keys(f, f->root, "", allowed, &err), -1);
    assert_string_equal(err.msg, "t.json:2:2: unknown key 'b'");
    jsonfile_close(&f);
}

static const char typed_doc[] =
    "{\n"
    "  \"str\": \"hello\",\n"
    "  \"num\": 42,\n"
    "  \"neg\": -7,\n"
    "  \"real\": 1.0,\n"
    "  \"yes\": true,\n"
    "  \"no\": false,\n"
    "  \"nil\": null,\n"
    "  \"obj\": {\"n\": \"12\"}\n"
    "}\n";

static void test_get_string(void **state)
{
    struct jsonfile *f = parse_ok(typed_doc);
    const char *s = "untouched";
    na_error err;

    (void)state;
    assert_int_equal(jsonfile_get_string(f, f->root, "", "str", 1, &s, &err), 0);
    assert_string_equal(s, "hello");
    s = "untouched";
    assert_int_equal(jsonfile_get_string(f, f->root, "", "absent", 0, &s, &err), 0);
    assert_string_equal(s, "untouched");
    assert_int_equal(jsonfile_get_string(f, f->root, "", "absent", 1, &s, &err), -1);
    assert_string_equal(err.msg, "t.json:1:1: missing required key 'absent'");
    assert_int_equal(jsonfile_get_string(f, json_object_get(f->root, "obj"), "obj", "m", 1, &s,
                                         &err), -1);
    assert_string_equal(err.msg, "t.json:9:3: missing required key 'obj.m'");
    assert_int_equal(jsonfile_get_string(f, f->root, "", "num", 0, &s, &err), -1);
    assert_string_equal(err.msg, "t.json:3:3: 'num' must be a string");
    assert_int_equal(jsonfile_get_string(f, f->root, "", "nil", 0, &s, &err), -1);
    assert_string_equal(err.msg, "t.json:8:3: 'nil' must be a string");
    assert_int_equal(jsonfile_get_string(f, f->root, "", "obj", 0, &s, &err), -1);
    assert_int_equal(err.line, 9);
    assert_string_equal(s, "untouched");
    jsonfile_close(&f);
}

static void test_get_int(void **state)
{
    struct jsonfile *f = parse_ok(typed_doc);
    long long v = 5;
    na_error err;

    (void)state;
    assert_int_equal(jsonfile_get_int(f, f->root, "", "num", 1, 0, 100, &v, &err), 0);
    assert_int_equal(v, 42);
    /* the bounds are inclusive */
    assert_int_equal(jsonfile_get_int(f, f->root, "", "num", 1, 42, 42, &v, &err), 0);
    assert_int_equal(jsonfile_get_int(f, f->root, "", "neg", 1, -7, 0, &v, &err), 0);
    assert_int_equal(v, -7);
    v = 5;
    assert_int_equal(jsonfile_get_int(f, f->root, "", "num", 1, 43, 100, &v, &err), -1);
    assert_string_equal(err.msg, "t.json:3:3: 'num' must be between 43 and 100, not 42");
    assert_int_equal(jsonfile_get_int(f, f->root, "", "num", 1, 0, 41, &v, &err), -1);
    assert_int_equal(jsonfile_get_int(f, f->root, "", "neg", 0, 0, 10, &v, &err), -1);
    assert_string_equal(err.msg, "t.json:4:3: 'neg' must be between 0 and 10, not -7");
    assert_int_equal(jsonfile_get_int(f, f->root, "", "real", 0, 0, 10, &v, &err), -1);
    assert_string_equal(err.msg, "t.json:5:3: 'real' must be an integer");
    assert_int_equal(jsonfile_get_int(f, f->root, "", "str", 0, 0, 10, &v, &err), -1);
    assert_int_equal(jsonfile_get_int(f, f->root, "", "yes", 0, 0, 10, &v, &err), -1);
    assert_int_equal(jsonfile_get_int(f, json_object_get(f->root, "obj"), "obj", "n", 0, 0, 99,
                                      &v, &err), -1);
    assert_string_equal(err.msg, "t.json:9:11: 'obj.n' must be an integer");
    assert_int_equal(v, 5);
    assert_int_equal(jsonfile_get_int(f, f->root, "", "absent", 0, 0, 10, &v, &err), 0);
    assert_int_equal(v, 5);
    assert_int_equal(jsonfile_get_int(f, f->root, "", "absent", 1, 0, 10, &v, &err), -1);
    assert_string_equal(err.msg, "t.json:1:1: missing required key 'absent'");
    jsonfile_close(&f);
}

static void test_get_bool(void **state)
{
    struct jsonfile *f = parse_ok(typed_doc);
    int b = 7;
    na_error err;

    (void)state;
    assert_int_equal(jsonfile_get_bool(f, f->root, "", "yes", 1, &b, &err), 0);
    assert_int_equal(b, 1);
    assert_int_equal(jsonfile_get_bool(f, f->root, "", "no", 1, &b, &err), 0);
    assert_int_equal(b, 0);
    b = 7;
    assert_int_equal(jsonfile_get_bool(f, f->root, "", "num", 0, &b, &err), -1);
    assert_string_equal(err.msg, "t.json:3:3: 'num' must be true or false");
    assert_int_equal(jsonfile_get_bool(f, f->root, "", "str", 0, &b, &err), -1);
    assert_int_equal(jsonfile_get_bool(f, f->root, "", "absent", 0, &b, &err), 0);
    assert_int_equal(b, 7);
    assert_int_equal(jsonfile_get_bool(f, f->root, "", "absent", 1, &b, &err), -1);
    assert_int_equal(jsonfile_get_bool(f, f->root, "", "absent", 1, &b, NULL), -1);
    jsonfile_close(&f);
}

static void test_resolve(void **state)
{
    static const char *const cases[][3] = {
        {"/etc/newsalert/newsalert.json", "feeds.json", "/etc/newsalert/feeds.json"},
        {"/etc/newsalert/newsalert.json", "/var/lib/x", "/var/lib/x"},
        {"/etc/newsalert/newsalert.json", "sub/dir/f", "/etc/newsalert/sub/dir/f"},
        {"/etc/newsalert/newsalert.json", "../x", "/etc/newsalert/../x"},
        {"newsalert.json", "feeds.json", "feeds.json"},
        {"conf/newsalert.json", "feeds.json", "conf/feeds.json"},
        {"./newsalert.json", "var", "./var"},
        {"/newsalert.json", "var", "/var"},
        {"a/b/", "c", "a/b/c"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *r = jsonfile_resolve(cases[i][0], cases[i][1]);
        assert_non_null(r);
        if (strcmp(r, cases[i][2]) != 0)
            fail_msg("resolve('%s', '%s') = '%s', expected '%s'", cases[i][0], cases[i][1], r,
                     cases[i][2]);
        free(r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_set_clear),
        cmocka_unit_test(test_error_prefix),
        cmocka_unit_test(test_error_overlong),
        cmocka_unit_test(test_parse_ok),
        cmocka_unit_test(test_parse_respects_len),
        cmocka_unit_test(test_syntax_error_position),
        cmocka_unit_test(test_syntax_error_missing_comma),
        cmocka_unit_test(test_syntax_error_multibyte_column),
        cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_open_file),
        cmocka_unit_test(test_open_missing),
        cmocka_unit_test(test_locate_nested),
        cmocka_unit_test(test_locate_not_found),
        cmocka_unit_test(test_locate_array_root),
        cmocka_unit_test(test_error_at_path),
        cmocka_unit_test(test_check_keys),
        cmocka_unit_test(test_check_keys_top_level),
        cmocka_unit_test(test_check_keys_odd_names),
        cmocka_unit_test(test_get_string),
        cmocka_unit_test(test_get_int),
        cmocka_unit_test(test_get_bool),
        cmocka_unit_test(test_resolve),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
