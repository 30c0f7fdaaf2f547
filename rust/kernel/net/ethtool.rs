// SPDX-License-Identifier: GPL-2.0

//! ethtool operations of a network device (C `struct ethtool_ops`).
//!
//! C header: [`include/linux/ethtool.h`](srctree/include/linux/ethtool.h)

use crate::{
    bindings,
    error::VTABLE_DEFAULT_ERROR,
    net::{
        device::{NetDevice, Operations},
        ext_ack::ExtAck,
    },
    prelude::*,
};
use core::marker::PhantomData;

/// Ring sizes (C `struct ethtool_ringparam`).
pub type RingParam = bindings::ethtool_ringparam;
/// Ring settings beyond sizes: tcp-data-split, hds-thresh (C
/// `struct kernel_ethtool_ringparam`).
pub type KernelRingParam = bindings::kernel_ethtool_ringparam;
/// Channel counts (C `struct ethtool_channels`).
pub type Channels = bindings::ethtool_channels;

/// `tcp-data-split` values.
pub mod tcp_data_split {
    /// Not reported / left to the driver.
    pub const UNKNOWN: u8 = crate::bindings::ethtool_tcp_data_split_ETHTOOL_TCP_DATA_SPLIT_UNKNOWN as u8;
    /// Off.
    pub const DISABLED: u8 = crate::bindings::ethtool_tcp_data_split_ETHTOOL_TCP_DATA_SPLIT_DISABLED as u8;
    /// On.
    pub const ENABLED: u8 = crate::bindings::ethtool_tcp_data_split_ETHTOOL_TCP_DATA_SPLIT_ENABLED as u8;
}

/// `supported_ring_params`: the driver takes tcp-data-split.
pub const RING_USE_TCP_DATA_SPLIT: u32 = bindings::ethtool_supported_ring_param_ETHTOOL_RING_USE_TCP_DATA_SPLIT;
/// `supported_ring_params`: the driver takes hds-thresh.
pub const RING_USE_HDS_THRS: u32 = bindings::ethtool_supported_ring_param_ETHTOOL_RING_USE_HDS_THRS;

/// The ethtool callbacks of a driver, on top of its netdev [`Operations`].
#[vtable]
pub trait EthtoolOps: Operations {
    /// Which ring settings `set_ringparam` takes (`RING_USE_*`).
    const SUPPORTED_RING_PARAMS: u32 = 0;

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

    /// Applies ring settings (validated against the maxima by the core).
    fn set_ringparam(
        _data: &Self::Data,
        _dev: &NetDevice,
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
}

/// The C table of `T`'s ethtool ops.
pub struct EthtoolTable<T: EthtoolOps>(PhantomData<T>);

impl<T: EthtoolOps> EthtoolTable<T> {
    /// The table; install it with [`ExtraOps::ethtool`](super::device::ExtraOps).
    pub const OPS: bindings::ethtool_ops = {
        let mut ops: bindings::ethtool_ops = pin_init::zeroed();
        ops.supported_ring_params = T::SUPPORTED_RING_PARAMS;
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
        ops
    };

    /// # Safety
    ///
    /// Called by the networking core through the ops table built here, with the live
    /// objects the C prototype names, on a device (or NAPI context) of the driver.
    unsafe extern "C" fn get_ringparam(
        dev: *mut bindings::net_device,
        ring: *mut bindings::ethtool_ringparam,
        kring: *mut bindings::kernel_ethtool_ringparam,
        _extack: *mut bindings::netlink_ext_ack,
    ) {
        // SAFETY: The core calls with a live device of `T` and valid, exclusive structs.
        let (dev, ring, kring) = unsafe { (NetDevice::from_raw(dev), &mut *ring, &mut *kring) };
        // SAFETY: As above.
        T::get_ringparam(unsafe { dev.data::<T>() }, dev, ring, kring);
    }

    /// # Safety
    ///
    /// Called by the networking core through the ops table built here, with the live
    /// objects the C prototype names, on a device (or NAPI context) of the driver.
    unsafe extern "C" fn set_ringparam(
        dev: *mut bindings::net_device,
        ring: *mut bindings::ethtool_ringparam,
        kring: *mut bindings::kernel_ethtool_ringparam,
        extack: *mut bindings::netlink_ext_ack,
    ) -> crate::ffi::c_int {
        // SAFETY: As in `get_ringparam`; `extack` is null or the request's.
        let (dev, ring, kring, ack) =
            unsafe { (NetDevice::from_raw(dev), &*ring, &*kring, ExtAck::from_raw(extack)) };
        // SAFETY: As above.
        match T::set_ringparam(unsafe { dev.data::<T>() }, dev, ring, kring, ack) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        }
    }

    /// # Safety
    ///
    /// Called by the networking core through the ops table built here, with the live
    /// objects the C prototype names, on a device (or NAPI context) of the driver.
    unsafe extern "C" fn get_channels(dev: *mut bindings::net_device, ch: *mut bindings::ethtool_channels) {
        // SAFETY: As in `get_ringparam`.
        let (dev, ch) = unsafe { (NetDevice::from_raw(dev), &mut *ch) };
        // SAFETY: As above.
        T::get_channels(unsafe { dev.data::<T>() }, dev, ch);
    }
}
