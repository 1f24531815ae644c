/*
 * fileio.c - reading whole files with a size limit (see fileio.h).
 */
#include "fileio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int fileio_read_all(const char *path, size_t max, char **buf, size_t *len, na_error *err)
{
    int is_stdin = strcmp(path, "-") == 0;
    FILE *fp = is_stdin ? stdin : fopen(path, "rb");
    size_t n, used = 0, cap = 0;
    char *data = NULL, *grown;

    *buf = NULL;
    *len = 0;
    if (fp == NULL)
        return na_error_set(err, 0, 0, "%s: cannot open: %s", path, strerror(errno));
    for (;;) {
        if (cap - used < 65536 + 1) {
            cap = cap == 0 ? 65536 + 1 : cap * 2;
            if ((grown = realloc(data, cap)) == NULL) {
                na_error_set(err, 0, 0, "%s: out of memory", path);
                goto err;
            }
            data = grown;
        }
        n = fread(data + used, 1, cap - used - 1, fp);
        used += n;
        if (used > max) {
            na_error_set(err, 0, 0, "%s: larger than %zu bytes", path, max);
            goto err;
        }
        if (n == 0)
            break;
    }
    if (ferror(fp)) {
        na_error_set(err, 0, 0, "%s: read error: %s", path, strerror(errno));
        goto err;
    }
    if (!is_stdin)
        fclose(fp);
    data[used] = '\0';
    *buf = data;
    *len = used;
    return 0;
err:
    if (!is_stdin)
        fclose(fp);
    free(data);
    return -1;
}
