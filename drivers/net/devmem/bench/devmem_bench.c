// SPDX-License-Identifier: GPL-2.0
/*
 * devmem_bench: cost of the page_pool paths a devmem rx queue runs, for a plain page pool
 * and for a pool backed by whichever devmem memory provider the kernel was built with
 * (devmem-rs' or net/core/devmem.c's), measured in the same module load.
 *
 * Loading the module runs the benchmark and prints one line per measurement:
 *
 *   devmem_bench: test=<fast|alloc|release> pool=<plain|provider> rep=R ops=N cycles=C ns=T
 *
 * C and T are the totals over N operations (get_cycles() and ktime_get_ns() deltas).
 *
 *   fast     allocate a buffer and give it straight back to the pool's cache, N times,
 *            with bottom halves off: the recycling fast path every rx refill takes.
 *   alloc    N allocations from a pool whose caches are empty: for a provider pool this
 *            is the provider's alloc_netmems (the refill path), for the plain pool the
 *            page allocator.
 *   release  give the N buffers back without direct recycling to a pool whose ring holds
 *            RING_SIZE: all but RING_SIZE go back to the provider's release_netmem (or
 *            to the page allocator).
 *
 * The provider pool is made on rx queue @queue of @ifindex, which userspace must have
 * bound to a dma-buf (bind-rx) first; without @ifindex only the plain pool is measured.
 * The module is written in C on purpose: it calls the page_pool API exactly as a driver
 * does, the same code for both devmem implementations, and goes through none of the
 * Rust abstractions it compares.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/slab.h>
#include <linux/timex.h>
#include <net/netdev_lock.h>
#include <net/netmem.h>
#include <net/page_pool/helpers.h>
#include <net/page_pool/types.h>

static int ifindex;
module_param(ifindex, int, 0444);
MODULE_PARM_DESC(ifindex, "device whose rx queue carries the memory provider (0: plain pool only)");

static uint queue;
module_param(queue, uint, 0444);
MODULE_PARM_DESC(queue, "rx queue bound to a dma-buf");

static uint fast_ops = 200000;
module_param(fast_ops, uint, 0444);
MODULE_PARM_DESC(fast_ops, "operations per fast-path measurement");

static uint refill_ops = 4096;
module_param(refill_ops, uint, 0444);
MODULE_PARM_DESC(refill_ops, "buffers per alloc/release measurement");

static uint reps = 7;
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

static void report(const char *test, const char *pool, uint rep, uint ops,
		   const struct sample *s)
{
	pr_info("test=%s pool=%s rep=%u ops=%u cycles=%llu ns=%llu\n",
		test, pool, rep, ops, s->cycles, s->ns);
}

static struct page_pool *make_pool(struct net_device *dev)
{
	struct page_pool_params pp = {
		.order = 0,
		.pool_size = RING_SIZE,
		.nid = NUMA_NO_NODE,
	};
	struct page_pool *pool;

	if (!dev)
		return page_pool_create(&pp);

	/* What a devmem-capable driver passes for a payload pool. */
	pp.flags = PP_FLAG_DMA_MAP | PP_FLAG_DMA_SYNC_DEV | PP_FLAG_ALLOW_UNREADABLE_NETMEM;
	pp.dev = dev->dev.parent;
	pp.dma_dir = DMA_FROM_DEVICE;
	pp.max_len = PAGE_SIZE;
	pp.netdev = dev;
	pp.queue_idx = queue;
	netdev_lock(dev);
	pool = page_pool_create(&pp);
	netdev_unlock(dev);
	if (!IS_ERR(pool) && !pool->mp_ops) {
		pr_err("rx queue %u of %s has no memory provider: bind it first\n",
		       queue, netdev_name(dev));
		page_pool_destroy(pool);
		return ERR_PTR(-ENOENT);
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

static int run_pool(const char *name, struct net_device *dev, netmem_ref *bufs)
{
	struct sample s, a, r;
	struct page_pool *pool;
	uint rep, n;

	for (rep = 0; rep < reps; rep++) {
		/* A fresh pool per repetition: empty caches for alloc/release. */
		pool = make_pool(dev);
		if (IS_ERR(pool)) {
			pr_err("pool=%s: page_pool_create: %pe\n", name, pool);
			return PTR_ERR(pool);
		}
		n = bench_refill(pool, bufs, refill_ops, &a, &r);
		if (n != refill_ops) {
			pr_err("pool=%s: only %u of %u buffers\n", name, n, refill_ops);
			page_pool_destroy(pool);
			return -ENOMEM;
		}
		report("alloc", name, rep, n, &a);
		report("release", name, rep, n, &r);

		n = bench_fast(pool, fast_ops, &s);
		page_pool_destroy(pool);
		if (n != fast_ops) {
			pr_err("pool=%s: fast path ran dry after %u\n", name, n);
			return -ENOMEM;
		}
		report("fast", name, rep, n, &s);
		cond_resched();
	}
	return 0;
}

static int __init devmem_bench_init(void)
{
	struct net_device *dev = NULL;
	netmem_ref *bufs;
	int err;

	if (!fast_ops || !refill_ops || !reps)
		return -EINVAL;
	bufs = kvcalloc(refill_ops, sizeof(*bufs), GFP_KERNEL);
	if (!bufs)
		return -ENOMEM;

	if (ifindex) {
		dev = dev_get_by_index(&init_net, ifindex);
		if (!dev) {
			err = -ENODEV;
			goto out;
		}
		if (queue >= dev->real_num_rx_queues) {
			err = -EINVAL;
			goto out;
		}
	}

	pr_info("start fast_ops=%u refill_ops=%u reps=%u ring=%u\n",
		fast_ops, refill_ops, reps, RING_SIZE);
	err = run_pool("plain", NULL, bufs);
	if (!err && dev)
		err = run_pool("provider", dev, bufs);
	if (!err)
		pr_info("done\n");
out:
	if (dev)
		dev_put(dev);
	kvfree(bufs);
	return err;
}

static void __exit devmem_bench_exit(void)
{
}

module_init(devmem_bench_init);
module_exit(devmem_bench_exit);
MODULE_DESCRIPTION("page_pool fast path and devmem memory provider benchmark");
MODULE_LICENSE("GPL");
