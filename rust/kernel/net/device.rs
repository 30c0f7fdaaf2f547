// SPDX-License-Identifier: GPL-2.0

//! Network devices: registration and netdev ops.
//!
//! A NIC driver allocates a [`Registration`] with its [`Operations`], its shared state
//! (`Operations::Data`) and the [`ExtraOps`] tables its type implements, sets the MAC
//! address and registers it. The netdev callbacks get the device and the shared state
//! back. Devices made here are "ops locked": the callbacks that run under the device's
//! instance lock get it as a [`LockedNetDevice`].
//!
//! C header: [`include/linux/netdevice.h`](srctree/include/linux/netdevice.h)

use crate::{
    bindings,
    device::Device,
    error::{
        from_result,
        to_result,
        VTABLE_DEFAULT_ERROR, //
    },
    ffi::{
        c_int,
        c_ulong,
        c_void, //
    },
    net::{
        ethtool::{
            EthtoolOps,
            EthtoolTable, //
        },
        ext_ack::ExtAck,
        queue::{
            QueueMgmtOps,
            QueueMgmtTable,
            QueueStatsOps,
            QueueStatsTable, //
        },
        skbuff::SkBuff,
        sock::NetNs,
        xdp::{
            BpfProg,
            XdpXmit, //
        }, //
    },
    prelude::*,
    sync::Arc,
    types::Opaque, //
};
use core::{
    marker::PhantomData,
    ops::Deref,
    ptr::NonNull, //
};

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

    /// The network namespace the device is in.
    pub fn net(&self) -> NetNs {
        // SAFETY: The device is valid (type invariant).
        NetNs(unsafe { bindings::dev_net(self.as_raw()) })
    }

    /// The MTU.
    pub fn mtu(&self) -> u32 {
        // SAFETY: The device is valid (type invariant); a plain read of a word the stack
        // updates under its locks.
        unsafe { core::ptr::read_volatile(&raw const (*self.as_raw()).mtu) }
    }

    /// The number of rx queues in use.
    pub fn real_num_rx_queues(&self) -> u32 {
        // SAFETY: The device is valid (type invariant).
        unsafe { (*self.as_raw()).real_num_rx_queues }
    }

    /// The number of tx queues in use.
    pub fn real_num_tx_queues(&self) -> u32 {
        // SAFETY: The device is valid (type invariant).
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

    /// Tx queue `q`, if the device has it (C `netdev_get_tx_queue`, checked).
    pub fn tx_queue(&self, q: u32) -> Option<TxQueue<'_>> {
        // SAFETY: Valid device; `num_tx_queues` is fixed at allocation.
        let n = unsafe { (*self.as_raw()).num_tx_queues };
        let index = u16::try_from(q).ok().filter(|_| q < n)?;
        // INVARIANT: checked against the queues allocated with the device.
        Some(TxQueue { dev: self, index })
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

    /// The device a callback of `T`'s tables was called for, and the driver's data.
    ///
    /// # Safety
    ///
    /// `dev` is a live device made by a [`Registration<T>`], valid for `'a`: the core calls
    /// a table's callbacks with the device it is installed on, and only the registration
    /// installs `T`'s tables (`ExtraOps<T>`), on its own device.
    pub(crate) unsafe fn callee<'a, T: Operations>(
        dev: *mut bindings::net_device,
    ) -> (&'a NetDevice, &'a T::Data) {
        // SAFETY: Live for `'a` (the caller's promise).
        let dev = unsafe { NetDevice::from_raw(dev) };
        // SAFETY: Made by a `Registration<T>` (the caller's promise).
        (dev, unsafe { dev.data::<T>() })
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

/// A tx queue of a device.
///
/// # Invariants
///
/// `index` is below the device's `num_tx_queues`.
#[derive(Clone, Copy)]
pub struct TxQueue<'a> {
    dev: &'a NetDevice,
    index: u16,
}

