/*
 * feedparse_main.c - feed-parse-tool: parse one feed file and print the
 * conformance contract's JSON, exactly as `newsalert parse FILE` does.
 * Lets the feed parser be checked against the conformance suite on its own.
 */
#include <stdio.h>
#include <stdlib.h>

#include "feed.h"

int main(int argc, char **argv)
{
    struct feed_doc *doc = NULL;
    na_error err;
    char *json;

    if (argc != 2) {
        fprintf(stderr, "usage: feed-parse-tool FILE\n");
        return 2;
    }
    if (feed_parse_file(argv[1], &doc, &err) < 0) {
        fprintf(stderr, "feed-parse-tool: %s\n", err.msg);
        return 1;
    }
    json = feed_doc_to_json(doc);
    feed_doc_free(&doc);
    if (json == NULL) {
        fprintf(stderr, "feed-parse-tool: out of memory\n");
        return 1;
    }
    puts(json);
    free(json);
    return 0;
}
