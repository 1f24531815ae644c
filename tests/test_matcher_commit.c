/*
 * test_matcher_commit.c - a group whose journal commit fails is not
 * acknowledged, and its items are alerted exactly once when they come again.
 *
 * The matcher runs in this process (tests/matcher_rig.h).  Before it opens
 * its journal, the test registers a SQLite VFS of its own as the default:
 * it passes everything to the default VFS ("unix") and, when armed, fails
 * writes to the write-ahead log, which is where a commit in WAL mode writes
 * (journal.sync is false here, so a commit writes and does not fsync).  The
 * matcher's committer thread then sees COMMIT fail: the group is rolled
 * back, no alert is published and no item acknowledged; sent again, the item
 * is alerted once, with the seq that follows the last alert published (the
 * failed group left no gap), and sent a third time it gives no alert.
 * Nothing in the production code knows about the test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "matcher_rig.h"
#include "testutil.h"
#include "wire.h"

/* --- a VFS that fails WAL writes on demand ------------------------------- */

struct shim_file {
    sqlite3_file base;  /* base.pMethods: &shim_io, or NULL */
    sqlite3_file *real; /* the real file, in the same allocation, after this */
    int wal;            /* opened as a write-ahead log */
};

/* the real file follows, aligned as SQLite aligns its own */
#define SHIM_FILE_SIZE ((sizeof(struct shim_file) + 7) & ~(size_t)7)

static sqlite3_vfs *real_vfs;
static atomic_int fail_wal_writes; /* WAL writes still to fail */
static atomic_int wal_write_failures;

#define REAL(f) (((struct shim_file *)(f))->real)

static int shim_close(sqlite3_file *f)
{
    return REAL(f)->pMethods->xClose(REAL(f));
}

static int shim_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
    return REAL(f)->pMethods->xRead(REAL(f), buf, n, off);
}

static int shim_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
    if (((struct shim_file *)f)->wal && atomic_load(&fail_wal_writes) > 0 &&
        atomic_fetch_sub(&fail_wal_writes, 1) > 0) {
        atomic_fetch_add(&wal_write_failures, 1);
        return SQLITE_IOERR_WRITE;
    }
    return REAL(f)->pMethods->xWrite(REAL(f), buf, n, off);
}

static int shim_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    return REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static int shim_sync(sqlite3_file *f, int flags)
{
    return REAL(f)->pMethods->xSync(REAL(f), flags);
}

static int shim_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int shim_lock(sqlite3_file *f, int level)
{
    return REAL(f)->pMethods->xLock(REAL(f), level);
}

static int shim_unlock(sqlite3_file *f, int level)
{
    return REAL(f)->pMethods->xUnlock(REAL(f), level);
}

static int shim_check_reserved(sqlite3_file *f, int *out)
{
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int shim_file_control(sqlite3_file *f, int op, void *arg)
{
    return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int shim_sector_size(sqlite3_file *f)
{
    return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int shim_device_chars(sqlite3_file *f)
{
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

static int shim_shm_map(sqlite3_file *f, int page, int size, int extend, void volatile **pp)
{
    return REAL(f)->pMethods->xShmMap(REAL(f), page, size, extend, pp);
}

static int shim_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
    return REAL(f)->pMethods->xShmLock(REAL(f), offset, n, flags);
}

static void shim_shm_barrier(sqlite3_file *f)
{
    REAL(f)->pMethods->xShmBarrier(REAL(f));
}

static int shim_shm_unmap(sqlite3_file *f, int delete_flag)
{
    return REAL(f)->pMethods->xShmUnmap(REAL(f), delete_flag);
}

static int shim_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp)
{
    return REAL(f)->pMethods->xFetch(REAL(f), off, n, pp);
}

static int shim_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
    return REAL(f)->pMethods->xUnfetch(REAL(f), off, p);
}

static const sqlite3_io_methods shim_io = {
    3,
    shim_close,
    shim_read,
    shim_write,
    shim_truncate,
    shim_sync,
    shim_file_size,
    shim_lock,
    shim_unlock,
    shim_check_reserved,
    shim_file_control,
    shim_sector_size,
    shim_device_chars,
    shim_shm_map,
    shim_shm_lock,
    shim_shm_barrier,
    shim_shm_unmap,
    shim_fetch,
    shim_unfetch,
};

static int shim_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags,
                     int *out_flags)
{
    struct shim_file *s = (struct shim_file *)f;
    int rc;

    (void)vfs;
    s->real = (sqlite3_file *)((char *)f + SHIM_FILE_SIZE);
    s->wal = (flags & SQLITE_OPEN_WAL) != 0;
    rc = real_vfs->xOpen(real_vfs, name, s->real, flags, out_flags);
    /* the unix VFS's files have every method of version 3 */
    assert_true(s->real->pMethods == NULL || s->real->pMethods->iVersion >= 3);
    s->base.pMethods = s->real->pMethods != NULL ? &shim_io : NULL;
    return rc;
}

