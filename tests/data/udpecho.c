/* A UDP echo server and client for the network tests (busybox's nc has no UDP).
 * Built with musl-gcc -static, so its getaddrinfo resolves through the container's
 * /etc/resolv.conf like any program's.
 *   udpecho -l PORT           echo every datagram back, forever
 *   udpecho HOST PORT MSG     send MSG, print the answer; exit 1 after 3 s without one */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    char buf[1500];
    if (argc == 3 && strcmp(argv[1], "-l") == 0) {
        struct addrinfo hints = {0}, *ai;
        hints.ai_family = AF_INET;
        hints.ai_socktype = SOCK_DGRAM;
        hints.ai_flags = AI_PASSIVE;
        if (getaddrinfo(NULL, argv[2], &hints, &ai) != 0) return 2;
        int s = socket(AF_INET, SOCK_DGRAM, 0);
        if (bind(s, ai->ai_addr, ai->ai_addrlen) != 0) { perror("bind"); return 2; }
        for (;;) {
            struct sockaddr_storage from;
            socklen_t fl = sizeof from;
            ssize_t n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
            if (n >= 0) sendto(s, buf, n, 0, (struct sockaddr *)&from, fl);
        }
    }
    if (argc != 4) { fprintf(stderr, "usage: udpecho -l PORT | udpecho HOST PORT MSG\n"); return 2; }
    struct addrinfo hints = {0}, *ai;
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_DGRAM;
    int rc = getaddrinfo(argv[1], argv[2], &hints, &ai);
    if (rc != 0) { fprintf(stderr, "udpecho: %s: %s\n", argv[1], gai_strerror(rc)); return 1; }
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct timeval tv = {3, 0};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sendto(s, argv[3], strlen(argv[3]), 0, ai->ai_addr, ai->ai_addrlen);
    ssize_t n = recv(s, buf, sizeof buf - 1, 0);
    if (n < 0) { fprintf(stderr, "udpecho: no answer\n"); return 1; }
    buf[n] = 0;
    printf("%s\n", buf);
    return 0;
}
