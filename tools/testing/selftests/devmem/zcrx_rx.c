// SPDX-License-Identifier: GPL-2.0
/*
 * zcrx_rx - receive one TCP connection with io_uring zero-copy receive
 * (IORING_OP_RECV_ZC) on a given NIC rx queue, using raw syscalls only.
 *
 * zcrx_rx -i IFNAME -q QUEUE -p PORT -s ADDR [-n BYTES] [-d] [-v SEED]
 *   -i/-q  interface and rx queue for the zcrx interface queue; the caller
 *          steers the flow to that queue and enables tcp-data-split with
 *          hds-thresh 0 beforehand
 *   -p/-s  local TCP port and IPv4/IPv6 literal to listen on
 *   -n     expect exactly BYTES bytes (default: receive until EOF)
 *   -d     area is a udmabuf dma-buf instead of anonymous memory
 *   -v     verify: byte i of the stream must be (uint8_t)(i * 7 + SEED)
 *
 * Prints "zcrx_rx: received N bytes, M zero-copy completions, K bytes copied,
 * E errors". Exit 0 pass, 1 fail, 4 (KSFT_SKIP) if the kernel or device has
 * no zcrx (EOPNOTSUPP) or the caller lacks the privilege. K is the kernel's zcrx_stats.copy_bytes (frag
 * copy fallbacks only); M is data CQEs minus zcrx_stats.copy_count. Kernels
 * without zcrx_stats report K = 0 and print a note.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <error.h>
#include <fcntl.h>
#include <linux/dma-buf.h>
#include <linux/io_uring.h>
#include <linux/udmabuf.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define KSFT_SKIP	4
#define AREA_SIZE	(16UL << 20)
#define RQ_ENTRIES	8192
#define SQ_ENTRIES	4
#define CQ_ENTRIES	4096
#define CQE_SIZE	(2 * sizeof(struct io_uring_cqe))	/* CQE32 */
#define UD_RECV		0x7a637278ULL

struct ring {
	int fd;
	unsigned int *sq_tail, *sq_mask, *sq_array;
	unsigned int *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	char *cqes;
};

struct zcrx {
	void *area;			/* CPU view of the area */
	int dmabuf_fd;			/* -1: host memory area */
	unsigned int *rq_head, *rq_tail, rq_mask, rq_local_tail;
	struct io_uring_zcrx_rqe *rqes;
	struct zcrx_stats *stats;	/* NULL if the kernel has none */
	__u32 id;
};

static const char *cfg_ifname, *cfg_addr;
static int cfg_queue = -1, cfg_port = -1;
static bool cfg_dmabuf, cfg_verify;
static unsigned long long cfg_bytes;
static uint8_t cfg_seed;
static struct sockaddr_storage cfg_ss;
static socklen_t cfg_sslen;

static unsigned long long rx_bytes, rx_cqes, mismatches;
static unsigned long long armed_end;	/* stream offset the request stops at */

static void __attribute__((noreturn)) die(int status, int err, const char *what)
{
	const char *name = strerrorname_np(err);

	error(status, 0, "%s%s: %s (%s)", status == KSFT_SKIP ? "SKIP: " : "",
	      what, name ? name : "E?", strerror(err));
	exit(status);
}

static void __attribute__((noreturn)) usage(const char *prog)
{
	error(1, 0, "usage: %s -i IFNAME -q QUEUE -p PORT -s ADDR [-n BYTES] [-d] [-v SEED]",
	      prog);
	exit(1);
}

static unsigned long long num(const char *s, unsigned long long max, char **argv)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || v > max || s[0] == '-')
		usage(argv[0]);
	return v;
}

static void parse_addr(char **argv)
{
	struct sockaddr_in6 *a6 = (void *)&cfg_ss;
	struct sockaddr_in *a4 = (void *)&cfg_ss;

	a4->sin_family = AF_INET;
	a4->sin_port = htons(cfg_port);
	cfg_sslen = sizeof(*a4);
	if (inet_pton(AF_INET, cfg_addr, &a4->sin_addr) == 1)
		return;
	a6->sin6_family = AF_INET6;	/* sin6_port overlaps sin_port */
	a6->sin6_flowinfo = 0;		/* overlaps sin_addr */
	cfg_sslen = sizeof(*a6);
	if (inet_pton(AF_INET6, cfg_addr, &a6->sin6_addr) != 1)
		usage(argv[0]);
}

