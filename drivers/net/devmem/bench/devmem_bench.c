// SPDX-License-Identifier: GPL-2.0
/*
 * devmem_bench: the cost of what a devmem rx queue does to its memory provider, for
 * upstream's provider (net/core/devmem.c, built beside devmem-rs by bench/oracle.c) and
 * devmem-rs', in one module load, on the same dma-bufs; and of a plain page pool, the
 * baseline.
 *
 * The loader passes the dma-bufs as open file descriptors it inherited from the process
 * that made them (dmabuf_fds=): the module resolves them in the loader's table while it
 * initialises. Each repetition measures both providers, in the order C, Rust on even
 * repetitions and Rust, C on odd ones (ABBA over two repetitions), and prints a line per
 * measurement:
 *
 *   devmem_bench: test=T impl=I rep=R buf=B ranges=G ops=N ns=NS cycles=C mem=M
 *
 * B is the dma-buf (its index in dmabuf_fds), G the number of DMA ranges it maps to for
 * @ifindex's parent. NS and C are the totals over N operations (ktime_get_ns() and
 * get_cycles() deltas); under QEMU's -icount shift=0, one nanosecond of the guest's clock
 * is one instruction, so NS counts instructions. M is the memory (bytes of MemAvailable) a
 * binding holds, for bind.
 *
 *   bind     net_devmem_bind_dmabuf() of dma-buf i (N: its net_iovs), rx direction, no
 *            queue: attach, map, and the provider's per-net_iov state.
 *   map      (impl=dmabuf) what every bind starts with, by itself: dma_buf_get() of the
 *            descriptor, dma_buf_attach() for @ifindex's parent and
 *            dma_buf_map_attachment_unlocked(); undone outside the count. bind minus map is
 *            a provider's own part of a bind.
 *   unbind   net_devmem_unbind_dmabuf() of that binding, until it returns. The rest of
 *            the teardown runs later in both implementations (C's after an RCU grace
 *            period, from a work item), outside the count; the module waits until the
 *            dma-buf is detached before it measures anything else.
 *   alloc    N allocations from a fresh pool of the binding (of every dma-buf of at least
 *            N net_iovs), whose caches are empty: the provider's refill path
 *            (alloc_netmems). impl=plain: the page allocator.
 *   release  the N buffers given back without direct recycling to a pool whose ring holds
 *            RING_SIZE: all but RING_SIZE reach the provider's release_netmem.
 *   release_mp  the provider's own share of release: N buffers of a provider pool handed
 *            to its ->release_netmem() directly, as page_pool_return_netmem() does once the
 *            ring is full (the pool's count of returned buffers is then raised by N, as
 *            that function would have, outside the count). release minus release_mp is
 *            the page pool's own work, the same for both providers.
 *   fast     N allocations each given straight back to the pool's cache (bottom halves
 *            off): the recycling fast path of every rx refill, in which the provider is
 *            never called; a check of the ruler more than of the providers.
 *
 * The provider pools are made on rx queues of a net_device of the module's own, never
 * registered, that carries the binding as bind-rx would install it on a NIC's queue, so
 * no buffer of either binding can reach a NIC ring or the stack. The bindings name the
 * device @ifindex and map the dma-bufs for its parent, the DMA device a NIC's pools use.
 * The module is written in C on purpose: it calls both providers exactly as the core does,
 * through none of the Rust abstractions it compares.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/dma-buf.h>
#include <linux/dma-resv.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/slab.h>
#include <linux/timex.h>
#include <net/netdev_lock.h>
#include <net/netdev_netlink.h>
#include <net/netdev_rx_queue.h>
#include <net/netmem.h>
#include <net/page_pool/helpers.h>
#include <net/page_pool/memory_provider.h>
#include <net/page_pool/types.h>

#include "devmem_bench.h"

static int ifindex;
module_param(ifindex, int, 0444);
MODULE_PARM_DESC(ifindex, "device the bindings name; its parent maps the dma-bufs");

static int dmabuf_fds[16];
static int n_dmabuf_fds;
module_param_array(dmabuf_fds, int, &n_dmabuf_fds, 0444);
MODULE_PARM_DESC(dmabuf_fds, "dma-bufs, open in the loader");

static uint fast_ops = 100000;
module_param(fast_ops, uint, 0444);
MODULE_PARM_DESC(fast_ops, "operations per fast-path measurement");

static uint refill_ops = 4096;
module_param(refill_ops, uint, 0444);
MODULE_PARM_DESC(refill_ops, "buffers per alloc/release measurement");

static uint reps = 8;
module_param(reps, uint, 0444);
MODULE_PARM_DESC(reps, "repetitions of every measurement");

/* The ptr_ring of the pools: small, so that release reaches the provider. */
#define RING_SIZE 64

