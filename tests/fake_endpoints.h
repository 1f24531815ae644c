/*
 * fake_endpoints.h - the matcher's alerts_endpoint (a PUB) and
 * replay_endpoint (a ROUTER), bound on loopback TCP ports chosen by the
 * system, for a test that plays the matcher to a client, a notifier stream
 * or a sink set.  Sockets linger 0: closing never waits for a peer.
 * fake_endpoints_setup / _teardown are the same as cmocka fixtures (the
 * state a struct fake_endpoints).
 */
#ifndef NA_FAKE_ENDPOINTS_H
#define NA_FAKE_ENDPOINTS_H

#include "wire.h"

struct fake_endpoints {
    void *ctx;
    void *pub;         /* alerts_endpoint */
    void *router;      /* replay_endpoint */
    char alerts[64];   /* their addresses, for a configuration */
    char replay[64];
    struct wire_peer peer; /* the last replay requester, for the test's use */
};

/* Make the context and bind both sockets; fails the running test on any
 * error. */
void fake_endpoints_open(struct fake_endpoints *fe);

/* Close both sockets and end the context. */
void fake_endpoints_close(struct fake_endpoints *fe);

/* cmocka fixtures: *state a new, open struct fake_endpoints; closed and
 * freed. */
int fake_endpoints_setup(void **state);
int fake_endpoints_teardown(void **state);

#endif
