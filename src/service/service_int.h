/*
 * service_int.h: what the service module's files share (service.c owns the
 * struct; token.c uses its reader connections).
 *
 * Locks (never more than one held at a time, except a reader slot inside
 * none of the others):
 *   rootlock  rwlock: the root in force (read by every submission)
 *   rootmu    serialises root replacements
 *   imu       the table of submissions in flight (coalescing)
 *   rd[i].mu  one read-only store connection each
 */
#ifndef VT_SERVICE_INT_H
#define VT_SERVICE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "veritrail/log.h"
#include "veritrail/policy.h"
#include "veritrail/service.h"
#include "veritrail/store.h"

#define VT_SERVICE_READERS   4   /* read-only store connections */
#define VT_SERVICE_BUCKETS   256 /* in-flight table buckets (first byte of the entry hash) */
#define VT_SERVICE_META_ROOT "service.root"

struct vt_service_reader {
        pthread_mutex_t mu;
        struct vt_store *s; /* opened at first use */
};

struct vt_service_inflight; /* a submission being logged (service.c) */

struct vt_service {
        char *dir;
        struct vt_log *log;

        pthread_rwlock_t rootlock;
        pthread_mutex_t rootmu;
        struct vt_policy_root *root;
        struct vt_buf root_bytes; /* the root envelope as given (rootlock) */

        pthread_mutex_t imu;
        struct vt_service_inflight *inflight[VT_SERVICE_BUCKETS];

        struct vt_service_reader rd[VT_SERVICE_READERS];
        atomic_uint rnext;

        atomic_uint_fast64_t submitted, accepted, existed;
        atomic_uint_fast64_t rejected_malformed, rejected_signature, rejected_denied,
            rejected_store;
        atomic_uint_fast64_t batches, batch_entries;
};

/*
 * vt_service_reader_get(s, out, d): a read-only store connection of s,
 * held until vt_service_reader_put(s, slot). Returns the slot, or -1 with
 * *err set (the store could not be opened).
 */
int vt_service_reader_get(struct vt_service *s, struct vt_store **out, int *err, struct vt_diag *d);
void vt_service_reader_put(struct vt_service *s, int slot);

#endif
