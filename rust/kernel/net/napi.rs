// SPDX-License-Identifier: GPL-2.0

//! NAPI: the polling of a device's queues in softirq context (C `struct napi_struct`).
//!
//! A driver embeds a [`Napi`] in the state of the queues it serves and implements
//! [`NapiPoll`] for that state with [`impl_napi_poll!`](crate::impl_napi_poll).
//! [`Napi::start`] adds and enables the context under the device's instance lock and keeps
//! the state alive until [`Napi::stop`]. The poll gets a [`PollContext`], which exists only
//! for the poll: the calls valid only there (GRO, skb allocation, completion) cannot be made
//! anywhere else. [`Napi::schedule`] is harmless before the start and after the stop.
//!
//! C header: [`include/linux/netdevice.h`](srctree/include/linux/netdevice.h)

use crate::{
    alloc::Flags,
    bindings,
    ffi::{
        c_int,
        c_void, //
    },
    net::{
        device::{
            LockedNetDevice,
            NetDevice, //
        },
        page_pool::{
            OwnedPagePool,
            PoolFrag,
            PoolNetmem, //
        },
        skbuff::SkBuff,
        xdp::TAILROOM, //
    },
    prelude::*,
    sync::Arc,
    types::Opaque, //
};
use core::{
    marker::PhantomData,
    sync::atomic::{
        AtomicBool,
        AtomicU32,
        Ordering, //
    }, //
};

/// Allocation flags for rx buffers in NAPI context.
pub const NAPI_GFP: Flags = GFP_ATOMIC;

/// A NAPI context serving the queues of a `P`, embedded (pinned) in that `P`.
///
/// # Invariants
///
/// While `started` is false, the context is not added to a device and its C state has
/// `NAPI_STATE_SCHED` set, so that scheduling it does nothing. While `started` is true, it
/// is added to a device, enabled unless `disabled` is true (then `NAPI_STATE_SCHED` is set
/// again, by [`Napi::disable`]), and one reference of an `Arc<P>` holding it was given up
/// with `Arc::into_raw` (released by [`Napi::stop`]). `disabled` is false while `started`
/// is false. Its C `list_owner` is -1 but while the core has it scheduled on a CPU, so a page
/// pool linked to it ([`OwnedPagePool::link_napi`]) recycles directly only in its polls'
/// softirq.
#[pin_data]
pub struct Napi<P: NapiPoll> {
    #[pin]
    inner: Opaque<bindings::napi_struct>,
    started: AtomicBool,
    disabled: AtomicBool,
    /// The rx and tx queue linked to the context while it is started.
    queue: AtomicU32,
    _p: PhantomData<P>,
}

// SAFETY: NAPI's C API may be used from any thread; `started` is atomic.
unsafe impl<P: NapiPoll> Sync for Napi<P> {}
// SAFETY: A NAPI context may be started, stopped and dropped from any thread; `started` is
// atomic.
unsafe impl<P: NapiPoll> Send for Napi<P> {}

/// The state a [`Napi`] polls: the queues it serves.
///
/// Implement it with [`impl_napi_poll!`](crate::impl_napi_poll), which finds the state
/// from its `Napi` field.
///
/// # Safety
///
/// [`NapiPoll::napi`] returns a field of `self`, and [`NapiPoll::from_napi`] returns the
/// `Self` whose field that is.
pub unsafe trait NapiPoll: Send + Sync + Sized + 'static {
    /// Polls for up to `budget` rx packets; returns how many were processed. Completion
    /// (and re-enabling the interrupt) is the driver's, with [`PollContext::complete_done`].
    fn poll(&self, ctx: PollContext<'_>, budget: i32) -> i32;

    /// The NAPI context of `self`.
    fn napi(&self) -> &Napi<Self>;

    /// The state whose field is the C context at `napi`.
    ///
    /// # Safety
    ///
    /// `napi` is the context of the [`Napi`] field of a live `Self`.
    unsafe fn from_napi<'a>(napi: *mut bindings::napi_struct) -> &'a Self;
}

