// SPDX-License-Identifier: GPL-2.0

//! A dma-buf bound to a network device, and the registry of bindings by id.
//!
//! A [`Binding`] holds a dma-buf mapped for one device and cut into `net_iov`s of the rx
//! page size ([`Chunks`]); for rx it is the memory provider of its queues. It is counted
//! once, by its [`Arc`]: the registry holds the creator's reference from bind to unbind, a
//! page pool on a bound queue holds one until it is destroyed, and C holds one for each
//! token, skb frag or tx lookup ([`Binding::get`], [`Binding::put`]). C may drop the last
//! one in softirq context, where unmapping cannot sleep: that one frees from a work item.

use crate::{
    chunks::{
        Chunks,
        FreeList, //
    },
    provider::DEVMEM_OPS, //
};
use kernel::{
    bindings,
    device::Device,
    dma::DataDirection,
    dma_buf::{
        DmaBuf,
        Mapping, //
    },
    net::{
        device::{
            LockedNetDevice,
            NetDevice,
            NetDeviceRef, //
        },
        ext_ack::ExtAck,
        netmem::NetIov,
        sock::{
            LockedTcpSock,
            NetNs, //
        }, //
    },
    new_mutex,
    page::PAGE_SHIFT,
    prelude::*,
    sync::{
        aref::ARef,
        atomic::{
            Atomic,
            Relaxed, //
        },
        Arc,
        ArcBorrow,
        Mutex,
        SetOnce,
        UniqueArc, //
    },
    task::Kuid,
    workqueue::{
        self,
        impl_has_work,
        new_work,
        Work,
        WorkItem, //
    },
    xarray::{
        AllocKind,
        XArray, //
    }, //
};

/// The netlink socket that made a binding (C `struct netdev_nl_sock`), only compared.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Owner(pub *const bindings::netdev_nl_sock);

/// A dma-buf bound to a network device for devmem TCP.
///
/// # Invariants
///
/// - The binding lives in an [`Arc`]: [`Binding::bind`] is the only way to make one.
/// - `dev` is null or the binding's device, which is registered: it is cleared under `queues`
///   before the device can be freed, for rx when its last bound queue goes away with it, for
///   tx when it is unregistered ([`forget_dev`]). `vdev` is null or registered too.
/// - `chunks` cuts `mapping`'s DMA ranges, and its areas record this binding as their owner.
///
/// When it is dropped, `chunks` frees the areas, then `mapping` unmaps and detaches the
/// dma-buf and drops it.
#[pin_data]
pub struct Binding {
    #[pin]
    work: Work<Binding>,
    id: Atomic<u32>,
    pub(crate) owner: Owner,
    vdev: Atomic<*mut NetDevice>,
    dev: Atomic<*mut NetDevice>,
    /// The network namespace of the device bind was called on, and the caller's effective
    /// uid: who may send from a tx binding ([`Binding::may_send`]).
    net: Option<NetNs>,
    euid: Kuid,
    /// The rx queues the binding is installed on.
    #[pin]
    queues: Mutex<KVec<u32>>,
    pub(crate) shift: u32,
    /// The rx page size its queues are opened with; 0 keeps the driver's default.
    rx_page_size: u32,
    pub(crate) chunks: Chunks,
    pub(crate) free: FreeList,
    mapping: Mapping,
}

// SAFETY: `owner` and `vdev` are only compared, and `dev` is only dereferenced as a `Sync`
// `NetDevice` while it is registered (type invariant); the rest is used through atomics and
// locks.
unsafe impl Send for Binding {}
// SAFETY: As for `Send`.
unsafe impl Sync for Binding {}

impl_has_work! {
    impl HasWork<Self> for Binding { self.work }
}

impl WorkItem for Binding {
    type Pointer = Arc<Binding>;

    // Drops the last reference, in process context, which frees the binding.
    fn run(_this: Arc<Binding>) {}
}

