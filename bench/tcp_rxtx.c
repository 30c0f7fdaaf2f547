// SPDX-License-Identifier: GPL-2.0
/*
 * The two ends of the end-to-end receive benchmark, kept small so that what is measured
 * is the kernel's receive path and not the program.
 *
 *   tcp_rxtx send ADDR PORT BYTES
 *       connect and write BYTES (64 KiB writes of a fixed buffer).
 *   tcp_rxtx recv copy   ADDR PORT BYTES
 *   tcp_rxtx recv devmem ADDR PORT BYTES DMABUF_ID
 *       accept one connection and read BYTES: with ordinary recvmsg into a 64 KiB buffer
 *       (copy), or with recvmsg(MSG_SOCK_DEVMEM), checking that every fragment is in
 *       dma-buf DMABUF_ID and returning each batch of tokens with SO_DEVMEM_DONTNEED
 *       (devmem). The payload itself is not read in either mode.
 *
 * recv prints one line after the transfer:
 *   bytes=N wall_ns=T user_ns=U sys_ns=S devmem_bytes=D linear_bytes=L frags=F
 * where U and S are the receiving process's CPU time (getrusage) over the transfer,
 * from accept() returning to the last byte. Exit status 0 only when BYTES arrived.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifndef MSG_SOCK_DEVMEM
#define MSG_SOCK_DEVMEM 0x2000000
#endif
#define SO_DEVMEM_LINEAR_ 78
#define SO_DEVMEM_DMABUF_ 79
#define SO_DEVMEM_DONTNEED_ 80

/* include/uapi/linux/uio.h of the tree; the build host's headers may predate it. */
struct devmem_cmsg {
	uint64_t frag_offset;
	uint32_t frag_size;
	uint32_t frag_token;
	uint32_t dmabuf_id;
	uint32_t flags;
};

struct devmem_token {
	uint32_t token_start;
	uint32_t token_count;
};

#define CHUNK (64 << 10)
#define MAX_TOKENS 128	/* what one SO_DEVMEM_DONTNEED takes */

static void die(const char *what)
{
	fprintf(stderr, "tcp_rxtx: %s: %s\n", what, strerror(errno));
	exit(1);
}

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void cpu_ns(uint64_t *user, uint64_t *sys)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	*user = ru.ru_utime.tv_sec * 1000000000ull + ru.ru_utime.tv_usec * 1000ull;
	*sys = ru.ru_stime.tv_sec * 1000000000ull + ru.ru_stime.tv_usec * 1000ull;
}

static struct sockaddr_in addr_of(const char *ip, const char *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(atoi(port)) };

	if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1) {
		fprintf(stderr, "tcp_rxtx: bad address %s\n", ip);
		exit(2);
	}
	return sa;
}

static int do_send(const char *ip, const char *port, uint64_t bytes)
{
	struct sockaddr_in sa = addr_of(ip, port);
	static char buf[CHUNK];
	int fd, tries;

	memset(buf, 0xa5, sizeof(buf));
	for (tries = 0;; tries++) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0)
			die("socket");
		if (!connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
			break;
		if (errno != ECONNREFUSED || tries == 100)
			die("connect");
		close(fd);
		usleep(50000);
	}
	while (bytes) {
		ssize_t n = write(fd, buf, bytes < CHUNK ? bytes : CHUNK);

		if (n <= 0)
			die("write");
		bytes -= n;
	}
	close(fd);
	return 0;
}

/* Return up to MAX_TOKENS tokens; the kernel must free every one. */
static void dontneed(int fd, struct devmem_token *tok, int n)
{
	int freed;

	if (!n)
		return;
	freed = setsockopt(fd, SOL_SOCKET, SO_DEVMEM_DONTNEED_, tok, n * sizeof(*tok));
	if (freed != n) {
		fprintf(stderr, "tcp_rxtx: SO_DEVMEM_DONTNEED freed %d of %d (%s)\n", freed, n,
			freed < 0 ? strerror(errno) : "short");
		exit(1);
	}
}

