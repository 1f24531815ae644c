/*
 * test_journal.c - the alert journal: seq is the journal position and is
 * never reused (across rollback, reopen and pruning), groups commit
 * atomically, processed item keys are remembered, reads filter by topic
 * prefix and respect their bounds, retention by count and age keeps the
 * newest alert, and a file that is not a journal is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "journal.h"
#include "testutil.h"

static char dir[] = "/tmp/test-journal-XXXXXX";

static void path_of(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", dir, name);
}

static struct journal *open_j(const char *name, int64_t retention, int64_t max_alerts)
{
    struct journal_opts o = {retention, max_alerts, 1};
    struct journal *j = NULL;
    char path[512];
    na_error err;

    path_of(path, sizeof(path), name);
    na_error_clear(&err);
    assert_int_equal(journal_open(path, &o, &j, &err), 0);
    return j;
}

/* Append n alerts with topics cycling through `topics`, at time ts. */
static void append_n(struct journal *j, int n, const char *const *topics, size_t ntopics,
                     int64_t ts)
{
    assert_int_equal(journal_begin(j), 0);
    for (int i = 0; i < n; i++) {
        int64_t seq = journal_head(j) + 1;
        char body[64];

        snprintf(body, sizeof(body), "{\"v\":1,\"seq\":%lld}", (long long)seq);
        assert_int_equal(journal_append(j, seq, topics[i % ntopics], body, strlen(body), ts), 0);
    }
    assert_int_equal(journal_commit(j), 0);
}

struct collected {
    int64_t seqs[1000];
    char topics[1000][16];
    long n;
};

static int collect(int64_t seq, const char *topic, const char *body, size_t len, void *arg)
{
    struct collected *c = arg;
    char want[64];

    snprintf(want, sizeof(want), "{\"v\":1,\"seq\":%lld}", (long long)seq);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(body, want, len);
    c->seqs[c->n] = seq;
    snprintf(c->topics[c->n], sizeof(c->topics[0]), "%s", topic);
    c->n++;
    return 0;
}

static void test_seq_and_groups(void **state)
{
    static const char *const t[] = {"a"};
    struct journal *j = open_j("groups.db", 0, 0);
    const char *body = "{}";

    (void)state;
    assert_int_equal(journal_head(j), 0);
    assert_int_equal(journal_oldest(j), 1);
    append_n(j, 3, t, 1, 100);
    assert_int_equal(journal_head(j), 3);
    assert_int_equal(journal_oldest(j), 1);
    /* out of order: refused */
    assert_int_equal(journal_begin(j), 0);
    assert_int_equal(journal_append(j, 7, "a", body, 2, 100), -1);
    assert_non_null(strstr(journal_errmsg(j), "out of order"));
    /* a rolled-back group leaves no trace and its seqs are given again */
    assert_int_equal(journal_append(j, 4, "a", body, 2, 100), 0);
    assert_int_equal(journal_head(j), 4);
    assert_int_equal(journal_rollback(j), 0);
    assert_int_equal(journal_head(j), 3);
    /* nested groups are a mistake */
    assert_int_equal(journal_begin(j), 0);
    assert_int_equal(journal_begin(j), -1);
    assert_int_equal(journal_rollback(j), 0);
    journal_close(&j);
    assert_null(j);
    j = open_j("groups.db", 0, 0);
    assert_int_equal(journal_head(j), 3);
    journal_close(&j);
}

static void test_items(void **state)
{
    struct journal *j = open_j("items.db", 0, 0);

    (void)state;
    assert_int_equal(journal_item_seen(j, "http://f", "1"), 0);
    assert_int_equal(journal_begin(j), 0);
    assert_int_equal(journal_item_mark(j, "http://f", "1", 10), 1);
    assert_int_equal(journal_item_mark(j, "http://f", "1", 10), 0);
    /* seen inside the open group */
    assert_int_equal(journal_item_seen(j, "http://f", "1"), 1);
    assert_int_equal(journal_item_seen(j, "http://g", "1"), 0);
    assert_int_equal(journal_commit(j), 0);
    journal_close(&j);
    j = open_j("items.db", 0, 0);
    assert_int_equal(journal_item_seen(j, "http://f", "1"), 1);
    /* a rolled-back mark is forgotten */
    assert_int_equal(journal_begin(j), 0);
    assert_int_equal(journal_item_mark(j, "http://f", "2", 10), 1);
    assert_int_equal(journal_rollback(j), 0);
    assert_int_equal(journal_item_seen(j, "http://f", "2"), 0);
    journal_close(&j);
}

