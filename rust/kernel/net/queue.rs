// SPDX-License-Identifier: GPL-2.0

//! Queue management: restarting one rx queue on new memory (C `struct
//! netdev_queue_mgmt_ops`), and per-queue statistics (C `struct netdev_stat_ops`).
//!
//! The core uses these callbacks to bind a memory provider to a queue (devmem TCP,
//! io_uring zero copy) and to unbind it: it allocates the queue's new memory, stops the
//! queue (getting its old memory back), starts it on the new memory and frees the old.
//! A driver that sets them is "ops locked": the callbacks, like its netdev and ethtool ops,
//! run under the device's instance lock.
//!
//! The statistics callbacks answer the netdev family's `qstats-get`: the counters of each
//! rx and tx queue, and a base that, added to the queues', gives the device's totals.
//!
//! C header: [`include/net/netdev_queues.h`](srctree/include/net/netdev_queues.h)

use crate::{
    bindings,
    error::{
        from_result,
        VTABLE_DEFAULT_ERROR, //
    },
    ffi::{
        c_int,
        c_void, //
    },
    net::{
        device::{
            LockedNetDevice,
            NetDevice,
            Operations, //
        },
        ext_ack::ExtAck, //
    },
    prelude::*, //
};
use core::{
    marker::PhantomData,
    mem::MaybeUninit, //
};

/// The configuration of an rx queue (C `struct netdev_queue_config`): `rx_page_size`,
/// the size of the buffers its page pool hands out (0: the driver's default), set by a
/// memory provider bound with an `rx-page-size`.
pub type QueueConfig = bindings::netdev_queue_config;

/// [`QueueMgmtOps::SUPPORTED_PARAMS`]: the driver honours `rx_page_size`.
pub const QCFG_RX_PAGE_SIZE: u32 = bindings::QCFG_RX_PAGE_SIZE;

impl NetDevice {
    /// The configuration rx queue `q` runs with (C `netdev_queue_config`): the driver's
    /// defaults with what a bound memory provider asks for applied.
    ///
    /// Call it under the instance lock, as `open` and the queue-management callbacks run.
    pub fn queue_config(&self, q: u32) -> Result<QueueConfig> {
        if q >= self.real_num_rx_queues() {
            return Err(EINVAL);
        }
        let mut qcfg: QueueConfig = pin_init::zeroed();
        // SAFETY: A valid device of a driver with queue-management ops and queue `q`;
        // `qcfg` is written in full.
        unsafe { bindings::netdev_queue_config(self.as_raw(), q as c_int, &mut qcfg) };
        Ok(qcfg)
    }
}

/// The queue-management callbacks of a driver, on top of its netdev [`Operations`].
#[vtable]
pub trait QueueMgmtOps: Operations {
    /// The memory of one rx queue (buffers, page pools), as the driver allocates it.
    type QueueMem: Send;

    /// The queue settings the driver honours (`QCFG_*`); the core refuses a memory
    /// provider asking for others.
    const SUPPORTED_PARAMS: u32 = 0;

    /// Allocates the memory for rx queue `idx` to run with `qcfg` (honouring a memory
    /// provider bound to it).
    fn mem_alloc(
        data: &Self::Data,
        dev: &NetDevice,
        idx: u32,
        qcfg: &QueueConfig,
    ) -> Result<Self::QueueMem>;

    /// Checks a queue configuration before the core applies it; `EINVAL` (with a message)
    /// refuses it. Called with the defaults and with a memory provider's settings.
    fn validate_qcfg(
        _data: &Self::Data,
        _dev: &NetDevice,
        _qcfg: &QueueConfig,
        _ack: Option<&mut ExtAck>,
    ) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Starts rx queue `idx` on `mem`. On failure the memory is given back, and the core
    /// starts the queue again on the memory [`Self::stop`] returned.
    fn start(
        data: &Self::Data,
        dev: &LockedNetDevice,
        idx: u32,
        mem: Self::QueueMem,
    ) -> core::result::Result<(), (Error, Self::QueueMem)>;

    /// Stops rx queue `idx` and returns the memory it ran on. After a failure the core
    /// calls no [`Self::start`] for the queue: what `stop` pauses, it resumes itself
    /// before it fails.
    fn stop(data: &Self::Data, dev: &LockedNetDevice, idx: u32) -> Result<Self::QueueMem>;
}

