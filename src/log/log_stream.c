/*
 * log_stream.c: a stream of one producer's batches (log.h "A stream"),
 * appended in push order by two threads, so that one batch is prepared
 * while the one before it is stored.
 *
 * Each pushed batch gets a ticket (0, 1, 2, ...). A thread takes the
 * oldest queued batch and appends it with vt_log_append_turn() (log.c),
 * which prepares the batches in ticket order, so they are stored in
 * ticket order; then it waits until every earlier batch has been reported
 * and calls done(). At most VT_LOG_STREAM_DEPTH batches are in flight
 * (pushed and not yet reported): push waits for room, and the queue never
 * holds more than that.
 *
 * Lock: mu guards everything below it in the struct; it is never held
 * while appending or while done() runs.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "log/log_int.h"

#define STREAM_THREADS 2

struct stream_job {
        const uint8_t *const *entries;
        const size_t *lens;
        size_t n;
        void *tag;
        uint64_t ticket;
};

struct vt_log_stream {
        struct vt_log *log;
        vt_log_stream_fn done;
        void *ctx;
        struct vt_log_turn turn;
        pthread_t th[STREAM_THREADS];
        int nth;

        pthread_mutex_t mu;
        pthread_cond_t cv; /* a batch queued or reported, or closing */
        struct stream_job q[VT_LOG_STREAM_DEPTH];
        size_t qhead, qlen;
        uint64_t pushed;   /* tickets handed out */
        uint64_t reported; /* the next ticket to report */
        int closing;
        int err; /* the first failure, and its diagnostic */
        struct vt_diag diag;
};

static void *stream_thread(void *p)
{
        struct vt_log_stream *st = p;
        struct stream_job job;
        struct vt_diag jd;
        uint64_t first;
        int err;

        pthread_mutex_lock(&st->mu);
        for (;;) {
                while (st->qlen == 0 && !st->closing)
                        pthread_cond_wait(&st->cv, &st->mu);
                if (st->qlen == 0)
                        break;
                job = st->q[st->qhead];
                st->qhead = (st->qhead + 1) % VT_LOG_STREAM_DEPTH;
                st->qlen--;
                pthread_mutex_unlock(&st->mu);

                jd.msg[0] = '\0';
                first = 0;
                err = vt_log_append_turn(st->log, job.entries, job.lens, job.n, &st->turn,
                                         job.ticket, &first, &jd);

                /* Reported in order: wait for the batches before this one. */
                pthread_mutex_lock(&st->mu);
                while (st->reported != job.ticket)
                        pthread_cond_wait(&st->cv, &st->mu);
                pthread_mutex_unlock(&st->mu);
                st->done(st->ctx, job.tag, first, job.n, err, &jd);
                pthread_mutex_lock(&st->mu);
                if (err != 0 && st->err == 0) {
                        st->err = err;
                        st->diag = jd;
                }
                st->reported++;
                pthread_cond_broadcast(&st->cv);
        }
        pthread_mutex_unlock(&st->mu);
        return NULL;
}

/* Stop the threads (every pushed batch is reported first) and free st. */
static void stream_free(struct vt_log_stream *st)
{
        int i;

        pthread_mutex_lock(&st->mu);
        while (st->reported != st->pushed)
                pthread_cond_wait(&st->cv, &st->mu);
        st->closing = 1;
        pthread_cond_broadcast(&st->cv);
        pthread_mutex_unlock(&st->mu);
        for (i = 0; i < st->nth; i++)
                pthread_join(st->th[i], NULL);
        pthread_cond_destroy(&st->cv);
        pthread_mutex_destroy(&st->mu);
        pthread_cond_destroy(&st->turn.cv);
        pthread_mutex_destroy(&st->turn.mu);
        free(st);
}

/* see log.h */
int vt_log_stream_open(struct vt_log *log, vt_log_stream_fn done, void *ctx,
                       struct vt_log_stream **out, struct vt_diag *d)
{
        struct vt_log_stream *st;
        int i;

        if (log == NULL || done == NULL || log->ws == NULL) {
                vt_diag_set(d, "a stream needs a log open for appending and a done function");
                return VT_EINVAL;
        }
        if ((st = calloc(1, sizeof(*st))) == NULL) {
                vt_diag_set(d, "out of memory for a stream");
                return VT_ENOMEM;
        }
        st->log = log;
        st->done = done;
        st->ctx = ctx;
        pthread_mutex_init(&st->turn.mu, NULL);
        pthread_cond_init(&st->turn.cv, NULL);
        atomic_init(&st->turn.failed, 0);
        pthread_mutex_init(&st->mu, NULL);
        pthread_cond_init(&st->cv, NULL);
        for (i = 0; i < STREAM_THREADS; i++) {
                if (pthread_create(&st->th[i], NULL, stream_thread, st) != 0)
                        break;
                st->nth++;
        }
        if (st->nth == 0) {
                /* One thread would do (without the overlap); none cannot. */
                stream_free(st);
                vt_diag_set(d, "cannot start a thread for the stream");
                return VT_EINTERNAL;
        }
        *out = st;
        return 0;
}

/* see log.h */
int vt_log_stream_push(struct vt_log_stream *st, const uint8_t *const *entries, const size_t *lens,
                       size_t n, void *tag, struct vt_diag *d)
{
        int err;

        pthread_mutex_lock(&st->mu);
        while (st->err == 0 && st->pushed - st->reported >= VT_LOG_STREAM_DEPTH)
                pthread_cond_wait(&st->cv, &st->mu);
        if ((err = st->err) != 0) {
                if (d != NULL)
                        *d = st->diag;
                pthread_mutex_unlock(&st->mu);
                return err;
        }
        st->q[(st->qhead + st->qlen) % VT_LOG_STREAM_DEPTH] =
            (struct stream_job){entries, lens, n, tag, st->pushed};
        st->qlen++;
        st->pushed++;
        pthread_cond_broadcast(&st->cv);
        pthread_mutex_unlock(&st->mu);
        return 0;
}

/* see log.h */
int vt_log_stream_close(struct vt_log_stream *st, struct vt_diag *d)
{
        int err;

        if (st == NULL)
                return 0;
        pthread_mutex_lock(&st->mu);
        while (st->reported != st->pushed)
                pthread_cond_wait(&st->cv, &st->mu);
        if ((err = st->err) != 0 && d != NULL)
                *d = st->diag;
        pthread_mutex_unlock(&st->mu);
        stream_free(st);
        return err;
}
