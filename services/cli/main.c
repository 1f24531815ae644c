/*
 * newsalert: the command-line tool.  Parses feeds, checks rules, matches
 * offline and subscribes to live alerts.  See README "Command-line tool".
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "log.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *args;
    const char *what;
} commands[] = {
    {"parse", cmd_parse, "FILE", "print a feed document as JSON"},
    {"match", cmd_match, "--rules RULES [--items ITEMS.jsonl] [FEED...]",
     "match items offline, one JSON alert per line"},
    {"check-rules", cmd_check_rules, "RULES", "check a rules file"},
    {"subscribe", cmd_subscribe, "-c FILE [--since SEQ] [--cursor FILE] [TOPIC...]",
     "print alerts as JSON lines, each once, resuming by seq"},
    {"feeds", cmd_feeds, "-c FILE [--json]",
     "list every feed with its state (last success, last error, next poll, items seen)"},
};

static void usage(FILE *fp)
{
    size_t i;

    fprintf(fp, "usage: newsalert COMMAND [ARGS]\n\n");
    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(fp, "  newsalert %s %s\n      %s\n", commands[i].name, commands[i].args,
                commands[i].what);
    fprintf(fp, "\n  newsalert --version\n");
}

int main(int argc, char **argv)
{
    size_t i;

    log_init("newsalert");
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        printf("newsalert %s\n", NEWSALERT_VERSION);
        return 0;
    }
    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "newsalert: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