/// Drops a reference; the last one frees the binding from a work item.
fn release(b: Arc<Binding>) {
    if let Some(last) = Arc::into_unique_or_drop(b) {
        // A binding is queued only once, when its last reference goes; this cannot fail.
        let _ = workqueue::system().enqueue(Arc::from(last));
    }
}

/// The devices and socket a new binding belongs to.
pub struct BindTarget<'a> {
    /// The registered device that does the DMA (none only in tests).
    pub dev: Option<&'a NetDevice>,
    /// The virtual device bind-tx was called on, if any.
    pub vdev: Option<&'a NetDevice>,
    /// The caller's socket.
    pub owner: Owner,
}

impl Binding {
    /// Attaches and maps `buf` for `dma_dev`, cuts it into `net_iov`s of `1 << shift` bytes
    /// and registers it. The registry holds the creator's reference; the caller gets another.
    pub fn bind(
        buf: ARef<DmaBuf>,
        dma_dev: &Device,
        dir: DataDirection,
        shift: u32,
        target: BindTarget<'_>,
        mut ack: Option<&mut ExtAck>,
    ) -> Result<Arc<Self>> {
        // A tx frag is looked up by its page (`net_devmem_get_niov_at`).
        if dir == DataDirection::ToDevice && shift != PAGE_SHIFT as u32 {
            kernel::ext_ack_fmt!(ack, "TX bindings are cut into pages");
            return Err(EINVAL);
        }
        if dir == DataDirection::ToDevice && buf.size() % (1 << PAGE_SHIFT) != 0 {
            kernel::ext_ack_fmt!(ack, "TX dma-buf size must be a multiple of PAGE_SIZE");
            return Err(EINVAL);
        }
        let mapping = Mapping::new(buf, dma_dev, dir).inspect_err(|_| {
            kernel::ext_ack_fmt!(ack, "Failed to attach and map the dma-buf for the device");
        })?;
        let slot = UniqueArc::<Self>::new_uninit(GFP_KERNEL_ACCOUNT)?;
        // CAST: a mapped range's length fits in the address space.
        let ranges = || {
            let sgt = mapping.sg_table().iter();
            sgt.map(|sg| (sg.dma_address(), sg.dma_len() as usize))
        };
        let chunks = Chunks::new(ranges, shift, core::ptr::from_ref(&*slot).cast(), ack)?;
        let free = FreeList::new(chunks.count())?;
        let rx_page_size = if shift == PAGE_SHIFT as u32 {
            0
        } else {
            1 << shift
        };
        let ptr =
            |d: Option<&NetDevice>| d.map_or(core::ptr::null(), core::ptr::from_ref).cast_mut();
        let b: Arc<Self> = slot
            .pin_init_with(pin_init!(Self {
                work <- new_work!("devmem_rs::Binding::work"),
                id: Atomic::new(0),
                owner: target.owner,
                vdev: Atomic::new(ptr(target.vdev)),
                dev: Atomic::new(ptr(target.dev)),
                net: target.vdev.or(target.dev).map(NetDevice::net),
                euid: Kuid::current_euid(),
                queues <- new_mutex!(KVec::new()),
                shift,
                rx_page_size,
                chunks,
                free,
                mapping,
            }))?
            .into();
        // INVARIANT: the binding is in an `Arc`, and its chunks record its address.

        // The next free id, cyclically (never 0: the registry is `Alloc1`). Set before the
        // lock goes: a lookup finds the binding only under it.
        let mut xa = registry()?.lock();
        let mut next = NEXT_ID.load(Relaxed);
        let stored = xa.alloc_cyclic(b.clone(), 0..=u32::MAX, &mut next, GFP_KERNEL);
        NEXT_ID.store(next, Relaxed);
        if let Ok(id) = stored {
            b.id.store(id, Relaxed);
        }
        // Unlocked first: when it failed, the binding is freed with the error and `b`.
        drop(xa);
        stored?;
        Ok(b)
    }

