/*
 * faultvfs.c: a SQLite VFS shim that injects I/O errors, for tests.
 *
 * Every SQLite store connection opens its database through this VFS
 * ("veritrail-fault"), registered beside (not instead of) the default VFS and
 * wrapping it. Its file object is our small header followed by the default
 * VFS's own file object (szOsFile = header + underlying szOsFile); each
 * method forwards to the underlying method of the same name.
 *
 * xWrite, xSync and xTruncate are counted against one process-wide countdown
 * (vt_store_fault_countdown(), store.h): while it is positive each call
 * decrements it and proceeds; once it is zero every such call fails with
 * SQLITE_IOERR_WRITE, SQLITE_IOERR_FSYNC or SQLITE_IOERR_TRUNCATE without
 * touching the file, as a dying disk would; while it is negative (the
 * default) nothing is counted. Everything else, in particular the
 * shared-memory methods WAL needs (sqlite3_io_methods version 2: xShmMap,
 * xShmLock, xShmBarrier, xShmUnmap; version 3: xFetch, xUnfetch for mmap),
 * passes through untouched. The wrapper advertises the same io_methods
 * version as the file it wraps, so SQLite never calls a method the
 * underlying file lacks.
 *
 * The segments (segment.c: entries.seg and envelopes.seg) count their
 * writes, writeback starts, syncs and truncations
 * against the same countdown through vt_store_fault_fire(), so one sweep
 * covers every I/O call a transaction makes, in the order it makes them.
 *
 * With injection off the cost is one relaxed atomic load per write or sync.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store/store_impl.h"

#define FAULT_VFS_NAME "veritrail-fault"

/* Our file object; the underlying VFS's file object follows it in memory. */
struct fault_file {
        sqlite3_file base;
        sqlite3_file *real;
};

static atomic_long fault_countdown = -1;
static sqlite3_vfs fault_vfs;
static const char *fault_name;
static pthread_once_t fault_once = PTHREAD_ONCE_INIT;

/* see store.h */
void vt_store_fault_countdown(long n)
{
        atomic_store(&fault_countdown, n < 0 ? -1 : n);
}

/* see store_impl.h */
int vt_store_fault_armed(void)
{
        return atomic_load_explicit(&fault_countdown, memory_order_relaxed) >= 0;
}

/* see store_impl.h */
int vt_store_fault_fire(void)
{
        long c = atomic_load_explicit(&fault_countdown, memory_order_relaxed);

        while (c > 0 && !atomic_compare_exchange_weak(&fault_countdown, &c, c - 1))
                ;
        return c == 0;
}

static sqlite3_file *real_of(sqlite3_file *f)
{
        return ((struct fault_file *)f)->real;
}

/* I/O methods: forward, counting writes, syncs and truncations. */

static int ff_close(sqlite3_file *f)
{
        sqlite3_file *r = real_of(f);
        int rc = SQLITE_OK;

        if (r->pMethods != NULL)
                rc = r->pMethods->xClose(r);
        f->pMethods = NULL;
        return rc;
}

static int ff_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off)
{
        sqlite3_file *r = real_of(f);

        return r->pMethods->xRead(r, p, n, off);
}

static int ff_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
        sqlite3_file *r = real_of(f);

        if (vt_store_fault_fire())
                return SQLITE_IOERR_WRITE;
        return r->pMethods->xWrite(r, p, n, off);
}

static int ff_truncate(sqlite3_file *f, sqlite3_int64 size)
{
        sqlite3_file *r = real_of(f);

        if (vt_store_fault_fire())
                return SQLITE_IOERR_TRUNCATE;
        return r->pMethods->xTruncate(r, size);
}

static int ff_sync(sqlite3_file *f, int flags)
{
        sqlite3_file *r = real_of(f);

        if (vt_store_fault_fire())
                return SQLITE_IOERR_FSYNC;
        return r->pMethods->xSync(r, flags);
}

static int ff_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
        sqlite3_file *r = real_of(f);

        return r->pMethods->xFileSize(r, size);
}

static int ff_lock(sqlite3_file *f, int lock)
{
        sqlite3_file *r = real_of(f);

        return r->pMethods->xLock(r, lock);
}

static int ff_unlock(sqlite3_file *f, int lock)
{
        sqlite3_file *r = real_of(f);

        return r->pMethods->xUnlock(r, lock);
}

static int ff_check_reserved_lock(sqlite3_file *f, int *out)
{
        sqlite3_file *r = real_of(f);

        return r->pMethods->xCheckReservedLock(r, out);
}

