/*
 * limit.c: per-token rate limits. One token bucket per token name: depth
 * burst, refilled continuously at rate tokens per second; a submission takes
 * one token per envelope. A request that finds too few tokens takes none and
 * is told how long to wait (HTTP 429 with Retry-After).
 *
 * Buckets live in a small chained hash table under one mutex; the critical
 * section is a lookup and a few floating-point operations. The table holds
 * one bucket per token name ever seen, which the store bounds (names come
 * from vt_service_token_check, never from the request).
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_int.h"

#define LIMIT_BUCKETS 256

struct bucket {
        struct bucket *next;
        double tokens;
        uint64_t at_ns; /* when tokens was last brought up to date */
        char name[];
};

struct vt_server_limiter {
        double rate, burst;
        pthread_mutex_t lock;
        struct bucket *table[LIMIT_BUCKETS];
};

/* see server_int.h */
int vt_server_limiter_new(double rate, double burst, struct vt_server_limiter **out)
{
        struct vt_server_limiter *l = calloc(1, sizeof(*l));

        if (l == NULL)
                return VT_ENOMEM;
        if (pthread_mutex_init(&l->lock, NULL) != 0) {
                free(l);
                return VT_ENOMEM;
        }
        l->rate = rate > 0 ? rate : 0;
        l->burst = burst > 0 ? burst : (rate > 1 ? rate : 1);
        *out = l;
        return 0;
}

/* see server_int.h */
void vt_server_limiter_free(struct vt_server_limiter *l)
{
        size_t i;

        if (l == NULL)
                return;
        for (i = 0; i < LIMIT_BUCKETS; i++)
                while (l->table[i] != NULL) {
                        struct bucket *b = l->table[i];

                        l->table[i] = b->next;
                        free(b);
                }
        pthread_mutex_destroy(&l->lock);
        free(l);
}

/* FNV-1a: the names are ours (token names), so no keyed hash is needed. */
static size_t name_hash(const char *s)
{
        uint32_t h = 2166136261u;

        while (*s != '\0')
                h = (h ^ (unsigned char)*s++) * 16777619u;
        return h % LIMIT_BUCKETS;
}

/* see server_int.h */
unsigned vt_server_limiter_take(struct vt_server_limiter *l, const char *name, double cost,
                                uint64_t now_ns)
{
        struct bucket *b;
        size_t h, len;
        unsigned wait = 0;
        double need;

        if (l == NULL || l->rate <= 0)
                return 0;
        need = cost < l->burst ? cost : l->burst;
        h = name_hash(name);
        pthread_mutex_lock(&l->lock);
        for (b = l->table[h]; b != NULL; b = b->next)
                if (strcmp(b->name, name) == 0)
                        break;
        if (b == NULL) {
                len = strlen(name);
                if ((b = malloc(sizeof(*b) + len + 1)) == NULL) {
                        /* No memory for a bucket: let the request through rather than fail it. */
                        pthread_mutex_unlock(&l->lock);
                        return 0;
                }
                memcpy(b->name, name, len + 1);
                b->tokens = l->burst;
                b->at_ns = now_ns;
                b->next = l->table[h];
                l->table[h] = b;
        }
        if (now_ns > b->at_ns) {
                b->tokens += (double)(now_ns - b->at_ns) * 1e-9 * l->rate;
                if (b->tokens > l->burst)
                        b->tokens = l->burst;
                b->at_ns = now_ns;
        }
        if (b->tokens >= need) {
                b->tokens -= cost;
        } else {
                double secs = ceil((need - b->tokens) / l->rate);

                wait = secs < 1 ? 1 : secs > 86400 ? 86400 : (unsigned)secs;
        }
        pthread_mutex_unlock(&l->lock);
        return wait;
}
