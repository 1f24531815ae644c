/*
 * cmd_check_rules.c - `newsalert check-rules RULES`: "N rules OK", or every
 * error with file, line, column and rule id, exit 1.  RULES may be a file
 * or a directory of *.json rules files.  Warnings (a rule part that can
 * never match...) are printed too but do not fail the check:
 * "N rules OK, W warnings".
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "ruleset.h"

static void report(const na_error *e, void *arg)
{
    int *nwarnings = arg;
    const char *colon = strstr(e->msg, ": warning: ");

    if (colon != NULL)
        (*nwarnings)++;
    fprintf(stderr, "%s\n", e->msg);
}

int cmd_check_rules(int argc, char **argv)
{
    size_t nrules = 0;
    int nerrors, nwarnings = 0;

    if (argc != 2) {
        fprintf(stderr, "usage: newsalert check-rules RULES\n");
        return 2;
    }
    nerrors = ruleset_check(argv[1], report, &nwarnings, &nrules);
    if (nerrors != 0) {
        fprintf(stderr, "%d error%s in %s\n", nerrors, nerrors == 1 ? "" : "s", argv[1]);
        return 1;
    }
    if (nwarnings > 0)
        printf("%zu rules OK, %d warning%s\n", nrules, nwarnings, nwarnings == 1 ? "" : "s");
    else
        printf("%zu rules OK\n", nrules);
    return 0;
}
