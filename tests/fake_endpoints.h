/*
 * fake_endpoints.h - the matcher's alerts_endpoint (a PUB) and
 * replay_endpoint (a ROUTER), bound on loopback TCP ports chosen by the
 * system, for a test that plays the matcher to a client, a notifier stream
 * or a sink set.  Sockets linger 0: closing never waits for a peer.
 */
#ifndef NA_FAKE_ENDPOINTS_H
#define NA_FAKE_ENDPOINTS_H

struct fake_endpoints {
    void *ctx;
    void *pub;         /* alerts_endpoint */
    void *router;      /* replay_endpoint */
    char alerts[64];   /* their addresses, for a configuration */
    char replay[64];
};

/* Make the context and bind both sockets; fails the running test on any
 * error. */
void fake_endpoints_open(struct fake_endpoints *fe);

/* Close both sockets and end the context. */
void fake_endpoints_close(struct fake_endpoints *fe);

#endif
