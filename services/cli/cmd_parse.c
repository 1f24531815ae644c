/*
 * cmd_parse.c - `newsalert parse FILE`: a feed document as the JSON of the
 * feed-parser conformance contract (README "newsalert parse").
 *
 * A document that is not a feed at all still gives one JSON document, with
 * `bozo` true and the reason in `bozo_exception`, as feedparser does; only
 * an unreadable file is an error (exit 1).  Relative links stay relative
 * unless the document's own xml:base resolves them: a file path is no base.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "feed.h"
#include "fileio.h"

int cmd_parse(int argc, char **argv)
{
    struct feed_doc *doc = NULL;
    char *buf, *json;
    size_t len;
    na_error err;

    if (argc != 2) {
        fprintf(stderr, "usage: newsalert parse FILE\n");
        return 2;
    }
    na_error_clear(&err);
    if (fileio_read_all(argv[1], FEED_MAX_SIZE, &buf, &len, &err) != 0) {
        fprintf(stderr, "newsalert: %s\n", err.msg);
        return 1;
    }
    if (feed_parse(buf, len, NULL, NULL, &doc, &err) != 0) {
        json_t *o = json_pack("{s:b, s:s, s:s, s:s, s:{}, s:[]}", "bozo", 1, "bozo_exception",
                              err.msg, "version", "", "encoding", "", "feed", "entries");
        json = o != NULL ? json_dumps(o, JSON_INDENT(2)) : NULL;
        json_decref(o);
        fprintf(stderr, "newsalert: %s: %s\n", argv[1], err.msg);
    } else {
        json = feed_doc_to_json(doc);
    }
    free(buf);
    feed_doc_free(&doc);
    if (json == NULL) {
        fprintf(stderr, "newsalert: out of memory\n");
        return 1;
    }
    puts(json);
    free(json);
    return 0;
}
