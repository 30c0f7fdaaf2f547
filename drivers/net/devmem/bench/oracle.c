// SPDX-License-Identifier: GPL-2.0
/*
 * The benchmark's oracle: upstream's devmem TCP provider, net/core/devmem.c of the prepared
 * tree, compiled a second time into a kernel built with devmem-rs (CONFIG_NET_DEVMEM_RUST),
 * so that devmem_bench compares the two implementations in one boot, on one dma-buf.
 *
 * Nothing of devmem.c is copied: this file includes it. Its global functions take the
 * prefix "oracle_" below, so that they do not clash with the ones devmem-rs gives the
 * core; its statics (the binding registry, the provider's ops) are this object's own. The
 * core never reaches these: only devmem_bench does, through devmem_bench_impls[], and only
 * on a device of its own that carries no traffic (bench/devmem_bench.c), because buffers of
 * an oracle binding that reached TCP would be read by devmem-rs' calls.
 *
 * Built in, like devmem-rs: page_pool_init() only accepts provider ops in the kernel's
 * read-only data.
 */

#define __net_devmem_dmabuf_binding_free	oracle___net_devmem_dmabuf_binding_free
#define mp_dmabuf_devmem_alloc_netmems		oracle_mp_dmabuf_devmem_alloc_netmems
#define mp_dmabuf_devmem_destroy		oracle_mp_dmabuf_devmem_destroy
#define mp_dmabuf_devmem_init			oracle_mp_dmabuf_devmem_init
#define mp_dmabuf_devmem_release_page		oracle_mp_dmabuf_devmem_release_page
#define net_devmem_alloc_dmabuf			oracle_net_devmem_alloc_dmabuf
#define net_devmem_bind_dmabuf			oracle_net_devmem_bind_dmabuf
#define net_devmem_bind_dmabuf_to_queue		oracle_net_devmem_bind_dmabuf_to_queue
#define net_devmem_dev_unregister		oracle_net_devmem_dev_unregister
#define net_devmem_free_dmabuf			oracle_net_devmem_free_dmabuf
#define net_devmem_get_binding			oracle_net_devmem_get_binding
#define net_devmem_get_net_iov			oracle_net_devmem_get_net_iov
#define net_devmem_get_niov_at			oracle_net_devmem_get_niov_at
#define net_devmem_lookup_dmabuf		oracle_net_devmem_lookup_dmabuf
#define net_devmem_put_net_iov			oracle_net_devmem_put_net_iov
#define net_devmem_unbind_dmabuf		oracle_net_devmem_unbind_dmabuf
#define net_devmem_unbind_id			oracle_net_devmem_unbind_id
#define net_devmem_unbind_sock			oracle_net_devmem_unbind_sock

/* devmem.h shows devmem.c the C binding's layout only in the C build. */
#undef CONFIG_NET_DEVMEM_RUST
#define CONFIG_NET_DEVMEM_C 1

#include "../../../../net/core/devmem.c"

#undef net_devmem_bind_dmabuf
#undef net_devmem_unbind_dmabuf

#include "devmem_bench.h"

/* devmem-rs' entry points (drivers/net/devmem/ffi.rs), declared by devmem.h in the Rust
 * build; the names above hid those declarations here.
 */
struct net_devmem_dmabuf_binding *
net_devmem_bind_dmabuf(struct net_device *dev, void *vdev, struct device *dma_dev,
		       enum dma_data_direction direction, unsigned int dmabuf_fd,
		       unsigned int niov_shift, struct netdev_nl_sock *priv,
		       struct netlink_ext_ack *extack);
void net_devmem_unbind_dmabuf(struct net_devmem_dmabuf_binding *binding);
const struct memory_provider_ops *net_devmem_rs_mp_ops(void);

static const struct memory_provider_ops *oracle_mp_ops(void)
{
	return &dmabuf_devmem_ops;
}

const struct devmem_bench_impl devmem_bench_impls[DEVMEM_BENCH_IMPLS] = {
	{
		.name = "c",
		.bind = oracle_net_devmem_bind_dmabuf,
		.unbind = oracle_net_devmem_unbind_dmabuf,
		.mp_ops = oracle_mp_ops,
	},
	{
		.name = "rust",
		.bind = net_devmem_bind_dmabuf,
		.unbind = net_devmem_unbind_dmabuf,
		.mp_ops = net_devmem_rs_mp_ops,
	},
};
EXPORT_SYMBOL_GPL(devmem_bench_impls);
