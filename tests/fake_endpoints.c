/*
 * fake_endpoints.c - see fake_endpoints.h.
 */
#include "fake_endpoints.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>
#include <zmq.h>

void fake_endpoints_open(struct fake_endpoints *fe)
{
    int linger = 0;
    size_t len;

    fe->ctx = zmq_ctx_new();
    assert_non_null(fe->ctx);
    fe->pub = zmq_socket(fe->ctx, ZMQ_PUB);
    fe->router = zmq_socket(fe->ctx, ZMQ_ROUTER);
    assert_true(fe->pub != NULL && fe->router != NULL);
    zmq_setsockopt(fe->pub, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(fe->router, ZMQ_LINGER, &linger, sizeof(linger));
    assert_int_equal(zmq_bind(fe->pub, "tcp://127.0.0.1:*"), 0);
    assert_int_equal(zmq_bind(fe->router, "tcp://127.0.0.1:*"), 0);
    len = sizeof(fe->alerts);
    assert_int_equal(zmq_getsockopt(fe->pub, ZMQ_LAST_ENDPOINT, fe->alerts, &len), 0);
    len = sizeof(fe->replay);
    assert_int_equal(zmq_getsockopt(fe->router, ZMQ_LAST_ENDPOINT, fe->replay, &len), 0);
}

void fake_endpoints_close(struct fake_endpoints *fe)
{
    zmq_close(fe->pub);
    zmq_close(fe->router);
    zmq_ctx_term(fe->ctx);
}

int fake_endpoints_setup(void **state)
{
    struct fake_endpoints *fe = calloc(1, sizeof(*fe));

    assert_non_null(fe);
    fake_endpoints_open(fe);
    *state = fe;
    return 0;
}

int fake_endpoints_teardown(void **state)
{
    struct fake_endpoints *fe = *state;

    fake_endpoints_close(fe);
    free(fe);
    return 0;
}
