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

/// RSS hash functions (C `ETH_RSS_HASH_*`), as `hfunc` carries them.
pub mod rss_hash {
    use crate::bindings;

    /// On set: keep the current function. On get: unknown.
    pub const NO_CHANGE: u8 = bindings::ETH_RSS_HASH_NO_CHANGE as u8;
    /// Toeplitz.
    pub const TOP: u8 = 1 << bindings::ETH_RSS_HASH_TOP_BIT;
    /// XOR.
    pub const XOR: u8 = 1 << bindings::ETH_RSS_HASH_XOR_BIT;
    /// CRC32.
    pub const CRC32: u8 = 1 << bindings::ETH_RSS_HASH_CRC32_BIT;
}

/// `input_xfrm` on set: keep the current input transformation (C `RXH_XFRM_NO_CHANGE`).
pub const RXH_XFRM_NO_CHANGE: u8 = bindings::RXH_XFRM_NO_CHANGE as u8;

/// Fills `key` with the system-wide random RSS key (C `netdev_rss_key_fill`), as drivers
/// do for their default key. Only the first `NETDEV_RSS_KEY_LEN` bytes are filled.
pub fn rss_key_fill(key: &mut [u8]) {
    let len = key.len().min(bindings::NETDEV_RSS_KEY_LEN as usize);
    // SAFETY: `key` has `len` writable bytes; `len` is at most the size of the C key,
    // beyond which the function BUGs.
    unsafe { bindings::netdev_rss_key_fill(key.as_mut_ptr().cast(), len) };
}

/// The RSS settings of a request (C `struct ethtool_rxfh_param`): the indirection table, the
/// hash key, the hash function and the input transformation.
///
/// `get_rxfh` fills what the core asked for (the table and the key only when the core
/// passed buffers for them); `set_rxfh` reads what is to change (a table or a key is only
/// present when it changes).
///
/// # Invariants
///
/// `indir` is null or points to `indir_size` entries, and `key` is null or points to
/// `key_size` bytes, valid and not accessed by anyone else for as long as the reference to
/// the `RxfhParam` is.
#[repr(transparent)]
pub struct RxfhParam(bindings::ethtool_rxfh_param);

impl RxfhParam {
    /// Borrows the parameters at `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` is valid and not accessed by anyone else for `'a`, and so are the table and
    /// the key it points to, of `indir_size` entries and `key_size` bytes.
    unsafe fn from_raw<'a>(ptr: *mut bindings::ethtool_rxfh_param) -> &'a mut Self {
        // SAFETY: Transparent wrapper; validity and exclusivity promised by the caller, which
        // makes the type invariant hold.
        unsafe { &mut *ptr.cast() }
    }

    /// The hash function (`rss_hash::*`; on set, `NO_CHANGE` keeps it).
    pub fn hfunc(&self) -> u8 {
        self.0.hfunc
    }

    /// Reports the hash function.
    pub fn set_hfunc(&mut self, hfunc: u8) {
        self.0.hfunc = hfunc;
    }

    /// The input transformation (C `RXH_XFRM_*`; on set, [`RXH_XFRM_NO_CHANGE`] keeps it).
    pub fn input_xfrm(&self) -> u8 {
        self.0.input_xfrm
    }

    /// The RSS context (0: the device's main table).
    pub fn rss_context(&self) -> u32 {
        self.0.rss_context
    }

    /// The indirection table: rx queue indices, one per entry.
    pub fn indir(&self) -> Option<&[u32]> {
        if self.0.indir.is_null() {
            return None;
        }
        // SAFETY: A non-null table has `indir_size` entries, valid while `self` is (type
        // invariant).
        Some(unsafe { core::slice::from_raw_parts(self.0.indir, self.0.indir_size as usize) })
    }

    /// The indirection table, to fill.
    pub fn indir_mut(&mut self) -> Option<&mut [u32]> {
        if self.0.indir.is_null() {
            return None;
        }
        // SAFETY: As in `indir`; nobody else accesses it while `self` is borrowed mutably.
        Some(unsafe { core::slice::from_raw_parts_mut(self.0.indir, self.0.indir_size as usize) })
    }