static int shim_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
    (void)vfs;
    return real_vfs->xDelete(real_vfs, name, sync_dir);
}

static int shim_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    (void)vfs;
    return real_vfs->xAccess(real_vfs, name, flags, out);
}

static int shim_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
    (void)vfs;
    return real_vfs->xFullPathname(real_vfs, name, n, out);
}

static int shim_randomness(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    return real_vfs->xRandomness(real_vfs, n, out);
}

static int shim_sleep(sqlite3_vfs *vfs, int us)
{
    (void)vfs;
    return real_vfs->xSleep(real_vfs, us);
}

static int shim_current_time(sqlite3_vfs *vfs, double *out)
{
    (void)vfs;
    return real_vfs->xCurrentTime(real_vfs, out);
}

static int shim_last_error(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    return real_vfs->xGetLastError(real_vfs, n, out);
}

static int shim_current_time64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
    (void)vfs;
    return real_vfs->xCurrentTimeInt64(real_vfs, out);
}

static sqlite3_vfs shim_vfs;

/* Make the shim the default VFS, over the default one. */
static void shim_register(void)
{
    real_vfs = sqlite3_vfs_find(NULL);
    assert_non_null(real_vfs);
    assert_true(real_vfs->iVersion >= 2);
    memset(&shim_vfs, 0, sizeof(shim_vfs));
    shim_vfs.iVersion = 2;
    shim_vfs.szOsFile = (int)SHIM_FILE_SIZE + real_vfs->szOsFile;
    shim_vfs.mxPathname = real_vfs->mxPathname;
    shim_vfs.zName = "na-test-failing-wal";
    shim_vfs.xOpen = shim_open;
    shim_vfs.xDelete = shim_delete;
    shim_vfs.xAccess = shim_access;
    shim_vfs.xFullPathname = shim_full_pathname;
    shim_vfs.xRandomness = shim_randomness;
    shim_vfs.xSleep = shim_sleep;
    shim_vfs.xCurrentTime = shim_current_time;
    shim_vfs.xGetLastError = shim_last_error;
    shim_vfs.xCurrentTimeInt64 = shim_current_time64;
    assert_int_equal(sqlite3_vfs_register(&shim_vfs, 1), SQLITE_OK);
}

/* --- the test ------------------------------------------------------------ */

static int setup(void **state)
{
    (void)state;
    shim_register();
    matcher_rig_start();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    matcher_rig_stop();
    sqlite3_vfs_unregister(&shim_vfs);
    return 0;
}

static void test_failed_commit(void **state)
{
    int acked[8] = {0};
    char got[64], *a, *b;
    size_t alen, blen;
    int64_t seq_a = -1, seq_b = -1;

    (void)state;
    a = matcher_rig_encode("story-a", 64, WIRE_ENC_PACKED, &alen);
    b = matcher_rig_encode("story-b", 64, WIRE_ENC_PACKED, &blen);
    /* a commits as usual */
    matcher_rig_send(1, WIRE_ENC_PACKED, a, alen);
    matcher_rig_acks(5000, acked, 8, 1, 1);
    assert_int_equal(acked[1], 1);
    assert_true(matcher_rig_alert(3000, got, sizeof(got), &seq_a));
    assert_string_equal(got, "story-a");

    /* b's group cannot be written: not acknowledged, no alert */
    atomic_store(&fail_wal_writes, 1);
    matcher_rig_send(2, WIRE_ENC_PACKED, b, blen);
    matcher_rig_acks(1500, acked, 8, -1, 0);
    assert_int_equal(atomic_load(&wal_write_failures), 1);
    atomic_store(&fail_wal_writes, 0);
    assert_int_equal(acked[2], 0);
    assert_false(matcher_rig_alert(300, got, sizeof(got), NULL));

    /* sent again: acknowledged and alerted once, right after a */
    matcher_rig_send(2, WIRE_ENC_PACKED, b, blen);
    matcher_rig_acks(5000, acked, 8, 2, 1);
    assert_int_equal(acked[2], 1);
    assert_true(matcher_rig_alert(3000, got, sizeof(got), &seq_b));
    assert_string_equal(got, "story-b");
    assert_true(seq_b == seq_a + 1);

    /* and once more: acknowledged, no second alert */
    matcher_rig_send(2, WIRE_ENC_PACKED, b, blen);
    matcher_rig_acks(5000, acked, 8, 2, 2);
    assert_int_equal(acked[2], 2);
    assert_false(matcher_rig_alert(500, got, sizeof(got), NULL));
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failed_commit),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);

    return testutil_finish(matcher_rig_dir(), rc);
}