/// Implements [`NapiPoll`] for a type with a [`Napi`] field, forwarding `poll` to a
/// method `fn(&self, PollContext<'_>, i32) -> i32`.
///
/// ```ignore
/// kernel::impl_napi_poll!(QueuePair, napi, poll_queues);
/// ```
#[macro_export]
macro_rules! impl_napi_poll {
    ($type:ty, $field:ident, $poll:ident) => {
        // SAFETY: `napi` returns the `$field` field; `from_napi` is its `container_of`
        // (`Napi` starts with the C context).
        unsafe impl $crate::net::napi::NapiPoll for $type {
            fn poll(&self, ctx: $crate::net::napi::PollContext<'_>, budget: i32) -> i32 {
                self.$poll(ctx, budget)
            }

            fn napi(&self) -> &$crate::net::napi::Napi<Self> {
                &self.$field
            }

            unsafe fn from_napi<'a>(napi: *mut $crate::bindings::napi_struct) -> &'a Self {
                let napi = $crate::net::napi::Napi::<Self>::from_inner(napi);
                // SAFETY: `napi` is the `$field` of a live `$type` (caller).
                unsafe { &*$crate::container_of!(napi, $type, $field) }
            }
        }
    };
}

impl<P: NapiPoll> Napi<P> {
    /// A context that is not started; scheduling it does nothing.
    pub fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            inner <- Opaque::ffi_init(|slot: *mut bindings::napi_struct| {
                // SAFETY: `slot` is valid for writes of a `napi_struct`.
                unsafe {
                    core::ptr::write_bytes(slot, 0, 1);
                    // INVARIANT: what `netif_napi_add` sets, so that `napi_schedule_prep`
                    // refuses until `napi_enable`, and no CPU owns it.
                    (*slot).state = bindings::NAPIF_STATE_SCHED as crate::ffi::c_ulong;
                    (*slot).list_owner = -1;
                }
            }),
            started: AtomicBool::new(false),
            disabled: AtomicBool::new(false),
            queue: AtomicU32::new(0),
            _p: PhantomData,
        })
    }

    pub(crate) fn as_raw(&self) -> *mut bindings::napi_struct {
        self.inner.get()
    }

    /// The `Napi` whose C context is at `napi`, for [`impl_napi_poll!`]; no dereference.
    #[doc(hidden)]
    pub fn from_inner(napi: *mut bindings::napi_struct) -> *mut Self {
        napi.wrapping_byte_sub(core::mem::offset_of!(Self, inner))
            .cast()
    }

    /// Adds the context of `owner` to `dev` with the persistent configuration of index
    /// `queue` (its NAPI id and settings outlive a stop and start), records `irq`, the
    /// interrupt that schedules it (reported by the netdev family's `napi-get`; its CPU
    /// affinity kept by the core if the device asked for it,
    /// [`ExtraOps::irq_affinity_auto`](super::device::ExtraOps::irq_affinity_auto)),
    /// enables it and links rx and tx queue `queue` to it (C
    /// `netif_napi_add_config_locked`, `netif_napi_set_irq_locked`, `napi_enable_locked`,
    /// `netif_queue_set_napi`). `owner` stays alive until
    /// [`Napi::stop`]. `EBUSY` when already started, `EINVAL` for a queue the device does
    /// not have or an interrupt number out of range.
    pub fn start(owner: &Arc<P>, dev: &LockedNetDevice, queue: u32, irq: Option<u32>) -> Result {
        let irq = irq.map(c_int::try_from).transpose().map_err(|_| EINVAL)?;
        if queue >= dev.real_num_rx_queues() || queue >= dev.real_num_tx_queues() {
            return Err(EINVAL);
        }
        // A queue in use has an index below the allocated queues, as the configurations.
        let index = c_int::try_from(queue).map_err(|_| EINVAL)?;
        let napi = owner.napi();
        if napi
            .started
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return Err(EBUSY);
        }
        let raw = napi.as_raw();
        // INVARIANT: one reference kept for the started context, given back by `stop`.
        let _ = Arc::into_raw(owner.clone());
        // SAFETY: The instance lock of `dev` is held (`LockedNetDevice`); the context was
        // not started (`started` was false), so it is on no device; `poll_trampoline::<P>`
        // finds `owner`, which the reference kept above keeps alive and pinned (`Arc`)
        // until `stop`; `queue` is an rx and a tx queue of `dev` (checked above), so
        // `index` is below the number of NAPI configurations `dev` was allocated with (the
        // larger of its tx and rx queues). The core sets an affinity notifier on `irq`
        // only if `dev` asked for it; the context's removal in `stop` takes it off, and
        // the interrupt outlives the started context (the caller's).
        unsafe {
            bindings::netif_napi_add_config_locked(
                dev.as_raw(),
                raw,
                Some(poll_trampoline::<P>),
                index,
            );
            if let Some(irq) = irq {
                bindings::netif_napi_set_irq_locked(raw, irq);
            }
            bindings::napi_enable_locked(raw);
            for ty in [
                bindings::netdev_queue_type_NETDEV_QUEUE_TYPE_RX,
                bindings::netdev_queue_type_NETDEV_QUEUE_TYPE_TX,
            ] {
                bindings::netif_queue_set_napi(dev.as_raw(), queue, ty, raw);
            }
        }
        napi.queue.store(queue, Ordering::Relaxed);
        Ok(())
    }

    /// Stops a context started by [`Napi::start`]: unlinks its queues, disables it (waiting
    /// for a running poll) and removes it, then releases the reference to `owner` that
    /// `start` kept. Nothing to do for a context that is not started; `EINVAL` when it was
    /// started on a device other than `dev`.
    pub fn stop(owner: &Arc<P>, dev: &LockedNetDevice) -> Result {
        let napi = owner.napi();
        let raw = napi.as_raw();
        if !napi.started_on(dev)? {
            return Ok(());
        }
        // SAFETY: Started on `dev`, whose instance lock is held (`LockedNetDevice`), which
        // also keeps a concurrent `start` or `stop` out; the queue it linked is unlinked
        // before the context goes.
        unsafe {
            let q = napi.queue.load(Ordering::Relaxed);
            for ty in [
                bindings::netdev_queue_type_NETDEV_QUEUE_TYPE_RX,
                bindings::netdev_queue_type_NETDEV_QUEUE_TYPE_TX,
            ] {
                if q < dev.real_num_rx_queues() && q < dev.real_num_tx_queues() {
                    bindings::netif_queue_set_napi(dev.as_raw(), q, ty, core::ptr::null_mut());
                }
            }
            if !napi.disabled.load(Ordering::Relaxed) {
                bindings::napi_disable_locked(raw);
            }
            bindings::netif_napi_del_locked(raw);
        }
        // INVARIANT: removed (and `napi_disable` left `NAPI_STATE_SCHED` set).
        napi.disabled.store(false, Ordering::Relaxed);
        napi.started.store(false, Ordering::Release);
        // SAFETY: The reference `start` gave up for this context, of the `Arc` `owner` is
        // one of (`napi` is a field of `*owner`); the caller's `owner` keeps `P` alive.
        drop(unsafe { Arc::from_raw(Arc::as_ptr(owner)) });
        Ok(())
    }

    /// Disables a started context for a while (C `napi_disable_locked`): waits for a
    /// running poll to end, and the context is not scheduled until [`Napi::enable`]. For a
    /// driver restarting a queue the context polls: a page pool linked to it may be
    /// unlinked or dropped meanwhile. Nothing to do when the context is not started or
    /// already disabled; `EINVAL` when it was started on a device other than `dev`.
    pub fn disable(&self, dev: &LockedNetDevice) -> Result {
        // The instance lock of `dev` keeps `start`, `stop` and `enable` out.
        if !self.started_on(dev)? || self.disabled.load(Ordering::Relaxed) {
            return Ok(());
        }
        // SAFETY: Started and enabled on `dev`, whose instance lock is held.
        unsafe { bindings::napi_disable_locked(self.as_raw()) };
        // INVARIANT: `napi_disable_locked` set `NAPI_STATE_SCHED`.
        self.disabled.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Enables a context [`Napi::disable`] disabled (C `napi_enable_locked`). It polls
    /// when next scheduled: an interrupt that came meanwhile found it disabled, so the
    /// driver raises one if it masked its vector. Nothing to do when the context is not
    /// started or not disabled; `EINVAL` when it was started on a device other than `dev`.
    pub fn enable(&self, dev: &LockedNetDevice) -> Result {
        if !self.started_on(dev)? || !self.disabled.load(Ordering::Relaxed) {
            return Ok(());
        }
        // SAFETY: Started on `dev`, whose instance lock is held, and disabled (`disabled`),
        // so `NAPI_STATE_SCHED` is set, as `napi_enable_locked` requires.
        unsafe { bindings::napi_enable_locked(self.as_raw()) };
        // INVARIANT: enabled again.
        self.disabled.store(false, Ordering::Relaxed);
        Ok(())
    }

    /// Whether the context is started; `EINVAL` when it was started on a device other
    /// than `dev`.
    fn started_on(&self, dev: &LockedNetDevice) -> Result<bool> {
        if !self.started.load(Ordering::Acquire) {
            return Ok(false);
        }
        // SAFETY: Started: added to a device, whose pointer stays set until removal.
        if unsafe { (*self.as_raw()).dev } != dev.as_raw() {
            return Err(EINVAL);
        }
        Ok(true)
    }

    /// Schedules a poll (C `napi_schedule`), from the interrupt handler. Does nothing for a
    /// context that is not started, or already scheduled.
    pub fn schedule(&self) -> bool {
        // SAFETY: Started, or with `NAPI_STATE_SCHED` set so that the call only tests it
        // (type invariant).
        unsafe { bindings::napi_schedule(self.as_raw()) }
    }
}

