// SPDX-License-Identifier: GPL-2.0

#include <linux/etherdevice.h>
#include <linux/bottom_half.h>
#include <linux/dma-mapping.h>
#include <linux/netdevice.h>
#include <linux/skbuff.h>
#include <net/dst.h>
#include <net/inet_connection_sock.h>
#include <net/netdev_lock.h>
#include <net/netdev_rx_queue.h>
#include <net/sock.h>

__rust_helper void rust_helper_dev_hold(struct net_device *dev)
{
	dev_hold(dev);
}

__rust_helper void rust_helper_dev_put(struct net_device *dev)
{
	dev_put(dev);
}

__rust_helper void rust_helper_netdev_lock(struct net_device *dev)
{
	netdev_lock(dev);
}

__rust_helper void rust_helper_netdev_unlock(struct net_device *dev)
{
	netdev_unlock(dev);
}

__rust_helper struct netdev_rx_queue *
rust_helper___netif_get_rx_queue(struct net_device *dev, unsigned int rxq)
{
	return __netif_get_rx_queue(dev, rxq);
}

__rust_helper struct net *rust_helper_dev_net(const struct net_device *dev)
{
	return dev_net(dev);
}

__rust_helper struct net *rust_helper_sock_net(const struct sock *sk)
{
	return sock_net(sk);
}

/*
 * bindgen lays struct sock out without the anonymous struct slock_owned of its
 * socket_lock_t (an -fms-extensions member), 64 bytes short from sk_lock on:
 * Rust reaches the fields of a socket through these instead.
 */
__rust_helper int rust_helper_inet_csk_rebuild_header(struct sock *sk)
{
	return inet_csk(sk)->icsk_af_ops->rebuild_header(sk);
}

__rust_helper const struct cred *rust_helper_sk_file_cred(const struct sock *sk)
{
	const struct socket *sock = READ_ONCE(sk->sk_socket);

	return sock && sock->file ? sock->file->f_cred : NULL;
}

__rust_helper struct dst_entry *rust_helper___sk_dst_get(const struct sock *sk)
{
	return __sk_dst_get(sk);
}

__rust_helper struct net_device *rust_helper_dst_dev_rcu(const struct dst_entry *dst)
{
	return dst_dev_rcu(dst);
}

__rust_helper void *rust_helper_netdev_priv(const struct net_device *dev)
{
	return netdev_priv(dev);
}

__rust_helper void rust_helper_eth_hw_addr_set(struct net_device *dev, const u8 *addr)
{
	eth_hw_addr_set(dev, addr);
}

__rust_helper bool rust_helper_netif_carrier_ok(const struct net_device *dev)
{
	return netif_carrier_ok(dev);
}

__rust_helper bool rust_helper_netif_running(const struct net_device *dev)
{
	return netif_running(dev);
}

__rust_helper bool rust_helper_netif_is_rxfh_configured(const struct net_device *dev)
{
	return netif_is_rxfh_configured(dev);
}

__rust_helper void rust_helper_netif_tx_start_all_queues(struct net_device *dev)
{
	netif_tx_start_all_queues(dev);
}

__rust_helper void rust_helper_netif_tx_disable(struct net_device *dev)
{
	netif_tx_disable(dev);
}

__rust_helper void rust_helper_netif_stop_subqueue(struct net_device *dev, u16 queue_index)
{
	netif_stop_subqueue(dev, queue_index);
}

__rust_helper void rust_helper_netif_wake_subqueue(struct net_device *dev, u16 queue_index)
{
	netif_wake_subqueue(dev, queue_index);
}

__rust_helper bool rust_helper___netif_subqueue_stopped(const struct net_device *dev,
							u16 queue_index)
{
	return __netif_subqueue_stopped(dev, queue_index);
}

__rust_helper bool rust_helper_napi_schedule(struct napi_struct *n)
{
	return napi_schedule(n);
}

__rust_helper void rust_helper_netif_napi_del_locked(struct napi_struct *napi)
{
	netif_napi_del_locked(napi);
}

__rust_helper gro_result_t rust_helper_napi_gro_receive(struct napi_struct *napi,
							struct sk_buff *skb)
{
	return napi_gro_receive(napi, skb);
}

__rust_helper unsigned int rust_helper_skb_headlen(const struct sk_buff *skb)
{
	return skb_headlen(skb);
}

__rust_helper int rust_helper_skb_linearize(struct sk_buff *skb)
{
	return skb_linearize(skb);
}

__rust_helper int rust_helper_skb_put_padto(struct sk_buff *skb, unsigned int len)
{
	return skb_put_padto(skb, len);
}

