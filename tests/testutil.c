/*
 * testutil.c - helpers shared by the cmocka unit tests that work in a
 * scratch directory: see testutil.h.
 */
#include "testutil.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "item.h"

const char *testutil_write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "wb");

    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
    assert_int_equal(fclose(fp), 0);
    return path;
}

void testutil_rm_tree(const char *path)
{
    struct stat st;
    DIR *d;
    struct dirent *de;
    char sub[4096];

    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode) && (d = opendir(path)) != NULL) {
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
            testutil_rm_tree(sub);
        }
        closedir(d);
        rmdir(path);
        return;
    }
    unlink(path);
}

int testutil_finish(const char *dir, int rc)
{
    if (rc != 0)
        return rc;
    testutil_rm_tree(dir);
    return access(dir, F_OK) == 0 ? 1 : 0;
}

static void testutil_assert_same_string(const char *a, const char *b)
{
    if (a == NULL || b == NULL) {
        assert_ptr_equal(a, b);
        return;
    }
    assert_string_equal(a, b);
}

void testutil_assert_same_item(const struct item *a, const struct item *b)
{
    testutil_assert_same_string(a->id, b->id);
    testutil_assert_same_string(a->title, b->title);
    testutil_assert_same_string(a->summary, b->summary);
    testutil_assert_same_string(a->content, b->content);
    testutil_assert_same_string(a->link, b->link);
    testutil_assert_same_string(a->feed, b->feed);
    testutil_assert_same_string(a->feed_title, b->feed_title);
    testutil_assert_same_string(a->author, b->author);
    assert_int_equal(a->ncategories, b->ncategories);
    for (size_t i = 0; i < a->ncategories; i++)
        assert_string_equal(a->categories[i], b->categories[i]);
    assert_true((a->categories == NULL) == (b->categories == NULL));
    assert_true(a->published == b->published);
}
