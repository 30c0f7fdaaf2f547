// SPDX-License-Identifier: GPL-2.0

//! Network devices: registration, netdev ops, NAPI and socket buffers.
//!
//! A NIC driver allocates a [`Registration`] with its [`Operations`] and its shared state
//! (`Operations::Data`), sets the MAC address and registers it. The netdev callbacks get the
//! device and the shared state back. Every rx or tx queue pair has a [`Napi`] context whose
//! poll function the driver implements with [`NapiPoll`].
//!
//! C headers: [`include/linux/netdevice.h`](srctree/include/linux/netdevice.h),
//! [`include/linux/skbuff.h`](srctree/include/linux/skbuff.h)

use crate::{
    alloc::Flags,
    bindings,
    device::Device,
    error::{from_result, to_result, VTABLE_DEFAULT_ERROR},
    ffi::{c_int, c_void},
    net::page_pool::PoolNetmem,
    prelude::*,
    sync::Arc,
    types::Opaque,
};
use core::{marker::PhantomData, ptr::NonNull};

/// The length of an Ethernet address.
pub const ETH_ALEN: usize = 6;

/// A network device (C `struct net_device`).
///
/// # Invariants
///
/// The device is valid for as long as the reference is.
#[repr(transparent)]
pub struct NetDevice(Opaque<bindings::net_device>);

// SAFETY: The C API of a net_device may be used from any thread.
unsafe impl Sync for NetDevice {}

