// SPDX-License-Identifier: GPL-2.0

//! Memory providers behind page pools (C `struct memory_provider_ops`).
//!
//! A memory provider supplies the buffers of the page pools of the rx queues it is bound to,
//! in place of the page allocator: devmem TCP hands out [`NetIov`]s of a dma-buf. A provider
//! implements [`MemoryProvider`]; [`MemoryProviderOps`] turns it into the C ops table, which
//! must be a `static` of the built-in kernel because `page_pool_init` only accepts ops in
//! kernel read-only data.
//!
//! C header:
//! [`include/net/page_pool/memory_provider.h`](srctree/include/net/page_pool/memory_provider.h)

use crate::{
    error::{
        from_result,
        to_result,
        VTABLE_DEFAULT_ERROR, //
    },
    net::{
        device::LockedNetDevice,
        ext_ack::ExtAck,
        netlink::NlMsg,
        netmem::{
            NetIov,
            NetmemRef, //
        }, //
    },
    prelude::*,
    types::Opaque, //
};
use core::{
    ffi::c_void,
    marker::PhantomData, //
};

/// A page pool (C `struct page_pool`), as its memory provider sees it.
///
/// # Invariants
///
/// The pool is alive for as long as the reference is.
#[repr(transparent)]
pub struct PagePool(Opaque<bindings::page_pool>);

impl PagePool {
    /// Creates a reference from a pointer to a C page pool.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a page pool that stays alive for `'a`.
    #[inline]
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::page_pool) -> &'a Self {
        // SAFETY: `PagePool` is a transparent wrapper of `page_pool`; the caller guarantees
        // the pointer is valid for `'a`.
        unsafe { &*ptr.cast() }
    }

    /// Returns the pointer to the C page pool.
    #[inline]
    pub fn as_raw(&self) -> *mut bindings::page_pool {
        self.0.get()
    }

    /// The allocation order of the pool: each buffer is `PAGE_SIZE << order` bytes.
    #[inline]
    pub fn order(&self) -> u32 {
        // SAFETY: The pool is alive (type invariant); `p.order` is fixed at creation.
        unsafe { (*self.as_raw()).p.order }
    }

    /// The index of the rx queue the pool serves, for a pool created for one.
    #[inline]
    pub fn queue_idx(&self) -> u32 {
        // SAFETY: The pool is alive (type invariant); `slow.queue_idx` is fixed at creation.
        unsafe { (*self.as_raw()).slow.queue_idx }
    }

    /// Whether the pool maps its buffers for DMA (`PP_FLAG_DMA_MAP`).
    #[inline]
    pub fn dma_map(&self) -> bool {
        // SAFETY: The pool is alive (type invariant); `dma_map` is fixed at creation.
        unsafe { (*self.as_raw()).dma_map() }
    }

    /// Accounts `niov` as allocated from this pool (C `net_mp_niov_set_page_pool`).
    ///
    /// A provider does this for every `net_iov` it hands to the pool; the pool gives it back
    /// through [`MemoryProvider::release_netmem`].
    #[inline]
    pub fn attach(&self, niov: &NetIov) {
        // SAFETY: Both pointers are valid (type invariants); the function records the pool
        // in the descriptor and counts the allocation.
        unsafe { bindings::net_mp_niov_set_page_pool(self.as_raw(), niov.as_raw()) }
    }

    /// Takes `niov` out of this pool (C `net_mp_niov_clear_page_pool`), in
    /// [`MemoryProvider::release_netmem`], before the provider frees it.
    #[inline]
    pub fn detach(&self, niov: &NetIov) {
        // SAFETY: The `net_iov` is valid (type invariant); the function clears the pool
        // fields of its descriptor.
        unsafe { bindings::net_mp_niov_clear_page_pool(niov.as_raw()) }
    }
}

/// The setup of a page pool, offered to [`MemoryProvider::init`] before the pool is used.
pub struct PoolInit<'a> {
    pool: &'a PagePool,
}