struct sample {
	u64 cycles;
	u64 ns;
};

static void sample_start(struct sample *s)
{
	s->ns = ktime_get_ns();
	s->cycles = get_cycles();
}

static void sample_end(struct sample *s)
{
	s->cycles = get_cycles() - s->cycles;
	s->ns = ktime_get_ns() - s->ns;
}

/* The dma-buf a measurement is about: its index and its number of DMA ranges. */
struct buf {
	uint index;
	uint ranges;
};

static void report(const char *test, const char *impl, uint rep, const struct buf *buf,
		   uint ops, const struct sample *s, long mem)
{
	pr_info("test=%s impl=%s rep=%u buf=%d ranges=%u ops=%u ns=%llu cycles=%llu mem=%ld\n",
		test, impl, rep, buf ? (int)buf->index : -1, buf ? buf->ranges : 0, ops,
		s->ns, s->cycles, mem);
}

struct bench {
	struct net_device *dev;		/* @ifindex */
	struct net_device *fake;	/* the pools' device: one rx queue per provider */
	struct dma_buf *dmabufs[ARRAY_SIZE(dmabuf_fds)];
	uint ranges[ARRAY_SIZE(dmabuf_fds)];
	struct netdev_nl_sock sock;	/* the bindings' owner, as a netlink socket is */
	netmem_ref *bufs;
};

static struct page_pool *make_pool(struct bench *b, const struct devmem_bench_impl *impl,
				   struct net_devmem_dmabuf_binding *binding, uint q)
{
	struct page_pool_params pp = {
		.order = 0,
		.pool_size = RING_SIZE,
		.nid = NUMA_NO_NODE,
	};
	struct netdev_rx_queue *rxq;
	struct page_pool *pool;

	if (!impl)
		return page_pool_create(&pp);

	/* What a devmem-capable driver passes for a payload pool. */
	pp.flags = PP_FLAG_DMA_MAP | PP_FLAG_DMA_SYNC_DEV | PP_FLAG_ALLOW_UNREADABLE_NETMEM;
	pp.dev = b->dev->dev.parent;
	pp.dma_dir = DMA_FROM_DEVICE;
	pp.max_len = PAGE_SIZE;
	pp.netdev = b->fake;
	pp.queue_idx = q;
	rxq = __netif_get_rx_queue(b->fake, q);
	netdev_lock(b->fake);
	rxq->mp_params.mp_ops = impl->mp_ops();
	rxq->mp_params.mp_priv = binding;
	pool = page_pool_create(&pp);
	memset(&rxq->mp_params, 0, sizeof(rxq->mp_params));
	netdev_unlock(b->fake);
	if (!IS_ERR(pool) && pool->mp_ops != impl->mp_ops()) {
		pr_err("impl=%s: the pool did not take the provider\n", impl->name);
		page_pool_destroy(pool);
		return ERR_PTR(-EINVAL);
	}
	return pool;
}

