// SPDX-License-Identifier: GPL-2.0

//! ethtool operations of a network device (C `struct ethtool_ops`).
//!
//! C header: [`include/linux/ethtool.h`](srctree/include/linux/ethtool.h)

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
use core::marker::PhantomData;

mod ring;
mod rss;
mod rxnfc;
mod strings;

pub use ring::{
    Channels,
    Coalesce,
    KernelRingParam,
    RingParam,
    TcpDataSplit,
    COALESCE_RX_USECS,
    COALESCE_USE_ADAPTIVE_RX,
    RING_USE_HDS_THRS,
    RING_USE_TCP_DATA_SPLIT, //
};
pub use rss::{
    rss_key_fill,
    HashFields,
    HashFunction,
    RxfhFields,
    RxfhParam,
    RXH_XFRM_NO_CHANGE, //
};
pub use rxnfc::{
    FlowFlags,
    FlowKind,
    Ip4L4,
    Ip6L4,
    RuleLocation,
    Rxnfc,
    RxnfcCommand,
    RX_CLS_FLOW_DISC,
    RX_CLS_FLOW_WAKE, //
};
pub use strings::{
    StringSet,
    Strings,
    ETH_GSTRING_LEN, //
};

/// The ethtool callbacks of a driver, on top of its netdev [`Operations`].
#[vtable]
pub trait EthtoolOps: Operations {
    /// Which ring settings `set_ringparam` takes (`RING_USE_*`).
    const SUPPORTED_RING_PARAMS: u32 = 0;

    /// Which coalescing settings `set_coalesce` takes (`COALESCE_*`); the core refuses
    /// the others with `EOPNOTSUPP` before calling the driver.
    const SUPPORTED_COALESCE_PARAMS: u32 = 0;