impl PoolInit<'_> {
    /// The pool being set up.
    #[inline]
    pub fn pool(&self) -> &PagePool {
        self.pool
    }

    /// Stops the pool from syncing buffers for the device or the CPU: the memory is not
    /// the CPU's (device memory), or the provider syncs it itself.
    #[inline]
    pub fn disable_dma_sync(&mut self) {
        let pool = self.pool.as_raw();
        // SAFETY: `init` runs before the pool is published, so nothing else reads or writes
        // its flags; `&mut self` makes this the only writer.
        unsafe {
            (*pool).set_dma_sync(false);
            (*pool).set_dma_sync_for_cpu(false);
        }
    }
}

/// The allocation cache of a page pool, open to its provider during a refill.
///
/// A provider may refill the cache with several buffers at once instead of handing out one
/// per call; the pool then serves the next allocations from the cache without calling the
/// provider.
pub struct AllocCache<'a> {
    pool: &'a PagePool,
}

/// The number of entries of a page pool's allocation cache (C `PP_ALLOC_CACHE_SIZE`).
pub const ALLOC_CACHE_SIZE: usize = bindings::PP_ALLOC_CACHE_SIZE as usize;

/// The number of entries the page pool asks for in one refill (C `PP_ALLOC_CACHE_REFILL`).
pub const ALLOC_CACHE_REFILL: usize = bindings::PP_ALLOC_CACHE_REFILL as usize;

impl AllocCache<'_> {
    /// The number of buffers in the cache.
    #[inline]
    pub fn len(&self) -> usize {
        // SAFETY: The pool is alive; the refill path is the only user of the cache while it
        // runs (the caller of `alloc_netmems` holds the pool's allocation context).
        let count = unsafe { (*self.pool.as_raw()).alloc.count };
        // CAST: the count is at most `PP_ALLOC_CACHE_SIZE`.
        count as usize
    }

    /// Whether the cache is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number of buffers the cache can still take.
    #[inline]
    pub fn space(&self) -> usize {
        ALLOC_CACHE_SIZE - self.len()
    }

    /// Puts the buffers that `fill` pushes with [`CacheFill::push`] in the cache, up to `max`
    /// and the room there is, and accounts them to the pool in one call (C
    /// `net_mp_netmem_place_in_cache` for each, then `net_mp_netmems_set_page_pool`).
    /// Returns how many were put.
    #[inline]
    pub fn fill(&mut self, max: usize, fill: impl FnOnce(&mut CacheFill<'_>)) -> usize {
        let pool = self.pool.as_raw();
        let start = self.len();
        // SAFETY: The pool is alive and its cache has `ALLOC_CACHE_SIZE` entries, of which
        // `start` are in use: the pointer is in bounds or one past the end (no room).
        let slots = unsafe { (&raw mut (*pool).alloc.cache).cast::<bindings::netmem_ref>() };
        // SAFETY: As above.
        let slots = unsafe { slots.add(start) };
        let mut batch = CacheFill {
            slots,
            room: max.min(self.space()),
            len: 0,
            _cache: PhantomData,
        };
        fill(&mut batch);
        let n = batch.len;
        // CAST: `n` is at most `ALLOC_CACHE_SIZE`, a `u32` constant.
        // SAFETY: `&mut self` and the refill context make this the only user of the cache;
        // its `n` entries from `start` on were written by `push` with `net_iov`s of the
        // provider, which the call associates with the pool.
        unsafe {
            (*pool).alloc.count += n as u32;
            bindings::net_mp_netmems_set_page_pool(pool, slots, n as u32);
        }
        n
    }

    /// Takes the buffer put last out of the cache, if there is one: a provider fills the
    /// cache and returns one of the buffers it put there from `alloc_netmems`.
    #[inline]
    pub fn pop(&mut self) -> Option<NetmemRef> {
        let pool = self.pool.as_raw();
        let count = self.len().checked_sub(1)?;
        // SAFETY: `count` is below the number of entries in use, so in bounds; `&mut self`
        // and the refill context make this the only user of the cache.
        unsafe {
            (*pool).alloc.count -= 1;
            Some(NetmemRef::from_raw((*pool).alloc.cache[count]))
        }
    }
}

