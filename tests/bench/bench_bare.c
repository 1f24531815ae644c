/*
 * bench_bare.c - the floor of feed parsing (see bench_bare.h).
 */
#include "bench_bare.h"

#include <jansson.h>
#include <libxml/parser.h>
#include <limits.h>
#include <stdio.h>

int bench_bare_parse(const char *buf, size_t len, int is_json, const char *prog,
                     const char *name)
{
    if (is_json) {
        json_error_t jerr;
        json_t *j = json_loadb(buf, len, 0, &jerr);

        if (j == NULL) {
            fprintf(stderr, "%s: %s: %s\n", prog, name, jerr.text);
            return -1;
        }
        json_decref(j);
    } else {
        xmlDocPtr d;

        if (len > INT_MAX) {
            fprintf(stderr, "%s: %s: too large for libxml2\n", prog, name);
            return -1;
        }
        /* the options feed_xml.c gives libxml2 */
        d = xmlReadMemory(buf, (int)len, NULL, "UTF-8",
                          XML_PARSE_NONET | XML_PARSE_RECOVER | XML_PARSE_NOERROR |
                              XML_PARSE_NOWARNING | XML_PARSE_IGNORE_ENC);
        if (d == NULL) {
            fprintf(stderr, "%s: %s: libxml2 could not parse it\n", prog, name);
            return -1;
        }
        xmlFreeDoc(d);
    }
    return 0;
}