static void parse_args(int argc, char **argv)
{
	int c;

	while ((c = getopt(argc, argv, "i:q:p:s:n:dv:")) != -1) {
		if (c == 'i')
			cfg_ifname = optarg;
		else if (c == 'q')
			cfg_queue = num(optarg, INT32_MAX, argv);
		else if (c == 'p')
			cfg_port = num(optarg, 65535, argv);
		else if (c == 's')
			cfg_addr = optarg;
		else if (c == 'n')
			cfg_bytes = num(optarg, ~0ULL, argv);
		else if (c == 'd')
			cfg_dmabuf = true;
		else if (c == 'v')
			cfg_seed = num(optarg, 255, argv), cfg_verify = true;
		else
			usage(argv[0]);
	}
	if (!cfg_ifname || cfg_queue < 0 || cfg_port <= 0 || !cfg_addr ||
	    optind != argc)
		usage(argv[0]);
	parse_addr(argv);
}

static void *map(size_t len, int prot, int flags, int fd, off_t off,
		 const char *what)
{
	void *p = mmap(NULL, len, prot, flags, fd, off);

	if (p == MAP_FAILED)
		die(1, errno, what);
	return p;
}

static void ring_setup(struct ring *r)
{
	const int rw = PROT_READ | PROT_WRITE, sh = MAP_SHARED | MAP_POPULATE;
	struct io_uring_params p = {};
	size_t sq_len, cq_len;
	char *ptr;

	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
		  IORING_SETUP_CQE32 | IORING_SETUP_CQSIZE;
	p.cq_entries = CQ_ENTRIES;
	r->fd = syscall(__NR_io_uring_setup, SQ_ENTRIES, &p);
	if (r->fd < 0)
		die(errno == ENOMEM || errno == EMFILE ? 1 : KSFT_SKIP, errno,
		    "io_uring_setup(SINGLE_ISSUER|DEFER_TASKRUN|CQE32|CQSIZE)");
	if (!(p.features & IORING_FEAT_SINGLE_MMAP))
		die(KSFT_SKIP, EOPNOTSUPP, "IORING_FEAT_SINGLE_MMAP");

	/* one mapping holds both rings; the SQE array is mapped separately */
	sq_len = p.sq_off.array + p.sq_entries * sizeof(__u32);
	cq_len = p.cq_off.cqes + p.cq_entries * CQE_SIZE;
	ptr = map(sq_len > cq_len ? sq_len : cq_len, rw, sh, r->fd,
		  IORING_OFF_SQ_RING, "mmap(IORING_OFF_SQ_RING)");
	r->sqes = map(p.sq_entries * sizeof(struct io_uring_sqe), rw, sh, r->fd,
		      IORING_OFF_SQES, "mmap(IORING_OFF_SQES)");
	r->sq_tail = (unsigned int *)(ptr + p.sq_off.tail);
	r->sq_mask = (unsigned int *)(ptr + p.sq_off.ring_mask);
	r->sq_array = (unsigned int *)(ptr + p.sq_off.array);
	r->cq_head = (unsigned int *)(ptr + p.cq_off.head);
	r->cq_tail = (unsigned int *)(ptr + p.cq_off.tail);
	r->cq_mask = (unsigned int *)(ptr + p.cq_off.ring_mask);
	r->cqes = ptr + p.cq_off.cqes;
}

/* udmabuf over a sealed memfd; the CPU reads it through the dma-buf mmap */
static void area_alloc(struct zcrx *z)
{
	struct udmabuf_create create = { .size = AREA_SIZE };
	int devfd, memfd;

	z->dmabuf_fd = -1;
	if (!cfg_dmabuf) {
		z->area = map(AREA_SIZE, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, "mmap(area)");
		return;
	}
	devfd = open("/dev/udmabuf", O_RDONLY);
	if (devfd < 0)
		die(KSFT_SKIP, errno, "open(/dev/udmabuf)");
	memfd = memfd_create("zcrx-area", MFD_ALLOW_SEALING);
	if (memfd < 0 || fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK) < 0 ||
	    ftruncate(memfd, AREA_SIZE) < 0)
		die(1, errno, "memfd for udmabuf");
	create.memfd = memfd;
	z->dmabuf_fd = ioctl(devfd, UDMABUF_CREATE, &create);
	if (z->dmabuf_fd < 0)
		die(1, errno, "ioctl(UDMABUF_CREATE)");
	z->area = map(AREA_SIZE, PROT_READ, MAP_SHARED, z->dmabuf_fd, 0,
		      "mmap(udmabuf)");
	close(memfd);
	close(devfd);
}

