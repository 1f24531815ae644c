/*
 * matcher_rig.h - the matcher run inside a test process, for tests that
 * need to fail what the daemon does (allocations, disk writes) and watch
 * what it acknowledges and publishes.
 *
 * matcher_rig_start() writes a rules file (one rule, id "nato", query
 * "NATO membership") and a config with ipc:// endpoints in a scratch
 * directory, starts matcher_run() on a thread of its own (matcher.threads
 * 1, journal.sync false), and connects a DEALER (the test plays the
 * fetcher: items with tags, acks back) and a SUB (every alert), waiting for
 * a heartbeat so that no alert is missed.  The test links the matcher's
 * sources (services/matcher/matcher.c, matchpool.c, rulewatch.c) and
 * tests/matcher_rig.c.
 */
#ifndef NA_MATCHER_RIG_H
#define NA_MATCHER_RIG_H

#include <stddef.h>
#include <stdint.h>

/* Start the matcher; fails the running test on any error. */
void matcher_rig_start(void);

/* Stop it and close everything (the scratch directory stays). */
void matcher_rig_stop(void);

/* The scratch directory (for testutil_finish). */
const char *matcher_rig_dir(void);

int64_t matcher_rig_now_ms(void);

/* Item `id` matching the rule, with a title of title_len bytes (>= 16), in
 * encoding enc (wire.h) as the fetcher sends it: *len bytes the caller
 * frees. */
char *matcher_rig_encode(const char *id, size_t title_len, int enc, size_t *len);

/* Send data[0..len) with tag in encoding enc. */
void matcher_rig_send(int64_t tag, int enc, const char *data, size_t len);

/* Count the acks that come within ms in acked[tag] (tags < ntags),
 * returning early once acked[tag] reaches count (tag < 0: never). */
void matcher_rig_acks(long ms, int *acked, size_t ntags, int64_t tag, int count);

/* The next alert (heartbeats skipped) within ms: 1 with its item's id in
 * id[] and its seq in *seq (NULL allowed), 0 when none came. */
int matcher_rig_alert(long ms, char *id, size_t idsize, int64_t *seq);

#endif