/// The buffers a provider puts in a page pool's cache with [`AllocCache::fill`].
pub struct CacheFill<'a> {
    slots: *mut bindings::netmem_ref,
    room: usize,
    len: usize,
    _cache: PhantomData<&'a mut bindings::netmem_ref>,
}

impl CacheFill<'_> {
    /// The number of buffers that can still be pushed.
    #[inline]
    pub fn room(&self) -> usize {
        self.room - self.len
    }

    /// Puts `niov` in the cache, to be accounted to the pool when [`AllocCache::fill`]
    /// returns. Fails with `ENOSPC` when there is no room; `niov` is then left untouched.
    #[inline]
    pub fn push(&mut self, niov: &NetIov) -> Result {
        if self.len == self.room {
            return Err(ENOSPC);
        }
        // SAFETY: `slots` has room for `room` entries (`AllocCache::fill`), and `len` is
        // below it.
        unsafe {
            self.slots
                .add(self.len)
                .write(NetmemRef::from(niov).as_raw())
        };
        self.len += 1;
        Ok(())
    }
}

/// An rx queue of a network device (C `struct netdev_rx_queue`), as a provider sees it.
///
/// # Invariants
///
/// The queue is alive for as long as the reference is.
#[repr(transparent)]
pub struct RxQueue(Opaque<bindings::netdev_rx_queue>);

impl RxQueue {
    /// Creates a reference from a pointer to a C rx queue.
    ///
    /// # Safety
    ///
    /// `ptr` must point to an rx queue that stays alive for `'a`.
    #[inline]
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::netdev_rx_queue) -> &'a Self {
        // SAFETY: `RxQueue` is a transparent wrapper; the caller guarantees validity.
        unsafe { &*ptr.cast() }
    }

    /// Returns the pointer to the C rx queue.
    #[inline]
    pub fn as_raw(&self) -> *mut bindings::netdev_rx_queue {
        self.0.get()
    }

    /// The queue's index in its device (C `get_netdev_rx_queue_index`).
    pub fn index(&self) -> u32 {
        let rxq = self.as_raw();
        // SAFETY: The queue is alive (type invariant), so its `dev` is its device, whose
        // array `_rx` holds the queue: both pointers are into the same allocation.
        let index = unsafe { rxq.offset_from((*(*rxq).dev)._rx) };
        // CAST: an index into `_rx` is below `num_rx_queues`, a `u32`.
        index as u32
    }
}

/// A page-pool memory provider (C `struct memory_provider_ops`).
///
/// The provider's object, of type [`MemoryProvider::Priv`], is what the rx queue records as
/// `mp_priv` when the provider is bound to it; every callback receives it.
#[vtable]
pub trait MemoryProvider: 'static {
    /// The provider's object (the binding, for devmem).
    type Priv: Sync;

    /// Checks that the provider can serve `pool` and sets the pool up; called when a page
    /// pool is created on a queue the provider is bound to.
    fn init(mp: &Self::Priv, pool: &mut PoolInit<'_>) -> Result;

    /// Called when `pool` is destroyed, after every buffer came back.
    fn destroy(mp: &Self::Priv, pool: &PagePool);

    /// Refills `pool`: returns one buffer accounted to the pool, either with
    /// [`PagePool::attach`] or by [`AllocCache::fill`] (and taken back out with
    /// [`AllocCache::pop`]), and may fill `cache` with more. `None` when the provider is out
    /// of buffers.
    fn alloc_netmems(
        mp: &Self::Priv,
        pool: &PagePool,
        cache: &mut AllocCache<'_>,
    ) -> Option<NetmemRef>;

    /// Takes back a buffer the pool no longer needs. Returns `true` when the pool should
    /// free it as a page, which a provider of `net_iov`s never asks for.
    fn release_netmem(mp: &Self::Priv, pool: &PagePool, netmem: NetmemRef) -> bool;

    /// Adds the provider's attributes to a netlink reply about `rxq`, or about a page pool
    /// when `rxq` is `None`.
    fn nl_fill(mp: &Self::Priv, msg: &mut NlMsg, rxq: Option<&RxQueue>) -> Result;

    /// Called when `rxq` goes away (its device is unregistered) while still bound.
    fn uninstall(_mp: &Self::Priv, _rxq: &RxQueue) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
}