/// The C table of `T`'s queue-management ops, installed by
/// [`ExtraOps::queue_mgmt`](super::device::ExtraOps::queue_mgmt).
pub(crate) struct QueueMgmtTable<T: QueueMgmtOps>(PhantomData<T>);

// The per-queue memory the core allocates (zeroed) holds a pointer to a boxed
// `T::QueueMem`, or null.
type Slot = *mut c_void;

impl<T: QueueMgmtOps> QueueMgmtTable<T> {
    /// The table, in read-only data.
    pub(crate) const TABLE: &'static bindings::netdev_queue_mgmt_ops = &Self::OPS;

    const OPS: bindings::netdev_queue_mgmt_ops = bindings::netdev_queue_mgmt_ops {
        ndo_queue_mem_size: core::mem::size_of::<Slot>(),
        ndo_queue_mem_alloc: Some(Self::mem_alloc),
        ndo_queue_mem_free: Some(Self::mem_free),
        ndo_queue_start: Some(Self::start),
        ndo_queue_stop: Some(Self::stop),
        ndo_validate_qcfg: if T::HAS_VALIDATE_QCFG {
            Some(Self::validate_qcfg)
        } else {
            None
        },
        supported_params: T::SUPPORTED_PARAMS,
        ..pin_init::zeroed()
    };

    /// # Safety
    ///
    /// Called by the core through this table (see [`NetDevice::callee`]) under the
    /// instance lock, with `qcfg` valid for reads and `extack` null or the request's.
    unsafe extern "C" fn validate_qcfg(
        dev: *mut bindings::net_device,
        qcfg: *mut bindings::netdev_queue_config,
        extack: *mut bindings::netlink_ext_ack,
    ) -> c_int {
        // SAFETY: `dev` as `callee` requires (this function's contract); `qcfg` is the
        // configuration being checked, unchanged during the call; `extack` is null or the
        // request's.
        let ((dev, data), qcfg, ack) = unsafe {
            (
                NetDevice::callee::<T>(dev),
                &*qcfg,
                ExtAck::from_raw(extack),
            )
        };
        from_result(|| T::validate_qcfg(data, dev, qcfg, ack).map(|()| 0))
    }

    /// The box a slot will hold, allocated before the driver's callback runs, so that
    /// nothing can fail once the driver has made or stopped a queue's memory (the core
    /// does not call `start` after a failed `stop`: a driver that paused the queue's NAPI
    /// context there would never resume it). `start` reuses the box the slot had.
    fn slot_box() -> Result<KBox<MaybeUninit<T::QueueMem>>> {
        Ok(KBox::new_uninit(GFP_KERNEL)?)
    }

    /// # Safety
    ///
    /// `mem` is a per-queue slot of the core (valid, aligned for a pointer).
    unsafe fn put(mem: *mut c_void, b: KBox<MaybeUninit<T::QueueMem>>, m: T::QueueMem) {
        let b = KBox::write(b, m);
        // SAFETY: `mem` is valid and aligned for a pointer (the caller's promise).
        unsafe { mem.cast::<Slot>().write(KBox::into_raw(b).cast()) };
    }

    /// Empties a slot: the memory it held, and the box it was in, for `put` to use again.
    ///
    /// # Safety
    ///
    /// `mem` is a per-queue slot of the core (valid, aligned for a pointer), null or
    /// written by `put`.
    unsafe fn take(mem: *mut c_void) -> Option<(KBox<MaybeUninit<T::QueueMem>>, T::QueueMem)> {
        // SAFETY: `mem` is valid and aligned for a pointer (the caller's promise).
        let p = unsafe { mem.cast::<Slot>().replace(core::ptr::null_mut()) };
        if p.is_null() {
            return None;
        }
        // SAFETY: A non-null slot holds a box made by `put` (the caller's promise), taken
        // out of the slot above, so once; `MaybeUninit` has the layout of its content.
        let b = unsafe { KBox::from_raw(p.cast::<MaybeUninit<T::QueueMem>>()) };
        // SAFETY: `put` wrote the content; it is read once, and the box, as a
        // `MaybeUninit`, will not drop it.
        let m = unsafe { b.assume_init_read() };
        Some((b, m))
    }