impl TxQueue<'_> {
    /// Its index.
    pub fn index(&self) -> u16 {
        self.index
    }

    /// Stops the queue (the ring is full; C `netif_stop_subqueue`).
    pub fn stop(&self) {
        // SAFETY: Valid device; `index` is one of its tx queues (type invariant).
        unsafe { bindings::netif_stop_subqueue(self.dev.as_raw(), self.index) }
    }

    /// Wakes the queue if it was stopped (C `netif_wake_subqueue`).
    pub fn wake(&self) {
        // SAFETY: Valid device; `index` is one of its tx queues (type invariant).
        unsafe { bindings::netif_wake_subqueue(self.dev.as_raw(), self.index) }
    }

    /// Whether the queue is stopped (C `__netif_subqueue_stopped`).
    pub fn is_stopped(&self) -> bool {
        // SAFETY: Valid device; `index` is one of its tx queues (type invariant).
        unsafe { bindings::__netif_subqueue_stopped(self.dev.as_raw(), self.index) }
    }
}

/// A network device whose instance lock (C `netdev_lock`) the holder of the reference
/// holds.
///
/// The callbacks of a device made by a [`Registration`] that run under the lock (open,
/// stop, ethtool and queue-management ops) get one; it gives what only the lock allows,
/// such as starting and stopping NAPI (see [`Napi`](super::napi::Napi)).
///
/// # Invariants
///
/// The device's instance lock is held for the life of the reference.
#[repr(transparent)]
pub struct LockedNetDevice(NetDevice);

impl LockedNetDevice {
    /// Borrows `dev` as locked.
    ///
    /// # Safety
    ///
    /// The caller holds `dev`'s instance lock for `'a`.
    pub unsafe fn assume_locked<'a>(dev: &'a NetDevice) -> &'a Self {
        // SAFETY: Transparent wrapper.
        // INVARIANT: the lock is held for `'a` (caller).
        unsafe { &*core::ptr::from_ref(dev).cast() }
    }
}

/// The instance lock of a device, held until dropped (C `netdev_lock`, `netdev_unlock`).
///
/// # Invariants
///
/// The lock of `dev` is held by this guard.
pub struct NetDeviceGuard<'a> {
    dev: &'a NetDevice,
}

impl NetDevice {
    /// Takes the device's instance lock (C `netdev_lock`); may sleep.
    pub fn lock(&self) -> NetDeviceGuard<'_> {
        // SAFETY: Valid device; process context, as the caller may sleep.
        unsafe { bindings::netdev_lock(self.as_raw()) };
        // INVARIANT: locked above.
        NetDeviceGuard { dev: self }
    }
}

impl Deref for NetDeviceGuard<'_> {
    type Target = LockedNetDevice;

    fn deref(&self) -> &LockedNetDevice {
        // SAFETY: The guard holds the lock for as long as the reference it lends.
        unsafe { LockedNetDevice::assume_locked(self.dev) }
    }
}

impl Drop for NetDeviceGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: Taken by `lock` (type invariant), released once.
        unsafe { bindings::netdev_unlock(self.dev.as_raw()) }
    }
}

/// A reference on a registered network device (C `dev_hold`, `dev_put`): the `net_device`
/// stays allocated until it is dropped, registered or not.
///
/// # Invariants
///
/// The reference holds one count of the device's refcount.
pub struct NetDeviceRef(NonNull<NetDevice>);

impl NetDeviceRef {
    /// Takes a reference on `dev`.
    ///
    /// # Safety
    ///
    /// `dev` has been registered: `free_netdev` frees a device that never was at once,
    /// whatever its refcount, while unregistering waits for every reference to go.
    pub unsafe fn hold(dev: &NetDevice) -> Self {
        // SAFETY: `dev` is valid (type invariant of `NetDevice`).
        unsafe { bindings::dev_hold(dev.as_raw()) };
        // INVARIANT: held above.
        Self(NonNull::from(dev))
    }
}

impl Deref for NetDeviceRef {
    type Target = NetDevice;

    fn deref(&self) -> &NetDevice {
        // SAFETY: The count held (type invariant) keeps the device allocated.
        unsafe { self.0.as_ref() }
    }
}

impl Drop for NetDeviceRef {
    fn drop(&mut self) {
        // SAFETY: Gives back the count taken by `hold` (type invariant).
        unsafe { bindings::dev_put(self.0.as_ptr().cast()) };
    }
}

