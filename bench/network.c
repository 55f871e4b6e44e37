/*
 * bench-network: the two figures of guest networking that grow with the
 * number of VMs, measured in-process on the real modules (no server, no
 * guests, no packets beyond loopback):
 *
 *   allocations/s   ipam_allocate + ipam_release pairs in a /16 pool with
 *                   60,000 addresses taken (each pair is one VM interface
 *                   made and deleted; the pool stays at 60,000 taken), and
 *                   the baseline: the same next-fit policy over a hash set
 *                   of taken addresses (what a first allocator would keep)
 *   probe CPU       CPU time of this process over a window while the
 *                   probe scheduler (agent/probe.c) runs N readiness probes
 *                   every 10 s: half tcpSocket (to 127.0.0.1, half to a
 *                   listening port served by a child process, whose CPU is
 *                   not counted; half to a closed one), half guestInfo (a
 *                   file each, appended to between runs); the baseline is
 *                   the same window with no probes
 *
 * Prints one table; targets: >= 10,000 allocations/s, < 2 % of one core.
 */
#include <arpa/inet.h>
#include <glib.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/probe.h"
#include "model/ipam.h"

static double now_s(void)
{
    return (double)g_get_monotonic_time() / 1e6;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* ---- allocations ------------------------------------------------------------- */

static double bench_ipam(int taken, double secs, uint64_t *free_out)
{
    ipnet_t sn;
    ipaddr_t gw, a;
    err_t err = ERR_INIT;
    ipam_pool_t *p;
    unsigned long n = 0;
    double t0, t;

    if (ipnet_parse("10.50.0.1/16", &sn, "subnet", &err) < 0 ||
        ipaddr_parse("10.50.0.1", &gw, "gateway", &err) < 0 ||
        !(p = ipam_pool_new(&sn, &gw, NULL, 0, &err))) {
        fprintf(stderr, "bench-network: %s\n", err.msg);
        exit(1);
    }
    /* Taken at random places, as after a long life of creates and deletes. */
    for (int i = 0; i < taken;) {
        ipaddr_t r;
        ipaddr_add(&sn.addr, 1 + g_random_int_range(1, 65534), &r);
        if (ipam_reserve(p, &r, &err) == 0)
            i++;
        err_clear(&err);
    }
    *free_out = ipam_free_count(p);
    t0 = now_s();
    do {
        for (int k = 0; k < 1000; k++) {
            if (ipam_allocate(p, &a, &err) < 0) {
                fprintf(stderr, "bench-network: %s\n", err.msg);
                exit(1);
            }
            ipam_release(p, &a);
        }
        n += 1000;
        t = now_s();
    } while (t - t0 < secs);
    ipam_pool_free(p);
    return (double)n / (t - t0);
}

static double bench_naive(int taken, double secs)
{
    /* A set of taken addresses and a next-fit cursor, as a first
     * allocator would keep them: no bitmap, a hash lookup per candidate. */
    GHashTable *used = g_hash_table_new(g_direct_hash, g_direct_equal);
    unsigned long n = 0;
    guint cursor = 2;
    double t0, t;

    while ((int)g_hash_table_size(used) < taken)
        g_hash_table_add(used, GUINT_TO_POINTER(g_random_int_range(2, 65535)));
    t0 = now_s();
    do {
        for (int k = 0; k < 1000; k++) {
            guint i = cursor;
            while (g_hash_table_contains(used, GUINT_TO_POINTER(i)))
                i = i + 1 < 65535 ? i + 1 : 2;
            g_hash_table_add(used, GUINT_TO_POINTER(i));
            cursor = i + 1 < 65535 ? i + 1 : 2;
            g_hash_table_remove(used, GUINT_TO_POINTER(i));
            n++;
        }
        t = now_s();
    } while (t - t0 < secs);
    g_hash_table_unref(used);
    return (double)n / (t - t0);
}

/* ---- probes ------------------------------------------------------------------ */

static void on_change(void *ctx, const char *key)
{
    (void)ctx;
    (void)key;
}

static pid_t listener(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    pid_t pid;

    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1024) < 0) {
        perror("bench-network: listen");
        exit(1);
    }
    getsockname(fd, (struct sockaddr *)&sa, &len);
    *port = ntohs(sa.sin_port);
    if ((pid = fork()) == 0) {
        for (;;) {
            int c = accept(fd, NULL, NULL);
            if (c >= 0)
                close(c);
        }
    }
    close(fd);
    return pid;
}