/// What a NAPI poll may do, for the poll's duration.
///
/// # Invariants
///
/// `napi` is the added, enabled context whose poll is running on this CPU, in softirq
/// context, for `'a`.
pub struct PollContext<'a> {
    napi: *mut bindings::napi_struct,
    _p: PhantomData<&'a NetDevice>,
}

impl<'a> PollContext<'a> {
    /// The device the context is added to.
    pub fn dev(&self) -> &'a NetDevice {
        // SAFETY: An added context points to its live device (`napi->dev`), which outlives
        // the poll (type invariant).
        unsafe { NetDevice::from_raw((*self.napi).dev) }
    }

    /// Allocates an skb with `len` bytes of linear room for rx (C `napi_alloc_skb`).
    pub fn alloc_skb(&self, len: u32) -> Option<SkBuff> {
        // SAFETY: In the context's poll (type invariant).
        let skb = unsafe { bindings::napi_alloc_skb(self.napi, len) };
        // SAFETY: A new skb, ours, unless null.
        (!skb.is_null()).then(|| unsafe { SkBuff::from_raw(skb) })
    }

    /// An skb whose head is `buf`, a page buffer of `pool` that holds a received frame of
    /// `len` bytes from `headroom` on (C `napi_build_skb`): nothing is copied. The skb
    /// spans the whole buffer, whose last [`TAILROOM`] bytes take its shared info (at the
    /// alignment it needs, the buffer's end being a page's); it is marked for recycling, so
    /// freeing it gives the buffer back to `pool`. The buffer comes back if it is not a page
    /// of `pool`, if the frame and the shared info do not fit in it, or if no skb could be
    /// allocated.
    pub fn build_skb(
        &self,
        pool: &OwnedPagePool,
        buf: PoolNetmem,
        headroom: u32,
        len: u32,
    ) -> core::result::Result<SkBuff, PoolNetmem> {
        // A shift past the width gives `None`, a size past `u32` (and a wrapped 0) no fit.
        let room = crate::page::PAGE_SIZE
            .checked_shl(pool.order())
            .and_then(|r| u32::try_from(r).ok())
            .unwrap_or(0);
        let Some(reserve) = skb_fits(room, headroom, len) else {
            return Err(buf);
        };
        if !buf.is_of(pool) || buf.netmem().is_net_iov() {
            return Err(buf);
        }
        // SAFETY: A page buffer (not a `net_iov`), mapped in the kernel.
        let addr = unsafe { bindings::netmem_address(buf.netmem().as_raw()) };
        if addr.is_null() {
            return Err(buf);
        }
        // SAFETY: `addr` starts a page buffer of `room` bytes that we hold (checked above),
        // page-aligned; the frame fits (`skb_fits`).
        match unsafe { self.build_on(addr, room, reserve, len) } {
            Some(skb) => {
                // The skb's head holds the buffer's reference from here on.
                let _ = buf.into_netmem();
                Ok(skb)
            }
            None => Err(buf),
        }
    }

    /// An skb whose head is `frag`, a frag of `pool` that holds `len` received bytes from
    /// `headroom` on, as [`Self::build_skb`] makes one on a whole buffer: the skb spans the
    /// frag, whose last [`TAILROOM`] bytes take its shared info, and freeing it gives the
    /// frag back. The frag comes back if it is not a readable frag of `pool`, if it does
    /// not start and end on a cache line (the alignment the shared info needs), if the
    /// bytes and the shared info do not fit in it, or if no skb could be allocated.
    pub fn build_skb_on_frag(
        &self,
        pool: &OwnedPagePool,
        frag: PoolFrag,
        headroom: u32,
        len: u32,
    ) -> core::result::Result<SkBuff, PoolFrag> {
        let line = bindings::SMP_CACHE_BYTES;
        let Some(reserve) = skb_fits(frag.size(), headroom, len) else {
            return Err(frag);
        };
        if !frag.is_of(pool)
            || frag.netmem().is_net_iov()
            || frag.offset() % line != 0
            || frag.size() % line != 0
        {
            return Err(frag);
        }
        // SAFETY: The page of a readable frag, mapped in the kernel.
        let page = unsafe { bindings::netmem_address(frag.netmem().as_raw()) };
        if page.is_null() {
            return Err(frag);
        }
        // SAFETY: The frag's bytes lie within its page (`PoolFrag`'s invariant).
        let addr = unsafe { page.cast::<u8>().add(frag.offset() as usize) }.cast();
        // SAFETY: `addr` starts the frag, cache-line aligned, of `size()` bytes, a multiple
        // of a cache line, that we hold (checked above); the bytes fit (`skb_fits`).
        match unsafe { self.build_on(addr, frag.size(), reserve, len) } {
            Some(skb) => {
                // The skb's head holds the frag's reference from here on.
                let _ = frag.into_netmem();
                Ok(skb)
            }
            None => Err(frag),
        }
    }

    /// Builds an skb on `room` bytes at `addr` (C `napi_build_skb`), its data the `len`
    /// bytes after the first `reserve`, marked for recycling.
    ///
    /// # Safety
    ///
    /// `addr` starts `room` bytes of a page-pool page, both aligned to a cache line, that
    /// the caller holds a reference to, which the skb takes if it is made; `reserve + len`
    /// bytes and [`TAILROOM`] fit in `room` (`skb_fits`).
    unsafe fn build_on(
        &self,
        addr: *mut c_void,
        room: u32,
        reserve: c_int,
        len: u32,
    ) -> Option<SkBuff> {
        // SAFETY: In the context's poll (type invariant); `addr` and `room` as the caller
        // promises.
        let skb = unsafe { bindings::napi_build_skb(addr, room) };
        if skb.is_null() {
            return None;
        }
        // SAFETY: A new skb, ours, whose data starts at `addr`: `reserve + len` bytes of it
        // are before the shared info (the caller's promise).
        unsafe {
            bindings::skb_reserve(skb, reserve);
            bindings::skb_put(skb, len);
            bindings::skb_mark_for_recycle(skb);
        }
        // SAFETY: A new skb, ours.
        Some(unsafe { SkBuff::from_raw(skb) })
    }

    /// Hands a received packet to GRO (C `napi_gro_receive`).
    pub fn gro_receive(&self, skb: SkBuff) {
        // SAFETY: In the context's poll (type invariant); the skb's reference is given to
        // the stack.
        unsafe { bindings::napi_gro_receive(self.napi, skb.into_raw()) };
    }

    /// Frees a transmitted skb through the softirq's cache (C `napi_consume_skb`).
    pub fn consume_skb(&self, skb: SkBuff) {
        // SAFETY: In softirq context (type invariant), so a non-zero budget is allowed;
        // the skb's reference is given up.
        unsafe { bindings::napi_consume_skb(skb.into_raw(), 1) }
    }

    /// Completes a poll that did `work` packets (C `napi_complete_done`), which ends what
    /// the poll may do with the context; `true` when the driver should re-enable its
    /// interrupt.
    pub fn complete_done(self, work: i32) -> bool {
        // SAFETY: In the context's poll (type invariant), once: `self` is consumed.
        unsafe { bindings::napi_complete_done(self.napi, work) }
    }
}