/// The C ops table of the memory provider `T`.
///
/// Declare it as an immutable `static` of built-in code, so that it lands in kernel
/// read-only data, as `page_pool_init` requires:
///
/// ```
/// use kernel::net::{netlink::NlMsg, netmem::NetmemRef};
/// use kernel::net::page_pool::provider::{
///     AllocCache, MemoryProvider, MemoryProviderOps, PagePool, PoolInit, RxQueue,
/// };
///
/// struct Empty;
///
/// #[vtable]
/// impl MemoryProvider for Empty {
///     type Priv = ();
///     fn init(_mp: &(), _: &mut PoolInit<'_>) -> Result {
///         Err(EOPNOTSUPP)
///     }
///     fn destroy(_mp: &(), _: &PagePool) {}
///     fn alloc_netmems(_mp: &(), _: &PagePool, _: &mut AllocCache<'_>) -> Option<NetmemRef> {
///         None
///     }
///     fn release_netmem(_mp: &(), _: &PagePool, _: NetmemRef) -> bool {
///         false
///     }
///     fn nl_fill(_mp: &(), _: &mut NlMsg, _: Option<&RxQueue>) -> Result {
///         Ok(())
///     }
/// }
///
/// static EMPTY_OPS: MemoryProviderOps<Empty> = MemoryProviderOps::new();
///
/// assert!(EMPTY_OPS.in_kernel_rodata());
/// assert!(!EMPTY_OPS.has_uninstall());
/// ```
#[repr(transparent)]
pub struct MemoryProviderOps<T: MemoryProvider>(
    bindings::memory_provider_ops,
    PhantomData<fn() -> T>,
);

// SAFETY: The table holds only function pointers and is never written after it is built.
unsafe impl<T: MemoryProvider> Sync for MemoryProviderOps<T> {}

impl<T: MemoryProvider> MemoryProviderOps<T> {
    /// Builds the table. Every callback but `uninstall` is always set: the page pool calls
    /// them without checking.
    pub const fn new() -> Self {
        Self(
            bindings::memory_provider_ops {
                alloc_netmems: Some(Adapter::<T>::alloc_netmems),
                release_netmem: Some(Adapter::<T>::release_netmem),
                init: Some(Adapter::<T>::init),
                destroy: Some(Adapter::<T>::destroy),
                nl_fill: Some(Adapter::<T>::nl_fill),
                uninstall: if T::HAS_UNINSTALL {
                    Some(Adapter::<T>::uninstall)
                } else {
                    None
                },
            },
            PhantomData,
        )
    }

    /// Returns the pointer to the C table.
    ///
    /// Whoever installs the table on an rx queue (as `mp_ops` of its memory provider
    /// parameters) must pass a `T::Priv` as `mp_priv` that outlives the queue's binding and
    /// every page pool created on it: the callbacks turn `mp_priv` back into `&T::Priv`.
    #[inline]
    pub fn as_raw(&'static self) -> *const bindings::memory_provider_ops {
        &self.0
    }

    fn params(
        &'static self,
        mp: &T::Priv,
        rx_page_size: u32,
    ) -> bindings::pp_memory_provider_params {
        bindings::pp_memory_provider_params {
            mp_priv: core::ptr::from_ref(mp).cast_mut().cast(),
            mp_ops: self.as_raw(),
            rx_page_size,
        }
    }

    /// Binds the provider `mp` to rx queue `index` of `dev` and restarts the queue on it
    /// (C `netif_mp_open_rxq`). An `rx_page_size` of 0 keeps the device's.
    ///
    /// # Safety
    ///
    /// `mp` stays alive until the queue is closed with [`Self::close_rxq`] or goes away
    /// with its device (which calls `uninstall`).
    pub unsafe fn open_rxq(
        &'static self,
        dev: &LockedNetDevice,
        index: u32,
        mp: &T::Priv,
        rx_page_size: u32,
        ack: Option<&mut ExtAck>,
    ) -> Result {
        let params = self.params(mp, rx_page_size);
        let ack = ack.map_or(core::ptr::null_mut(), ExtAck::as_raw);
        // SAFETY: `dev` is locked (type invariant of `LockedNetDevice`); `params` names this
        // static table and an `mp` that outlives the binding (caller); `ack` is null or valid.
        to_result(unsafe { bindings::netif_mp_open_rxq(dev.as_raw(), index, &params, ack) })
    }

