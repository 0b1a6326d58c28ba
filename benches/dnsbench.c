/* DNS latency from inside a container, for benches/network.sh.
 *   dnsbench NAME [N]
 * Reads the first nameserver of /etc/resolv.conf, sends N (default 2000) A queries for NAME
 * over UDP, one at a time (the next after the previous answer), and times each from send to
 * answer with CLOCK_MONOTONIC. 50 untimed queries first (warm caches, ARP).
 * Prints "median_us p99_us answered N". Exits 1 when a query gets no answer with at least
 * one address within 2 s (the name is not served: the figure would be meaningless).
 * Built with musl-gcc -static, so it runs in any rootfs. No resolver library: the query is
 * built here, so the time is the server's and the network's, not a stub resolver's. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int nameserver(struct in_addr *out) {
    FILE *f = fopen("/etc/resolv.conf", "r");
    char line[512], addr[64];
    if (!f) return -1;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, " nameserver %63s", addr) == 1 && inet_pton(AF_INET, addr, out) == 1) {
            fclose(f);
            return 0;
        }
    }
    fclose(f);
    return -1;
}

/* Header (id, RD, one question) and the question NAME IN A; returns its length or -1. */
static int query(unsigned char *buf, size_t cap, unsigned short id, const char *name) {
    size_t n = 12, len = strlen(name);
    if (len == 0 || len > 253 || n + len + 2 + 4 > cap) return -1;
    memset(buf, 0, 12);
    buf[0] = id >> 8; buf[1] = id & 0xff;
    buf[2] = 0x01;            /* RD */
    buf[5] = 1;               /* QDCOUNT */
    const char *p = name;
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        if (l == 0 || l > 63) return -1;
        buf[n++] = (unsigned char)l;
        memcpy(buf + n, p, l);
        n += l;
        p += l;
        if (*p == '.') p++;
    }
    buf[n++] = 0;
    buf[n++] = 0; buf[n++] = 1;   /* A */
    buf[n++] = 0; buf[n++] = 1;   /* IN */
    return (int)n;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: dnsbench NAME [N]\n"); return 2; }
    int n = argc > 2 ? atoi(argv[2]) : 2000;
    if (n < 1) n = 1;
    struct sockaddr_in ns = {0};
    ns.sin_family = AF_INET;
    ns.sin_port = htons(53);
    if (nameserver(&ns.sin_addr) != 0) { fprintf(stderr, "dnsbench: no nameserver in /etc/resolv.conf\n"); return 2; }
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    if (s < 0 || connect(s, (struct sockaddr *)&ns, sizeof ns) != 0) { perror("dnsbench: socket"); return 2; }
    struct timeval tv = {2, 0};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    double *us = malloc(sizeof(double) * (size_t)n);
    if (!us) return 2;
    unsigned char q[512], a[1500];
    for (int i = -50; i < n; i++) {
        unsigned short id = (unsigned short)(i + 100);
        int ql = query(q, sizeof q, id, argv[1]);
        if (ql < 0) { fprintf(stderr, "dnsbench: bad name %s\n", argv[1]); return 2; }
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (send(s, q, (size_t)ql, 0) != ql) { perror("dnsbench: send"); return 1; }
        ssize_t r;
        for (;;) {  /* skip a late answer to an earlier query */
            r = recv(s, a, sizeof a, 0);
            if (r < 0) { fprintf(stderr, "dnsbench: no answer for %s within 2 s\n", argv[1]); return 1; }
            if (r >= 12 && a[0] == (id >> 8) && a[1] == (id & 0xff)) break;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        int rcode = a[3] & 0x0f, ancount = (a[6] << 8) | a[7];
        if (rcode != 0 || ancount < 1) {
            fprintf(stderr, "dnsbench: %s: rcode %d, %d answers\n", argv[1], rcode, ancount);
            return 1;
        }
        if (i >= 0) us[i] = (double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3;
    }
    qsort(us, (size_t)n, sizeof *us, cmp);
    double med = n % 2 ? us[n / 2] : (us[n / 2 - 1] + us[n / 2]) / 2;
    int i99 = (int)((double)n * 0.99);
    if (i99 >= n) i99 = n - 1;
    printf("%.1f %.1f %d\n", med, us[i99], n);
    return 0;
}