static int ff_file_control(sqlite3_file *f, int op, void *arg)
{
        sqlite3_file *r = real_of(f);

        return r->pMethods->xFileControl(r, op, arg);
}

static int ff_sector_size(sqlite3_file *f)
{
        sqlite3_file *r = real_of(f);

        return r->pMethods->xSectorSize(r);
}

static int ff_device_characteristics(sqlite3_file *f)
{
        sqlite3_file *r = real_of(f);

        return r->pMethods->xDeviceCharacteristics(r);
}

/* Version 2: the WAL index in shared memory. */

static int ff_shm_map(sqlite3_file *f, int region, int size, int extend, void volatile **pp)
{
        sqlite3_file *r = real_of(f);

        return r->pMethods->xShmMap(r, region, size, extend, pp);
}

static int ff_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
        sqlite3_file *r = real_of(f);

        return r->pMethods->xShmLock(r, offset, n, flags);
}

static void ff_shm_barrier(sqlite3_file *f)
{
        sqlite3_file *r = real_of(f);

        r->pMethods->xShmBarrier(r);
}

static int ff_shm_unmap(sqlite3_file *f, int delete_flag)
{
        sqlite3_file *r = real_of(f);

        return r->pMethods->xShmUnmap(r, delete_flag);
}

/* Version 3: memory-mapped reads. */

static int ff_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp)
{
        sqlite3_file *r = real_of(f);

        return r->pMethods->xFetch(r, off, n, pp);
}

static int ff_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
        sqlite3_file *r = real_of(f);

        return r->pMethods->xUnfetch(r, off, p);
}

/* One method table per io_methods version, so we claim only what the real file has. */
#define FF_METHODS(version)                                                                        \
        {                                                                                          \
                version, ff_close, ff_read, ff_write, ff_truncate, ff_sync, ff_file_size, ff_lock, \
                    ff_unlock, ff_check_reserved_lock, ff_file_control, ff_sector_size,            \
                    ff_device_characteristics, ff_shm_map, ff_shm_lock, ff_shm_barrier,            \
                    ff_shm_unmap, ff_fetch, ff_unfetch                                             \
        }
static const sqlite3_io_methods ff_methods[3] = {FF_METHODS(1), FF_METHODS(2), FF_METHODS(3)};

/* VFS methods: forward to the wrapped VFS (pAppData). */

static sqlite3_vfs *real_vfs(sqlite3_vfs *v)
{
        return (sqlite3_vfs *)v->pAppData;
}

static int fv_open(sqlite3_vfs *v, sqlite3_filename name, sqlite3_file *f, int flags,
                   int *out_flags)
{
        struct fault_file *ff = (struct fault_file *)f;
        sqlite3_vfs *rv = real_vfs(v);
        int rc, version;

        ff->real = (sqlite3_file *)(ff + 1);
        ff->real->pMethods = NULL;
        rc = rv->xOpen(rv, name, ff->real, flags, out_flags);
        /*
         * SQLite calls xClose whenever pMethods is set, even after a failed
         * xOpen, so mirror the underlying file: set ours exactly when it set its.
         */
        if (ff->real->pMethods == NULL) {
                f->pMethods = NULL;
                return rc;
        }
        version = ff->real->pMethods->iVersion;
        if (version < 1)
                version = 1;
        if (version > 3)
                version = 3;
        f->pMethods = &ff_methods[version - 1];
        return rc;
}

static int fv_delete(sqlite3_vfs *v, const char *name, int sync_dir)
{
        return real_vfs(v)->xDelete(real_vfs(v), name, sync_dir);
}

static int fv_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
        return real_vfs(v)->xAccess(real_vfs(v), name, flags, out);
}

static int fv_full_pathname(sqlite3_vfs *v, const char *name, int n, char *out)
{
        return real_vfs(v)->xFullPathname(real_vfs(v), name, n, out);
}

static void *fv_dl_open(sqlite3_vfs *v, const char *name)
{
        return real_vfs(v)->xDlOpen(real_vfs(v), name);
}

static void fv_dl_error(sqlite3_vfs *v, int n, char *msg)
{
        real_vfs(v)->xDlError(real_vfs(v), n, msg);
}

static void (*fv_dl_sym(sqlite3_vfs *v, void *h, const char *sym))(void)
{
        return real_vfs(v)->xDlSym(real_vfs(v), h, sym);
}

