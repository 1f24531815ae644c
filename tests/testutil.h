/*
 * testutil.h - helpers shared by the cmocka unit tests that work in a
 * scratch directory under /tmp: writing a file there, removing the tree
 * afterwards, and ending a test group (the directory is kept for a look
 * when a test failed); and comparing two items field by field.
 */
#ifndef NA_TESTUTIL_H
#define NA_TESTUTIL_H

/* Write text to path (truncating it), failing the running test on any
 * error; returns path. */
const char *testutil_write_file(const char *path, const char *text);

/* Remove path and, when it is a directory, everything below it; missing
 * entries are ignored. */
void testutil_rm_tree(const char *path);

/* The end of a test group run in dir: when rc (the group's result) is 0,
 * remove dir and return 0, or 1 when it could not be removed; otherwise
 * keep dir and return rc. */
int testutil_finish(const char *dir, int rc);

struct item;

/* Fail the running test unless a and b are the same item: every string
 * field equal (or both NULL), the same categories in the same order (and
 * both lists NULL or neither), the same `published`. */
void testutil_assert_same_item(const struct item *a, const struct item *b);

#endif
