/*
 * fuzz_index.c: libFuzzer target for the lookup index's run files
 * (src/service/index.c, docs/FORMATS.md "Lookup index"), the one thing it
 * reads from disk.
 *
 * Each input is written as a run file of a fresh index directory, named
 * after the LO and HI its header claims (so that the name check passes and
 * the rest of the header, the size rule and the fences are what is
 * tested), and the index is opened with the tag its header claims. Then,
 * whether the file was taken or removed: look-ups of the keys it holds and
 * of others, and keys added past what it covers with memtables of 8 keys
 * and fan-in 2 (24 of them), so that the file is also read by a merge; after the merge
 * the keys added must all be found. Nothing may crash, leak or hang.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "service/service_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char base[64];

static uint64_t le64(const uint8_t *p)
{
        uint64_t v = 0;
        int i;

        for (i = 7; i >= 0; i--)
                v = v << 8 | p[i];
        return v;
}

/* Empty dir/index (the files a previous input left). */
static void clean(const char *dir)
{
        char path[256];
        struct dirent *de;
        DIR *d;

        if ((d = opendir(dir)) == NULL)
                return;
        while ((de = readdir(d)) != NULL) {
                if (de->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
                unlink(path);
        }
        closedir(d);
}

/* At exit: the directory this process made. */
static void remove_base(void)
{
        char dir[128];

        snprintf(dir, sizeof(dir), "%s/index", base);
        clean(dir);
        rmdir(dir);
        rmdir(base);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct vt_service_index_opts o = {8, 2};
        struct vt_service_index *ix = NULL;
        struct vt_diag d = {""};
        char dir[128], path[256];
        uint8_t tag[32] = {0}, k[32];
        uint64_t lo = 0, hi = 1, cov = 0, *v, i;
        size_t n, j;
        FILE *f;

        if (base[0] == '\0') {
                /* tmpfs where there is one: a flush's fsync is then free */
                snprintf(base, sizeof(base), "%s/vt-fuzz-index.XXXXXX",
                         access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
                if (mkdtemp(base) == NULL)
                        abort();
                atexit(remove_base);
        }
        if (size > (1u << 20))
                return 0;
        snprintf(dir, sizeof(dir), "%s/index", base);
        mkdir(dir, 0700);
        clean(dir);
        if (size >= 96) {
                lo = le64(data + 8);
                hi = le64(data + 16);
                memcpy(tag, data + 64, 32);
        }
        snprintf(path, sizeof(path), "%s/entry-%016llx-%016llx.run", dir, (unsigned long long)lo,
                 (unsigned long long)hi);
        if ((f = fopen(path, "wb")) == NULL)
                abort();
        if (size > 0 && fwrite(data, 1, size, f) != size)
                abort();
        fclose(f);
        /* The log is as long as the run says it covers (or shorter, by the input's last byte). */
        if (vt_service_index_open(base, "entry", tag, size > 0 && data[size - 1] == 0 ? hi / 2 : hi,
                                  &o, &cov, &ix, &d) != 0)
                return 0;
        /* Look-ups: the keys of the first records, and a few others. */
        for (j = 0; j < 8; j++) {
                memset(k, 0, sizeof(k));
                if (96 + 16 * j + 8 <= size)
                        memcpy(k, data + 96 + 16 * j, 8);
                else
                        k[0] = (uint8_t)j;
                if (vt_service_index_get(ix, k, &v, &n) == 0)
                        free(v);
        }
        /* Keys past what it covers: flushed, then merged with the run. */
        if (cov < UINT64_MAX - 64) {
                for (i = 0; i < 24; i++) {
                        if (vt_service_index_reserve(ix, 1, &d) != 0)
                                break;
                        memset(k, 0, sizeof(k));
                        k[0] = (uint8_t)(i * 37);
                        k[9] = 1;
                        vt_service_index_add(ix, k, cov + i);
                }
                vt_service_index_settle(ix);
                for (i = 0; i < 24; i++) {
                        memset(k, 0, sizeof(k));
                        k[0] = (uint8_t)(i * 37);
                        if (vt_service_index_get(ix, k, &v, &n) != 0)
                                continue;
                        /* The added entry is among the candidates. */
                        for (j = 0; j < n && v[j] != cov + i; j++)
                                ;
                        if (j == n)
                                abort();
                        free(v);
                }
        }
        vt_service_index_free(ix);
        return 0;
}