/* Returns the number of operations done (fewer when the pool ran dry). */
static uint bench_fast(struct page_pool *pool, uint ops, struct sample *s)
{
	netmem_ref netmem;
	uint i;

	/* Warm the cache: the first allocation refills it. */
	netmem = page_pool_alloc_netmems(pool, GFP_KERNEL);
	if (!netmem)
		return 0;
	page_pool_put_full_netmem(pool, netmem, false);

	local_bh_disable();
	sample_start(s);
	for (i = 0; i < ops; i++) {
		netmem = page_pool_alloc_netmems(pool, GFP_ATOMIC);
		if (unlikely(!netmem))
			break;
		page_pool_put_full_netmem(pool, netmem, true);
	}
	sample_end(s);
	local_bh_enable();
	return i;
}

static uint bench_refill(struct page_pool *pool, netmem_ref *bufs, uint ops,
			 struct sample *alloc, struct sample *release)
{
	uint i, n;

	local_bh_disable();
	sample_start(alloc);
	for (n = 0; n < ops; n++) {
		bufs[n] = page_pool_alloc_netmems(pool, GFP_ATOMIC | __GFP_NOWARN);
		if (unlikely(!bufs[n]))
			break;
	}
	sample_end(alloc);

	sample_start(release);
	for (i = 0; i < n; i++)
		page_pool_put_full_netmem(pool, bufs[i], false);
	sample_end(release);
	local_bh_enable();
	return n;
}

/* The provider's release_netmem() alone, on @ops buffers taken from @pool. */
static uint bench_release_mp(struct page_pool *pool, netmem_ref *bufs, uint ops,
			     struct sample *s)
{
	uint i, n;

	for (n = 0; n < ops; n++) {
		bufs[n] = page_pool_alloc_netmems(pool, GFP_KERNEL | __GFP_NOWARN);
		if (!bufs[n])
			break;
	}
	local_bh_disable();
	sample_start(s);
	for (i = 0; i < n; i++)
		pool->mp_ops->release_netmem(pool, bufs[i]);
	sample_end(s);
	local_bh_enable();
	/* What page_pool_return_netmem() counts after each call. */
	atomic_add(n, &pool->pages_state_release_cnt);
	return n;
}

/* The pool measurements of one provider (impl NULL: the plain pool). */
static int run_pool(struct bench *b, const struct devmem_bench_impl *impl,
		    struct net_devmem_dmabuf_binding *binding, uint q, uint rep,
		    const struct buf *buf)
{
	const char *name = impl ? impl->name : "plain";
	struct sample s, a, r;
	struct page_pool *pool;
	uint n;

	/* A fresh pool: empty caches for alloc/release. */
	pool = make_pool(b, impl, binding, q);
	if (IS_ERR(pool)) {
		pr_err("impl=%s: page_pool_create: %pe\n", name, pool);
		return PTR_ERR(pool);
	}
	n = bench_refill(pool, b->bufs, refill_ops, &a, &r);
	if (n != refill_ops) {
		pr_err("impl=%s: only %u of %u buffers\n", name, n, refill_ops);
		page_pool_destroy(pool);
		return -ENOMEM;
	}
	report("alloc", name, rep, buf, n, &a, 0);
	report("release", name, rep, buf, n, &r, 0);

	n = bench_fast(pool, fast_ops, &s);
	if (n != fast_ops) {
		pr_err("impl=%s: fast path ran dry after %u\n", name, n);
		page_pool_destroy(pool);
		return -ENOMEM;
	}
	report("fast", name, rep, buf, n, &s, 0);

	if (impl) {
		n = bench_release_mp(pool, b->bufs, refill_ops, &r);
		if (n != refill_ops) {
			pr_err("impl=%s: only %u of %u buffers\n", name, n, refill_ops);
			page_pool_destroy(pool);
			return -ENOMEM;
		}
		report("release_mp", name, rep, buf, n, &r, 0);
	}
	page_pool_destroy(pool);
	return 0;
}

static long mem_available(void)
{
	return si_mem_available() << PAGE_SHIFT;
}