impl NetDevice {
    /// Borrows the device at `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` is a valid `net_device` for `'a`.
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::net_device) -> &'a Self {
        // SAFETY: Transparent wrapper; validity promised by the caller.
        unsafe { &*ptr.cast() }
    }

    /// The C pointer.
    pub fn as_raw(&self) -> *mut bindings::net_device {
        self.0.get()
    }

    /// The interface index (0 before registration).
    pub fn ifindex(&self) -> i32 {
        // SAFETY: The device is valid (type invariant).
        unsafe { (*self.as_raw()).ifindex }
    }

    /// The MTU.
    pub fn mtu(&self) -> u32 {
        // SAFETY: As above; a plain read of a word the stack updates under its locks.
        unsafe { core::ptr::read_volatile(&raw const (*self.as_raw()).mtu) }
    }

    /// The number of rx queues in use.
    pub fn real_num_rx_queues(&self) -> u32 {
        // SAFETY: As above.
        unsafe { (*self.as_raw()).real_num_rx_queues }
    }

    /// The number of tx queues in use.
    pub fn real_num_tx_queues(&self) -> u32 {
        // SAFETY: As above.
        unsafe { (*self.as_raw()).real_num_tx_queues }
    }

    /// Sets the numbers of tx and rx queues in use (C `netif_set_real_num_queues`), at most
    /// those the device was allocated with; before registration, or with the RTNL held.
    pub fn set_real_num_queues(&self, txqs: u32, rxqs: u32) -> Result {
        // SAFETY: The device is valid; the C function checks the counts against the
        // allocated queues and asserts the RTNL once the device is registered.
        to_result(unsafe { bindings::netif_set_real_num_queues(self.as_raw(), txqs, rxqs) })
    }

    /// Whether the device is up (C `netif_running`).
    pub fn is_running(&self) -> bool {
        // SAFETY: The device is valid.
        unsafe { bindings::netif_running(self.as_raw()) }
    }

    /// Whether userspace set the RSS redirection table (C `netif_is_rxfh_configured`):
    /// if not, the driver spreads it over the rx queues whenever their number changes.
    pub fn rxfh_configured(&self) -> bool {
        // SAFETY: The device is valid.
        unsafe { bindings::netif_is_rxfh_configured(self.as_raw()) }
    }

    /// Sets the hardware address (C `eth_hw_addr_set`); before registration, or with the
    /// RTNL held.
    pub fn set_mac(&self, addr: &[u8; ETH_ALEN]) {
        // SAFETY: The device is valid; `addr` has `ETH_ALEN` bytes.
        unsafe { bindings::eth_hw_addr_set(self.as_raw(), addr.as_ptr()) }
    }

    /// Sets the MTU range the device takes (before registration).
    pub fn set_mtu_range(&self, min: u32, max: u32) {
        // SAFETY: The device is valid; plain fields the driver sets before registering.
        unsafe {
            (*self.as_raw()).min_mtu = min;
            (*self.as_raw()).max_mtu = max;
        }
    }

    /// The hardware address.
    pub fn mac(&self) -> [u8; ETH_ALEN] {
        let mut a = [0u8; ETH_ALEN];
        // SAFETY: `dev_addr` holds at least `ETH_ALEN` bytes once the device has an address.
        unsafe {
            core::ptr::copy_nonoverlapping((*self.as_raw()).dev_addr, a.as_mut_ptr(), ETH_ALEN)
        };
        a
    }

    /// Reports the link up (C `netif_carrier_on`).
    pub fn carrier_on(&self) {
        // SAFETY: The device is valid.
        unsafe { bindings::netif_carrier_on(self.as_raw()) }
    }

    /// Reports the link down (C `netif_carrier_off`).
    pub fn carrier_off(&self) {
        // SAFETY: The device is valid.
        unsafe { bindings::netif_carrier_off(self.as_raw()) }
    }

    /// Whether the stack sees the link up.
    pub fn carrier_ok(&self) -> bool {
        // SAFETY: The device is valid.
        unsafe { bindings::netif_carrier_ok(self.as_raw()) }
    }

    /// Lets the stack transmit on every tx queue.
    pub fn tx_start_all(&self) {
        // SAFETY: The device is valid.
        unsafe { bindings::netif_tx_start_all_queues(self.as_raw()) }
    }

    /// Stops transmission on every tx queue.
    pub fn tx_disable(&self) {
        // SAFETY: The device is valid.
        unsafe { bindings::netif_tx_disable(self.as_raw()) }
    }

    /// Stops tx queue `q` (the ring is full).
    pub fn tx_stop(&self, q: u32) {
        // SAFETY: The device is valid; `q` is checked by the helper's caller contract below.
        unsafe { bindings::netif_stop_subqueue(self.as_raw(), q as u16) }
    }

    /// Wakes tx queue `q` if it was stopped.
    pub fn tx_wake(&self, q: u32) {
        // SAFETY: As above.
        unsafe { bindings::netif_wake_subqueue(self.as_raw(), q as u16) }
    }

    /// Whether tx queue `q` is stopped.
    pub fn tx_stopped(&self, q: u32) -> bool {
        // SAFETY: As above.
        unsafe { bindings::__netif_subqueue_stopped(self.as_raw(), q as u16) }
    }

    /// Whether rx queue `q` has a memory provider installed (devmem, io_uring zero copy):
    /// its page pool must then be created unreadable.
    pub fn rx_queue_has_provider(&self, q: u32) -> bool {
        if q >= self.real_num_rx_queues() {
            return false;
        }
        // SAFETY: `q` is a valid queue index; the field is set under the instance lock,
        // which the driver holds when it creates pools.
        unsafe {
            !(*bindings::__netif_get_rx_queue(self.as_raw(), q))
                .mp_params
                .mp_ops
                .is_null()
        }
    }

    /// The driver's shared state.
    ///
    /// # Safety
    ///
    /// The device was made by a [`Registration<T>`].
    pub(crate) unsafe fn data<'a, T: Operations>(&self) -> &'a T::Data {
        // SAFETY: A `Registration<T>` stores the pointer of an `Arc<T::Data>` (from
        // `Arc::into_raw`) in the private area, for the life of the device.
        unsafe {
            let slot = bindings::netdev_priv(self.as_raw()).cast::<*const T::Data>();
            &*slot.read()
        }
    }
}

/// Whether the driver took a packet (C `netdev_tx_t`).
pub enum TxResult {
    /// Taken (queued or dropped).
    Ok,
    /// The ring was full: the packet goes back to the stack, which requeues it. Only after
    /// stopping the queue.
    Busy(SkBuff),
}

/// Per-device statistics (C `struct rtnl_link_stats64`), filled by the driver.
pub type LinkStats64 = bindings::rtnl_link_stats64;

/// The netdev operations of a driver (C `struct net_device_ops`).
#[vtable]
pub trait Operations: 'static {
    /// The driver's state shared with every callback.
    type Data: Send + Sync;

    /// The interface is brought up.
    fn open(data: &Self::Data, dev: &NetDevice) -> Result;

    /// The interface is brought down.
    fn stop(data: &Self::Data, dev: &NetDevice) -> Result;

    /// Transmits `skb` on the tx queue it is mapped to.
    fn start_xmit(data: &Self::Data, dev: &NetDevice, skb: SkBuff) -> TxResult;

    /// Fills the device statistics.
    fn get_stats64(_data: &Self::Data, _dev: &NetDevice, _stats: &mut LinkStats64) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
}