    /// A new reference to the binding.
    pub fn arc(&self) -> Arc<Self> {
        // SAFETY: The binding lives in an `Arc` (type invariant), which the caller's borrow of
        // `self` keeps from reaching zero, and nothing holds it as a `UniqueArc`.
        unsafe { ArcBorrow::from_raw(self) }.into()
    }

    /// Takes a reference for C, returned as the address C knows the binding by.
    pub fn get(&self) -> *const Self {
        Arc::into_raw(self.arc())
    }

    /// Drops a reference C held.
    /// # Safety
    /// The caller gives up a reference to the binding at `this` that [`Binding::get`] took.
    pub unsafe fn put(this: *const Self) {
        // SAFETY: `get` made the reference with `Arc::into_raw` (caller).
        release(unsafe { Arc::from_raw(this) });
    }

    /// The binding that owns `niov`, if devmem-rs made it.
    pub fn of_net_iov(niov: &NetIov) -> Option<&Self> {
        // SAFETY: The chunks of a binding record it as their owner, and it outlives them, so
        // it is alive while `niov` is borrowed.
        Chunks::owner_of(niov).map(|b| unsafe { &*b })
    }

    /// The binding's id; zero until it is registered.
    pub fn id(&self) -> u32 {
        self.id.load(Relaxed)
    }

    /// The device the binding DMAs for; null once its last queue went away with the device.
    pub fn dev(&self) -> *mut NetDevice {
        self.dev.load(Relaxed)
    }

    /// Whether `dev` is the binding's device, or the virtual device it was bound through.
    pub fn is_bound_to(&self, dev: *const NetDevice) -> bool {
        let dev = dev.cast_mut();
        !dev.is_null() && (dev == self.dev() || dev == self.vdev.load(Relaxed))
    }

    /// Whether `sk` may send from the binding: it is in the binding's network namespace, and
    /// was opened with the binder's effective uid, or it and the caller have `CAP_NET_ADMIN`
    /// there.
    pub fn may_send(&self, sk: &LockedTcpSock) -> bool {
        self.net == Some(sk.net())
            && (sk.opener_euid() == Some(self.euid) || sk.net_admin_capable())
    }

    /// Whether the binding is for transmit.
    pub fn is_tx(&self) -> bool {
        self.mapping.direction() == DataDirection::ToDevice
    }

    /// Installs the binding as the memory provider of rx queue `index` of `dev`, its
    /// device, and restarts the queue on it.
    pub fn bind_queue(
        &self,
        dev: &LockedNetDevice,
        index: u32,
        ack: Option<&mut ExtAck>,
    ) -> Result {
        // Room first: once the queue runs on the binding, recording it must not fail.
        self.queues.lock().reserve(1, GFP_KERNEL_ACCOUNT)?;
        // Not under `queues`: opening a queue leased from a physical device takes that
        // device's instance lock, under which `uninstall` takes `queues`. Nothing changes
        // the binding's queues in between: binding, unbinding and the end of a lease hold
        // the instance lock of `dev`, as the caller does, and a device's own queue goes
        // away under it too.
        // SAFETY: The binding outlives its queues: `unbind` closes them before it drops the
        // registry's reference, and `uninstall` forgets a queue that goes away first.
        unsafe { DEVMEM_OPS.open_rxq(dev, index, self, self.rx_page_size, ack) }?;
        // Room was reserved above, and only callers holding `dev`'s lock add queues.
        let _ = self.queues.lock().push_within_capacity(index);
        Ok(())
    }

    /// Unbinds: the id disappears, every bound queue of `dev` (the binding's device if it
    /// still has one, locked) is restarted without the binding, and the creator's reference
    /// is dropped. Does nothing for a binding that is not registered any more.
    pub fn unbind(&self, dev: Option<&LockedNetDevice>) {
        let Ok(mut xa) = registry().map(XArray::lock) else {
            return;
        };
        let id = self.id() as usize;
        // An id is reused once its binding is unregistered: check that it is still ours.
        let ours = xa.get(id).is_some_and(|b| core::ptr::eq(&*b, self));
        let Some(creator) = ours.then(|| xa.remove(id)).flatten() else {
            return;
        };
        drop(xa);
        let queues = core::mem::take(&mut *self.queues.lock());
        if let Some(dev) = dev {
            for &q in queues.iter() {
                DEVMEM_OPS.close_rxq(dev, q, self, self.rx_page_size);
            }
        }
        release(creator);
    }