    /// Reports the interrupt coalescing settings.
    fn get_coalesce(_data: &Self::Data, _dev: &NetDevice, _ec: &mut Coalesce) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Applies interrupt coalescing settings (only the `SUPPORTED_COALESCE_PARAMS` ones
    /// differ from what `get_coalesce` reported).
    fn set_coalesce(
        _data: &Self::Data,
        _dev: &NetDevice,
        _ec: &Coalesce,
        _ack: Option<&mut ExtAck>,
    ) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// The length in bytes of the register dump `get_regs` writes (`ethtool -d`): more than
    /// 0 and at most `i32::MAX` when `get_regs` is given (else the ops table does not
    /// compile).
    const REGS_LEN: usize = 0;

    /// Writes the register dump into `buf` (`REGS_LEN` bytes, zeroed) and returns the
    /// version of its layout.
    fn get_regs(_data: &Self::Data, _dev: &NetDevice, _buf: &mut [u8]) -> u32 {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Reports the coalescing in effect for one queue (`ethtool --per-queue ...
    /// --show-coalesce`); `EINVAL` for a queue the device does not have.
    fn get_per_queue_coalesce(
        _data: &Self::Data,
        _dev: &NetDevice,
        _queue: u32,
        _ec: &mut Coalesce,
    ) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Reports ring sizes and settings; `kring` arrives with the core's current
    /// tcp-data-split and hds-thresh.
    fn get_ringparam(
        _data: &Self::Data,
        _dev: &NetDevice,
        _ring: &mut RingParam,
        _kring: &mut KernelRingParam,
    ) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Applies ring settings (validated against the maxima by the core), under the
    /// instance lock.
    fn set_ringparam(
        _data: &Self::Data,
        _dev: &LockedNetDevice,
        _ring: &RingParam,
        _kring: &KernelRingParam,
        _ack: Option<&mut ExtAck>,
    ) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Reports channel counts.
    fn get_channels(_data: &Self::Data, _dev: &NetDevice, _ch: &mut Channels) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Changes channel counts (`ethtool -L`), under the RTNL (the table asks the ethtool
    /// core for it) and the instance lock. The core has checked the counts against the
    /// maxima of [`get_channels`](Self::get_channels) and against what uses the queues that
    /// would go away: the RSS table if userspace set it, flow steering rules, memory
    /// providers and AF_XDP sockets.
    fn set_channels(_data: &Self::Data, _dev: &LockedNetDevice, _ch: &Channels) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// The number of rx rings (`ETHTOOL_GRXRINGS`); the core checks the entries of a new
    /// indirection table against it.
    fn get_rx_ring_count(_data: &Self::Data, _dev: &NetDevice) -> u32 {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// The size of the RSS hash key in bytes (0: none); a constant of the device.
    fn get_rxfh_key_size(_data: &Self::Data, _dev: &NetDevice) -> u32 {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// The number of entries of the RSS indirection table (0: none); a constant of the
    /// device.
    fn get_rxfh_indir_size(_data: &Self::Data, _dev: &NetDevice) -> u32 {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Reports the RSS settings (`ethtool -x`); runs under the core's RSS lock.
    fn get_rxfh(_data: &Self::Data, _dev: &NetDevice, _rxfh: &mut RxfhParam) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Changes the RSS settings (`ethtool -X`); what is absent stays as it is. The core
    /// has checked the table's entries against [`EthtoolOps::get_rx_ring_count`] and the
    /// sizes against the driver's. An unsupported change must fail the whole request.
    fn set_rxfh(
        _data: &Self::Data,
        _dev: &NetDevice,
        _rxfh: &RxfhParam,
        _ack: Option<&mut ExtAck>,
    ) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Reports the header fields packets of a flow type are hashed over (`ethtool -n ...
    /// rx-flow-hash`, and the `flow-hash` of an RSS get, which asks for every flow type);
    /// [`HashFields::NONE`] when they are not hashed, `EINVAL` for a flow type the driver
    /// does not know. Runs under the core's RSS lock.
    fn get_rxfh_fields(_data: &Self::Data, _dev: &NetDevice, _f: &mut RxfhFields) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Changes the header fields a flow type is hashed over (`ethtool -N ... rx-flow-hash`,
    /// or the `flow-hash` of an RSS set), under the core's RSS lock. The core has checked
    /// the fields against the input transformation; the driver refuses what its hardware
    /// cannot hash. The ioctl carries no extended acknowledgement.
    fn set_rxfh_fields(
        _data: &Self::Data,
        _dev: &NetDevice,
        _f: &RxfhFields,
        _ack: Option<&mut ExtAck>,
    ) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Answers an rx flow classification query (`ethtool -n`): `ETHTOOL_GRXCLSRLCNT`,
    /// `ETHTOOL_GRXCLSRULE`, `ETHTOOL_GRXCLSRLALL` (whose rule locations go to
    /// `rule_locs`, as many as the caller has room for, else `EMSGSIZE`). Unsupported
    /// commands: `EOPNOTSUPP`. The rx ring count comes from
    /// [`EthtoolOps::get_rx_ring_count`].
    fn get_rxnfc(
        _data: &Self::Data,
        _dev: &NetDevice,
        _info: &mut Rxnfc,
        _rule_locs: Option<&mut [u32]>,
    ) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Inserts (`ETHTOOL_SRXCLSRLINS`, setting the location it picked) or deletes
    /// (`ETHTOOL_SRXCLSRLDEL`) a flow steering rule (`ethtool -N`). The ioctl carries no
    /// extended acknowledgement.
    fn set_rxnfc(_data: &Self::Data, _dev: &NetDevice, _info: &mut Rxnfc) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// The number of strings of string set `sset`, or `EOPNOTSUPP` for a set the driver
    /// has none of. For [`StringSet::Stats`] it is the number of statistics.
    ///
    /// The core sizes the buffer it then passes to `get_strings` with this count, under the
    /// same lock (RTNL or the instance lock): the count must not change in between.
    fn get_sset_count(_data: &Self::Data, _dev: &NetDevice, _sset: StringSet) -> Result<u32> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Writes the strings of string set `sset`, as many as `get_sset_count` counts.
    fn get_strings(_data: &Self::Data, _dev: &NetDevice, _sset: StringSet, _out: &mut Strings<'_>) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Writes the values of the statistics (`ethtool -S`), in the order of their names;
    /// `stats` has room for `get_sset_count(StringSet::Stats)` of them.
    fn get_ethtool_stats(_data: &Self::Data, _dev: &NetDevice, _stats: &mut [u64]) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
}

/// The C table of `T`'s ethtool ops, installed by
/// [`ExtraOps::ethtool`](super::device::ExtraOps::ethtool).
pub(crate) struct EthtoolTable<T: EthtoolOps>(PhantomData<T>);

impl<T: EthtoolOps> EthtoolTable<T> {
    /// The table, in read-only data.
    pub(crate) const TABLE: &'static bindings::ethtool_ops = &Self::OPS;

    const OPS: bindings::ethtool_ops = {
        let mut ops: bindings::ethtool_ops = pin_init::zeroed();
        ops.supported_ring_params = T::SUPPORTED_RING_PARAMS;
        ops.supported_coalesce_params = T::SUPPORTED_COALESCE_PARAMS;
        if T::HAS_GET_COALESCE {
            ops.get_coalesce = Some(Self::get_coalesce);
        }
        if T::HAS_SET_COALESCE {
            ops.set_coalesce = Some(Self::set_coalesce);
        }
        if T::HAS_GET_REGS {
            // A compile error for a driver that dumps registers without a length the core
            // can take (`get_regs_len` returns a C `int`).
            assert!(
                T::REGS_LEN > 0 && T::REGS_LEN <= i32::MAX as usize,
                "`get_regs` needs a `REGS_LEN` from 1 to `i32::MAX`"
            );
            ops.get_regs_len = Some(Self::get_regs_len);
            ops.get_regs = Some(Self::get_regs);
        }
        if T::HAS_GET_PER_QUEUE_COALESCE {
            ops.get_per_queue_coalesce = Some(Self::get_per_queue_coalesce);
        }
        ops.get_link = Some(bindings::ethtool_op_get_link);
        if T::HAS_GET_RINGPARAM {
            ops.get_ringparam = Some(Self::get_ringparam);
        }
        if T::HAS_SET_RINGPARAM {
            ops.set_ringparam = Some(Self::set_ringparam);
        }
        if T::HAS_GET_CHANNELS {
            ops.get_channels = Some(Self::get_channels);
        }
        if T::HAS_SET_CHANNELS {
            ops.set_channels = Some(Self::set_channels);
            // The ethtool core takes only the instance lock of an ops-locked device unless
            // asked for the RTNL too; a channel change needs it (the number of real queues
            // changes with the qdiscs).
            ops.op_needs_rtnl |= bindings::ETHTOOL_OP_NEEDS_RTNL_SCHANNELS;
        }
        if T::HAS_GET_RX_RING_COUNT {
            ops.get_rx_ring_count = Some(Self::get_rx_ring_count);
        }
        if T::HAS_GET_RXFH_KEY_SIZE {
            ops.get_rxfh_key_size = Some(Self::get_rxfh_key_size);
        }
        if T::HAS_GET_RXFH_INDIR_SIZE {
            ops.get_rxfh_indir_size = Some(Self::get_rxfh_indir_size);
        }
        if T::HAS_GET_RXFH {
            ops.get_rxfh = Some(Self::get_rxfh);
        }
        if T::HAS_SET_RXFH {
            ops.set_rxfh = Some(Self::set_rxfh);
        }
        if T::HAS_GET_RXFH_FIELDS {
            ops.get_rxfh_fields = Some(Self::get_rxfh_fields);
        }
        if T::HAS_SET_RXFH_FIELDS {
            ops.set_rxfh_fields = Some(Self::set_rxfh_fields);
        }
        if T::HAS_GET_RXNFC {
            ops.get_rxnfc = Some(Self::get_rxnfc);
        }
        if T::HAS_SET_RXNFC {
            ops.set_rxnfc = Some(Self::set_rxnfc);
        }
        if T::HAS_GET_SSET_COUNT {
            ops.get_sset_count = Some(Self::get_sset_count);
        }
        if T::HAS_GET_STRINGS {
            ops.get_strings = Some(Self::get_strings);
        }
        if T::HAS_GET_ETHTOOL_STATS {
            ops.get_ethtool_stats = Some(Self::get_ethtool_stats);
        }
        ops
    };

    /// As [`NetDevice::callee`], for the callbacks the core makes under the device's instance
    /// lock (set operations, which the ethtool core runs between `ethnl_ops_begin` and
    /// `ethnl_ops_complete`, or under `netdev_lock_ops` for the ioctl).
    ///
    /// # Safety
    ///
    /// As for [`NetDevice::callee`], and the instance lock is held for `'a`: devices made by
    /// `Registration` are ops locked.
    unsafe fn locked_callee<'a>(
        dev: *mut bindings::net_device,
    ) -> (&'a LockedNetDevice, &'a T::Data) {
        // SAFETY: The caller's promises.
        let (dev, data) = unsafe { NetDevice::callee::<T>(dev) };
        // SAFETY: The lock is held for `'a` (the caller's promise).
        (unsafe { LockedNetDevice::assume_locked(dev) }, data)
    }

    /// # Safety
    ///
    /// Called by the ethtool core through this table (see [`NetDevice::callee`]), with `ec`
    /// valid for writes for the call.
    unsafe extern "C" fn get_coalesce(
        dev: *mut bindings::net_device,
        ec: *mut bindings::ethtool_coalesce,
        _kec: *mut bindings::kernel_ethtool_coalesce,
        _extack: *mut bindings::netlink_ext_ack,
    ) -> c_int {
        // SAFETY: `dev` as `callee` requires (this function's contract); `ec` is the
        // core's reply buffer, ours for the call.
        let ((dev, data), ec) = unsafe { (NetDevice::callee::<T>(dev), &mut *ec) };
        from_result(|| T::get_coalesce(data, dev, ec).map(|()| 0))
    }

    /// # Safety
    ///
    /// Called by the ethtool core through this table (see [`NetDevice::callee`]), with `ec`
    /// valid for reads and `extack` null or the request's, for the call.
    unsafe extern "C" fn set_coalesce(
        dev: *mut bindings::net_device,
        ec: *mut bindings::ethtool_coalesce,
        _kec: *mut bindings::kernel_ethtool_coalesce,
        extack: *mut bindings::netlink_ext_ack,
    ) -> c_int {
        // SAFETY: `dev` as `callee` requires (this function's contract); `ec` holds the
        // requested settings, which the core does not change during the call; `extack` is
        // null or the request's.
        let ((dev, data), ec, ack) =
            unsafe { (NetDevice::callee::<T>(dev), &*ec, ExtAck::from_raw(extack)) };
        from_result(|| T::set_coalesce(data, dev, ec, ack).map(|()| 0))
    }

    /// # Safety
    ///
    /// Called by the ethtool core through this table.
    unsafe extern "C" fn get_regs_len(_dev: *mut bindings::net_device) -> c_int {
        // CAST: In range: the table is only built with a `REGS_LEN` that fits (`OPS`).
        T::REGS_LEN as c_int
    }

    /// # Safety
    ///
    /// Called by the ethtool core through this table (see [`NetDevice::callee`]), with
    /// `regs` valid for writes and `buf` the core's zeroed buffer of the length
    /// `get_regs_len` returned, for the call.
    unsafe extern "C" fn get_regs(
        dev: *mut bindings::net_device,
        regs: *mut bindings::ethtool_regs,
        buf: *mut c_void,
    ) {
        // SAFETY: `dev` as `callee` requires (this function's contract); `buf` holds
        // `REGS_LEN` initialised bytes (what `get_regs_len` returned), ours for the call.
        let ((dev, data), buf) = unsafe {
            (
                NetDevice::callee::<T>(dev),
                core::slice::from_raw_parts_mut(buf.cast::<u8>(), T::REGS_LEN),
            )
        };
        let version = T::get_regs(data, dev, buf);
        // SAFETY: `regs` is valid for writes (this function's contract).
        unsafe { (*regs).version = version };
    }

    /// # Safety
    ///
    /// Called by the ethtool core through this table (see [`NetDevice::callee`]), with `ec`
    /// valid for writes for the call.
    unsafe extern "C" fn get_per_queue_coalesce(
        dev: *mut bindings::net_device,
        queue: u32,
        ec: *mut bindings::ethtool_coalesce,
    ) -> c_int {
        // SAFETY: `dev` as `callee` requires (this function's contract); `ec` is the
        // core's reply buffer, ours for the call.
        let ((dev, data), ec) = unsafe { (NetDevice::callee::<T>(dev), &mut *ec) };
        from_result(|| T::get_per_queue_coalesce(data, dev, queue, ec).map(|()| 0))
    }

    /// # Safety
    ///
    /// Called by the ethtool core through this table (see [`NetDevice::callee`]), with `ring`
    /// and `kring` valid for writes for the call.
    unsafe extern "C" fn get_ringparam(
        dev: *mut bindings::net_device,
        ring: *mut bindings::ethtool_ringparam,
        kring: *mut bindings::kernel_ethtool_ringparam,
        _extack: *mut bindings::netlink_ext_ack,
    ) {
        // SAFETY: `dev` as `callee` requires (this function's contract); `ring` and `kring`
        // are two distinct reply structs of the core, ours for the call.
        let ((dev, data), ring, kring) = unsafe {
            (
                NetDevice::callee::<T>(dev),
                &mut *ring,
                KernelRingParam::from_raw(kring),
            )
        };
        T::get_ringparam(data, dev, ring, kring);
    }

    /// # Safety
    ///
    /// Called by the ethtool core through this table under the instance lock (see
    /// [`Self::locked_callee`]), with `ring` and `kring` valid for reads and `extack` null
    /// or the request's, for the call.
    unsafe extern "C" fn set_ringparam(
        dev: *mut bindings::net_device,
        ring: *mut bindings::ethtool_ringparam,
        kring: *mut bindings::kernel_ethtool_ringparam,
        extack: *mut bindings::netlink_ext_ack,
    ) -> c_int {
        // SAFETY: `dev` as `locked_callee` requires (this function's contract); `ring` and
        // `kring` hold the requested settings, unchanged during the call; `extack` is null
        // or the request's.
        let ((dev, data), ring, kring, ack) = unsafe {
            (
                Self::locked_callee(dev),
                &*ring,
                &*KernelRingParam::from_raw(kring),
                ExtAck::from_raw(extack),
            )
        };
        from_result(|| T::set_ringparam(data, dev, ring, kring, ack).map(|()| 0))
    }

    /// # Safety
    ///
    /// Called by the ethtool core through this table (see [`NetDevice::callee`]), with `ch`
    /// valid for writes for the call.
    unsafe extern "C" fn get_channels(
        dev: *mut bindings::net_device,
        ch: *mut bindings::ethtool_channels,
    ) {
        // SAFETY: `dev` as `callee` requires (this function's contract); `ch` is the core's
        // reply struct, ours for the call.
        let ((dev, data), ch) = unsafe { (NetDevice::callee::<T>(dev), &mut *ch) };
        T::get_channels(data, dev, ch);
    }

    /// # Safety
    ///
    /// Called by the ethtool core through this table under the instance lock (see
    /// [`Self::locked_callee`]), with `ch` valid for reads for the call.
    unsafe extern "C" fn set_channels(
        dev: *mut bindings::net_device,
        ch: *mut bindings::ethtool_channels,
    ) -> c_int {
        // SAFETY: `dev` as `locked_callee` requires (this function's contract); the core
        // reads `ch` back only after the call.
        let ((dev, data), ch) = unsafe { (Self::locked_callee(dev), &*ch) };
        from_result(|| T::set_channels(data, dev, ch).map(|()| 0))
    }

    /// # Safety
    ///
    /// Called by the ethtool core through this table (see [`NetDevice::callee`]).
    unsafe extern "C" fn get_rx_ring_count(dev: *mut bindings::net_device) -> u32 {
        // SAFETY: `dev` as `callee` requires (this function's contract).
        let (dev, data) = unsafe { NetDevice::callee::<T>(dev) };
        T::get_rx_ring_count(data, dev)
    }

    /// # Safety
    ///
    /// Called by the ethtool core through this table (see [`NetDevice::callee`]).
    unsafe extern "C" fn get_rxfh_key_size(dev: *mut bindings::net_device) -> u32 {
        // SAFETY: `dev` as `callee` requires (this function's contract).
        let (dev, data) = unsafe { NetDevice::callee::<T>(dev) };
        T::get_rxfh_key_size(data, dev)
    }

    /// # Safety
    ///
    /// Called by the ethtool core through this table (see [`NetDevice::callee`]).
    unsafe extern "C" fn get_rxfh_indir_size(dev: *mut bindings::net_device) -> u32 {
        // SAFETY: `dev` as `callee` requires (this function's contract).
        let (dev, data) = unsafe { NetDevice::callee::<T>(dev) };
        T::get_rxfh_indir_size(data, dev)
    }

    /// # Safety
    ///
    /// Called by the ethtool core through this table (see [`NetDevice::callee`]), with `rxfh`
    /// valid for reads and writes for the call, its table and key null or allocated by the
    /// core with the sizes the driver reports.
    unsafe extern "C" fn get_rxfh(
        dev: *mut bindings::net_device,
        rxfh: *mut bindings::ethtool_rxfh_param,
    ) -> c_int {
        // SAFETY: `dev` as `callee` requires (this function's contract).
        let (dev, data) = unsafe { NetDevice::callee::<T>(dev) };
        // On get, the core's buffers have the sizes the driver reports
        // (`get_rxfh_indir_size`, `get_rxfh_key_size`). Most callers say so in `indir_size`
        // and `key_size`; some leave them 0 (`ethtool_get_max_rxfh_channel`): fill those in
        // from the driver, as the C prototype asks it to, before the buffers are borrowed.
        // SAFETY: `rxfh` is the core's, valid and ours for the call.
        unsafe {
            if (*rxfh).indir_size == 0 && !(*rxfh).indir.is_null() && T::HAS_GET_RXFH_INDIR_SIZE {
                (*rxfh).indir_size = T::get_rxfh_indir_size(data, dev);
            }
            if (*rxfh).key_size == 0 && !(*rxfh).key.is_null() && T::HAS_GET_RXFH_KEY_SIZE {
                (*rxfh).key_size = T::get_rxfh_key_size(data, dev);
            }
        }
        // SAFETY: The table and the key the core passes (or null) have the sizes set now:
        // the core allocated them with the sizes the driver reports, which do not change
        // (the contract of `get_rxfh_indir_size` and `get_rxfh_key_size`).
        let rxfh = unsafe { RxfhParam::from_raw(rxfh) };
        from_result(|| T::get_rxfh(data, dev, rxfh).map(|()| 0))
    }

    /// # Safety
    ///
    /// Called by the ethtool core through this table (see [`NetDevice::callee`]), with `rxfh`
    /// valid for the call and its table and key null or of the sizes it states, and
    /// `extack` null or the request's.
    unsafe extern "C" fn set_rxfh(
        dev: *mut bindings::net_device,
        rxfh: *mut bindings::ethtool_rxfh_param,
        extack: *mut bindings::netlink_ext_ack,
    ) -> c_int {
        // SAFETY: `dev` as `callee` requires (this function's contract); on set, the core
        // fills `indir_size` and `key_size` for the buffers it passes (`ethnl_set_rss`,
        // `ethtool_set_rxfh`), which `RxfhParam::from_raw` requires; `extack` is null or the
        // request's.
        let ((dev, data), rxfh, ack) = unsafe {
            (
                NetDevice::callee::<T>(dev),
                RxfhParam::from_raw(rxfh),
                ExtAck::from_raw(extack),
            )
        };
        from_result(|| T::set_rxfh(data, dev, rxfh, ack).map(|()| 0))
    }

    /// # Safety
    ///
    /// Called by the ethtool core through this table (see [`NetDevice::callee`]), with
    /// `fields` valid for reads and writes for the call.
    unsafe extern "C" fn get_rxfh_fields(
        dev: *mut bindings::net_device,
        fields: *mut bindings::ethtool_rxfh_fields,
    ) -> c_int {
        // SAFETY: `dev` as `callee` requires (this function's contract); `fields` is the
        // core's, ours for the call.
        let ((dev, data), f) = unsafe {
            (
                NetDevice::callee::<T>(dev),
                RxfhFields::from_raw_mut(fields),
            )
        };
        from_result(|| T::get_rxfh_fields(data, dev, f).map(|()| 0))
    }

    /// # Safety
    ///
    /// Called by the ethtool core through this table (see [`NetDevice::callee`]), with
    /// `fields` valid for the call and `extack` null or the request's.
    unsafe extern "C" fn set_rxfh_fields(
        dev: *mut bindings::net_device,
        fields: *const bindings::ethtool_rxfh_fields,
        extack: *mut bindings::netlink_ext_ack,
    ) -> c_int {
        // SAFETY: `dev` as `callee` requires (this function's contract); `fields` is the
        // core's, unchanged during the call; `extack` is null or the request's.
        let ((dev, data), f, ack) = unsafe {
            (
                NetDevice::callee::<T>(dev),
                RxfhFields::from_raw(fields),
                ExtAck::from_raw(extack),
            )
        };
        from_result(|| T::set_rxfh_fields(data, dev, f, ack).map(|()| 0))
    }

    /// # Safety
    ///
    /// Called by the ethtool core through this table (see [`NetDevice::callee`]), with `info`
    /// valid for the call and `rule_locs` null or an array of `info->rule_cnt` entries for
    /// `ETHTOOL_GRXCLSRLALL`.
    unsafe extern "C" fn get_rxnfc(
        dev: *mut bindings::net_device,
        info: *mut bindings::ethtool_rxnfc,
        rule_locs: *mut u32,
    ) -> c_int {
        // SAFETY: `dev` as `callee` requires (this function's contract); `info` is the
        // core's copy of the request, ours for the call.
        let ((dev, data), info) = unsafe { (NetDevice::callee::<T>(dev), Rxnfc::from_raw(info)) };
        let locs = if info.cmd() == RxnfcCommand::GetAllRules && !rule_locs.is_null() {
            // SAFETY: For `ETHTOOL_GRXCLSRLALL` the core passes an array of `rule_cnt`
            // entries (null when `rule_cnt` is 0), its own for the call.
            Some(unsafe { core::slice::from_raw_parts_mut(rule_locs, info.rule_cnt() as usize) })
        } else {
            None
        };
        from_result(|| T::get_rxnfc(data, dev, info, locs).map(|()| 0))
    }

    /// # Safety
    ///
    /// Called by the ethtool core through this table (see [`NetDevice::callee`]), with `info`
    /// valid for the call.
    unsafe extern "C" fn set_rxnfc(
        dev: *mut bindings::net_device,
        info: *mut bindings::ethtool_rxnfc,
    ) -> c_int {
        // SAFETY: `dev` as `callee` requires (this function's contract); `info` is the
        // core's copy of the request, ours for the call.
        let ((dev, data), info) = unsafe { (NetDevice::callee::<T>(dev), Rxnfc::from_raw(info)) };
        from_result(|| T::set_rxnfc(data, dev, info).map(|()| 0))
    }

    /// # Safety
    ///
    /// Called by the ethtool core through this table (see [`NetDevice::callee`]).
    unsafe extern "C" fn get_sset_count(dev: *mut bindings::net_device, sset: c_int) -> c_int {
        // SAFETY: `dev` as `callee` requires (this function's contract).
        let (dev, data) = unsafe { NetDevice::callee::<T>(dev) };
        from_result(|| {
            let sset = StringSet::from_raw(u32::try_from(sset).map_err(|_| EOPNOTSUPP)?);
            c_int::try_from(T::get_sset_count(data, dev, sset)?).map_err(|_| EOVERFLOW)
        })
    }

    /// # Safety
    ///
    /// Called by the ethtool core through this table (see [`NetDevice::callee`]), with `data`
    /// null or room for `ETH_GSTRING_LEN` bytes per string of the count `get_sset_count`
    /// reports for `sset`.
    unsafe extern "C" fn get_strings(dev: *mut bindings::net_device, sset: u32, data: *mut u8) {
        // SAFETY: `dev` as `callee` requires (this function's contract).
        let (dev, d) = unsafe { NetDevice::callee::<T>(dev) };
        // The core allocated `data` for the count the driver reports (which it must not
        // change meanwhile, see `EthtoolOps::get_sset_count`).
        let sset = StringSet::from_raw(sset);
        let Some(len) = T::get_sset_count(d, dev, sset)
            .ok()
            .and_then(|n| (n as usize).checked_mul(ETH_GSTRING_LEN))
        else {
            return;
        };
        if data.is_null() || len == 0 {
            return;
        }
        // SAFETY: `data` has room for `len` bytes (this function's contract), the core's
        // buffer for the call.
        let buf = unsafe { core::slice::from_raw_parts_mut(data, len) };
        T::get_strings(d, dev, sset, &mut Strings::new(buf));
    }

    /// # Safety
    ///
    /// Called by the ethtool core through this table (see [`NetDevice::callee`]), with `stats`
    /// the request's header and `data` null or room for its `n_stats` values.
    unsafe extern "C" fn get_ethtool_stats(
        dev: *mut bindings::net_device,
        stats: *mut bindings::ethtool_stats,
        data: *mut u64,
    ) {
        // SAFETY: `dev` as `callee` requires (this function's contract); `stats` is valid
        // for reads for the call.
        let ((dev, d), n) = unsafe { (NetDevice::callee::<T>(dev), (*stats).n_stats as usize) };
        if data.is_null() || n == 0 {
            return;
        }
        // SAFETY: `data` has room for `n_stats` values (this function's contract), the
        // core's buffer for the call.
        let vals = unsafe { core::slice::from_raw_parts_mut(data, n) };
        T::get_ethtool_stats(d, dev, vals);
    }
}