    /// Restarts rx queue `index` of `dev` without the provider `mp`, which
    /// [`Self::open_rxq`] bound with `rx_page_size` (C `netif_mp_close_rxq`). A queue that
    /// is not bound so is left alone, with a kernel WARN: the caller must remember what it
    /// opened.
    pub fn close_rxq(
        &'static self,
        dev: &LockedNetDevice,
        index: u32,
        mp: &T::Priv,
        rx_page_size: u32,
    ) {
        let params = self.params(mp, rx_page_size);
        // SAFETY: `dev` is locked (type invariant of `LockedNetDevice`). C checks the index
        // against the device's queues and `params` against the queue's before it touches
        // the queue, and refuses a wrong one with a WARN: sound for any index and `mp`.
        unsafe { bindings::netif_mp_close_rxq(dev.as_raw(), index, &params) };
    }

    /// Whether the table is in kernel read-only data, where `page_pool_init` requires it.
    pub fn in_kernel_rodata(&self) -> bool {
        // CAST: the C check takes the address as an integer.
        let addr = core::ptr::from_ref(&self.0) as usize;
        // SAFETY: The function only compares the address with the section bounds.
        unsafe { bindings::is_kernel_rodata(addr) }
    }

    /// Whether the provider handles its queues going away (`uninstall`).
    pub fn has_uninstall(&self) -> bool {
        self.0.uninstall.is_some()
    }
}

impl<T: MemoryProvider> Default for MemoryProviderOps<T> {
    fn default() -> Self {
        Self::new()
    }
}

struct Adapter<T: MemoryProvider>(PhantomData<T>);

impl<T: MemoryProvider> Adapter<T> {
    /// The provider's object of a page pool.
    ///
    /// # Safety
    ///
    /// `pool` must be a live page pool whose provider is `T`: its `mp_priv` then is a
    /// `T::Priv` that outlives the pool (the requirement on binding `T` to a queue).
    unsafe fn mp_of<'a>(pool: *mut bindings::page_pool) -> &'a T::Priv {
        // SAFETY: As required above.
        unsafe { &*(*pool).mp_priv.cast::<T::Priv>() }
    }

