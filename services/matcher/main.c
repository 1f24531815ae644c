/*
 * newsalert-matcher: PULL items, match them against the watch rules, PUB
 * alerts with the rule id as topic.  See README "Running the daemons".
 */
#include <stdio.h>

#include "config.h"
#include "daemon.h"
#include "log.h"
#include "matcher.h"
#include "ruleset.h"

int main(int argc, char **argv)
{
    struct daemon_opts opts;
    struct config *cfg = NULL;
    struct matcher *m = NULL;
    struct ruleset *rules = NULL;
    na_error err;
    int rc = 1;

    daemon_parse_args(argc, argv, "Match news items against watch rules and publish alerts.",
                      &opts);
    log_init("matcher");
    na_error_clear(&err);
    if (config_load(opts.config, &cfg, &err) != 0) {
        log_error("%s", err.msg);
        return 1;
    }
    if (opts.check_only) {
        if (ruleset_load(cfg->rules_path, &rules, &err) != 0) {
            log_error("%s", err.msg);
        } else {
            printf("configuration OK (%zu rules)\n", ruleset_count(rules));
            rc = 0;
        }
        ruleset_free(&rules);
        config_free(&cfg);
        return rc;
    }
    daemon_install_signals();
    if (matcher_new(cfg, &m, &err) != 0) {
        log_error("%s", err.msg);
        config_free(&cfg);
        return 1;
    }
    rc = matcher_run(m) == 0 ? 0 : 1;
    matcher_destroy(&m);
    config_free(&cfg);
    return rc;
}
