/*
 * fuzz_feed.c - libFuzzer target for the feed parser.
 *
 * Every input is handed to feed_parse() three times: bare, with an HTTP
 * Content-Type whose charset is picked by the input's first byte (so the
 * charset-conflict paths are explored too) and a base URL, then the
 * document is written out as the conformance JSON and as plain-text items,
 * which walks every string the parser produced.  Any crash, leak, sanitizer
 * report or time-out is a bug in the parser.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "feed.h"
#include "item.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fuzz_content_types[] = {
    NULL,
    "application/rss+xml; charset=utf-8",
    "text/xml; charset=iso-8859-1",
    "application/atom+xml; charset=windows-1252",
    "application/xml; charset=utf-16",
    "text/html",
    "application/feed+json",
    "text/plain; charset=bogus-charset",
};

/* Parse buf once and exercise both outputs. */
static void fuzz_one(const char *buf, size_t len, const char *base, const char *ctype)
{
    struct feed_doc *doc = NULL;
    struct item **items = NULL;
    size_t nitems = 0, i;
    na_error err;
    char *json;

    if (feed_parse(buf, len, base, ctype, &doc, &err) != 0)
        return;
    json = feed_doc_to_json(doc);
    free(json);
    if (feed_doc_to_items(doc, "http://fuzz.example/feed", &items, &nitems) == 0) {
        for (i = 0; i < nitems; i++)
            item_free(&items[i]);
        free(items);
    }
    feed_doc_free(&doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const size_t nct = sizeof fuzz_content_types / sizeof fuzz_content_types[0];
    const char *ctype = size > 0 ? fuzz_content_types[data[0] % nct] : NULL;

    fuzz_one((const char *)data, size, NULL, NULL);
    if (ctype != NULL)
        fuzz_one((const char *)data, size, "http://fuzz.example/dir/feed.xml", ctype);
    return 0;
}
