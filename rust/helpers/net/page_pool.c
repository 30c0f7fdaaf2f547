// SPDX-License-Identifier: GPL-2.0

#include <asm/sections.h>
#include <net/netlink.h>
#include <net/netmem.h>
#include <net/page_pool/helpers.h>
#include <net/page_pool/memory_provider.h>

#ifdef CONFIG_PAGE_POOL

__rust_helper void rust_helper_net_iov_init(struct net_iov *niov,
					    struct net_iov_area *owner,
					    enum net_iov_type type)
{
	net_iov_init(niov, owner, type);
}

__rust_helper dma_addr_t rust_helper_page_pool_get_dma_addr_netmem(netmem_ref netmem)
{
	return page_pool_get_dma_addr_netmem(netmem);
}

__rust_helper void rust_helper_net_mp_netmem_place_in_cache(struct page_pool *pool,
							    netmem_ref netmem)
{
	net_mp_netmem_place_in_cache(pool, netmem);
}

__rust_helper void rust_helper_page_pool_put_full_netmem(struct page_pool *pool,
							  netmem_ref netmem,
							  bool allow_direct)
{
	page_pool_put_full_netmem(pool, netmem, allow_direct);
}

__rust_helper void rust_helper_page_pool_dma_sync_netmem_for_cpu(const struct page_pool *pool,
								  netmem_ref netmem, u32 offset,
								  u32 dma_sync_size)
{
	page_pool_dma_sync_netmem_for_cpu(pool, netmem, offset, dma_sync_size);
}

__rust_helper void *rust_helper_netmem_address(netmem_ref netmem)
{
	return netmem_address(netmem);
}

/* A provider checks that a net_iov coming back has no user left. */
__rust_helper long rust_helper_netmem_pp_ref_count(netmem_ref netmem)
{
	return atomic_long_read(netmem_get_pp_ref_count_ref(netmem));
}

/* Memory providers fill netlink replies about their queues and pools. */
__rust_helper int rust_helper_nla_put_u32(struct sk_buff *skb, int attrtype, u32 value)
{
	return nla_put_u32(skb, attrtype, value);
}

/* page_pool_init() only accepts memory provider ops in kernel rodata. */
__rust_helper bool rust_helper_is_kernel_rodata(unsigned long addr)
{
	return is_kernel_rodata(addr);
}

#endif