static struct net_devmem_dmabuf_binding *
bench_bind(struct bench *b, const struct devmem_bench_impl *impl, int fd, struct sample *s)
{
	struct net_devmem_dmabuf_binding *binding;
	struct netlink_ext_ack extack = {};

	/* The locks bind-rx holds. */
	mutex_lock(&b->sock.lock);
	netdev_lock(b->dev);
	sample_start(s);
	binding = impl->bind(b->dev, NULL, b->dev->dev.parent, DMA_FROM_DEVICE, fd,
			     PAGE_SHIFT, &b->sock, &extack);
	sample_end(s);
	netdev_unlock(b->dev);
	mutex_unlock(&b->sock.lock);
	if (IS_ERR(binding))
		pr_err("impl=%s: bind of fd %d: %pe (%s)\n", impl->name, fd, binding,
		       extack._msg ?: "");
	return binding;
}

static void bench_unbind(struct bench *b, const struct devmem_bench_impl *impl,
		   struct net_devmem_dmabuf_binding *binding, struct sample *s)
{
	mutex_lock(&b->sock.lock);
	netdev_lock(b->dev);
	sample_start(s);
	impl->unbind(binding);
	sample_end(s);
	netdev_unlock(b->dev);
	mutex_unlock(&b->sock.lock);
}

/* The number of DMA ranges @dmabuf maps to for @dev, as a binding maps it. */
static int count_ranges(struct dma_buf *dmabuf, struct device *dev)
{
	struct dma_buf_attachment *att;
	struct sg_table *sgt;
	int n;

	att = dma_buf_attach(dmabuf, dev);
	if (IS_ERR(att))
		return PTR_ERR(att);
	sgt = dma_buf_map_attachment_unlocked(att, DMA_FROM_DEVICE);
	if (IS_ERR(sgt)) {
		n = PTR_ERR(sgt);
	} else {
		n = sgt->nents;
		dma_buf_unmap_attachment_unlocked(att, sgt, DMA_FROM_DEVICE);
	}
	dma_buf_detach(dmabuf, att);
	return n;
}

/* Gets, attaches and maps dma-buf @fd for @dev, as a bind does first, in @s. */
static int bench_map(int fd, struct device *dev, struct sample *s)
{
	struct dma_buf_attachment *att;
	struct dma_buf *dmabuf;
	struct sg_table *sgt;
	int err = 0;

	sample_start(s);
	dmabuf = dma_buf_get(fd);
	if (IS_ERR(dmabuf))
		return PTR_ERR(dmabuf);
	att = dma_buf_attach(dmabuf, dev);
	if (IS_ERR(att)) {
		err = PTR_ERR(att);
		goto put;
	}
	sgt = dma_buf_map_attachment_unlocked(att, DMA_FROM_DEVICE);
	sample_end(s);
	if (IS_ERR(sgt))
		err = PTR_ERR(sgt);
	else
		dma_buf_unmap_attachment_unlocked(att, sgt, DMA_FROM_DEVICE);
	dma_buf_detach(dmabuf, att);
put:
	dma_buf_put(dmabuf);
	return err;
}

/* Waits until nothing is attached to @dmabuf: the teardown an unbind left is done. */
static int wait_detached(struct dma_buf *dmabuf)
{
	int ms;

	for (ms = 0; ms < 10000; ms++) {
		bool empty;

		dma_resv_lock(dmabuf->resv, NULL);
		empty = list_empty(&dmabuf->attachments);
		dma_resv_unlock(dmabuf->resv);
		if (empty)
			return 0;
		msleep(1);
	}
	pr_err("dma-buf still attached 10 s after unbind\n");
	return -ETIMEDOUT;
}

/* Everything one provider is measured on in one repetition: bind, the pool paths and
 * unbind of every dma-buf.
 */