/* returns 0 or -errno of IORING_REGISTER_ZCRX_IFQ */
static int register_ifq(struct ring *r, struct zcrx *z, char *rq_mem,
			size_t rq_len, size_t stats_off, bool with_stats)
{
	struct io_uring_region_desc rd = {
		.user_addr = (__u64)(uintptr_t)rq_mem,
		.size = rq_len,
		.flags = IORING_MEM_REGION_TYPE_USER,
	};
	struct io_uring_zcrx_area_reg area = { .len = AREA_SIZE };
	struct zcrx_event_desc ev = {	/* stats only, no event CQEs */
		.flags = ZCRX_EVENT_DESC_FLAG_STATS,
		.stats_offset = stats_off,
	};
	struct io_uring_zcrx_ifq_reg reg = {
		.if_idx = if_nametoindex(cfg_ifname),
		.if_rxq = cfg_queue,
		.rq_entries = RQ_ENTRIES,
		.area_ptr = (__u64)(uintptr_t)&area,
		.region_ptr = (__u64)(uintptr_t)&rd,
		.event_desc = with_stats ? (__u64)(uintptr_t)&ev : 0,
	};

	if (cfg_dmabuf) {	/* addr must stay 0 (offset into the dma-buf) */
		area.flags = IORING_ZCRX_AREA_DMABUF;
		area.dmabuf_fd = z->dmabuf_fd;
	} else {
		area.addr = (__u64)(uintptr_t)z->area;
	}
	if (syscall(__NR_io_uring_register, r->fd, IORING_REGISTER_ZCRX_IFQ,
		    &reg, 1) < 0)
		return -errno;

	z->id = reg.zcrx_id;
	z->rq_head = (unsigned int *)(rq_mem + reg.offsets.head);
	z->rq_tail = (unsigned int *)(rq_mem + reg.offsets.tail);
	z->rqes = (struct io_uring_zcrx_rqe *)(rq_mem + reg.offsets.rqes);
	z->rq_mask = reg.rq_entries - 1;	/* kernel rounds to a power of 2 */
	z->stats = with_stats ? (struct zcrx_stats *)(rq_mem + stats_off) : NULL;
	return 0;
}

static void zcrx_setup(struct ring *r, struct zcrx *z)
{
	size_t pg = sysconf(_SC_PAGESIZE);
	/* ring header (head, tail: a cacheline each) fits in the first page */
	size_t stats_off = pg + RQ_ENTRIES * sizeof(struct io_uring_zcrx_rqe);
	size_t rq_len = (stats_off + sizeof(struct zcrx_stats) + pg - 1) & ~(pg - 1);
	char *rq_mem;
	int ret;

	if (!if_nametoindex(cfg_ifname))
		die(1, errno, "if_nametoindex(-i)");
	area_alloc(z);
	rq_mem = map(rq_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		     -1, 0, "mmap(refill ring)");

	ret = register_ifq(r, z, rq_mem, rq_len, stats_off, true);
	if (ret == -EINVAL) {	/* kernel without zcrx_event_desc? */
		ret = register_ifq(r, z, rq_mem, rq_len, 0, false);
		if (!ret)
			fprintf(stderr, "# zcrx_rx: kernel has no zcrx_stats, copied bytes not reported\n");
	}
	if (ret == -EPERM)
		die(KSFT_SKIP, EPERM, "IORING_REGISTER_ZCRX_IFQ needs CAP_NET_ADMIN");
	if (ret == -EOPNOTSUPP)
		die(KSFT_SKIP, -ret, "IORING_REGISTER_ZCRX_IFQ: zcrx not supported by kernel or device");
	if (ret == -EINVAL)
		die(1, -ret, "IORING_REGISTER_ZCRX_IFQ (tcp-data-split off, hds-thresh not 0, or a queue the driver refuses)");
	if (ret)
		die(1, -ret, "IORING_REGISTER_ZCRX_IFQ");
}