static void fv_dl_close(sqlite3_vfs *v, void *h)
{
        real_vfs(v)->xDlClose(real_vfs(v), h);
}

static int fv_randomness(sqlite3_vfs *v, int n, char *out)
{
        return real_vfs(v)->xRandomness(real_vfs(v), n, out);
}

static int fv_sleep(sqlite3_vfs *v, int us)
{
        return real_vfs(v)->xSleep(real_vfs(v), us);
}

static int fv_current_time(sqlite3_vfs *v, double *out)
{
        return real_vfs(v)->xCurrentTime(real_vfs(v), out);
}

static int fv_get_last_error(sqlite3_vfs *v, int n, char *out)
{
        sqlite3_vfs *rv = real_vfs(v);

        return rv->xGetLastError != NULL ? rv->xGetLastError(rv, n, out) : 0;
}

static int fv_current_time_int64(sqlite3_vfs *v, sqlite3_int64 *out)
{
        return real_vfs(v)->xCurrentTimeInt64(real_vfs(v), out);
}

static int fv_set_system_call(sqlite3_vfs *v, const char *name, sqlite3_syscall_ptr p)
{
        return real_vfs(v)->xSetSystemCall(real_vfs(v), name, p);
}

static sqlite3_syscall_ptr fv_get_system_call(sqlite3_vfs *v, const char *name)
{
        return real_vfs(v)->xGetSystemCall(real_vfs(v), name);
}

static const char *fv_next_system_call(sqlite3_vfs *v, const char *name)
{
        return real_vfs(v)->xNextSystemCall(real_vfs(v), name);
}

/* fault_init(): register the shim once; read VT_FAULT_IO. */
static void fault_init(void)
{
        sqlite3_vfs *rv;
        const char *env;

        /* Environment: VT_FAULT_IO=n, a decimal countdown (anything else is ignored). */
        if ((env = getenv("VT_FAULT_IO")) != NULL && *env != '\0') {
                char *end;
                long n = strtol(env, &end, 10);
                if (*end == '\0')
                        vt_store_fault_countdown(n);
        }
        if (sqlite3_initialize() != SQLITE_OK || (rv = sqlite3_vfs_find(NULL)) == NULL)
                return;
        memset(&fault_vfs, 0, sizeof(fault_vfs));
        /* Versions 2 and 3 add only xCurrentTimeInt64 and the system-call methods. */
        fault_vfs.iVersion = rv->iVersion < 3 ? rv->iVersion : 3;
        fault_vfs.szOsFile = (int)sizeof(struct fault_file) + rv->szOsFile;
        fault_vfs.mxPathname = rv->mxPathname;
        fault_vfs.zName = FAULT_VFS_NAME;
        fault_vfs.pAppData = rv;
        fault_vfs.xOpen = fv_open;
        fault_vfs.xDelete = fv_delete;
        fault_vfs.xAccess = fv_access;
        fault_vfs.xFullPathname = fv_full_pathname;
        fault_vfs.xDlOpen = rv->xDlOpen != NULL ? fv_dl_open : NULL;
        fault_vfs.xDlError = rv->xDlError != NULL ? fv_dl_error : NULL;
        fault_vfs.xDlSym = rv->xDlSym != NULL ? fv_dl_sym : NULL;
        fault_vfs.xDlClose = rv->xDlClose != NULL ? fv_dl_close : NULL;
        fault_vfs.xRandomness = fv_randomness;
        fault_vfs.xSleep = fv_sleep;
        fault_vfs.xCurrentTime = fv_current_time;
        fault_vfs.xGetLastError = fv_get_last_error;
        if (fault_vfs.iVersion >= 2)
                fault_vfs.xCurrentTimeInt64 = fv_current_time_int64;
        if (fault_vfs.iVersion >= 3) {
                fault_vfs.xSetSystemCall = rv->xSetSystemCall != NULL ? fv_set_system_call : NULL;
                fault_vfs.xGetSystemCall = rv->xGetSystemCall != NULL ? fv_get_system_call : NULL;
                fault_vfs.xNextSystemCall =
                    rv->xNextSystemCall != NULL ? fv_next_system_call : NULL;
        }
        if (sqlite3_vfs_register(&fault_vfs, 0) == SQLITE_OK)
                fault_name = FAULT_VFS_NAME;
}

/* see store_impl.h */
const char *vt_store_faultvfs_name(void)
{
        pthread_once(&fault_once, fault_init);
        return fault_name;
}
