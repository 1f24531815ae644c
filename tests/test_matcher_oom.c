/*
 * test_matcher_oom.c - the matcher, run in this process, does not lose an
 * item it could not receive or decode for want of memory.
 *
 * The matcher (services/matcher/matcher.c, built into the test) runs on a
 * thread of its own (tests/matcher_rig.h); the test plays the fetcher (a
 * DEALER sending packed or JSON items with tags, reading acks) and a
 * subscriber (SUB on the alerts).
 * The test is linked with -Wl,--wrap=malloc, as tests/test_rules_oom.c
 * is; here the wrapper fails the next allocation of one chosen size, the
 * size that only the item's receive or decode asks for (the copy of its
 * record, or of its title: the title's length is chosen for that).  Then:
 * the item is not acknowledged (a bad item is: that is checked too), and
 * when it is sent again, as the fetcher sends what is not acknowledged, it
 * is matched and alerted exactly once, and acknowledged; sent once more
 * (a lost ack), it gives no second alert.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "matcher_rig.h"
#include "testutil.h"
#include "wire.h"

void *__real_malloc(size_t n);

static atomic_size_t fail_size; /* 0: fail nothing */
static atomic_long fail_left;   /* allocations of fail_size still to fail */

void *__wrap_malloc(size_t n)
{
    if (n == atomic_load(&fail_size) && atomic_load(&fail_left) > 0 &&
        atomic_fetch_sub(&fail_left, 1) > 0)
        return NULL;
    return __real_malloc(n);
}

/* A title no other allocation of the matcher matches in size: 3001 bytes. */
#define TITLE_LEN 3000

static int setup(void **state)
{
    (void)state;
    matcher_rig_start();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    matcher_rig_stop();
    return 0;
}

/*
 * Item `id` (tag `tag`, encoding enc) meets one failed allocation: of the
 * size of its record (the receive's copy) when size_of_record, else of its
 * title (the decode's copy).  It must not be acknowledged and give no
 * alert; sent again, it is acknowledged and alerted once; sent a third
 * time (as after a lost ack), acknowledged with no alert.
 */
static void oom_then_again(const char *id, int64_t tag, int enc, int size_of_record)
{
    int acked[64] = {0};
    char got[64];
    size_t len;
    /* made before the failure is armed: this process is the matcher's too */
    char *data = matcher_rig_encode(id, TITLE_LEN, enc, &len);

    atomic_store(&fail_size, size_of_record ? len : TITLE_LEN + 1);
    atomic_store(&fail_left, 1);
    matcher_rig_send(tag, enc, data, len);
    matcher_rig_acks(1500, acked, 64, -1, 0);
    assert_int_equal(atomic_load(&fail_left), 0); /* the allocation did fail */
    atomic_store(&fail_size, 0);
    assert_int_equal(acked[tag], 0); /* not acknowledged: not lost */
    assert_false(matcher_rig_alert(200, got, sizeof(got), NULL));

    /* the fetcher sends again what was not acknowledged */
    matcher_rig_send(tag, enc, data, len);
    matcher_rig_acks(5000, acked, 64, tag, 1);
    assert_int_equal(acked[tag], 1);
    assert_true(matcher_rig_alert(3000, got, sizeof(got), NULL));
    assert_string_equal(got, id);

    /* once more: acknowledged, no second alert */
    matcher_rig_send(tag, enc, data, len);
    matcher_rig_acks(5000, acked, 64, tag, 2);
    assert_int_equal(acked[tag], 2);
    assert_false(matcher_rig_alert(500, got, sizeof(got), NULL));
    free(data);
}

static void test_decode_oom_packed(void **state)
{
    (void)state;
    oom_then_again("story-packed-decode", 1, WIRE_ENC_PACKED, 0);
}

static void test_decode_oom_json(void **state)
{
    (void)state;
    oom_then_again("story-json-decode", 2, WIRE_ENC_JSON, 0);
}

static void test_receive_oom(void **state)
{
    (void)state;
    oom_then_again("story-receive", 3, WIRE_ENC_PACKED, 1);
}

/* A bad item message is still acknowledged and dropped. */
static void test_bad_item_acked(void **state)
{
    static const char garbage[] = "NAI1 this is not a packed record";
    int acked[64] = {0};
    char got[64];

    (void)state;
    matcher_rig_send(4, WIRE_ENC_PACKED, garbage, sizeof(garbage) - 1);
    matcher_rig_acks(5000, acked, 64, 4, 1);
    assert_int_equal(acked[4], 1);
    assert_false(matcher_rig_alert(300, got, sizeof(got), NULL));
}

/* Several items, one of which meets the failure: that one is not
 * acknowledged (nor, when they shared its group, the others); sending
 * again what was not acknowledged gives every item's alert exactly once. */
static void test_group_with_oom(void **state)
{
    static const char *const ids[] = {"group-a", "group-b", "group-c", "group-d"};
    int acked[64] = {0}, alerts[4] = {0};
    char got[64], *data[4];
    size_t len[4];
    int64_t end;

    (void)state;
    for (int i = 0; i < 4; i++)
        data[i] = matcher_rig_encode(ids[i], TITLE_LEN, WIRE_ENC_PACKED, &len[i]);
    atomic_store(&fail_size, TITLE_LEN + 1);
    atomic_store(&fail_left, 1);
    /* the failure hits the first decode: group-a's */
    for (int i = 0; i < 4; i++)
        matcher_rig_send(10 + i, WIRE_ENC_PACKED, data[i], len[i]);
    matcher_rig_acks(1500, acked, 64, -1, 0);
    assert_int_equal(atomic_load(&fail_left), 0);
    atomic_store(&fail_size, 0);
    assert_int_equal(acked[10], 0);
    while (matcher_rig_alert(300, got, sizeof(got), NULL))
        for (int i = 0; i < 4; i++)
            alerts[i] += strcmp(got, ids[i]) == 0;
    for (int i = 0; i < 4; i++)
        if (!acked[10 + i])
            matcher_rig_send(10 + i, WIRE_ENC_PACKED, data[i], len[i]);
    end = matcher_rig_now_ms() + 5000;
    while (matcher_rig_now_ms() < end && (!acked[10] || !acked[11] || !acked[12] || !acked[13]))
        matcher_rig_acks(200, acked, 64, -1, 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(acked[10 + i], 1);
    while (matcher_rig_alert(700, got, sizeof(got), NULL))
        for (int i = 0; i < 4; i++)
            alerts[i] += strcmp(got, ids[i]) == 0;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(alerts[i], 1);
        free(data[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_item_acked),
        cmocka_unit_test(test_decode_oom_packed),
        cmocka_unit_test(test_decode_oom_json),
        cmocka_unit_test(test_receive_oom),
        cmocka_unit_test(test_group_with_oom),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);

    return testutil_finish(matcher_rig_dir(), rc);
}