static int do_recv(int devmem, const char *ip, const char *port, uint64_t bytes,
		   uint32_t dmabuf_id)
{
	uint64_t got = 0, dm_bytes = 0, lin_bytes = 0, frags = 0;
	uint64_t t0, u0, s0, u1, s1;
	struct sockaddr_in sa = addr_of(ip, port);
	static char buf[CHUNK];
	static char ctrl[CMSG_SPACE(sizeof(struct devmem_cmsg)) * 64];
	struct devmem_token tok[MAX_TOKENS];
	int one = 1, srv, fd, ntok = 0;

	srv = socket(AF_INET, SOCK_STREAM, 0);
	if (srv < 0)
		die("socket");
	setsockopt(srv, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(srv, (struct sockaddr *)&sa, sizeof(sa)) || listen(srv, 1))
		die("bind/listen");
	printf("listening\n");
	fflush(stdout);
	fd = accept(srv, NULL, NULL);
	if (fd < 0)
		die("accept");

	t0 = now_ns(CLOCK_MONOTONIC);
	cpu_ns(&u0, &s0);
	while (got < bytes) {
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
		struct cmsghdr *cm;
		ssize_t n;

		if (!devmem) {
			n = recvmsg(fd, &msg, 0);
			if (n <= 0)
				break;
			got += n;
			lin_bytes += n;
			continue;
		}
		msg.msg_control = ctrl;
		msg.msg_controllen = sizeof(ctrl);
		n = recvmsg(fd, &msg, MSG_SOCK_DEVMEM);
		if (n <= 0)
			break;
		got += n;
		for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
			struct devmem_cmsg *dc = (void *)CMSG_DATA(cm);

			if (cm->cmsg_level != SOL_SOCKET)
				continue;
			if (cm->cmsg_type == SO_DEVMEM_LINEAR_) {
				lin_bytes += dc->frag_size;
				continue;
			}
			if (cm->cmsg_type != SO_DEVMEM_DMABUF_)
				continue;
			if (dc->dmabuf_id != dmabuf_id) {
				fprintf(stderr, "tcp_rxtx: frag in dma-buf %u, bound %u\n",
					dc->dmabuf_id, dmabuf_id);
				return 1;
			}
			dm_bytes += dc->frag_size;
			frags++;
			tok[ntok].token_start = dc->frag_token;
			tok[ntok].token_count = 1;
			if (++ntok == MAX_TOKENS) {
				dontneed(fd, tok, ntok);
				ntok = 0;
			}
		}
		dontneed(fd, tok, ntok);
		ntok = 0;
	}
	cpu_ns(&u1, &s1);
	printf("bytes=%llu wall_ns=%llu user_ns=%llu sys_ns=%llu devmem_bytes=%llu "
	       "linear_bytes=%llu frags=%llu\n",
	       (unsigned long long)got, (unsigned long long)(now_ns(CLOCK_MONOTONIC) - t0),
	       (unsigned long long)(u1 - u0), (unsigned long long)(s1 - s0),
	       (unsigned long long)dm_bytes, (unsigned long long)lin_bytes,
	       (unsigned long long)frags);
	if (got < bytes)
		fprintf(stderr, "tcp_rxtx: connection ended after %llu of %llu bytes\n",
			(unsigned long long)got, (unsigned long long)bytes);
	return got < bytes;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "send"))
		return do_send(argv[2], argv[3], strtoull(argv[4], NULL, 0));
	if (argc == 6 && !strcmp(argv[1], "recv") && !strcmp(argv[2], "copy"))
		return do_recv(0, argv[3], argv[4], strtoull(argv[5], NULL, 0), 0);
	if (argc == 7 && !strcmp(argv[1], "recv") && !strcmp(argv[2], "devmem"))
		return do_recv(1, argv[3], argv[4], strtoull(argv[5], NULL, 0),
			       strtoul(argv[6], NULL, 0));
	fprintf(stderr, "usage: tcp_rxtx send ADDR PORT BYTES\n"
		"       tcp_rxtx recv copy ADDR PORT BYTES\n"
		"       tcp_rxtx recv devmem ADDR PORT BYTES DMABUF_ID\n");
	return 2;
}
