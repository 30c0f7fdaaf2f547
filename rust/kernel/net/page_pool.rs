// SPDX-License-Identifier: GPL-2.0

//! Page pools (C `struct page_pool`) as their users see them: a driver's rx queue creates a
//! pool ([`OwnedPagePool`]) and takes buffers from it ([`PoolNetmem`]), pages or, when a
//! memory provider is bound to the queue, `net_iov`s. The providers themselves are in
//! [`provider`].
//!
//! C header: [`include/net/page_pool/types.h`](srctree/include/net/page_pool/types.h)

use crate::{
    alloc::Flags,
    device::Device,
    dma::DataDirection,
    error::from_err_ptr,
    net::{
        device::NetDevice,
        netmem::NetmemRef, //
    },
    prelude::*, //
};
use core::{
    ops::Deref,
    ptr::NonNull, //
};

pub mod provider;

use provider::PagePool;

/// The parameters of a new page pool (C `struct page_pool_params`).
pub struct Params(bindings::page_pool_params);

impl Params {
    /// A pool of up to `pool_size` buffers of `PAGE_SIZE << order` bytes, mapped for DMA by
    /// `dev` in direction `dir` and synced for the device over their first `max_len` bytes.
    pub fn new(dev: &Device, order: u32, pool_size: u32, dir: DataDirection, max_len: u32) -> Self {
        // SAFETY: All-zero bytes are a valid `page_pool_params` (integers and pointers).
        let mut p: bindings::page_pool_params = unsafe { core::mem::zeroed() };
        // SAFETY: `fast` and `slow` are the named views of the C struct groups; writing plain
        // fields of a zeroed value.
        unsafe {
            let fast = &mut p.__bindgen_anon_1.fast;
            fast.order = order;
            fast.pool_size = pool_size;
            fast.nid = bindings::NUMA_NO_NODE;
            fast.dev = dev.as_raw();
            fast.dma_dir = dir.into();
            fast.max_len = max_len;
            p.__bindgen_anon_2.slow.flags =
                bindings::PP_FLAG_DMA_MAP | bindings::PP_FLAG_DMA_SYNC_DEV;
        }
        Self(p)
    }

    /// The device writes each buffer from `offset` bytes on (C `offset`): the pool syncs
    /// from there, and a driver adds it to the buffer's DMA address. `max_len` counts from
    /// there too.
    pub fn offset(mut self, offset: u32) -> Self {
        // `fast` is the named view of the C struct group: a plain field.
        self.0.__bindgen_anon_1.fast.offset = offset;
        self
    }

    /// Lets the pool take unreadable buffers (`net_iov`s) from the memory provider bound
    /// to rx queue `queue` of `netdev`, if any (`PP_FLAG_ALLOW_UNREADABLE_NETMEM`).
    ///
    /// # Safety
    ///
    /// `netdev` has a queue `queue`, and both outlive the pool; the device's instance lock
    /// is held when the pool is created.
    pub unsafe fn unreadable(mut self, netdev: &NetDevice, queue: u32) -> Self {
        // SAFETY: `slow` is the named view of the C struct group, all of whose fields are
        // plain integers and pointers: writing them is sound.
        unsafe {
            let slow = &mut self.0.__bindgen_anon_2.slow;
            slow.netdev = netdev.as_raw();
            slow.queue_idx = queue;
            slow.flags |= bindings::PP_FLAG_ALLOW_UNREADABLE_NETMEM;
        }
        self
    }
}

/// A page pool created and owned by its consumer (a driver's rx queue); destroyed on drop.
///
/// # Invariants
///
/// The pointer is a pool made by `page_pool_create` that this value destroys.
pub struct OwnedPagePool(NonNull<bindings::page_pool>);

// SAFETY: A pool may be used and destroyed from any thread by its one owner.
unsafe impl Send for OwnedPagePool {}

impl OwnedPagePool {
    /// Creates a pool (C `page_pool_create`).
    pub fn new(params: &Params) -> Result<Self> {
        // SAFETY: `params` is a complete parameter block; the safety contract of
        // `Params::unreadable` covers a device in it.
        let pool = from_err_ptr(unsafe { bindings::page_pool_create(&params.0) })?;
        // INVARIANT: `page_pool_create` returned a pool, which we destroy on drop.
        NonNull::new(pool).map(Self).ok_or(ENOMEM)
    }

    /// Takes a buffer: a page, or a `net_iov` of the pool's memory provider
    /// (C `page_pool_alloc_netmems`). `None` when none is left.
    ///
    /// `&mut self`: a pool has one allocating context (its queue's NAPI instance).
    pub fn alloc_netmem(&mut self, flags: Flags) -> Option<PoolNetmem> {
        // SAFETY: The pool is alive (type invariant) and `&mut self` makes this its only
        // allocating context.
        let raw = unsafe { bindings::page_pool_alloc_netmems(self.0.as_ptr(), flags.as_raw()) };
        // INVARIANT: A buffer of this pool, and its one reference, ours.
        (raw != 0).then(|| PoolNetmem {
            netmem: NetmemRef::from_raw(raw),
            pool: self.0,
        })
    }