__rust_helper void rust_helper_dev_kfree_skb_any(struct sk_buff *skb)
{
	dev_kfree_skb_any(skb);
}

__rust_helper void rust_helper_skb_add_rx_frag_netmem(struct sk_buff *skb, int i,
						      netmem_ref netmem, int off, int size,
						      unsigned int truesize)
{
	skb_add_rx_frag_netmem(skb, i, netmem, off, size, truesize);
}

__rust_helper void rust_helper_skb_mark_for_recycle(struct sk_buff *skb)
{
	skb_mark_for_recycle(skb);
}

__rust_helper void rust_helper_skb_reserve(struct sk_buff *skb, int len)
{
	skb_reserve(skb, len);
}

/* ip_summed is a bitfield: the device verified the checksums of a received packet. */
__rust_helper void rust_helper_skb_set_csum_unnecessary(struct sk_buff *skb)
{
	skb->ip_summed = CHECKSUM_UNNECESSARY;
}

__rust_helper void rust_helper_skb_record_rx_queue(struct sk_buff *skb, u16 rx_queue)
{
	skb_record_rx_queue(skb, rx_queue);
}

__rust_helper void rust_helper_skb_set_hash(struct sk_buff *skb, __u32 hash,
					    enum pkt_hash_types type)
{
	skb_set_hash(skb, hash, type);
}

/* skb->protocol sits in an anonymous struct group: set it from the Ethernet header. */
__rust_helper void rust_helper_skb_set_protocol_eth(struct sk_buff *skb, struct net_device *dev)
{
	skb->protocol = eth_type_trans(skb, dev);
}

__rust_helper void rust_helper_local_bh_disable(void)
{
	local_bh_disable();
}

__rust_helper void rust_helper_local_bh_enable(void)
{
	local_bh_enable();
}

/* netmem_tx is a bitfield: the device transmits from net_iovs (enum netmem_tx_mode). */
__rust_helper void rust_helper_netdev_set_netmem_tx(struct net_device *dev,
						    enum netmem_tx_mode mode)
{
	dev->netmem_tx = mode;
}

/* Transmit: the skb facts a NIC needs for offloads, and DMA mapping of its buffers. */

__rust_helper unsigned char *rust_helper_skb_end_pointer(const struct sk_buff *skb)
{
	return skb_end_pointer(skb);
}

/* ip_summed is a bitfield. */
__rust_helper u8 rust_helper_skb_ip_summed(const struct sk_buff *skb)
{
	return skb->ip_summed;
}

/* csum_offset sits in a union in an anonymous struct group. */
__rust_helper u16 rust_helper_skb_csum_offset(const struct sk_buff *skb)
{
	return skb->csum_offset;
}

__rust_helper int rust_helper_skb_checksum_start_offset(const struct sk_buff *skb)
{
	return skb_checksum_start_offset(skb);
}

__rust_helper int rust_helper_skb_network_offset(const struct sk_buff *skb)
{
	return skb_network_offset(skb);
}

__rust_helper int rust_helper_skb_transport_offset(const struct sk_buff *skb)
{
	return skb_transport_offset(skb);
}

__rust_helper int rust_helper_skb_cow_head(struct sk_buff *skb, unsigned int headroom)
{
	return skb_cow_head(skb, headroom);
}

__rust_helper dma_addr_t rust_helper___skb_frag_dma_map(struct device *dev,
							const skb_frag_t *frag, size_t offset,
							size_t size,
							enum dma_data_direction dir)
{
	return __skb_frag_dma_map(dev, frag, offset, size, dir);
}

__rust_helper dma_addr_t rust_helper_dma_map_single_attrs(struct device *dev, void *ptr,
							  size_t size,
							  enum dma_data_direction dir,
							  unsigned long attrs)
{
	return dma_map_single_attrs(dev, ptr, size, dir, attrs);
}

__rust_helper void rust_helper_dma_unmap_single_attrs(struct device *dev, dma_addr_t addr,
						      size_t size,
						      enum dma_data_direction dir,
						      unsigned long attrs)
{
	dma_unmap_single_attrs(dev, addr, size, dir, attrs);
}

__rust_helper int rust_helper_dma_mapping_error(struct device *dev, dma_addr_t dma_addr)
{
	return dma_mapping_error(dev, dma_addr);
}

__rust_helper void
rust_helper_netif_napi_add_config_locked(struct net_device *dev, struct napi_struct *napi,
					 int (*poll)(struct napi_struct *, int), int index)
{
	netif_napi_add_config_locked(dev, napi, poll, index);
}