    /// # Safety
    ///
    /// Called by the core through this table (see [`NetDevice::callee`]) under the
    /// instance lock, with `qcfg` the queue's new configuration and `mem` a zeroed slot of
    /// `ndo_queue_mem_size` bytes.
    unsafe extern "C" fn mem_alloc(
        dev: *mut bindings::net_device,
        qcfg: *mut bindings::netdev_queue_config,
        mem: *mut c_void,
        idx: c_int,
    ) -> c_int {
        // SAFETY: `dev` as `callee` requires (this function's contract); `qcfg` is valid
        // for reads for the call.
        let ((dev, data), qcfg) = unsafe { (NetDevice::callee::<T>(dev), &*qcfg) };
        from_result(|| {
            let b = Self::slot_box()?;
            let m = T::mem_alloc(data, dev, idx as u32, qcfg)?;
            // SAFETY: `mem` is the core's zeroed per-queue slot (this function's contract).
            unsafe { Self::put(mem, b, m) };
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the core through this table with `mem` a slot that `mem_alloc` or `stop`
    /// filled, or zeroed.
    unsafe extern "C" fn mem_free(_dev: *mut bindings::net_device, mem: *mut c_void) {
        // SAFETY: `mem` is a slot of this table, written by `put` or empty (this
        // function's contract). The memory and its box both go.
        drop(unsafe { Self::take(mem) });
    }

    /// # Safety
    ///
    /// Called by the core through this table (see [`NetDevice::callee`]) under the
    /// instance lock, with `mem` a slot that `mem_alloc` or `stop` filled.
    unsafe extern "C" fn start(
        dev: *mut bindings::net_device,
        _qcfg: *mut bindings::netdev_queue_config,
        mem: *mut c_void,
        idx: c_int,
    ) -> c_int {
        // SAFETY: `dev` as `callee` requires (this function's contract).
        let (dev, data) = unsafe { NetDevice::callee::<T>(dev) };
        // SAFETY: The core holds the instance lock for the call (this function's contract).
        let dev = unsafe { LockedNetDevice::assume_locked(dev) };
        // SAFETY: `mem` is a slot of this table, filled by `put` (this function's contract).
        let Some((b, m)) = (unsafe { Self::take(mem) }) else {
            return EINVAL.to_errno();
        };
        // The memory the driver gives back goes into the slot's own box, for `mem_free`:
        // nothing here allocates, so nothing fails around the driver's `start`.
        match <T as QueueMgmtOps>::start(data, dev, idx as u32, m) {
            Ok(()) => 0,
            Err((e, m)) => {
                // SAFETY: `mem` is a slot of this table, emptied by `take` above.
                unsafe { Self::put(mem, b, m) };
                e.to_errno()
            }
        }
    }

    /// # Safety
    ///
    /// Called by the core through this table (see [`NetDevice::callee`]) under the
    /// instance lock, with `mem` a zeroed slot of `ndo_queue_mem_size` bytes.
    unsafe extern "C" fn stop(
        dev: *mut bindings::net_device,
        mem: *mut c_void,
        idx: c_int,
    ) -> c_int {
        // SAFETY: `dev` as `callee` requires (this function's contract).
        let (dev, data) = unsafe { NetDevice::callee::<T>(dev) };
        // SAFETY: The core holds the instance lock for the call (this function's contract).
        let dev = unsafe { LockedNetDevice::assume_locked(dev) };
        from_result(|| {
            let b = Self::slot_box()?;
            let m = <T as QueueMgmtOps>::stop(data, dev, idx as u32)?;
            // SAFETY: `mem` is the core's zeroed per-queue slot (this function's contract).
            unsafe { Self::put(mem, b, m) };
            Ok(0)
        })
    }
}

/// The statistics of an rx queue (C `struct netdev_queue_stats_rx`).
///
/// The core passes it with every counter set to all ones, meaning "not counted": the
/// driver assigns the counters it keeps and leaves the others.
pub type QueueStatsRx = bindings::netdev_queue_stats_rx;
/// The statistics of a tx queue (C `struct netdev_queue_stats_tx`), as for
/// [`QueueStatsRx`].
pub type QueueStatsTx = bindings::netdev_queue_stats_tx;

/// The per-queue statistics callbacks of a driver, on top of its netdev [`Operations`].
///
/// They run under the instance lock for an "ops locked" device, RTNL otherwise; the device
/// totals are gathered (base, then every queue) without releasing it.
#[vtable]
pub trait QueueStatsOps: Operations {
    /// Fills the counters of rx queue `idx` (below the real number of rx queues).
    fn get_queue_stats_rx(_data: &Self::Data, _dev: &NetDevice, _idx: u32, _rx: &mut QueueStatsRx) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Fills the counters of tx queue `idx` (below the real number of tx queues).
    fn get_queue_stats_tx(_data: &Self::Data, _dev: &NetDevice, _idx: u32, _tx: &mut QueueStatsTx) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Fills what the device counted outside the current queues (queues gone, traffic
    /// outside any queue). Only the counters assigned here are reported as device totals,
    /// so 0 is meaningful: it says the queues' counters are the whole story.
    fn get_base_stats(
        _data: &Self::Data,
        _dev: &NetDevice,
        _rx: &mut QueueStatsRx,
        _tx: &mut QueueStatsTx,
    ) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
}

/// The C table of `T`'s per-queue statistics callbacks, installed by
/// [`ExtraOps::queue_stats`](super::device::ExtraOps::queue_stats).
pub(crate) struct QueueStatsTable<T: QueueStatsOps>(PhantomData<T>);

impl<T: QueueStatsOps> QueueStatsTable<T> {
    /// The table, in read-only data.
    pub(crate) const TABLE: &'static bindings::netdev_stat_ops = &Self::OPS;

    const OPS: bindings::netdev_stat_ops = bindings::netdev_stat_ops {
        get_queue_stats_rx: if T::HAS_GET_QUEUE_STATS_RX {
            Some(Self::get_queue_stats_rx)
        } else {
            None
        },
        get_queue_stats_tx: if T::HAS_GET_QUEUE_STATS_TX {
            Some(Self::get_queue_stats_tx)
        } else {
            None
        },
        get_base_stats: if T::HAS_GET_BASE_STATS {
            Some(Self::get_base_stats)
        } else {
            None
        },
    };

    /// # Safety
    ///
    /// Called by the core through this table (see [`NetDevice::callee`]), with `rx` valid
    /// for writes for the call.
    unsafe extern "C" fn get_queue_stats_rx(
        dev: *mut bindings::net_device,
        idx: c_int,
        rx: *mut bindings::netdev_queue_stats_rx,
    ) {
        // SAFETY: `dev` as `callee` requires (this function's contract); `rx` is the
        // core's reply struct, ours for the call.
        let ((dev, data), rx) = unsafe { (NetDevice::callee::<T>(dev), &mut *rx) };
        if let Ok(idx) = u32::try_from(idx) {
            T::get_queue_stats_rx(data, dev, idx, rx);
        }
    }

    /// # Safety
    ///
    /// Called by the core through this table (see [`NetDevice::callee`]), with `tx` valid
    /// for writes for the call.
    unsafe extern "C" fn get_queue_stats_tx(
        dev: *mut bindings::net_device,
        idx: c_int,
        tx: *mut bindings::netdev_queue_stats_tx,
    ) {
        // SAFETY: `dev` as `callee` requires (this function's contract); `tx` is the
        // core's reply struct, ours for the call.
        let ((dev, data), tx) = unsafe { (NetDevice::callee::<T>(dev), &mut *tx) };
        if let Ok(idx) = u32::try_from(idx) {
            T::get_queue_stats_tx(data, dev, idx, tx);
        }
    }

    /// # Safety
    ///
    /// Called by the core through this table (see [`NetDevice::callee`]), with `rx` and
    /// `tx` two distinct structs valid for writes for the call.
    unsafe extern "C" fn get_base_stats(
        dev: *mut bindings::net_device,
        rx: *mut bindings::netdev_queue_stats_rx,
        tx: *mut bindings::netdev_queue_stats_tx,
    ) {
        // SAFETY: `dev` as `callee` requires (this function's contract); `rx` and `tx` are
        // the core's two reply structs, ours for the call.
        let ((dev, data), rx, tx) = unsafe { (NetDevice::callee::<T>(dev), &mut *rx, &mut *tx) };
        T::get_base_stats(data, dev, rx, tx);
    }
}