static int listen_on(void)
{
	int fd, one = 1;

	fd = socket(cfg_ss.ss_family, SOCK_STREAM, 0);
	if (fd < 0)
		die(1, errno, "socket");
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		die(1, errno, "setsockopt(SO_REUSEADDR)");
	if (bind(fd, (struct sockaddr *)&cfg_ss, cfg_sslen))
		die(1, errno, "bind");
	if (listen(fd, 1))
		die(1, errno, "listen");
	return fd;
}

static void submit_recvzc(struct ring *r, struct zcrx *z, int fd)
{
	unsigned int tail = *r->sq_tail, idx = tail & *r->sq_mask;
	struct io_uring_sqe *sqe = &r->sqes[idx];
	unsigned long long left = cfg_bytes - rx_bytes;

	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_RECV_ZC;
	sqe->fd = fd;
	sqe->ioprio = IORING_RECV_MULTISHOT;	/* mandatory for RECV_ZC */
	sqe->zcrx_ifq_idx = z->id;
	/* len 0: unlimited; else the request completes with res 0 after len */
	if (cfg_bytes)
		sqe->len = left > UINT32_MAX ? UINT32_MAX : left;
	armed_end = sqe->len ? rx_bytes + sqe->len : 0;
	sqe->user_data = UD_RECV;
	r->sq_array[idx] = idx;
	__atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
}

static void verify(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t want = (uint8_t)((rx_bytes + i) * 7 + cfg_seed);

		if (p[i] != want && !mismatches++)
			fprintf(stderr, "# zcrx_rx: first mismatch at stream offset %llu: got 0x%02x want 0x%02x\n",
				rx_bytes + i, p[i], want);
	}
}

static void dmabuf_sync(struct zcrx *z, __u64 flags)
{
	struct dma_buf_sync sync = { .flags = flags | DMA_BUF_SYNC_READ };

	if (ioctl(z->dmabuf_fd, DMA_BUF_IOCTL_SYNC, &sync))
		die(1, errno, "ioctl(DMA_BUF_IOCTL_SYNC)");
}

static bool rq_full(struct zcrx *z)
{
	unsigned int head = __atomic_load_n(z->rq_head, __ATOMIC_ACQUIRE);

	return z->rq_local_tail - head > z->rq_mask;
}

/* hand a buffer back to the kernel through the refill ring */
static void refill(struct ring *r, struct zcrx *z, __u64 off, __u32 len)
{
	struct zcrx_ctrl ctrl = { .zcrx_id = z->id, .op = ZCRX_CTRL_FLUSH_RQ };
	struct io_uring_zcrx_rqe *rqe;

	if (rq_full(z)) {	/* let the kernel drain it synchronously */
		if (syscall(__NR_io_uring_register, r->fd,
			    IORING_REGISTER_ZCRX_CTRL, &ctrl, 0) < 0)
			die(1, errno, "RQ full, ZCRX_CTRL_FLUSH_RQ");
		if (rq_full(z))
			die(1, ENOSPC, "RQ still full after ZCRX_CTRL_FLUSH_RQ");
	}
	rqe = &z->rqes[z->rq_local_tail & z->rq_mask];
	rqe->off = off;		/* area token (id << 48) | offset, as in the CQE */
	rqe->len = len;
	rqe->__pad = 0;
	__atomic_store_n(z->rq_tail, ++z->rq_local_tail, __ATOMIC_RELEASE);
}

static void handle_data(struct ring *r, struct zcrx *z, struct io_uring_cqe *cqe)
{
	struct io_uring_zcrx_cqe *zcqe = (struct io_uring_zcrx_cqe *)(cqe + 1);
	__u64 off = zcqe->off & ~IORING_ZCRX_AREA_MASK;

	/* one area registered: its id (bits 48+) is 0 */
	if (cqe->res <= 0 || (zcqe->off & IORING_ZCRX_AREA_MASK) ||
	    off + cqe->res > AREA_SIZE) {
		error(1, 0, "bad data CQE: res %d off 0x%llx", cqe->res,
		      (unsigned long long)zcqe->off);
		exit(1);
	}
	if (cfg_verify) {
		if (z->dmabuf_fd >= 0)
			dmabuf_sync(z, DMA_BUF_SYNC_START);
		verify((uint8_t *)z->area + off, cqe->res);
		if (z->dmabuf_fd >= 0)
			dmabuf_sync(z, DMA_BUF_SYNC_END);
	}
	rx_bytes += cqe->res;
	rx_cqes++;
	refill(r, z, zcqe->off, cqe->res);
}