    /// # Safety
    ///
    /// Called by the page pool with a live pool whose provider is `T`, during its setup.
    unsafe extern "C" fn init(pool: *mut bindings::page_pool) -> c_int {
        from_result(|| {
            // SAFETY: As guaranteed by the caller.
            let mp = unsafe { Self::mp_of(pool) };
            // SAFETY: The pool is alive for the call.
            let pool = unsafe { PagePool::from_raw(pool) };
            let mut init = PoolInit { pool };
            T::init(mp, &mut init)?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the page pool with a live pool whose provider is `T`, once, at its end.
    unsafe extern "C" fn destroy(pool: *mut bindings::page_pool) {
        // SAFETY: As guaranteed by the caller.
        let mp = unsafe { Self::mp_of(pool) };
        // SAFETY: The pool is alive for the call.
        T::destroy(mp, unsafe { PagePool::from_raw(pool) });
    }

    /// # Safety
    ///
    /// Called by the page pool's refill path with a live pool whose provider is `T`; the
    /// caller owns the pool's allocation context.
    unsafe extern "C" fn alloc_netmems(
        pool: *mut bindings::page_pool,
        _gfp: bindings::gfp_t,
    ) -> bindings::netmem_ref {
        // SAFETY: As guaranteed by the caller.
        let mp = unsafe { Self::mp_of(pool) };
        // SAFETY: The pool is alive for the call.
        let pool = unsafe { PagePool::from_raw(pool) };
        let mut cache = AllocCache { pool };
        T::alloc_netmems(mp, pool, &mut cache).map_or(0, NetmemRef::as_raw)
    }

    /// # Safety
    ///
    /// Called by the page pool with a live pool whose provider is `T` and a buffer of it.
    unsafe extern "C" fn release_netmem(
        pool: *mut bindings::page_pool,
        netmem: bindings::netmem_ref,
    ) -> bool {
        // SAFETY: As guaranteed by the caller.
        let mp = unsafe { Self::mp_of(pool) };
        // SAFETY: The pool is alive for the call.
        let pool = unsafe { PagePool::from_raw(pool) };
        T::release_netmem(mp, pool, NetmemRef::from_raw(netmem))
    }

    /// # Safety
    ///
    /// Called by netlink with the `mp_priv` of a queue or pool whose provider is `T`, a
    /// message being built and, for a queue, the queue.
    unsafe extern "C" fn nl_fill(
        mp_priv: *mut c_void,
        rsp: *mut bindings::sk_buff,
        rxq: *mut bindings::netdev_rx_queue,
    ) -> c_int {
        // SAFETY: `mp_priv` is a `T::Priv` installed with this provider's ops.
        let mp = unsafe { &*mp_priv.cast::<T::Priv>() };
        // SAFETY: `rsp` is the message netlink is building, which only this call writes.
        let msg = unsafe { NlMsg::from_raw(rsp) };
        // SAFETY: A non-null `rxq` is alive for the call.
        let rxq = (!rxq.is_null()).then(|| unsafe { RxQueue::from_raw(rxq) });
        from_result(|| {
            T::nl_fill(mp, msg, rxq)?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called when a live queue bound to `T` with `mp_priv` goes away.
    unsafe extern "C" fn uninstall(mp_priv: *mut c_void, rxq: *mut bindings::netdev_rx_queue) {
        // SAFETY: `mp_priv` is a `T::Priv` installed with this provider's ops.
        let mp = unsafe { &*mp_priv.cast::<T::Priv>() };
        // SAFETY: The queue is alive for the call.
        T::uninstall(mp, unsafe { RxQueue::from_raw(rxq) });
    }
}

#[macros::kunit_tests(rust_page_pool)]
mod tests {
    use super::*;

    struct Counting;

    #[vtable]
    impl MemoryProvider for Counting {
        type Priv = ();
        fn init(_mp: &(), _: &mut PoolInit<'_>) -> Result {
            Ok(())
        }
        fn destroy(_mp: &(), _: &PagePool) {}
        fn alloc_netmems(_mp: &(), _: &PagePool, _: &mut AllocCache<'_>) -> Option<NetmemRef> {
            None
        }
        fn release_netmem(_mp: &(), _: &PagePool, _: NetmemRef) -> bool {
            false
        }
        fn nl_fill(_mp: &(), _: &mut NlMsg, _: Option<&RxQueue>) -> Result {
            Ok(())
        }
        fn uninstall(_mp: &(), _: &RxQueue) {}
    }

    static COUNTING_OPS: MemoryProviderOps<Counting> = MemoryProviderOps::new();

    #[test]
    fn ops_table_is_in_rodata() {
        assert!(COUNTING_OPS.in_kernel_rodata());
    }

    #[test]
    fn ops_table_sets_every_callback() {
        // SAFETY: reading a field of a `'static` table.
        let ops = unsafe { &*COUNTING_OPS.as_raw() };
        assert!(ops.alloc_netmems.is_some());
        assert!(ops.release_netmem.is_some());
        assert!(ops.init.is_some());
        assert!(ops.destroy.is_some());
        assert!(ops.nl_fill.is_some());
        assert!(ops.uninstall.is_some());
    }

    #[test]
    fn a_table_on_the_heap_is_not_rodata() -> Result {
        // What page_pool_init would reject: the check is not a constant `true`.
        let boxed = KBox::new(MemoryProviderOps::<Counting>::new(), GFP_KERNEL)?;
        assert!(!boxed.in_kernel_rodata());
        Ok(())
    }
}