/// The `int` headroom for `skb_reserve` if `len` bytes after `headroom` and the shared
/// info ([`TAILROOM`]) fit in `room` bytes; `None` on overflow.
fn skb_fits(room: u32, headroom: u32, len: u32) -> Option<c_int> {
    headroom
        .checked_add(len)
        .and_then(|n| n.checked_add(TAILROOM))
        .filter(|&end| end <= room)?;
    c_int::try_from(headroom).ok()
}

/// # Safety
///
/// Called by NAPI for a context that [`Napi::start`] added with this function.
unsafe extern "C" fn poll_trampoline<P: NapiPoll>(
    napi: *mut bindings::napi_struct,
    budget: c_int,
) -> c_int {
    // Only netpoll polls with no budget, outside softirq; the devices of this crate refuse
    // it (`IFF_DISABLE_NETPOLL`), and such a poll would do nothing.
    if budget <= 0 {
        return 0;
    }
    // SAFETY: `start` added this context of a `Napi` field of a `P`, which the reference it
    // kept holds alive until `stop` removes the context, and removal waits for the poll.
    let owner = unsafe { P::from_napi(napi) };
    // INVARIANT: NAPI runs a poll with a budget in softirq context on an added, enabled
    // context.
    let ctx = PollContext {
        napi,
        _p: PhantomData,
    };
    owner.poll(ctx, budget)
}