static void test_read(void **state)
{
    static const char *const t[] = {"tech-ai", "sports", "tech-db"};
    const char *const tech[] = {"tech"};
    const char *const none[] = {"nothing"};
    struct journal *j = open_j("read.db", 0, 0);
    struct collected *c = calloc(1, sizeof(*c));
    int64_t last;
    long n;

    (void)state;
    append_n(j, 30, t, 3, 100);
    /* everything after 10 */
    n = journal_read(j, 10, NULL, 0, 1000, 1 << 20, 100000, collect, c, &last);
    assert_int_equal(n, 20);
    assert_int_equal(c->seqs[0], 11);
    assert_int_equal(c->seqs[19], 30);
    assert_int_equal(last, 30);
    /* a prefix: only tech-*, in order */
    memset(c, 0, sizeof(*c));
    n = journal_read(j, 0, tech, 1, 1000, 1 << 20, 100000, collect, c, &last);
    assert_int_equal(n, 20);
    for (long i = 0; i < n; i++) {
        assert_int_equal(strncmp(c->topics[i], "tech", 4), 0);
        if (i > 0)
            assert_true(c->seqs[i] > c->seqs[i - 1]);
    }
    assert_int_equal(last, 30);
    /* bounded by count: last is where the examination stopped */
    memset(c, 0, sizeof(*c));
    n = journal_read(j, 0, tech, 1, 5, 1 << 20, 100000, collect, c, &last);
    assert_int_equal(n, 5);
    assert_int_equal(c->seqs[4], 7);
    assert_int_equal(last, 8); /* 8 is "sports": examined, not wanted */
    /* bounded by bytes: at least one */
    memset(c, 0, sizeof(*c));
    n = journal_read(j, 0, NULL, 0, 1000, 1, 100000, collect, c, &last);
    assert_int_equal(n, 1);
    assert_int_equal(last, 1);
    /* bounded by scanning: nothing matches, last moves on anyway */
    memset(c, 0, sizeof(*c));
    n = journal_read(j, 0, none, 1, 1000, 1 << 20, 7, collect, c, &last);
    assert_int_equal(n, 0);
    assert_int_equal(last, 7);
    n = journal_read(j, 7, none, 1, 1000, 1 << 20, 100000, collect, c, &last);
    assert_int_equal(n, 0);
    assert_int_equal(last, 30);
    /* at the head */
    n = journal_read(j, 30, NULL, 0, 1000, 1 << 20, 100000, collect, c, &last);
    assert_int_equal(n, 0);
    assert_int_equal(last, 30);
    free(c);
    journal_close(&j);
}

static void test_retention(void **state)
{
    static const char *const t[] = {"x"};
    struct journal *j = open_j("prune.db", 0, 10);

    (void)state;
    append_n(j, 25, t, 1, 1000);
    assert_int_equal(journal_prune(j, 2000), 15);
    assert_int_equal(journal_oldest(j), 16);
    assert_int_equal(journal_head(j), 25);
    journal_close(&j);

    /* by age: everything is old, the newest stays, seq goes on */
    j = open_j("prune.db", 100, 0);
    assert_int_equal(journal_oldest(j), 16);
    assert_int_equal(journal_prune(j, 5000), 9);
    assert_int_equal(journal_oldest(j), 25);
    assert_int_equal(journal_head(j), 25);
    append_n(j, 1, t, 1, 5000);
    assert_int_equal(journal_head(j), 26);
    journal_close(&j);
    j = open_j("prune.db", 100, 0);
    assert_int_equal(journal_head(j), 26);
    assert_int_equal(journal_oldest(j), 25);
    journal_close(&j);
}

static void test_not_a_journal(void **state)
{
    struct journal_opts o = {0, 0, 1};
    struct journal *j = NULL;
    char path[512];
    na_error err;

    (void)state;
    path_of(path, sizeof(path), "garbage.db");
    testutil_write_file(path, "this is not an SQLite database, not at all, no.......................");
    na_error_clear(&err);
    assert_int_equal(journal_open(path, &o, &j, &err), -1);
    assert_null(j);
    assert_non_null(strstr(err.msg, "garbage.db"));
    path_of(path, sizeof(path), "no/such/dir/j.db");
    assert_int_equal(journal_open(path, &o, &j, &err), -1);
}

/* Check a big body: seq at the front, then `len` bytes of a pattern. */
static int check_big(int64_t seq, const char *topic, const char *body, size_t len, void *arg)
{
    int64_t *next = arg;
    char want[32];
    int n = snprintf(want, sizeof(want), "%lld:", (long long)seq);

    (void)topic;
    assert_true(seq == *next);
    assert_int_equal(len, 3000);
    assert_memory_equal(body, want, (size_t)n);
    for (size_t i = (size_t)n; i < len; i++)
        assert_int_equal(body[i], 'a' + (char)((seq + (int64_t)i) % 26));
    (*next)++;
    return 0;
}

/* Enough data for many checkpoints (on the checkpointer thread, beside the
 * writer): every alert comes back intact, also after reopening; the WAL
 * file stays bounded. */
static void test_checkpoints(void **state)
{
    struct journal *j = open_j("ckpt.db", 0, 0);
    char body[3000], path[512];
    int64_t next, last;
    long got;
    FILE *f;

    (void)state;
    for (int g = 0; g < 40; g++) {
        assert_int_equal(journal_begin(j), 0);
        for (int i = 0; i < 200; i++) {
            int64_t seq = journal_head(j) + 1;
            int n = snprintf(body, sizeof(body), "%lld:", (long long)seq);

            for (size_t k = (size_t)n; k < sizeof(body); k++)
                body[k] = (char)('a' + (seq + (int64_t)k) % 26);
            assert_int_equal(journal_append(j, seq, "t", body, sizeof(body), 0), 0);
        }
        assert_int_equal(journal_commit(j), 0);
    }
    assert_true(journal_head(j) == 8000);
    path_of(path, sizeof(path), "ckpt.db-wal");
    f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    assert_true(ftell(f) < 100L * 1024 * 1024);
    fclose(f);
    for (int pass = 0; pass < 2; pass++) {
        next = 1;
        while (next <= 8000) {
            got = journal_read(j, next - 1, NULL, 0, 1000, 64 * 1024 * 1024, 100000, check_big,
                               &next, &last);
            assert_true(got > 0);
        }
        assert_true(next == 8001);
        if (pass == 0) {
            journal_close(&j);
            j = open_j("ckpt.db", 0, 0);
            assert_true(journal_head(j) == 8000);
        }
    }
    journal_close(&j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seq_and_groups),
        cmocka_unit_test(test_items),
        cmocka_unit_test(test_read),
        cmocka_unit_test(test_retention),
        cmocka_unit_test(test_not_a_journal),
        cmocka_unit_test(test_checkpoints),
    };
    int rc;

    if (mkdtemp(dir) == NULL)
        return 1;
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    return testutil_finish(dir, rc);
}
