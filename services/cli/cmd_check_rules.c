/*
 * cmd_check_rules.c - `newsalert check-rules RULES`: "N rules OK", or every
 * error with file, line, column and rule id, exit 1.
 */
#include <stdio.h>

#include "cli.h"
#include "ruleset.h"

static void report(const na_error *e, void *arg)
{
    (void)arg;
    fprintf(stderr, "%s\n", e->msg);
}

int cmd_check_rules(int argc, char **argv)
{
    size_t nrules = 0;
    int nerrors;

    if (argc != 2) {
        fprintf(stderr, "usage: newsalert check-rules RULES\n");
        return 2;
    }
    nerrors = ruleset_check(argv[1], report, NULL, &nrules);
    if (nerrors != 0) {
        fprintf(stderr, "%d error%s in %s\n", nerrors, nerrors == 1 ? "" : "s", argv[1]);
        return 1;
    }
    printf("%zu rules OK\n", nrules);
    return 0;
}
