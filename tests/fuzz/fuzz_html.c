/*
 * fuzz_html.c - libFuzzer target for the parser's text helpers, which see
 * every title, summary and date of every feed: html_to_text(),
 * html_sanitize_base() (with and without a base URL) and date_parse().
 * fuzz_feed reaches them too, but only through what libxml2 lets through;
 * here they get raw bytes, NULs and invalid UTF-8 included.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "date.h"
#include "html.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    char *out, date[128];
    int64_t t;

    out = html_to_text(s, size);
    free(out);
    out = html_sanitize_base(s, size, NULL);
    free(out);
    out = html_sanitize_base(s, size, "http://fuzz.example/dir/feed.xml");
    free(out);
    if (size < sizeof(date)) {
        memcpy(date, s, size);
        date[size] = '\0';
        if (date_parse(date, &t) == 0) {
            char buf[DATE_RFC3339_SIZE];

            date_format(t, buf);
        }
    }
    return 0;
}
