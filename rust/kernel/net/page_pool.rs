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
        napi::{
            Napi,
            NapiPoll, //
        },
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

    /// Makes the pool rx queue `queue`'s of `netdev`: netlink reports it with the device
    /// (`page-pool-get`), and when the device goes the core keeps it with the loopback
    /// device until its buffers are back.
    ///
    /// # Safety
    ///
    /// `netdev` is registered and has a queue `queue`, and both outlive the pool's
    /// creation; the device's instance lock is held when the pool is created.
    pub unsafe fn netdev(mut self, netdev: &NetDevice, queue: u32) -> Self {
        // SAFETY: `slow` is the named view of the C struct group, all of whose fields are
        // plain integers and pointers: writing them is sound.
        unsafe {
            let slow = &mut self.0.__bindgen_anon_2.slow;
            slow.netdev = netdev.as_raw();
            slow.queue_idx = queue;
        }
        self
    }

    /// Lets the pool take unreadable buffers (`net_iov`s) from the memory provider bound
    /// to rx queue `queue` of `netdev`, if any (`PP_FLAG_ALLOW_UNREADABLE_NETMEM`), and
    /// makes it that queue's as [`Self::netdev`] does.
    ///
    /// # Safety
    ///
    /// `netdev` is registered and has a queue `queue`, and both outlive the pool; the
    /// device's instance lock is held when the pool is created.
    pub unsafe fn unreadable(self, netdev: &NetDevice, queue: u32) -> Self {
        // SAFETY: The caller's promise covers `netdev`'s.
        let mut p = unsafe { self.netdev(netdev, queue) };
        // SAFETY: `slow` is the named view of the C struct group; `flags` is an integer.
        unsafe { p.0.__bindgen_anon_2.slow.flags |= bindings::PP_FLAG_ALLOW_UNREADABLE_NETMEM };
        p
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

    /// Links the pool to the NAPI context of its queue (C
    /// `page_pool_enable_direct_recycling`): a buffer freed in softirq context on the CPU
    /// where `napi` is scheduled, as by GRO or TCP in the poll, goes straight back into the
    /// pool's cache instead of through its ring. Nothing changes for a pool already linked
    /// to `napi`.
    ///
    /// # Safety
    ///
    /// `napi` stays in memory until the pool is dropped or [`Self::unlink_napi`] is
    /// called; the pool is not linked to another context; its buffers are taken only by
    /// `napi`'s polls, or while `napi` is not scheduled (disabled, or not started).
    pub unsafe fn link_napi<P: NapiPoll>(&self, napi: &Napi<P>) {
        // SAFETY: The pool is alive (type invariant); `napi` is a C context whose
        // `list_owner` names a CPU only while it is scheduled there (`Napi`'s invariant),
        // and lives as long as the link (the caller's promise).
        unsafe { bindings::page_pool_enable_direct_recycling(self.0.as_ptr(), napi.as_raw()) }
    }

    /// Ends a link made by [`Self::link_napi`] (C `page_pool_disable_direct_recycling`),
    /// as dropping the pool does. The context must be disabled or stopped
    /// ([`Napi::disable`]), else the core warns that its poll may still be recycling.
    pub fn unlink_napi(&self) {
        // SAFETY: The pool is alive (type invariant).
        unsafe { bindings::page_pool_disable_direct_recycling(self.0.as_ptr()) }
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

    /// Takes `size` bytes of one of the pool's buffers (C `page_pool_alloc_frag_netmem`):
    /// small buffers share a page, which goes back to the pool once all of its frags have.
    /// `None` when the pool has no buffer left, or `size` is 0 or larger than a buffer.
    ///
    /// A pool whose frags the device writes syncs its pages for the device as a whole when
    /// they come back: `None` too unless its [`Params`] name the whole buffer as `max_len`
    /// and no `offset`.
    ///
    /// `&mut self`: a pool has one allocating context (its queue's NAPI instance), which
    /// the pool's current page of frags belongs to as well.
    pub fn alloc_frag(&mut self, size: u32, flags: Flags) -> Option<PoolFrag> {
        let buf = crate::page::PAGE_SIZE << self.order();
        // SAFETY: The pool is alive (type invariant); reading plain parameters it keeps.
        let (offset, max_len) = unsafe {
            let p = &(*self.0.as_ptr()).p;
            (p.offset, p.max_len)
        };
        // A frag's bytes start at its offset, not after the pool's (which the sync for the
        // CPU would add), and a page coming back must be synced for the device whole.
        if size == 0 || size as usize > buf || offset != 0 || (max_len as usize) < buf {
            return None;
        }
        let mut offset = 0;
        // SAFETY: The pool is alive (type invariant), `&mut self` makes this its only
        // allocating context, and `size` fits one of its buffers (C `WARN_ON`s otherwise).
        let raw = unsafe {
            bindings::page_pool_alloc_frag_netmem(
                self.0.as_ptr(),
                &mut offset,
                size,
                flags.as_raw(),
            )
        };
        // INVARIANT: `size` bytes from `offset` of a buffer of this pool, which the pool
        // hands to no other frag until this one comes back, and one reference to it.
        (raw != 0).then(|| PoolFrag {
            netmem: NetmemRef::from_raw(raw),
            pool: self.0,
            offset,
            len: size,
        })
    }

    /// Makes the first `len` bytes of a frag the device wrote visible to the CPU, as
    /// [`Self::sync_for_cpu`] does for a buffer; at most the frag's length.
    pub fn sync_frag_for_cpu(&self, frag: &PoolFrag, len: u32) {
        // A frag of a pool since destroyed is no longer mapped.
        if !frag.is_of(self) {
            return;
        }
        // SAFETY: `frag` is a frag of this pool, which is alive (type invariant) and has no
        // offset (`alloc_frag`); the range lies within the frag.
        unsafe {
            bindings::page_pool_dma_sync_netmem_for_cpu(
                self.0.as_ptr(),
                frag.netmem.as_raw(),
                frag.offset,
                len.min(frag.len),
            )
        }
    }

    /// The C pool.
    pub(crate) fn as_nonnull(&self) -> NonNull<bindings::page_pool> {
        self.0
    }

    /// Makes the first `len` bytes the device wrote into a buffer of this pool (from the
    /// pool's offset on) visible to the CPU (C `page_pool_dma_sync_netmem_for_cpu`);
    /// nothing for a `net_iov`, whose memory the CPU never reads, or a buffer of another
    /// pool.
    pub fn sync_for_cpu(&self, buf: &PoolNetmem, len: u32) {
        // A buffer of a pool since destroyed is no longer mapped.
        if !buf.is_of(self) {
            return;
        }
        // SAFETY: `buf` is a buffer of this pool, which is alive (type invariant).
        unsafe {
            bindings::page_pool_dma_sync_netmem_for_cpu(
                self.0.as_ptr(),
                buf.netmem.as_raw(),
                0,
                len,
            )
        }
    }
}

/// A buffer taken from a page pool with [`OwnedPagePool::alloc_netmem`]: given back to
/// its pool when dropped (C `page_pool_put_full_netmem`, not from the pool's NAPI
/// context), or handed to an skb as a frag
/// ([`SkBuff::push_rx_frag`](super::skbuff::SkBuff::push_rx_frag)) or as its head
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

/// Part of a page-pool buffer, taken with [`OwnedPagePool::alloc_frag`]: given back to its
/// pool when dropped (its page returns once all of its frags have).
///
/// Unlike a [`PoolNetmem`] it cannot become an skb's frag: other frags share its page. It
/// can be an skb's head
/// ([`PollContext::build_skb_on_frag`](super::napi::PollContext::build_skb_on_frag)).
///
/// # Invariants
///
/// `len` bytes from `offset` of `netmem`, a buffer of the page pool `pool`, are this
/// frag's alone, and this value holds one reference to `netmem`. The pool stays
/// allocated while any of its buffers is out, even once destroyed.
pub struct PoolFrag {
    netmem: NetmemRef,
    pool: NonNull<bindings::page_pool>,
    offset: u32,
    len: u32,
}

// SAFETY: A page-pool buffer may be given back from any thread.
unsafe impl Send for PoolFrag {}
// SAFETY: Shared access only reads the buffer's descriptor.
unsafe impl Sync for PoolFrag {}

impl PoolFrag {
    /// The DMA address of the frag's first byte.
    pub fn dma_addr(&self) -> crate::dma::DmaAddress {
        // SAFETY: A buffer of a page pool, which records its address (type invariant).
        let base = unsafe { bindings::page_pool_get_dma_addr_netmem(self.netmem.as_raw()) };
        base + crate::dma::DmaAddress::from(self.offset)
    }

    /// Where the frag starts in its buffer.
    pub fn offset(&self) -> u32 {
        self.offset
    }

    /// The frag's size: what it was taken with.
    pub fn size(&self) -> u32 {
        self.len
    }

    /// Whether the frag is one of `pool`'s.
    pub fn is_of(&self, pool: &OwnedPagePool) -> bool {
        self.pool == pool.0
    }

    /// The buffer the frag is part of.
    pub fn netmem(&self) -> NetmemRef {
        self.netmem
    }

    /// Gives up ownership without giving the frag back: its reference to the buffer goes
    /// to the caller.
    pub(crate) fn into_netmem(self) -> NetmemRef {
        let n = self.netmem;
        core::mem::forget(self);
        n
    }
}

impl Drop for PoolFrag {
    fn drop(&mut self) {
        // SAFETY: Our reference to a buffer of `pool`, which is still allocated (type
        // invariant), given back once: the page returns to the pool with its last frag.
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
        // Unlinked first: `page_pool_destroy` unlinks only when it drops the last user, and
        // an XDP registration of the pool may outlive this value (and the NAPI context).
        self.unlink_napi();
        // SAFETY: The pool is ours to destroy (type invariant); buffers still out keep it
        // alive inside the page pool core until they come back.
        unsafe { bindings::page_pool_destroy(self.0.as_ptr()) }
    }
}

/// A KUnit device that can reach all memory, for the page pools of tests; unregistered
/// when the test ends.
#[cfg(CONFIG_KUNIT = "y")]
pub(crate) fn kunit_dma_device(name: &'static CStr) -> Result<&'static Device> {
    // SAFETY: Called from a KUnit test, which has a current test.
    let test = unsafe { bindings::kunit_get_current_test() };
    // SAFETY: `test` is the running test; the name is a static C string.
    let dev = from_err_ptr(unsafe { bindings::kunit_device_register(test, name.as_char_ptr()) })?;
    // SAFETY: `dev` is a live device; a 64-bit mask is valid for it.
    crate::error::to_result(unsafe { bindings::dma_set_mask_and_coherent(dev, u64::MAX) })?;
    // SAFETY: KUnit keeps the device registered until after the test function returns.
    Ok(unsafe { Device::from_raw(dev) })
}

#[macros::kunit_tests(rust_page_pool_frag)]
mod tests {
    use super::*;
    use crate::page::PAGE_SIZE;

    const PAGE: u32 = PAGE_SIZE as u32;

    /// A pool of one-page buffers, synced whole, for `dev` (a test's one KUnit device).
    fn new_pool(dev: &Device) -> Result<OwnedPagePool> {
        OwnedPagePool::new(&Params::new(dev, 0, 64, DataDirection::FromDevice, PAGE))
    }

    fn dev() -> Result<&'static Device> {
        kunit_dma_device(c"rust-page-pool-frag")
    }

    /// The pages the pool took back into its ring (C `page_pool_get_stats`).
    #[cfg(CONFIG_PAGE_POOL_STATS)]
    fn ring_recycled(pool: &OwnedPagePool) -> u64 {
        // SAFETY: All-zero bytes are valid statistics (integers).
        let mut stats: bindings::page_pool_stats = unsafe { core::mem::zeroed() };
        // SAFETY: A live pool, and statistics to add its counters to.
        unsafe { bindings::page_pool_get_stats(pool.as_nonnull().as_ptr(), &mut stats) };
        stats.recycle_stats.ring
    }

    #[cfg(CONFIG_PAGE_POOL_STATS)]
    #[test]
    fn frags_share_a_page_that_comes_back_with_the_last() -> Result {
        let mut pool = new_pool(dev()?)?;
        let mut frags = KVec::new();
        for i in 0..PAGE / 256 {
            let f = pool.alloc_frag(256, GFP_KERNEL).ok_or(ENOMEM)?;
            assert_eq!(f.offset(), i * 256);
            assert_eq!(f.size(), 256);
            frags.push(f, GFP_KERNEL)?;
        }
        let page = frags[0].netmem();
        assert!(frags.iter().all(|f| f.netmem() == page && f.is_of(&pool)));
        assert_eq!(
            frags[3].dma_addr(),
            frags[0].dma_addr() + crate::dma::DmaAddress::from(3 * 256u32)
        );
        // The page is full: the next frag starts another.
        let next = pool.alloc_frag(256, GFP_KERNEL).ok_or(ENOMEM)?;
        assert!(next.netmem() != page);
        assert_eq!(next.offset(), 0);
        // All but one back (from outside the pool's context: into its ring): the page is
        // still out.
        let ring = ring_recycled(&pool);
        let last = frags.pop().ok_or(EINVAL)?;
        drop(frags);
        assert_eq!(ring_recycled(&pool), ring);
        // The last one back: the page is in the ring.
        drop(last);
        assert_eq!(ring_recycled(&pool), ring + 1);
        drop(next);
        Ok(())
    }

    #[test]
    fn a_frag_larger_than_a_buffer_or_empty_is_refused() -> Result {
        let mut pool = new_pool(dev()?)?;
        assert!(pool.alloc_frag(0, GFP_KERNEL).is_none());
        assert!(pool.alloc_frag(PAGE + 1, GFP_KERNEL).is_none());
        let f = pool.alloc_frag(PAGE, GFP_KERNEL).ok_or(ENOMEM)?;
        assert_eq!((f.offset(), f.size()), (0, PAGE));
        Ok(())
    }

    #[test]
    fn frags_of_a_pool_with_an_offset_or_a_short_sync_are_refused() -> Result {
        let dev = dev()?;
        let dir = DataDirection::FromDevice;
        let mut offset = OwnedPagePool::new(&Params::new(dev, 0, 64, dir, PAGE - 64).offset(64))?;
        assert!(offset.alloc_frag(256, GFP_KERNEL).is_none());
        let mut short = OwnedPagePool::new(&Params::new(dev, 0, 64, dir, 256))?;
        assert!(short.alloc_frag(256, GFP_KERNEL).is_none());
        // Both still hand out whole buffers.
        assert!(short.alloc_netmem(GFP_KERNEL).is_some());
        Ok(())
    }
}