    /// The hash key.
    pub fn key(&self) -> Option<&[u8]> {
        if self.0.key.is_null() {
            return None;
        }
        // SAFETY: A non-null key has `key_size` bytes, valid while `self` is (type invariant).
        Some(unsafe { core::slice::from_raw_parts(self.0.key, self.0.key_size as usize) })
    }

    /// The hash key, to fill.
    pub fn key_mut(&mut self) -> Option<&mut [u8]> {
        if self.0.key.is_null() {
            return None;
        }
        // SAFETY: As in `key`; nobody else accesses it while `self` is borrowed mutably.
        Some(unsafe { core::slice::from_raw_parts_mut(self.0.key, self.0.key_size as usize) })
    }
}

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

    /// The number of rx rings (`ETHTOOL_GRXRINGS`); the core checks the entries of a new
    /// indirection table against it.
    fn get_rx_ring_count(_data: &Self::Data, _dev: &NetDevice) -> u32 {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// The size of the RSS hash key in bytes (0: none).
    fn get_rxfh_key_size(_data: &Self::Data, _dev: &NetDevice) -> u32 {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// The number of entries of the RSS indirection table (0: none).
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

    /// # Safety
    ///
    /// Called by the networking core through the ops table built here, with the live
    /// objects the C prototype names, on a device (or NAPI context) of the driver.
    unsafe extern "C" fn get_rx_ring_count(dev: *mut bindings::net_device) -> u32 {
        // SAFETY: As in `get_ringparam`.
        let dev = unsafe { NetDevice::from_raw(dev) };
        // SAFETY: As above.
        T::get_rx_ring_count(unsafe { dev.data::<T>() }, dev)
    }

    /// # Safety
    ///
    /// Called by the networking core through the ops table built here, with the live
    /// objects the C prototype names, on a device (or NAPI context) of the driver.
    unsafe extern "C" fn get_rxfh_key_size(dev: *mut bindings::net_device) -> u32 {
        // SAFETY: As in `get_ringparam`.
        let dev = unsafe { NetDevice::from_raw(dev) };
        // SAFETY: As above.
        T::get_rxfh_key_size(unsafe { dev.data::<T>() }, dev)
    }

    /// # Safety
    ///
    /// Called by the networking core through the ops table built here, with the live
    /// objects the C prototype names, on a device (or NAPI context) of the driver.
    unsafe extern "C" fn get_rxfh_indir_size(dev: *mut bindings::net_device) -> u32 {
        // SAFETY: As in `get_ringparam`.
        let dev = unsafe { NetDevice::from_raw(dev) };
        // SAFETY: As above.
        T::get_rxfh_indir_size(unsafe { dev.data::<T>() }, dev)
    }

    /// # Safety
    ///
    /// Called by the networking core through the ops table built here, with the live
    /// objects the C prototype names, on a device (or NAPI context) of the driver.
    unsafe extern "C" fn get_rxfh(
        dev: *mut bindings::net_device,
        rxfh: *mut bindings::ethtool_rxfh_param,
    ) -> crate::ffi::c_int {
        // SAFETY: As in `get_ringparam`; the core's parameters point to a table and a key
        // of the sizes they state (or none), its own buffers for the call.
        let (dev, rxfh) = unsafe { (NetDevice::from_raw(dev), RxfhParam::from_raw(rxfh)) };
        // SAFETY: As above.
        match T::get_rxfh(unsafe { dev.data::<T>() }, dev, rxfh) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        }
    }

    /// # Safety
    ///
    /// Called by the networking core through the ops table built here, with the live
    /// objects the C prototype names, on a device (or NAPI context) of the driver.
    unsafe extern "C" fn set_rxfh(
        dev: *mut bindings::net_device,
        rxfh: *mut bindings::ethtool_rxfh_param,
        extack: *mut bindings::netlink_ext_ack,
    ) -> crate::ffi::c_int {
        // SAFETY: As in `get_rxfh`; `extack` is null or the request's.
        let (dev, rxfh, ack) = unsafe {
            (
                NetDevice::from_raw(dev),
                RxfhParam::from_raw(rxfh),
                ExtAck::from_raw(extack),
            )
        };
        // SAFETY: As above.
        match T::set_rxfh(unsafe { dev.data::<T>() }, dev, rxfh, ack) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        }
    }
}
