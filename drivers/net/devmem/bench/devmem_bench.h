/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What devmem_bench reaches of the two devmem providers built into one kernel with
 * CONFIG_DEVMEM_RS_BENCH_ORACLE (bench/oracle.c): upstream's and devmem-rs'.
 */
#ifndef DEVMEM_BENCH_H
#define DEVMEM_BENCH_H

#include <linux/dma-direction.h>

struct device;
struct memory_provider_ops;
struct net_device;
struct net_devmem_dmabuf_binding;
struct netdev_nl_sock;
struct netlink_ext_ack;

struct devmem_bench_impl {
	const char *name;
	/* net/core/devmem.h's net_devmem_bind_dmabuf() and net_devmem_unbind_dmabuf(). */
	struct net_devmem_dmabuf_binding *(*bind)(struct net_device *dev, void *vdev,
						  struct device *dma_dev,
						  enum dma_data_direction direction,
						  unsigned int dmabuf_fd,
						  unsigned int niov_shift,
						  struct netdev_nl_sock *priv,
						  struct netlink_ext_ack *extack);
	void (*unbind)(struct net_devmem_dmabuf_binding *binding);
	/* The provider a page pool of the binding takes from its rx queue. */
	const struct memory_provider_ops *(*mp_ops)(void);
};

#define DEVMEM_BENCH_IMPLS 2
extern const struct devmem_bench_impl devmem_bench_impls[DEVMEM_BENCH_IMPLS];

#endif