static int run_impl(struct bench *b, uint i, uint rep)
{
	const struct devmem_bench_impl *impl = &devmem_bench_impls[i];
	struct net_devmem_dmabuf_binding *binding;
	struct sample s;
	struct buf buf;
	long mem;
	int err;

	for (buf.index = 0; buf.index < n_dmabuf_fds; buf.index++) {
		struct dma_buf *dmabuf = b->dmabufs[buf.index];
		uint niovs = dmabuf->size >> PAGE_SHIFT;

		buf.ranges = b->ranges[buf.index];
		mem = mem_available();
		binding = bench_bind(b, impl, dmabuf_fds[buf.index], &s);
		if (IS_ERR(binding))
			return PTR_ERR(binding);
		report("bind", impl->name, rep, &buf, niovs, &s, mem - mem_available());

		err = niovs >= refill_ops ? run_pool(b, impl, binding, i, rep, &buf) : 0;

		bench_unbind(b, impl, binding, &s);
		if (!err)
			err = wait_detached(dmabuf);
		if (err)
			return err;
		report("unbind", impl->name, rep, &buf, niovs, &s, 0);
		cond_resched();
	}
	return 0;
}

static int run(struct bench *b)
{
	uint rep, k;
	int err;

	for (rep = 0; rep < reps; rep++) {
		struct sample s;
		struct buf buf;

		for (buf.index = 0; buf.index < n_dmabuf_fds; buf.index++) {
			buf.ranges = b->ranges[buf.index];
			err = bench_map(dmabuf_fds[buf.index], b->dev->dev.parent, &s);
			if (err)
				return err;
			report("map", "dmabuf", rep, &buf,
			       b->dmabufs[buf.index]->size >> PAGE_SHIFT, &s, 0);
		}
		err = run_pool(b, NULL, NULL, 0, rep, NULL);
		for (k = 0; !err && k < DEVMEM_BENCH_IMPLS; k++)
			err = run_impl(b, rep % 2 ? DEVMEM_BENCH_IMPLS - 1 - k : k, rep);
		if (err)
			return err;
		cond_resched();
	}
	return 0;
}

static int __init devmem_bench_init(void)
{
	struct bench b = {};
	int err = -EINVAL;
	int i;

	if (!fast_ops || !refill_ops || !reps || !n_dmabuf_fds)
		return -EINVAL;
	mutex_init(&b.sock.lock);
	INIT_LIST_HEAD(&b.sock.bindings);
	b.bufs = kvcalloc(refill_ops, sizeof(*b.bufs), GFP_KERNEL);
	if (!b.bufs)
		return -ENOMEM;
	b.dev = dev_get_by_index(&init_net, ifindex);
	if (!b.dev || !b.dev->dev.parent)
		goto out;
	err = -ENOMEM;
	b.fake = alloc_netdev_mqs(0, "dmbench%d", NET_NAME_ENUM, ether_setup, 1,
				  DEVMEM_BENCH_IMPLS);
	if (!b.fake)
		goto out;
	for (i = 0; i < n_dmabuf_fds; i++) {
		struct dma_buf *dmabuf = dma_buf_get(dmabuf_fds[i]);

		if (IS_ERR(dmabuf)) {
			err = PTR_ERR(dmabuf);
			goto out;
		}
		b.dmabufs[i] = dmabuf;
		err = count_ranges(dmabuf, b.dev->dev.parent);
		if (err < 0)
			goto out;
		b.ranges[i] = err;
	}

	pr_info("start fast_ops=%u refill_ops=%u reps=%u ring=%u dmabufs=%d\n",
		fast_ops, refill_ops, reps, RING_SIZE, n_dmabuf_fds);
	err = run(&b);
	if (!err)
		pr_info("done\n");
out:
	for (i = 0; i < n_dmabuf_fds; i++)
		if (b.dmabufs[i])
			dma_buf_put(b.dmabufs[i]);
	if (b.fake)
		free_netdev(b.fake);
	if (b.dev)
		dev_put(b.dev);
	kvfree(b.bufs);
	return err;
}

static void __exit devmem_bench_exit(void)
{
}

module_init(devmem_bench_init);
module_exit(devmem_bench_exit);
MODULE_DESCRIPTION("devmem TCP memory providers, upstream's and devmem-rs', measured side by side");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS("DMA_BUF");