struct OpsAdapter<T: Operations>(PhantomData<T>);

impl<T: Operations> OpsAdapter<T> {
    /// # Safety
    ///
    /// Called by the networking core through the ops table built here, with the live
    /// objects the C prototype names, on a device (or NAPI context) of the driver.
    unsafe extern "C" fn open(dev: *mut bindings::net_device) -> c_int {
        from_result(|| {
            // SAFETY: The stack calls with a live device made by `Registration<T>`.
            let dev = unsafe { NetDevice::from_raw(dev) };
            // SAFETY: As above.
            T::open(unsafe { dev.data::<T>() }, dev)?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the networking core through the ops table built here, with the live
    /// objects the C prototype names, on a device (or NAPI context) of the driver.
    unsafe extern "C" fn stop(dev: *mut bindings::net_device) -> c_int {
        from_result(|| {
            // SAFETY: As in `open`.
            let dev = unsafe { NetDevice::from_raw(dev) };
            // SAFETY: As above.
            T::stop(unsafe { dev.data::<T>() }, dev)?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the networking core through the ops table built here, with the live
    /// objects the C prototype names, on a device (or NAPI context) of the driver.
    unsafe extern "C" fn start_xmit(
        skb: *mut bindings::sk_buff,
        dev: *mut bindings::net_device,
    ) -> bindings::netdev_tx_t {
        // SAFETY: As in `open`.
        let dev = unsafe { NetDevice::from_raw(dev) };
        // SAFETY: The stack hands the driver its reference to `skb`.
        let skb = unsafe { SkBuff::from_raw(skb) };
        // SAFETY: As above.
        match T::start_xmit(unsafe { dev.data::<T>() }, dev, skb) {
            TxResult::Ok => bindings::netdev_tx_NETDEV_TX_OK,
            TxResult::Busy(skb) => {
                // The stack keeps its reference and sends the skb again.
                let _ = skb.into_raw();
                bindings::netdev_tx_NETDEV_TX_BUSY
            }
        }
    }

    /// # Safety
    ///
    /// Called by the networking core through the ops table built here, with the live
    /// objects the C prototype names, on a device (or NAPI context) of the driver.
    unsafe extern "C" fn get_stats64(
        dev: *mut bindings::net_device,
        stats: *mut bindings::rtnl_link_stats64,
    ) {
        // SAFETY: As in `open`; `stats` is valid for writes during the call.
        let (dev, stats) = unsafe { (NetDevice::from_raw(dev), &mut *stats) };
        // SAFETY: As above.
        T::get_stats64(unsafe { dev.data::<T>() }, dev, stats);
    }

    const OPS: bindings::net_device_ops = bindings::net_device_ops {
        ndo_open: Some(Self::open),
        ndo_stop: Some(Self::stop),
        ndo_start_xmit: Some(Self::start_xmit),
        ndo_get_stats64: if T::HAS_GET_STATS64 {
            Some(Self::get_stats64)
        } else {
            None
        },
        ndo_validate_addr: Some(bindings::eth_validate_addr),
        ndo_set_mac_address: Some(bindings::eth_mac_addr),
        ..pin_init::zeroed()
    };
}

/// Offloads of a device (C `netdev_features_t`): a set of `NETIF_F_*` bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Features(u64);

impl Features {
    /// None.
    pub const EMPTY: Self = Self(0);
    /// Scatter-gather: skbs with frags (`NETIF_F_SG`).
    pub const SG: Self = Self::bit(bindings::NETIF_F_SG_BIT);
    /// TCP and UDP checksums over IPv4 (`NETIF_F_IP_CSUM`).
    pub const IP_CSUM: Self = Self::bit(bindings::NETIF_F_IP_CSUM_BIT);
    /// TCP and UDP checksums over IPv6 (`NETIF_F_IPV6_CSUM`).
    pub const IPV6_CSUM: Self = Self::bit(bindings::NETIF_F_IPV6_CSUM_BIT);
    /// TCP segmentation over IPv4 (`NETIF_F_TSO`).
    pub const TSO: Self = Self::bit(bindings::NETIF_F_TSO_BIT);
    /// TCP segmentation over IPv6 (`NETIF_F_TSO6`).
    pub const TSO6: Self = Self::bit(bindings::NETIF_F_TSO6_BIT);
    /// Receive checksum verification (`NETIF_F_RXCSUM`).
    pub const RXCSUM: Self = Self::bit(bindings::NETIF_F_RXCSUM_BIT);
    /// Receive hashing (`NETIF_F_RXHASH`).
    pub const RXHASH: Self = Self::bit(bindings::NETIF_F_RXHASH_BIT);

    const fn bit(b: u32) -> Self {
        Self(1u64 << b)
    }

    /// The features of both sets.
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// Whether every feature of `other` is in `self`.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
}

impl core::ops::BitOr for Features {
    type Output = Self;

    fn bitor(self, other: Self) -> Self {
        self.union(other)
    }
}

impl NetDevice {
    /// The offloads in use (C `dev->features`), which userspace can change within the
    /// device's hardware features (`ethtool -K`).
    pub fn features(&self) -> Features {
        // SAFETY: Valid device; a plain field, read racily as the C fast paths do.
        Features(unsafe { core::ptr::read_volatile(&(*self.as_raw()).features) })
    }
}

/// Tables a driver installs on its device besides the netdev ops.
pub struct ExtraOps {
    /// The ethtool ops (C `struct ethtool_ops`), if any.
    pub ethtool: Option<&'static bindings::ethtool_ops>,
    /// The queue-management ops (C `struct netdev_queue_mgmt_ops`), if any. Setting them
    /// makes the device "ops locked".
    pub queue_mgmt: Option<&'static bindings::netdev_queue_mgmt_ops>,
    /// The per-queue statistics ops (C `struct netdev_stat_ops`), if any.
    pub stats: Option<&'static bindings::netdev_stat_ops>,
    /// Asks for the device to be "ops locked" without queue-management ops (C
    /// `request_ops_lock`): its netdev and ethtool ops run under the instance lock, and
    /// NAPI uses the `_locked` calls (see [`Napi`]), which this module's NAPI API requires.
    pub ops_locked: bool,
    /// The offloads the device can do (C `hw_features`), all on at first (`features`).
    pub features: Features,
    /// The device transmits frags that are `net_iov`s of a devmem TX binding, by their
    /// DMA address (C `netmem_tx = NETMEM_TX_DMA`): `bind-tx` accepts it. Its driver maps
    /// packets with [`TxPacket`](super::tx::TxPacket), which knows such frags.
    pub netmem_tx: bool,
}

/// A network device allocated by a driver, registered with the stack until dropped.
///
/// # Invariants
///
/// `dev` was made by `alloc_etherdev_mqs` with an `Arc<T::Data>` in its private area;
/// it is registered iff `registered`.
pub struct Registration<T: Operations> {
    dev: NonNull<bindings::net_device>,
    registered: bool,
    _p: PhantomData<T>,
}

// SAFETY: The device may be registered, used and freed from any thread.
unsafe impl<T: Operations> Send for Registration<T> {}
// SAFETY: Shared access only reads the device through its thread-safe C API.
unsafe impl<T: Operations> Sync for Registration<T> {}

impl<T: Operations> Registration<T> {
    const OPS: bindings::net_device_ops = OpsAdapter::<T>::OPS;

    /// Allocates an Ethernet device with `txqs` tx and `rxqs` rx queues, child of `parent`,
    /// whose callbacks get `data`.
    pub fn new(
        parent: &Device,
        txqs: u32,
        rxqs: u32,
        data: Arc<T::Data>,
        extra: ExtraOps,
    ) -> Result<Self> {
        static_assert!(core::mem::size_of::<*const c_void>() <= 64);
        // SAFETY: Sizes are plain numbers; the call allocates and initializes a device.
        let dev = unsafe {
            bindings::alloc_etherdev_mqs(core::mem::size_of::<*const c_void>() as c_int, txqs, rxqs)
        };
        let dev = NonNull::new(dev).ok_or(ENOMEM)?;
        let raw = dev.as_ptr();
        // SAFETY: `raw` is a new, unregistered device; its private area holds one pointer.
        unsafe {
            (*raw).dev.parent = parent.as_raw();
            (*raw).netdev_ops = &Self::OPS;
            if let Some(e) = extra.ethtool {
                (*raw).ethtool_ops = e;
            }
            if let Some(q) = extra.queue_mgmt {
                (*raw).queue_mgmt_ops = q;
            }
            if let Some(s) = extra.stats {
                (*raw).stat_ops = s;
            }
            (*raw).request_ops_lock = extra.ops_locked;
            (*raw).hw_features = extra.features.0;
            (*raw).features = extra.features.0;
            if extra.netmem_tx {
                bindings::netdev_set_netmem_tx(raw, bindings::netmem_tx_mode_NETMEM_TX_DMA);
            }
            bindings::netdev_priv(raw)
                .cast::<*const T::Data>()
                .write(Arc::into_raw(data));
        }
        // INVARIANT: made above, not registered.
        Ok(Self {
            dev,
            registered: false,
            _p: PhantomData,
        })
    }

    /// The device.
    pub fn dev(&self) -> &NetDevice {
        // SAFETY: Valid while `self` is (type invariant).
        unsafe { NetDevice::from_raw(self.dev.as_ptr()) }
    }

    /// Registers the device with the stack (C `register_netdev`).
    pub fn register(&mut self) -> Result {
        if self.registered {
            return Err(EBUSY);
        }
        // SAFETY: The device is allocated and set up.
        to_result(unsafe { bindings::register_netdev(self.dev.as_ptr()) })?;
        self.registered = true;
        Ok(())
    }
}

impl<T: Operations> Drop for Registration<T> {
    fn drop(&mut self) {
        let raw = self.dev.as_ptr();
        // SAFETY: The device is ours (type invariant): unregister it if registered, then
        // take back the shared state and free it. No callback runs after unregistration.
        unsafe {
            if self.registered {
                bindings::unregister_netdev(raw);
            }
            let slot = bindings::netdev_priv(raw).cast::<*const T::Data>();
            drop(Arc::from_raw(slot.read()));
            bindings::free_netdev(raw);
        }
    }
}

/// A socket buffer owned by the driver (C `struct sk_buff`).
///
/// # Invariants
///
/// The pointer is a valid skb to which this value holds the only reference the driver has.
pub struct SkBuff(NonNull<bindings::sk_buff>);

// SAFETY: An skb may be handed between threads.
unsafe impl Send for SkBuff {}

impl SkBuff {
    /// Takes ownership of `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` is a valid skb whose reference the caller gives up.
    pub unsafe fn from_raw(ptr: *mut bindings::sk_buff) -> Self {
        // SAFETY: Non-null as promised by the caller.
        Self(unsafe { NonNull::new_unchecked(ptr) })
    }

    /// The C pointer.
    pub fn as_raw(&self) -> *mut bindings::sk_buff {
        self.0.as_ptr()
    }

    /// Gives up ownership, returning the C pointer.
    pub fn into_raw(self) -> *mut bindings::sk_buff {
        let p = self.0.as_ptr();
        core::mem::forget(self);
        p
    }

    /// The total length in bytes.
    pub fn len(&self) -> u32 {
        // SAFETY: Valid skb (type invariant).
        unsafe { (*self.as_raw()).len }
    }

    /// Whether the skb has no data.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes in the linear part.
    pub fn headlen(&self) -> u32 {
        // SAFETY: Valid skb.
        unsafe { bindings::skb_headlen(self.as_raw()) }
    }

    /// The linear part.
    pub fn head_data(&self) -> &[u8] {
        // SAFETY: `data` points to `headlen` bytes owned by the skb.
        unsafe { core::slice::from_raw_parts((*self.as_raw()).data, self.headlen() as usize) }
    }

    /// The tx queue the stack mapped this skb to.
    pub fn queue_mapping(&self) -> u16 {
        // SAFETY: Valid skb.
        unsafe { (*self.as_raw()).queue_mapping }
    }

    /// Moves every byte into the linear part (C `skb_linearize`).
    pub fn linearize(&mut self) -> Result {
        // SAFETY: Valid skb, owned.
        to_result(unsafe { bindings::skb_linearize(self.as_raw()) })
    }

    /// Pads the packet with zeroes to `len` bytes (C `eth_skb_pad`-style); on failure the
    /// skb is freed.
    pub fn pad_to(self, len: u32) -> Result<Self> {
        // SAFETY: Valid skb, owned; `skb_put_padto` frees it on failure.
        let err = unsafe { bindings::skb_put_padto(self.as_raw(), len) };
        if err != 0 {
            core::mem::forget(self);
            return Err(Error::from_errno(err));
        }
        Ok(self)
    }

    /// Frees the skb from any context (C `dev_kfree_skb_any`).
    pub fn free_any(self) {
        // SAFETY: Our reference, given up.
        unsafe { bindings::dev_kfree_skb_any(self.into_raw()) }
    }

    /// Consumes a transmitted skb from NAPI context (C `napi_consume_skb`).
    pub fn napi_consume(self, budget: i32) {
        // SAFETY: Our reference, given up.
        unsafe { bindings::napi_consume_skb(self.into_raw(), budget) }
    }
}

impl Drop for SkBuff {
    fn drop(&mut self) {
        // SAFETY: Our reference (type invariant).
        unsafe { bindings::dev_kfree_skb_any(self.0.as_ptr()) }
    }
}

/// A NAPI context, embedded (pinned) in the driver's queue state.
#[repr(transparent)]
#[pin_data]
pub struct Napi {
    #[pin]
    inner: Opaque<bindings::napi_struct>,
}

// SAFETY: NAPI's C API may be used from any thread.
unsafe impl Sync for Napi {}
// SAFETY: As above.
unsafe impl Send for Napi {}

/// The owner of a [`Napi`]: the queue state whose poll function NAPI calls.
///
/// Implement it with [`impl_napi_owner!`](crate::impl_napi_owner), which finds the owner
/// from its `Napi` field.
///
/// # Safety
///
/// `from_napi` returns the `Self` whose field is the `Napi` at `napi`.
pub unsafe trait NapiPoll: Sync {
    /// Polls for up to `budget` rx packets; returns how many were processed. Completion
    /// (and re-enabling the interrupt) is the driver's, with [`Napi::complete_done`].
    fn poll(&self, napi: &Napi, budget: i32) -> i32;

    /// The owner of `napi`.
    ///
    /// # Safety
    ///
    /// `napi` is the `Napi` field of a live `Self`.
    unsafe fn from_napi<'a>(napi: *const Napi) -> &'a Self;
}

/// Implements [`NapiPoll::from_napi`] for a type with a [`Napi`] field, and forwards
/// `poll` to a method.
///
/// ```ignore
/// kernel::impl_napi_owner!(RxRing, napi, poll_ring);
/// ```
#[macro_export]
macro_rules! impl_napi_owner {
    ($type:ty, $field:ident, $poll:ident) => {
        // SAFETY: `from_napi` is the `container_of` of the named field.
        unsafe impl $crate::net::device::NapiPoll for $type {
            fn poll(&self, napi: &$crate::net::device::Napi, budget: i32) -> i32 {
                self.$poll(napi, budget)
            }

            unsafe fn from_napi<'a>(napi: *const $crate::net::device::Napi) -> &'a Self {
                // SAFETY: `napi` is the `$field` of a live `$type` (caller).
                unsafe { &*$crate::container_of!(napi, $type, $field) }
            }
        }
    };
}

impl Napi {
    /// A zeroed NAPI context, to be added with [`Napi::add_locked`].
    pub fn new() -> impl PinInit<Self> {
        pin_init!(Self { inner <- Opaque::zeroed() })
    }

    /// The C pointer.
    pub fn as_raw(&self) -> *mut bindings::napi_struct {
        self.inner.get()
    }

    /// Adds the context to `dev`, polling `owner` (C `netif_napi_add_locked`): `owner`
    /// contains this `Napi`, as [`NapiPoll::napi`] says.
    ///
    /// # Safety
    ///
    /// The caller holds `dev`'s instance lock; `owner` stays pinned and alive until
    /// [`Napi::del_locked`]; it is the only owner of this context.
    pub unsafe fn add_locked<P: NapiPoll>(&self, dev: &NetDevice, _owner: &P) {
        // SAFETY: As promised by the caller.
        unsafe {
            bindings::netif_napi_add_weight_locked(
                dev.as_raw(),
                self.as_raw(),
                Some(poll_trampoline::<P>),
                bindings::NAPI_POLL_WEIGHT as c_int,
            )
        }
    }

    /// Enables polling (C `napi_enable_locked`).
    ///
    /// # Safety
    ///
    /// Added, disabled, the instance lock held.
    pub unsafe fn enable_locked(&self) {
        // SAFETY: As promised by the caller.
        unsafe { bindings::napi_enable_locked(self.as_raw()) }
    }

    /// Disables polling and waits for a running poll (C `napi_disable_locked`).
    ///
    /// # Safety
    ///
    /// Added, enabled, the instance lock held.
    pub unsafe fn disable_locked(&self) {
        // SAFETY: As promised by the caller.
        unsafe { bindings::napi_disable_locked(self.as_raw()) }
    }

    /// Removes the context (C `netif_napi_del_locked`).
    ///
    /// # Safety
    ///
    /// Added and disabled, the instance lock held.
    pub unsafe fn del_locked(&self) {
        // SAFETY: As promised by the caller.
        unsafe { bindings::netif_napi_del_locked(self.as_raw()) }
    }

    /// The device this context was added to.
    ///
    /// Only valid once added: call it from the poll function.
    pub fn dev(&self) -> &NetDevice {
        // SAFETY: An added context points to its live device (`napi->dev`), which outlives
        // it.
        unsafe { NetDevice::from_raw((*self.as_raw()).dev) }
    }

    /// Schedules a poll (C `napi_schedule`), from the interrupt handler.
    pub fn schedule(&self) -> bool {
        // SAFETY: An added context; scheduling a disabled one does nothing.
        unsafe { bindings::napi_schedule(self.as_raw()) }
    }

    /// Completes a poll that did `work` packets (C `napi_complete_done`); `true` when the
    /// driver should re-enable its interrupt.
    pub fn complete_done(&self, work: i32) -> bool {
        // SAFETY: Called from this context's poll.
        unsafe { bindings::napi_complete_done(self.as_raw(), work) }
    }

    /// Hands a received packet to GRO (C `napi_gro_receive`).
    pub fn gro_receive(&self, skb: SkBuff) {
        // SAFETY: Called from this context's poll; the skb's reference is given to the
        // stack.
        unsafe { bindings::napi_gro_receive(self.as_raw(), skb.into_raw()) };
    }

    /// Allocates an skb with `len` bytes of linear room for rx (C `napi_alloc_skb`).
    pub fn alloc_skb(&self, len: u32) -> Option<SkBuff> {
        // SAFETY: Called from this context's poll.
        let skb = unsafe { bindings::napi_alloc_skb(self.as_raw(), len) };
        // INVARIANT: a new skb, ours.
        NonNull::new(skb).map(SkBuff)
    }

    /// Tells the stack which NAPI serves rx and tx queue `q` of `dev`
    /// (C `netif_queue_set_napi`), or none.
    ///
    /// # Safety
    ///
    /// The instance lock is held; the context is added (or `napi` is `None`).
    pub unsafe fn link_queues(dev: &NetDevice, q: u32, napi: Option<&Napi>) {
        let p = napi.map_or(core::ptr::null_mut(), Napi::as_raw);
        // SAFETY: As promised by the caller.
        unsafe {
            bindings::netif_queue_set_napi(
                dev.as_raw(),
                q,
                bindings::netdev_queue_type_NETDEV_QUEUE_TYPE_RX,
                p,
            );
            bindings::netif_queue_set_napi(
                dev.as_raw(),
                q,
                bindings::netdev_queue_type_NETDEV_QUEUE_TYPE_TX,
                p,
            );
        }
    }
}

/// # Safety
///
/// Called by the networking core through the ops table built here, with the live
/// objects the C prototype names, on a device (or NAPI context) of the driver.
unsafe extern "C" fn poll_trampoline<P: NapiPoll>(
    napi: *mut bindings::napi_struct,
    budget: c_int,
) -> c_int {
    let napi = napi.cast::<Napi>().cast_const();
    // SAFETY: `add_locked` registered this function for a `Napi` owned by a live `P`;
    // `Napi` is a transparent wrapper of the C struct.
    let (owner, napi) = unsafe { (P::from_napi(napi), &*napi) };
    owner.poll(napi, budget)
}

/// A received packet in the making: the linear part holds the headers, the frags the
/// payload (pages or `net_iov`s of a page pool).
impl SkBuff {
    /// Appends `data` to the linear part (C `skb_put_data`); the room was allocated.
    pub fn put_data(&mut self, data: &[u8]) {
        // SAFETY: The caller allocated the skb with room for its linear data; `skb_put`
        // panics rather than overrun.
        unsafe { bindings::skb_put_data(self.as_raw(), data.as_ptr().cast(), data.len() as u32) };
    }

    /// Adds a page-pool buffer as frag `i` (C `skb_add_rx_frag_netmem`): a `net_iov` makes
    /// the skb unreadable. The skb takes the buffer's reference; mark the skb for recycling
    /// ([`SkBuff::mark_for_recycle`]) so that freeing it gives the buffer back to its pool.
    pub fn add_rx_frag(&mut self, i: u32, buf: PoolNetmem, off: u32, len: u32, truesize: u32) {
        let netmem = buf.into_netmem();
        // SAFETY: Valid skb; the buffer reference is handed over.
        unsafe {
            bindings::skb_add_rx_frag_netmem(
                self.as_raw(),
                i as c_int,
                netmem.as_raw(),
                off as c_int,
                len as c_int,
                truesize,
            )
        }
    }

    /// Marks the skb's page-pool buffers for recycling on free (C `skb_mark_for_recycle`).
    pub fn mark_for_recycle(&mut self) {
        // SAFETY: Valid skb.
        unsafe { bindings::skb_mark_for_recycle(self.as_raw()) }
    }

    /// For a packet received whole into its frags (readable pages) with an empty linear
    /// part: copies its headers, as far as the flow dissector finds them and at most `max`
    /// bytes, into the linear part (C `eth_get_headlen`, `__pskb_pull_tail`). `EINVAL` for
    /// an skb with linear data, no frags or unreadable frags.
    pub fn pull_headers(&mut self, dev: &NetDevice, max: u32) -> Result {
        let raw = self.as_raw();
        // SAFETY: Valid skb.
        if self.headlen() != 0
            || self.nr_frags() == 0
            || !unsafe { bindings::skb_frags_readable(raw) }
        {
            return Err(EINVAL);
        }
        // SAFETY: Frag 0 exists (`nr_frags > 0`) and is a readable page of the skb: its
        // `len` bytes are mapped in the kernel.
        let hlen = unsafe {
            let frag = core::ptr::addr_of!((*self.shinfo()).frags[0]);
            let va = bindings::skb_frag_address(frag);
            bindings::eth_get_headlen(dev.as_raw(), va, (*frag).len.min(max))
        };
        // SAFETY: Valid skb, owned; `hlen` is at most its length.
        if unsafe { bindings::__pskb_pull_tail(raw, hlen as c_int) }.is_null() {
            return Err(ENOMEM);
        }
        Ok(())
    }

    /// Sets the protocol from the Ethernet header and pulls it (C `eth_type_trans`).
    pub fn eth_type_trans(&mut self, dev: &NetDevice) {
        // SAFETY: Valid skb with at least an Ethernet header in the linear part.
        unsafe { bindings::skb_set_protocol_eth(self.as_raw(), dev.as_raw()) };
    }

    /// Tells the stack the NIC verified the checksums (`CHECKSUM_UNNECESSARY`).
    pub fn set_csum_unnecessary(&mut self) {
        // SAFETY: Valid skb.
        unsafe { bindings::skb_set_csum_unnecessary(self.as_raw()) }
    }

    /// Records the rx queue (C `skb_record_rx_queue`).
    pub fn record_rx_queue(&mut self, q: u16) {
        // SAFETY: Valid skb.
        unsafe { bindings::skb_record_rx_queue(self.as_raw(), q) }
    }

    /// Sets the RSS hash the NIC computed (C `skb_set_hash`, L4).
    pub fn set_hash_l4(&mut self, hash: u32) {
        // SAFETY: Valid skb.
        unsafe {
            bindings::skb_set_hash(
                self.as_raw(),
                hash,
                bindings::pkt_hash_types_PKT_HASH_TYPE_L4,
            )
        }
    }
}

/// Runs `f` with softirqs disabled on this CPU (C `local_bh_disable`/`local_bh_enable`).
///
/// Process-context code (open, stop, statistics, queue restarts) that shares a spinlock with
/// a NAPI poll takes it inside such a section, so that the poll cannot interrupt it on the
/// same CPU while it holds the lock.
pub fn with_bh_disabled<R>(f: impl FnOnce() -> R) -> R {
    // SAFETY: Always allowed in process context; paired below.
    unsafe { bindings::local_bh_disable() };
    let r = f();
    // SAFETY: Disabled above.
    unsafe { bindings::local_bh_enable() };
    r
}

/// Allocation flags for rx buffers in NAPI context.
pub const NAPI_GFP: Flags = GFP_ATOMIC;
