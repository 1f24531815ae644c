/*
 * cli.h - the sub-commands of the `newsalert` command-line tool.
 *
 * Each takes the arguments after its name (argv[0] is the sub-command) and
 * returns the process exit status.
 */
#ifndef NEWSALERT_CLI_H
#define NEWSALERT_CLI_H

int cmd_parse(int argc, char **argv);
int cmd_match(int argc, char **argv);
int cmd_check_rules(int argc, char **argv);
int cmd_subscribe(int argc, char **argv);
int cmd_feeds(int argc, char **argv);

#endif