static double bench_probes(int nvms, double secs, const char *dir, int port, unsigned long *runs)
{
    probe_sched_t *s = probe_sched_new(on_change, NULL, NULL, NULL);
    char **gi = g_new0(char *, nvms + 1);
    double c0, c1, t0;

    for (int i = 0; i < nvms; i++) {
        char key[64], spec_text[256];
        json_t *spec;
        snprintf(key, sizeof(key), "vm-%d", i);
        gi[i] = g_strdup_printf("%s/gi-%d.log", dir, i);
        if (i % 2 == 0)
            snprintf(spec_text, sizeof(spec_text),
                     "{\"tcpSocket\":{\"port\":%d},\"periodSeconds\":10,\"timeoutSeconds\":2}",
                     i % 4 == 0 ? port : 1);
        else
            snprintf(spec_text, sizeof(spec_text),
                     "{\"guestInfo\":[{\"key\":\"app\",\"value\":\"^ok\"}],\"periodSeconds\":10}");
        g_file_set_contents(gi[i], "guestinfo.app=ok\n", -1, NULL);
        spec = json_loads(spec_text, 0, NULL);
        probe_set(s, key, spec, "127.0.0.1", key, gi[i]);
        json_decref(spec);
    }
    /* Let the first round (spread over the period) pass, then measure. */
    g_usleep(nvms ? 11 * G_USEC_PER_SEC : 0);
    *runs = probe_runs(s);
    c0 = cpu_s();
    t0 = now_s();
    while (now_s() - t0 < secs) {
        /* The guests keep writing now and then. */
        for (int i = 1; i < nvms; i += 2) {
            FILE *f = fopen(gi[i], "a");
            if (f) {
                fputs("guestinfo.app=ok\n", f);
                fclose(f);
            }
        }
        g_usleep(G_USEC_PER_SEC);
    }
    c1 = cpu_s();
    *runs = probe_runs(s) - *runs;
    probe_sched_stop(s);
    probe_sched_free(s);
    for (int i = 0; i < nvms; i++) {
        unlink(gi[i]);
        g_free(gi[i]);
    }
    g_free(gi);
    return (c1 - c0) / (now_s() - t0);
}

int main(int argc, char **argv)
{
    int taken = 60000, nvms = 500, port;
    double secs = argc > 1 ? atof(argv[1]) : 30.0;
    char dir[] = "/tmp/bench-network-XXXXXX";
    uint64_t free_left;
    unsigned long runs0, runs;
    double a, b, idle, busy;
    pid_t lp;

    if (secs <= 0)
        secs = 30.0;
    fprintf(stderr, "bench-network: allocations (%d taken in a /16)...\n", taken);
    a = bench_ipam(taken, 3.0, &free_left);
    b = bench_naive(taken, 3.0);
    if (!mkdtemp(dir)) {
        perror("bench-network: mkdtemp");
        return 1;
    }
    lp = listener(&port);
    fprintf(stderr, "bench-network: probe CPU, %.0f s with no probes, then %d probes...\n", secs,
            nvms);
    idle = bench_probes(0, secs, dir, port, &runs0);
    busy = bench_probes(nvms, secs, dir, port, &runs);
    kill(lp, SIGKILL);
    waitpid(lp, NULL, 0);
    rmdir(dir);

    printf("%-44s %14s %14s %10s %s\n", "measure", "vmsvc", "baseline", "target", "");
    printf("%-44s %14.0f %14.0f %10s %s\n", "allocations/s, /16 pool, 60,000 taken", a, b,
           ">= 10000", a >= 10000 ? "ok" : "MISSED");
    printf("%-44s %14llu %14s %10s\n", "  addresses left free in the pool",
           (unsigned long long)free_left, "", "");
    printf("%-44s %13.3f%% %13.3f%% %10s %s\n", "agent CPU, 500 VMs probed every 10 s (1 core)",
           busy * 100, idle * 100, "< 2 %", busy * 100 < 2 ? "ok" : "MISSED");
    printf("%-44s %14.1f %14s %10s\n", "  probe runs/s measured", runs / secs, "", "");
    printf("# baseline: next-fit over a hash set of taken addresses; CPU of the same process "
           "with no probes\n");
    return 0;
}