    /// Gives back a buffer of this pool straight into its cache, for its next allocation
    /// (C `page_pool_put_full_netmem` with `allow_direct`), rather than through the ring
    /// that buffers from elsewhere take: `&mut self` makes this the pool's allocating
    /// context, the only one that uses the cache. A buffer of another pool goes back to
    /// that pool, as on drop.
    pub fn recycle_direct(&mut self, buf: PoolNetmem) {
        if !buf.is_of(self) {
            return;
        }
        let netmem = buf.into_netmem();
        // SAFETY: Our reference to a buffer of this pool, which is alive (type invariant),
        // given back once. Direct recycling needs the caller to be the cache's only user:
        // `&mut self` makes this the only context that allocates from the pool or recycles
        // into it here, and the page pool core never recycles into the cache by itself, as
        // the pool has neither a NAPI instance nor a CPU (`Params` sets neither), so
        // `page_pool_napi_local()` is false for it.
        unsafe { bindings::page_pool_put_full_netmem(self.0.as_ptr(), netmem.as_raw(), true) }
    }

    /// The C pool.
    pub(crate) fn as_nonnull(&self) -> NonNull<bindings::page_pool> {
        self.0
    }

    /// Makes the first `len` bytes of a buffer the device wrote visible to the CPU
    /// (C `page_pool_dma_sync_netmem_for_cpu`); nothing for a `net_iov`, whose memory the
    /// CPU never reads.
    pub fn sync_for_cpu(&self, buf: &PoolNetmem, len: u32) {
        // SAFETY: `buf` is a buffer of its pool, which is alive while it is out.
        unsafe {
            bindings::page_pool_dma_sync_netmem_for_cpu(
                buf.pool.as_ptr(),
                buf.netmem.as_raw(),
                0,
                len,
            )
        }
    }

    /// The bytes of a readable (page) buffer of this pool, after [`Self::sync_for_cpu`].
    ///
    /// `None` for a `net_iov` or a buffer of another pool.
    pub fn page_bytes<'a>(&self, buf: &'a PoolNetmem, len: usize) -> Option<&'a [u8]> {
        if buf.pool != self.0
            || buf.netmem.is_net_iov()
            || len > crate::page::PAGE_SIZE << self.order()
        {
            return None;
        }
        // SAFETY: A page buffer of this pool spans `PAGE_SIZE << order` bytes of kernel memory
        // that the holder of `buf` owns while it holds it.
        unsafe {
            let addr = bindings::netmem_address(buf.netmem.as_raw()).cast::<u8>();
            (!addr.is_null()).then(|| core::slice::from_raw_parts(addr, len))
        }
    }
}

/// A buffer taken from a page pool with [`OwnedPagePool::alloc_netmem`]: given back to
/// its pool when dropped (C `page_pool_put_full_netmem`, not from the pool's NAPI
/// context) or into its cache with [`OwnedPagePool::recycle_direct`], or handed to an skb
/// as a frag ([`SkBuff::push_rx_frag`](super::skbuff::SkBuff::push_rx_frag)) or as its head
/// ([`PollContext::build_skb`](super::napi::PollContext::build_skb)).
///
/// # Invariants
///
/// `netmem` is a buffer of the page pool `pool` and this value holds the one reference
/// its taker has. The pool stays allocated while any of its buffers is out, even once
/// destroyed.
pub struct PoolNetmem {
    netmem: NetmemRef,
    pool: NonNull<bindings::page_pool>,
}

// SAFETY: A page-pool buffer may be given back from any thread.
unsafe impl Send for PoolNetmem {}
// SAFETY: Shared access only reads the buffer's descriptor.
unsafe impl Sync for PoolNetmem {}

impl PoolNetmem {
    /// The buffer.
    pub fn netmem(&self) -> NetmemRef {
        self.netmem
    }

    /// Its DMA address (the pool mapped it, or its provider set it).
    pub fn dma_addr(&self) -> crate::dma::DmaAddress {
        // SAFETY: A buffer of a page pool, which records its address (type invariant).
        unsafe { bindings::page_pool_get_dma_addr_netmem(self.netmem.as_raw()) }
    }

    /// Whether the buffer is one of `pool`'s.
    pub fn is_of(&self, pool: &OwnedPagePool) -> bool {
        self.pool == pool.0
    }

    pub(crate) fn is_of_raw(&self, pool: NonNull<bindings::page_pool>) -> bool {
        self.pool == pool
    }

    /// Gives up ownership without giving the buffer back: its reference goes to the
    /// caller.
    pub fn into_netmem(self) -> NetmemRef {
        let n = self.netmem;
        core::mem::forget(self);
        n
    }
}

impl Drop for PoolNetmem {
    fn drop(&mut self) {
        // SAFETY: Our reference to a buffer of `pool`, which is still allocated (type
        // invariant), given back once.
        unsafe {
            bindings::page_pool_put_full_netmem(self.pool.as_ptr(), self.netmem.as_raw(), false)
        }
    }
}

impl Deref for OwnedPagePool {
    type Target = PagePool;

    fn deref(&self) -> &PagePool {
        // SAFETY: The pool is alive while `self` is.
        unsafe { PagePool::from_raw(self.0.as_ptr()) }
    }
}

impl Drop for OwnedPagePool {
    fn drop(&mut self) {
        // SAFETY: The pool is ours to destroy (type invariant); buffers still out keep it
        // alive inside the page pool core until they come back.
        unsafe { bindings::page_pool_destroy(self.0.as_ptr()) }
    }
}
