/*
 * fileio.h - reading whole files with a size limit.
 */
#ifndef NEWSALERT_FILEIO_H
#define NEWSALERT_FILEIO_H

#include <stddef.h>

#include "error.h"

/* Read all of `path` ("-" is standard input) into a NUL-terminated buffer
 * the caller frees.  Files larger than `max` bytes are an error.  Errors
 * name the file.  Returns 0 or -1. */
int fileio_read_all(const char *path, size_t max, char **buf, size_t *len, na_error *err);

#endif