// SAFETY: A device reference may be dropped on any thread, and `NetDevice` is `Sync`.
unsafe impl Send for NetDeviceRef {}
// SAFETY: Shared use only reads through `&NetDevice`, which is `Sync`.
unsafe impl Sync for NetDeviceRef {}

impl Deref for LockedNetDevice {
    type Target = NetDevice;

    fn deref(&self) -> &NetDevice {
        &self.0
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

    /// The interface is brought up (under the instance lock).
    fn open(data: &Self::Data, dev: &LockedNetDevice) -> Result;

    /// The interface is brought down (under the instance lock).
    fn stop(data: &Self::Data, dev: &LockedNetDevice) -> Result;

    /// Transmits `skb` on the tx queue it is mapped to.
    fn start_xmit(data: &Self::Data, dev: &NetDevice, skb: SkBuff) -> TxResult;

    /// Fills the device statistics.
    fn get_stats64(_data: &Self::Data, _dev: &NetDevice, _stats: &mut LinkStats64) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Accepts or refuses a new MTU (C `ndo_change_mtu`), under the instance lock. The core
    /// has checked it against the device's range; on success the device's MTU becomes
    /// `mtu`. The hook has no extended acknowledgement: say why in the kernel log.
    fn change_mtu(_data: &Self::Data, _dev: &LockedNetDevice, _mtu: u32) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Attaches (`Some`), replaces or detaches (`None`) the device's native XDP program
    /// (C `ndo_bpf` with `XDP_SETUP_PROG`), under the instance lock. On success the
    /// driver keeps `prog` and drops the program it had; on failure it drops `prog` and
    /// the old one stays, and `ack` says why. The core has checked what it knows (no
    /// memory provider bound, no header split under a single-buffer program).
    fn xdp_setup(
        _data: &Self::Data,
        _dev: &LockedNetDevice,
        _prog: Option<BpfProg>,
        _ack: Option<&mut ExtAck>,
    ) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Transmits the frames another device redirected here (C `ndo_xdp_xmit`), taking
    /// them from `frames` in order until one does not fit; with `flush`, tells the device
    /// of them. The driver sends or gives back every frame it takes; the rest stay the
    /// caller's. `Err` only when nothing was taken.
    fn xdp_xmit(
        _data: &Self::Data,
        _dev: &NetDevice,
        _frames: &mut XdpXmit<'_>,
        _flush: bool,
    ) -> Result {
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
            // SAFETY: The stack calls with a live device made by `Registration<T>`, which
            // is ops locked: `ndo_open` runs under its instance lock.
            let dev = unsafe { LockedNetDevice::assume_locked(NetDevice::from_raw(dev)) };
            // SAFETY: The device was made by a `Registration<T>`.
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
            // SAFETY: The stack calls with a live device made by `Registration<T>`, which
            // is ops locked: `ndo_stop` runs under its instance lock.
            let dev = unsafe { LockedNetDevice::assume_locked(NetDevice::from_raw(dev)) };
            // SAFETY: The device was made by a `Registration<T>`.
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
        // SAFETY: The stack calls with a live device made by `Registration<T>`.
        let dev = unsafe { NetDevice::from_raw(dev) };
        // SAFETY: The stack hands the driver its reference to `skb`.
        let skb = unsafe { SkBuff::from_raw(skb) };
        // SAFETY: The device was made by a `Registration<T>`.
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
        // SAFETY: The stack calls with a live device made by `Registration<T>`, and
        // `stats` valid for writes during the call.
        let (dev, stats) = unsafe { (NetDevice::from_raw(dev), &mut *stats) };
        // SAFETY: The device was made by a `Registration<T>`.
        T::get_stats64(unsafe { dev.data::<T>() }, dev, stats);
    }

    /// # Safety
    ///
    /// Called by the networking core through the ops table built here, with the live
    /// objects the C prototype names, on a device (or NAPI context) of the driver.
    unsafe extern "C" fn change_mtu(dev: *mut bindings::net_device, new_mtu: c_int) -> c_int {
        from_result(|| {
            // SAFETY: The stack calls with a live device made by `Registration<T>`, which
            // is ops locked: `ndo_change_mtu` runs under its instance lock
            // (`netif_set_mtu_ext`).
            let dev = unsafe { LockedNetDevice::assume_locked(NetDevice::from_raw(dev)) };
            // Within the device's range, which starts at 0 or above.
            let mtu = u32::try_from(new_mtu).map_err(|_| EINVAL)?;
            // SAFETY: The device was made by a `Registration<T>`.
            T::change_mtu(unsafe { dev.data::<T>() }, dev, mtu)?;
            // SAFETY: The device is valid; a word the stack reads without locks, written
            // once (C `WRITE_ONCE`), as `__netif_set_mtu` does without this hook.
            unsafe { core::ptr::write_volatile(&raw mut (*dev.as_raw()).mtu, mtu) };
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the networking core through the ops table built here, with the live
    /// objects the C prototype names, on a device (or NAPI context) of the driver.
    unsafe extern "C" fn bpf(
        dev: *mut bindings::net_device,
        bpf: *mut bindings::netdev_bpf,
    ) -> c_int {
        from_result(|| {
            // SAFETY: The stack calls with a live device made by `Registration<T>`, which
            // is ops locked: `ndo_bpf` runs under its instance lock (`dev_xdp_attach`).
            let dev = unsafe { LockedNetDevice::assume_locked(NetDevice::from_raw(dev)) };
            // SAFETY: `bpf` is valid for the call.
            let bpf = unsafe { &mut *bpf };
            if bpf.command != bindings::bpf_netdev_command_XDP_SETUP_PROG {
                return Err(EINVAL);
            }
            // SAFETY: For `XDP_SETUP_PROG`, the first member of the union is in use.
            let setup = unsafe { &mut bpf.__bindgen_anon_1.__bindgen_anon_1 };
            let raw = setup.prog;
            // The core moved a reference to the driver and takes it back on failure: the
            // driver gets a reference of its own, and on success the core's goes.
            if !raw.is_null() {
                // SAFETY: A live program the core holds a reference to.
                unsafe { bindings::bpf_prog_inc(raw) };
            }
            // SAFETY: The reference just taken, or none.
            let prog = unsafe { BpfProg::from_raw(raw) };
            // SAFETY: The core's extack for the request, valid for the call, or null.
            let ack = unsafe { ExtAck::from_raw(setup.extack) };
            // SAFETY: The device was made by a `Registration<T>`.
            T::xdp_setup(unsafe { dev.data::<T>() }, dev, prog, ack)?;
            if !raw.is_null() {
                // SAFETY: The reference the core moved to the driver, which has its own.
                unsafe { bindings::bpf_prog_put(raw) };
            }
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the networking core through the ops table built here, with the live
    /// objects the C prototype names, on a device (or NAPI context) of the driver.
    unsafe extern "C" fn xdp_xmit(
        dev: *mut bindings::net_device,
        n: c_int,
        frames: *mut *mut bindings::xdp_frame,
        flags: u32,
    ) -> c_int {
        if flags & !bindings::XDP_XMIT_FLUSH != 0 {
            return EINVAL.to_errno();
        }
        let n = usize::try_from(n).unwrap_or(0);
        if n == 0 || frames.is_null() {
            return 0;
        }
        // SAFETY: The stack calls with a live device made by `Registration<T>`.
        let dev = unsafe { NetDevice::from_raw(dev) };
        // SAFETY: `frames` holds `n` live frames the caller hands over in order; those not
        // taken (the count returned) stay its own.
        let mut batch = unsafe { XdpXmit::new(core::slice::from_raw_parts(frames, n)) };
        // SAFETY: The device was made by a `Registration<T>`.
        let r = T::xdp_xmit(unsafe { dev.data::<T>() }, dev, &mut batch, flags != 0);
        match r {
            Err(e) if batch.taken() == 0 => e.to_errno(),
            // CAST: at most `n`, a `c_int`.
            _ => batch.taken() as c_int,
        }
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
        ndo_change_mtu: if T::HAS_CHANGE_MTU {
            Some(Self::change_mtu)
        } else {
            None
        },
        ndo_bpf: if T::HAS_XDP_SETUP {
            Some(Self::bpf)
        } else {
            None
        },
        ndo_xdp_xmit: if T::HAS_XDP_XMIT {
            Some(Self::xdp_xmit)
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

/// What a driver's device has besides its netdev ops: the ethtool, queue-management and
/// per-queue statistics tables of `T`, its offloads and its transmit mode.
///
/// Each table is built from `T` itself and only when `T` implements its trait, so the
/// callbacks always find the `T::Data` that [`Registration<T>`] stores:
///
/// ```ignore
/// let extra = ExtraOps::<MyOps>::new()
///     .ethtool()
///     .queue_mgmt()
///     .queue_stats()
///     .features(Features::SG | Features::RXCSUM);
/// ```
pub struct ExtraOps<T: Operations> {
    ethtool: Option<&'static bindings::ethtool_ops>,
    queue_mgmt: Option<&'static bindings::netdev_queue_mgmt_ops>,
    stats: Option<&'static bindings::netdev_stat_ops>,
    features: Features,
    netmem_tx: bool,
    irq_affinity_auto: bool,
    xdp: crate::net::xdp::Features,
    _p: PhantomData<T>,
}

impl<T: Operations> ExtraOps<T> {
    /// No tables, no offloads.
    pub fn new() -> Self {
        Self {
            ethtool: None,
            queue_mgmt: None,
            stats: None,
            features: Features::EMPTY,
            netmem_tx: false,
            irq_affinity_auto: false,
            xdp: crate::net::xdp::Features::EMPTY,
            _p: PhantomData,
        }
    }

    /// The offloads the device can do (C `hw_features`), all on at first (`features`).
    pub fn features(self, features: Features) -> Self {
        Self { features, ..self }
    }

    /// The device transmits frags that are `net_iov`s of a devmem TX binding, by their DMA
    /// address (C `netmem_tx = NETMEM_TX_DMA`): `bind-tx` accepts it. Its driver maps
    /// packets with [`TxPacket`](super::tx::TxPacket), which knows such frags.
    pub fn netmem_tx(self) -> Self {
        Self {
            netmem_tx: true,
            ..self
        }
    }

    /// The core keeps the CPU affinity of each NAPI context's interrupt (C
    /// `netif_set_affinity_auto`): spread over the CPUs at first, the one userspace sets
    /// after (`/proc/irq/N/smp_affinity`), restored whenever the context is started again
    /// (a channel change, a close and open). Applies to the contexts started with an
    /// interrupt by [`Napi::start`](super::napi::Napi::start).
    pub fn irq_affinity_auto(self) -> Self {
        Self {
            irq_affinity_auto: true,
            ..self
        }
    }
}

impl<T: Operations> ExtraOps<T> {
    /// The XDP capabilities the device reports (C `xdp_features`): those of the
    /// [`Operations::xdp_setup`] and [`Operations::xdp_xmit`] it implements.
    pub fn xdp(self, features: crate::net::xdp::Features) -> Self {
        Self {
            xdp: features,
            ..self
        }
    }
}

impl<T: Operations> Default for ExtraOps<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: EthtoolOps> ExtraOps<T> {
    /// `T`'s ethtool ops (C `struct ethtool_ops`).
    pub fn ethtool(self) -> Self {
        Self {
            ethtool: Some(EthtoolTable::<T>::TABLE),
            ..self
        }
    }
}

impl<T: QueueMgmtOps> ExtraOps<T> {
    /// `T`'s queue-management ops (C `struct netdev_queue_mgmt_ops`).
    pub fn queue_mgmt(self) -> Self {
        Self {
            queue_mgmt: Some(QueueMgmtTable::<T>::TABLE),
            ..self
        }
    }
}

impl<T: QueueStatsOps> ExtraOps<T> {
    /// `T`'s per-queue statistics ops (C `struct netdev_stat_ops`).
    pub fn queue_stats(self) -> Self {
        Self {
            stats: Some(QueueStatsTable::<T>::TABLE),
            ..self
        }
    }
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
        extra: ExtraOps<T>,
    ) -> Result<Self> {
        static_assert!(core::mem::size_of::<*const c_void>() <= 64);
        // SAFETY: Sizes are plain numbers; the call allocates and initializes a device.
        let dev = unsafe {
            bindings::alloc_etherdev_mqs(core::mem::size_of::<*const c_void>() as c_int, txqs, rxqs)
        };
        let dev = NonNull::new(dev).ok_or(ENOMEM)?;
        let raw = dev.as_ptr();
        // SAFETY: `raw` is a new, unregistered device; its private area holds one pointer.
        // The tables were built for `T` (`ExtraOps<T>`) and find the `T::Data` stored here.
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
            // Ops locked whatever the tables: the callbacks that get a `LockedNetDevice`
            // rely on it.
            (*raw).request_ops_lock = true;
            // Netpoll (netconsole) polls NAPI with a budget of 0 and interrupts off, outside
            // softirq, which a `PollContext` does not allow for: netpoll is refused the
            // device (C `__netpoll_setup` fails with `ENOTSUPP`).
            let fast = &mut (*raw).__bindgen_anon_1.__bindgen_anon_1;
            // CAST: a bit of the `u32` flags enum.
            let flag = bindings::netdev_priv_flags_IFF_DISABLE_NETPOLL as c_ulong;
            fast.set_priv_flags(fast.priv_flags() | flag);
            (*raw).hw_features = extra.features.0;
            (*raw).features = extra.features.0;
            if extra.netmem_tx {
                bindings::netdev_set_netmem_tx(raw, bindings::netmem_tx_mode_NETMEM_TX_DMA);
            }
            if extra.irq_affinity_auto {
                bindings::netif_set_affinity_auto(raw);
            }
            (*raw).xdp_features = extra.xdp.as_raw();
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

#[macros::kunit_tests(rust_net_device)]
mod tests {
    use super::*;
    use crate::{
        error::from_err_ptr,
        net::napi::{
            Napi,
            PollContext, //
        },
    };
    use core::sync::atomic::{
        AtomicUsize,
        Ordering, //
    };

    struct Nop;

    #[vtable]
    impl Operations for Nop {
        type Data = ();

        fn open(_data: &(), _dev: &LockedNetDevice) -> Result {
            Ok(())
        }

        fn stop(_data: &(), _dev: &LockedNetDevice) -> Result {
            Ok(())
        }

        fn start_xmit(_data: &(), _dev: &NetDevice, _skb: SkBuff) -> TxResult {
            TxResult::Ok
        }
    }

    /// A KUnit device, unregistered when the test ends.
    fn parent() -> Result<&'static Device> {
        // SAFETY: Called from a KUnit test, which has a current test.
        let test = unsafe { bindings::kunit_get_current_test() };
        // SAFETY: `test` is the running test; the name is a static C string.
        let dev = from_err_ptr(unsafe {
            bindings::kunit_device_register(test, c"rust-net-device".as_char_ptr())
        })?;
        // SAFETY: KUnit keeps the device registered until after the test function returns.
        Ok(unsafe { Device::from_raw(dev) })
    }

    fn netdev(parent: &Device, txqs: u32) -> Result<Registration<Nop>> {
        Registration::<Nop>::new(
            parent,
            txqs,
            txqs,
            Arc::new((), GFP_KERNEL)?,
            ExtraOps::new(),
        )
    }

    static DROPS: AtomicUsize = AtomicUsize::new(0);

    #[pin_data(PinnedDrop)]
    struct Pair {
        #[pin]
        napi: Napi<Pair>,
    }

    #[pinned_drop]
    impl PinnedDrop for Pair {
        fn drop(self: Pin<&mut Self>) {
            DROPS.fetch_add(1, Ordering::Relaxed);
        }
    }

    impl Pair {
        fn poll(&self, _ctx: PollContext<'_>, _budget: i32) -> i32 {
            0
        }
    }

    crate::impl_napi_poll!(Pair, napi, poll);

    #[test]
    fn tx_queue_index_is_checked() -> Result {
        let reg = netdev(parent()?, 2)?;
        let dev = reg.dev();
        assert_eq!(dev.tx_queue(1).map(|q| q.index()), Some(1));
        assert!(dev.tx_queue(2).is_none());
        assert!(dev.tx_queue(u32::from(u16::MAX) + 2).is_none());
        Ok(())
    }

    #[test]
    fn devices_are_ops_locked() -> Result {
        let reg = netdev(parent()?, 1)?;
        // SAFETY: Reading a field of a live device.
        assert!(unsafe { (*reg.dev().as_raw()).request_ops_lock });
        Ok(())
    }

    // Without netpoll in the kernel there is nothing to refuse.
    #[cfg(CONFIG_NETPOLL)]
    #[test]
    fn devices_refuse_netpoll() -> Result {
        let reg = netdev(parent()?, 1)?;
        // SAFETY: All-zero bytes are a valid, unused `netpoll` (integers, pointers, names).
        let mut np: bindings::netpoll = unsafe { core::mem::zeroed() };
        // SAFETY: A live device; netpoll refuses it (`IFF_DISABLE_NETPOLL`) before it uses
        // `np` or needs the device registered.
        let err = unsafe { bindings::__netpoll_setup(&mut np, reg.dev().as_raw()) };
        if err == 0 {
            // Taken after all: undone before the device goes, and the test fails below.
            // SAFETY: `np` was set up on the device.
            unsafe { bindings::netpoll_cleanup(&mut np) };
        }
        // CAST: a small errno.
        assert_eq!(err, -(bindings::ENOTSUPP as c_int));
        Ok(())
    }

    #[test]
    fn napi_start_and_stop_are_checked() -> Result {
        const SCHED: crate::ffi::c_ulong = bindings::NAPIF_STATE_SCHED as crate::ffi::c_ulong;
        let parent = parent()?;
        let reg = netdev(parent, 2)?;
        let other = netdev(parent, 2)?;
        let drops = DROPS.load(Ordering::Relaxed);
        let pair = Arc::pin_init(pin_init!(Pair { napi <- Napi::new() }), GFP_KERNEL)?;
        // Not started: scheduling only tests the state.
        assert!(!pair.napi.schedule());
        {
            let dev = reg.dev().lock();
            assert_eq!(Napi::start(&pair, &dev, 2, None), Err(EINVAL));
            assert_eq!(Napi::start(&pair, &dev, 1, Some(u32::MAX)), Err(EINVAL));
            Napi::start(&pair, &dev, 1, None)?;
            assert_eq!(Napi::start(&pair, &dev, 0, None), Err(EBUSY));
        }
        {
            let dev = other.dev().lock();
            assert_eq!(Napi::stop(&pair, &dev), Err(EINVAL));
            assert_eq!(pair.napi.disable(&dev), Err(EINVAL));
            assert_eq!(pair.napi.enable(&dev), Err(EINVAL));
        }
        {
            let dev = reg.dev().lock();
            // Disabled for a queue restart, twice (the second has nothing to do): not
            // scheduled until enabled.
            // SAFETY: The context is pinned in `pair`; reading its state word.
            let sched = || unsafe { (*pair.napi.as_raw()).state } & SCHED != 0;
            assert!(!sched());
            pair.napi.disable(&dev)?;
            pair.napi.disable(&dev)?;
            assert!(sched());
            assert!(!pair.napi.schedule());
            pair.napi.enable(&dev)?;
            pair.napi.enable(&dev)?;
            assert!(!sched());
            // Stopped while disabled: the stop does not wait for a poll that cannot come.
            pair.napi.disable(&dev)?;
            Napi::stop(&pair, &dev)?;
            // Stopped: disabled, scheduling does nothing again; neither does enabling.
            assert!(!pair.napi.schedule());
            pair.napi.enable(&dev)?;
            assert!(!pair.napi.schedule());
            // A second stop has nothing to do.
            Napi::stop(&pair, &dev)?;
        }
        // The reference `start` kept was given back: ours is the last.
        drop(pair);
        assert_eq!(DROPS.load(Ordering::Relaxed), drops + 1);
        Ok(())
    }
}
