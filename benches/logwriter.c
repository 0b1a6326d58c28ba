/* A log writer for benches/logs.sh: logwriter BYTES
 * Writes BYTES bytes to stdout as 100-byte lines ("line NNNNNNNNNN xxx...\n"), in 64 KiB
 * writes, as fast as the reader takes them: a blocking write is the logger falling behind,
 * so the writer's run time is the logger's throughput. busybox `yes | head -c` alone tops
 * out near the loggers' speed on a small machine and would measure itself.
 * Built with musl-gcc -static, so it runs in any rootfs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LINE 100
#define CHUNK (655 * LINE)

int main(int argc, char **argv) {
    static char buf[CHUNK];
    long long total = argc > 1 ? atoll(argv[1]) : 200000000LL, done = 0, n = 0;
    while (done < total) {
        size_t len = 0;
        while (len + LINE <= sizeof buf) {
            /* A counter makes every line distinct (no compressing logger gets it for free). */
            int k = snprintf(buf + len, LINE, "line %010lld ", n++);
            memset(buf + len + k, 'x', LINE - 1 - k);
            buf[len + LINE - 1] = '\n';
            len += LINE;
        }
        if ((long long)len > total - done) len = (size_t)(total - done);
        for (size_t off = 0; off < len;) {
            ssize_t w = write(1, buf + off, len - off);
            if (w < 0) {
                if (errno == EINTR) continue;
                perror("logwriter: write");
                return 1;
            }
            off += (size_t)w;
        }
        done += (long long)len;
    }
    return 0;
}
