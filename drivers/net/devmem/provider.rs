// SPDX-License-Identifier: GPL-2.0

//! The page-pool memory provider of a binding: the page pools of the rx queues a binding
//! is installed on take its `net_iov`s instead of pages.

use crate::binding::Binding;
use kernel::{
    bindings,
    net::{
        netlink::NlMsg,
        netmem::NetmemRef,
        page_pool::provider::{
            AllocCache,
            MemoryProvider,
            MemoryProviderOps,
            PagePool,
            PoolInit,
            RxQueue,
            ALLOC_CACHE_REFILL, //
        }, //
    },
    page::PAGE_SHIFT,
    prelude::*, //
};

/// The memory provider of a [`Binding`].
pub struct DevmemProvider;

#[vtable]
impl MemoryProvider for DevmemProvider {
    type Priv = Binding;

    fn init(b: &Binding, pool: &mut PoolInit<'_>) -> Result {
        if pool.pool().order() + PAGE_SHIFT as u32 != b.shift {
            return Err(E2BIG);
        }
        // dma-buf addresses are not synced by the CPU.
        pool.disable_dma_sync();
        // The pool's reference, given back by `destroy`.
        let _ = b.get();
        Ok(())
    }

    fn destroy(b: &Binding, _pool: &PagePool) {
        // SAFETY: `init` took this reference for the pool, with `get`.
        unsafe { Binding::put(b) };
    }

    fn alloc_netmems(
        b: &Binding,
        _pool: &PagePool,
        cache: &mut AllocCache<'_>,
    ) -> Option<NetmemRef> {
        // The whole batch the pool asks for: the pool hands out the rest from its cache
        // without calling back.
        cache.fill(ALLOC_CACHE_REFILL, |batch| {
            b.free.alloc_batch(batch.room(), |n| {
                if let Some(niov) = b.chunks.get(n) {
                    // The batch has room: `alloc_batch` hands out at most `room()` numbers.
                    let _ = batch.push(niov);
                }
            });
        });
        cache.pop()
    }

    fn release_netmem(b: &Binding, pool: &PagePool, netmem: NetmemRef) -> bool {
        // SAFETY: The pool gives back a buffer it got from this provider; it is alive.
        let Some(niov) = (unsafe { netmem.net_iov() }) else {
            pr_warn!("devmem-rs: a page came back to the dma-buf provider\n");
            return false;
        };
        if niov.pp_ref_count() != 1 {
            pr_warn!("devmem-rs: net_iov released with references held\n");
            return false;
        }
        pool.detach(niov);
        let n = b.chunks.number(niov);
        if n.map_or(Err(EINVAL), |n| b.free.free(n)).is_err() {
            pr_warn!("devmem-rs: net_iov released twice or to the wrong binding\n");
        }
        // Never let the pool put_page() a net_iov.
        false
    }

    fn nl_fill(b: &Binding, msg: &mut NlMsg, rxq: Option<&RxQueue>) -> Result {
        let attr = if rxq.is_some() {
            bindings::NETDEV_A_QUEUE_DMABUF
        } else {
            bindings::NETDEV_A_PAGE_POOL_DMABUF
        };
        // CAST: netlink attribute types are 16-bit numbers.
        msg.put_u32(attr as c_int, b.id())
    }

    fn uninstall(b: &Binding, rxq: &RxQueue) {
        b.forget_queue(rxq.index());
    }
}

/// The provider's ops table, in read-only data as `page_pool_init` requires.
pub static DEVMEM_OPS: MemoryProviderOps<DevmemProvider> = MemoryProviderOps::new();