    /// Unbinds with the binding's device, if it still has one, held and locked.
    pub fn unbind_locked(&self) {
        let dev = {
            let _queues = self.queues.lock();
            // SAFETY: A non-null `dev` is the binding's registered device (type invariant),
            // which cannot be freed while `queues`, which `dev` is cleared under, is locked.
            unsafe { self.dev().as_ref().map(|dev| NetDeviceRef::hold(dev)) }
        };
        let locked = dev.as_ref().map(|dev| dev.lock());
        self.unbind(locked.as_deref());
    }

    /// Forgets rx queue `index`, which goes away with its device; with the last one the
    /// binding loses its device.
    pub fn forget_queue(&self, index: u32) {
        let mut queues = self.queues.lock();
        queues.retain(|q| *q != index);
        if queues.is_empty() {
            // INVARIANT: cleared under `queues` while the device is being unregistered.
            self.dev.store(core::ptr::null_mut(), Relaxed);
        }
    }
}

/// The registered bindings by id; each entry is its binding's creator reference.
static REGISTRY: SetOnce<Pin<KBox<XArray<Arc<Binding>>>>> = SetOnce::new();
/// The id to try next; written under the registry's lock.
static NEXT_ID: Atomic<u32> = Atomic::new(1);

/// Makes the registry; called once, from the module's init.
pub fn init() -> Result {
    REGISTRY.populate(KBox::pin_init(XArray::new(AllocKind::Alloc1), GFP_KERNEL)?);
    Ok(())
}

fn registry() -> Result<&'static XArray<Arc<Binding>>> {
    REGISTRY.as_ref().map(|xa| &**xa).ok_or(ENODEV)
}

/// The registered binding with id `id`, with a reference for the caller.
pub fn lookup(id: u32) -> Option<Arc<Binding>> {
    registry().ok()?.lock().get(id as usize).map(Arc::from)
}

/// The registered bindings in id order, each with a reference; the registry is locked for
/// one step at a time, so a binding registered or unbound meanwhile may be missed.
pub fn each() -> impl Iterator<Item = Arc<Binding>> {
    let mut start = 0;
    core::iter::from_fn(move || {
        let xa = registry().ok()?.lock();
        let (id, b) = xa.find(start)?;
        start = id + 1;
        Some(b.into())
    })
}

/// Forgets `dev`, which is being unregistered, in the tx bindings bound to it or through it.
/// (An rx binding forgets its device with its last queue: [`Binding::forget_queue`].)
pub fn forget_dev(dev: &NetDevice) {
    let dev = core::ptr::from_ref(dev).cast_mut();
    for b in each().filter(|b| b.is_tx()) {
        let _queues = b.queues.lock();
        // INVARIANT: cleared under `queues` while the device is being unregistered.
        for field in [&b.dev, &b.vdev] {
            if field.load(Relaxed) == dev {
                field.store(core::ptr::null_mut(), Relaxed);
            }
        }
    }
}

#[kunit_tests(devmem_rs_binding)]
mod tests {
    use super::*;
    use kernel::dma_buf::kunit::{export, released, test_device};

    const SHIFT_4K: u32 = 12;