/* returns true when the request ended and must be re-armed */
static bool handle_cqe(struct ring *r, struct zcrx *z, struct io_uring_cqe *cqe,
		       bool *done)
{
	if (cqe->user_data != UD_RECV)
		die(1, EPROTO, "CQE with unknown user_data");
	if (cqe->flags & IORING_CQE_F_MORE) {	/* data CQEs always have MORE */
		handle_data(r, z, cqe);
		return false;
	}
	if (cqe->res == 0) {	/* len limit reached, or EOF */
		if (armed_end && rx_bytes == armed_end && rx_bytes < cfg_bytes)
			return true;
		*done = true;
		return false;
	}
	if (cqe->res == -ENOSPC)	/* CQ ring was full: re-arm */
		return true;
	if (cqe->res == -ENOMEM && cfg_dmabuf)
		fprintf(stderr, "# zcrx_rx: ENOMEM with a dma-buf area: is the flow steered to queue %d?\n",
			cfg_queue);
	die(1, -cqe->res, "IORING_OP_RECV_ZC");
}

static void rx_loop(struct ring *r, struct zcrx *z, int fd)
{
	unsigned int head, tail, to_submit = 1;
	bool done = false, rearm;

	submit_recvzc(r, z, fd);
	while (!done) {
		/* DEFER_TASKRUN: completions are only posted in here */
		while (syscall(__NR_io_uring_enter, r->fd, to_submit, 1,
			       IORING_ENTER_GETEVENTS, NULL, 0) < 0)
			if (errno != EINTR)
				die(1, errno, "io_uring_enter");
		to_submit = 0;
		rearm = false;
		head = *r->cq_head;
		tail = __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE);
		for (; head != tail; head++)
			rearm |= handle_cqe(r, z, (struct io_uring_cqe *)
					    (r->cqes + (head & *r->cq_mask) * CQE_SIZE),
					    &done);
		__atomic_store_n(r->cq_head, head, __ATOMIC_RELEASE);
		if (cfg_bytes && rx_bytes >= cfg_bytes)
			done = true;
		if (rearm && !done) {
			submit_recvzc(r, z, fd);
			to_submit = 1;
		}
	}
}

int main(int argc, char **argv)
{
	unsigned long long copy_cnt = 0, copy_bytes = 0, errors;
	struct ring r = {};
	struct zcrx z = {};
	int lfd, fd;

	parse_args(argc, argv);
	ring_setup(&r);
	zcrx_setup(&r, &z);
	lfd = listen_on();
	fprintf(stderr, "# zcrx_rx: listening on %s port %d (%s queue %d, zcrx id %u, %s area)\n",
		cfg_addr, cfg_port, cfg_ifname, cfg_queue, z.id,
		cfg_dmabuf ? "dma-buf" : "host memory");
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		die(1, errno, "accept");
	rx_loop(&r, &z, fd);

	if (z.stats) {
		copy_cnt = __atomic_load_n(&z.stats->copy_count, __ATOMIC_RELAXED);
		copy_bytes = __atomic_load_n(&z.stats->copy_bytes, __ATOMIC_RELAXED);
	}
	errors = mismatches;
	if (cfg_bytes && rx_bytes != cfg_bytes) {
		fprintf(stderr, "# zcrx_rx: stream ended after %llu of %llu bytes\n",
			rx_bytes, cfg_bytes);
		errors++;
	}
	printf("zcrx_rx: received %llu bytes, %llu zero-copy completions, %llu bytes copied, %llu errors\n",
	       rx_bytes, rx_cqes > copy_cnt ? rx_cqes - copy_cnt : 0, copy_bytes,
	       errors);
	close(fd);
	close(lfd);
	return errors ? 1 : 0;
}
