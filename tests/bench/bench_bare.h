/*
 * bench_bare.h - the floor of feed parsing: what reading a document at all
 * costs, shared by the benchmarks (bench_parse, bench_fetch_floor).
 *
 * bench_bare_parse() gives the bytes to libxml2's xmlReadMemory() with the
 * options the feed parser uses (feed_xml.c), or to jansson's json_loadb()
 * for a JSON document, and frees the result: no feed semantics, no copies,
 * no HTML to text.
 */
#ifndef NEWSALERT_BENCH_BARE_H
#define NEWSALERT_BENCH_BARE_H

#include <stddef.h>

/* Parse buf[0..len) as JSON (is_json) or XML, then free it.  Returns 0, or
 * -1 after printing "<prog>: <name>: <why>" on stderr. */
int bench_bare_parse(const char *buf, size_t len, int is_json, const char *prog,
                     const char *name);

#endif