    fn target() -> BindTarget<'static> {
        BindTarget {
            dev: None,
            vdev: None,
            owner: Owner(0x5eed as *const _),
        }
    }

    /// The number of bindings released, once it reaches `want` or after 30 s: the last
    /// reference is dropped from a work item, which a guest under TCG on a loaded host may
    /// run seconds later (2 s were not always enough for 1000 of them).
    fn wait_released(want: usize) -> usize {
        for _ in 0..3000 {
            if released() >= want {
                break;
            }
            // SAFETY: Sleeping is allowed in a KUnit test.
            unsafe { bindings::msleep(10) };
        }
        released()
    }

    fn registered() -> Result<usize> {
        registry()?;
        Ok(each().count())
    }

    fn bind(dev: &Device, pages: usize, dir: DataDirection) -> Result<Arc<Binding>> {
        let (buf, _mock) = export(pages)?;
        Binding::bind(buf, dev, dir, SHIFT_4K, target(), None)
    }

    #[test]
    fn register_lookup_unbind_releases_the_dma_buf() -> Result {
        let before = released();
        let b = bind(test_device()?, 8, DataDirection::FromDevice)?;
        assert_eq!(b.free.in_use(), 0);
        let id = b.id();
        assert_ne!(id, 0);
        assert!(lookup(id).is_some_and(|found| Arc::ptr_eq(&found, &b)));
        assert!(each().any(|b| b.owner == target().owner));

        b.unbind(None);
        assert!(lookup(id).is_none());
        // A second unbind finds nothing to drop.
        b.unbind(None);
        drop(b);
        assert_eq!(wait_released(before + 1), before + 1);
        Ok(())
    }

    #[test]
    fn a_held_net_iov_keeps_the_binding_after_unbind() -> Result {
        let before = released();
        let (buf, mock) = export(4)?;
        // SAFETY: The mock lives as long as the buffer, which the binding holds until the
        // last check below that reads it.
        let mock = unsafe { &*mock };
        let dir = DataDirection::FromDevice;
        let b = Binding::bind(buf, test_device()?, dir, SHIFT_4K, target(), None)?;
        // What C does for a token or an skb frag (net_devmem_get_net_iov).
        let held = b.get();
        b.unbind(None);
        drop(b);
        // Not released while a net_iov is held.
        assert_eq!(wait_released(before + 1), before);
        assert_eq!(mock.unmaps(), 0);

        // SAFETY: The reference `get` took.
        unsafe { Binding::put(held) };
        assert_eq!(wait_released(before + 1), before + 1);
        Ok(())
    }

    #[test]
    fn buffers_not_cut_into_rx_pages_are_refused() -> Result {
        let before = released();
        let dev = test_device()?;
        // SAFETY: All-zero bytes are a valid, empty `netlink_ext_ack`.
        let mut raw: bindings::netlink_ext_ack = unsafe { core::mem::zeroed() };
        {
            // SAFETY: `raw` is valid and used only through `ack` while it lives.
            let ack = unsafe { ExtAck::from_raw(&mut raw) };
            let (buf, mock) = export(1)?;
            // SAFETY: The buffer is alive until the binding attempt drops it.
            let maps = unsafe { &*mock };
            // One 4 KiB page cannot hold a 16 KiB rx page.
            let dir = DataDirection::FromDevice;
            let r = Binding::bind(buf.clone(), dev, dir, 14, target(), ack);
            assert_eq!(r.err(), Some(EINVAL));
            assert_eq!(maps.maps(), maps.unmaps());
        }
        // SAFETY: `raw` is valid and no longer borrowed.
        let ack = unsafe { ExtAck::from_raw(&mut raw) }.ok_or(EINVAL)?;
        assert!(ack.msg().is_some());
        assert_eq!(wait_released(before + 1), before + 1);

        // A tx binding must be a whole number of pages: it is, so it binds.
        let tx = bind(dev, 2, DataDirection::ToDevice)?;
        assert!(tx.chunks.niov_at(0x1800).is_some());
        assert!(tx.chunks.niov_at(0x2000).is_none());
        tx.unbind(None);
        Ok(())
    }

    #[test]
    fn a_tx_binding_cut_into_other_than_pages_is_refused() -> Result {
        let before = released();
        let (buf, _) = export(4)?;
        let dir = DataDirection::ToDevice;
        let r = Binding::bind(buf, test_device()?, dir, SHIFT_4K + 1, target(), None);
        assert_eq!(r.err(), Some(EINVAL));
        assert_eq!(wait_released(before + 1), before + 1);
        Ok(())
    }

    #[test]
    fn a_page_pool_on_a_bound_queue_takes_its_net_iovs_from_the_binding() -> Result {
        use kernel::net::page_pool::{OwnedPagePool, Params, PoolNetmem};
        use kernel::page::PAGE_SIZE;

        const NIOVS: usize = 128;
        let before = released();
        let dev = test_device()?;
        let b = bind(dev, NIOVS, DataDirection::FromDevice)?;

        // A device with one rx queue, never registered, carries the provider as bind-rx
        // would install it.
        // SAFETY: The name is a valid format; `ether_setup` is a valid setup function.
        let nd = unsafe {
            bindings::alloc_netdev_mqs(
                0,
                c"devmemrs%d".as_char_ptr(),
                bindings::NET_NAME_ENUM as u8,
                Some(bindings::ether_setup),
                1,
                1,
            )
        };
        if nd.is_null() {
            return Err(ENOMEM);
        }
        // SAFETY: `nd` has one rx queue; nothing else uses it yet.
        let rxq = unsafe { bindings::__netif_get_rx_queue(nd, 0) };
        // SAFETY: As above; `b` outlives the pool made on the queue.
        unsafe {
            (*rxq).mp_params = bindings::pp_memory_provider_params {
                mp_priv: Arc::as_ptr(&b).cast_mut().cast(),
                mp_ops: DEVMEM_OPS.as_raw(),
                rx_page_size: 0,
            }
        };

        // SAFETY: `nd` and its queue 0 outlive the pool; its lock is held around creation.
        let params = unsafe {
            Params::new(dev, 0, 256, DataDirection::FromDevice, PAGE_SIZE as u32)
                .unreadable(NetDevice::from_raw(nd), 0)
        };
        let pool = {
            // SAFETY: `nd` is valid until `free_netdev` below.
            let _locked = unsafe { NetDevice::from_raw(nd) }.lock();
            OwnedPagePool::new(&params)
        };

        let result = pool.map(|mut pool| {
            let mut got: KVec<PoolNetmem> = KVec::new();
            while let Some(nm) = pool.alloc_netmem(GFP_KERNEL) {
                let raw = nm.netmem().as_raw();
                let fresh =
                    nm.netmem().is_net_iov() && !got.iter().any(|g| g.netmem().as_raw() == raw);
                let _ = got.push(nm, GFP_KERNEL);
                if !fresh || got.len() > NIOVS {
                    break;
                }
            }
            let all_out = b.free.in_use();
            let n = got.len();
            // Dropping them gives each back to `pool`; destroying the pool returns its
            // net_iovs to the binding.
            drop(got);
            drop(pool);
            (n, all_out, b.free.in_use())
        });

        // SAFETY: The pool is gone; nothing else uses `nd`.
        unsafe {
            (*rxq).mp_params = pin_init::zeroed();
            bindings::free_netdev(nd);
        }
        assert_eq!(result?, (NIOVS, NIOVS, 0));
        b.unbind(None);
        drop(b);
        assert_eq!(wait_released(before + 1), before + 1);
        Ok(())
    }

    #[test]
    fn thousand_bind_unbind_cycles_leave_nothing() -> Result {
        let before = released();
        let registered_before = registered()?;
        let dev = test_device()?;
        let mut last = 0;
        for _ in 0..1000 {
            let b = bind(dev, 4, DataDirection::FromDevice)?;
            // Ids go round (`xa_alloc_cyclic`): a freed one is not given again at once.
            assert!(b.id() > last);
            last = b.id();
            b.unbind(None);
        }
        assert_eq!(registered()?, registered_before);
        assert_eq!(wait_released(before + 1000), before + 1000);
        Ok(())
    }
}
