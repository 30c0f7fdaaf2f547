// SPDX-License-Identifier: GPL-2.0

//! The dma-buf binding and its page-pool memory provider.
//!
//! A [`Binding`] holds a dma-buf attached and mapped for one device, cut into `net_iov`s of
//! the rx page size ([`Chunks`]). For rx it is installed on queues as their memory provider
//! ([`DEVMEM_OPS`]); their page pools take `net_iov`s from it instead of pages.
//!
//! Lifetime. `users` counts who needs the binding alive: the netlink socket that made it
//! (until unbind), each page pool created on a bound queue (until the pool is destroyed,
//! which is after all its buffers came back) and each reference C takes on one of its
//! `net_iov`s (a token held by userspace, an skb frag in flight, a tx lookup). When the
//! count reaches zero the binding is freed from a work item, because unmapping the dma-buf
//! may sleep and the last reference is often dropped in softirq context.

use crate::chunks::{
    Chunks,
    ChunksError, //
};
use kernel::{
    bindings,
    device::Device,
    dma::DataDirection,
    dma_buf::{
        DmaBuf,
        Mapping, //
    },
    error::to_result,
    net::{
        ext_ack::ExtAck,
        netmem::{
            NetIov,
            NetmemRef, //
        },
        page_pool::provider::{
            AllocCache,
            MemoryProvider,
            MemoryProviderOps,
            NlMsg,
            PagePool,
            PoolInit,
            RxQueue,
            ALLOC_CACHE_REFILL, //
        }, //
    },
    page::PAGE_SHIFT,
    prelude::*,
    sync::{
        aref::ARef,
        atomic::{
            Atomic,
            Relaxed, //
        },
        Arc,
        Mutex,
        Refcount,
        SpinLockIrq,
        UniqueArc, //
    },
    workqueue::{
        self,
        impl_has_work,
        new_work,
        Work,
        WorkItem, //
    },
    {
        new_mutex,
        new_spinlock_irq, //
    }, //
};

/// A queue the binding is installed on.
#[derive(Clone, Copy)]
struct BoundQueue {
    rxq: *mut bindings::netdev_rx_queue,
    index: u32,
}

/// What the binding's mutex protects: the bound queues and writes of the device pointer.
struct Bound {
    queues: KVec<BoundQueue>,
}

/// A dma-buf bound to a network device for devmem TCP.
///
/// # Invariants
///
/// - `chunks` cuts `mapping`'s DMA ranges, and its areas record this binding's address as
///   their owner.
/// - `users` is the number of references described in the module documentation; the
///   binding is alive (its memory and its mapping) while it is not zero.
#[pin_data(PinnedDrop)]
pub struct Binding {
    #[pin]
    work: Work<Binding>,
    users: Refcount,
    id: Atomic<u32>,
    owner: usize,
    vdev: usize,
    dev: Atomic<*mut bindings::net_device>,
    #[pin]
    bound: Mutex<Bound>,
    shift: u32,
    #[pin]
    chunks: SpinLockIrq<Chunks>,
    mapping: Mapping,
}

// SAFETY: The raw pointers are only compared or passed to C under the locks and lifetime
// rules C documents for them (`dev` under `bound`, queues under the device's instance
// lock); everything else is `Send`.
unsafe impl Send for Binding {}
// SAFETY: Shared access goes through atomics and locks.
unsafe impl Sync for Binding {}

impl_has_work! {
    impl HasWork<Self> for Binding { self.work }
}

impl WorkItem for Binding {
    type Pointer = Arc<Binding>;

    // Drops the reference the users held together: the last one frees the binding here, in
    // process context.
    fn run(_this: Arc<Binding>) {}
}

/// The device and socket a new binding belongs to.
pub struct BindTarget {
    /// The physical device that does the DMA (C `struct net_device *`).
    pub dev: *mut bindings::net_device,
    /// The virtual device bind-tx was called on, if any; only compared, never dereferenced.
    pub vdev: usize,
    /// The netlink socket state of the caller; only compared, never dereferenced.
    pub owner: usize,
}

impl Binding {
    /// Attaches and maps `buf` for `dma_dev` and cuts it into `net_iov`s of `1 << shift`
    /// bytes.
    ///
    /// The new binding holds one user reference (its creator's) and no id; see
    /// [`register`].
    pub fn new(
        buf: ARef<DmaBuf>,
        dma_dev: &Device,
        dir: DataDirection,
        shift: u32,
        target: BindTarget,
        mut ack: Option<&mut ExtAck>,
    ) -> Result<Arc<Self>> {
        if dir == DataDirection::ToDevice && buf.size() % (1 << PAGE_SHIFT) != 0 {
            if let Some(ack) = ack.as_deref_mut() {
                ack.set_msg(c"TX dma-buf size must be a multiple of PAGE_SIZE");
            }
            return Err(EINVAL);
        }
        let mapping = Mapping::new(buf, dma_dev, dir).inspect_err(|_| {
            if let Some(ack) = ack.as_deref_mut() {
                ack.set_msg(c"Failed to attach and map the dma-buf for the device");
            }
        })?;

        let slot = UniqueArc::<Self>::new_uninit(GFP_KERNEL)?;
        let this = core::ptr::from_ref(&*slot) as usize;
        let ranges = mapping
            .sg_table()
            .iter()
            // CAST: a mapped range's length fits in the address space.
            .map(|sg| (sg.dma_address(), sg.dma_len() as usize));
        let chunks = Chunks::new(ranges, shift, this).map_err(|e| {
            if let ChunksError::Misaligned { addr, len, chunk } = e {
                kernel::ext_ack_fmt!(
                    ack,
                    "dmabuf range (addr={:#x}, len={}) not aligned to rx-page-size {}",
                    addr,
                    len,
                    chunk
                );
            } else if e == ChunksError::Empty {
                kernel::ext_ack_fmt!(
                    ack,
                    "dma-buf smaller than one rx page ({} bytes)",
                    1usize << shift
                );
            }
            e.to_errno()
        })?;

        let binding = slot.pin_init_with(pin_init!(Self {
            work <- new_work!("devmem_rs::Binding::work"),
            users: Refcount::new(1),
            id: Atomic::new(0),
            owner: target.owner,
            vdev: target.vdev,
            dev: Atomic::new(target.dev),
            bound <- new_mutex!(Bound { queues: KVec::new() }),
            shift,
            chunks <- new_spinlock_irq!(chunks),
            mapping,
        }))?;
        let binding: Arc<Self> = binding.into();
        // The users hold one `Arc` together; `put` gives it to the work item at zero.
        let _ = Arc::into_raw(binding.clone());
        Ok(binding)
    }

    /// The binding at `ptr`, as C passes it (`struct net_devmem_dmabuf_binding *`).
    ///
    /// # Safety
    ///
    /// `ptr` is a binding's address and the caller holds a user reference for `'a`.
    pub unsafe fn from_raw<'a>(ptr: *const c_void) -> &'a Self {
        // SAFETY: As promised by the caller.
        unsafe { &*ptr.cast() }
    }

    /// The address C knows the binding by.
    pub fn as_ptr(&self) -> *mut c_void {
        core::ptr::from_ref(self).cast_mut().cast()
    }

    /// The binding that owns the devmem `net_iov` `niov`.
    ///
    /// # Safety
    ///
    /// `niov` belongs to a live binding (it is of type `NET_IOV_DMABUF` and devmem-rs made
    /// it).
    pub unsafe fn of_net_iov(niov: &NetIov) -> &Self {
        // SAFETY: The area of a devmem-rs `net_iov` records its binding's address, and the
        // binding outlives its `net_iov`s (as promised by the caller).
        unsafe { &*(Chunks::owner_of(niov) as *const Self) }
    }

    /// The binding's id; zero until it is registered.
    pub fn id(&self) -> u32 {
        self.id.load(Relaxed)
    }

    /// The device the binding DMAs for; null once its last queue went away with the device.
    pub fn dev(&self) -> *mut bindings::net_device {
        self.dev.load(Relaxed)
    }

    /// Takes a reference on the binding's device (C `dev_hold`) and returns it, or null when
    /// the device already went away. Read under the same lock `uninstall` clears it under,
    /// so the device cannot be freed between the read and the hold.
    pub fn hold_dev(&self) -> *mut bindings::net_device {
        let _bound = self.bound.lock();
        let dev = self.dev();
        if !dev.is_null() {
            // SAFETY: `dev` is still the binding's device: `forget_queue` clears it under
            // `bound` while the device is being unregistered, before it can be freed.
            unsafe { bindings::dev_hold(dev) };
        }
        dev
    }

    /// The virtual device bind-tx was called on (0 if none).
    pub fn vdev(&self) -> usize {
        self.vdev
    }

    /// The netlink socket state that made the binding.
    pub fn owner(&self) -> usize {
        self.owner
    }

    /// The direction of the mapping.
    pub fn direction(&self) -> DataDirection {
        self.mapping.direction()
    }

    /// log2 of the rx page size.
    pub fn shift(&self) -> u32 {
        self.shift
    }

    /// The size of the dma-buf in bytes.
    pub fn size(&self) -> usize {
        self.mapping.dma_buf().size()
    }

    /// The number of `net_iov`s, and how many of them are free.
    pub fn niovs(&self) -> (usize, usize) {
        let chunks = self.chunks.lock();
        (chunks.len(), chunks.available())
    }

    /// Takes a user reference (C `net_devmem_dmabuf_binding_get`).
    pub fn get(&self) {
        self.users.inc();
    }

    /// Drops a user reference (C `net_devmem_dmabuf_binding_put`); the last one schedules
    /// the binding's release.
    ///
    /// # Safety
    ///
    /// The caller owns a user reference, which it gives up.
    pub unsafe fn put(&self) {
        if self.users.dec_and_test() {
            // SAFETY: `new` leaked one `Arc` for the users together; they are all gone, so
            // it is ours to take back.
            let arc = unsafe { Arc::from_raw(core::ptr::from_ref(self)) };
            // A binding is queued only once, at its last put; this cannot fail.
            let _ = workqueue::system().enqueue(arc);
        }
    }

    /// The `net_iov` at byte `offset` of the dma-buf (tx), if any.
    pub fn niov_at(&self, offset: usize) -> Option<*mut bindings::net_iov> {
        self.chunks.lock().niov_at(offset).map(NetIov::as_raw)
    }

    /// The byte offset of `niov` in the dma-buf.
    pub fn offset_of(&self, niov: &NetIov) -> usize {
        niov.virtual_addr(self.shift)
    }

    fn mp_params(&self) -> bindings::pp_memory_provider_params {
        bindings::pp_memory_provider_params {
            mp_priv: self.as_ptr(),
            mp_ops: DEVMEM_OPS.as_raw(),
            rx_page_size: if self.shift != PAGE_SHIFT as u32 {
                1 << self.shift
            } else {
                0
            },
        }
    }

    /// Installs the binding as the memory provider of rx queue `index` of `dev` and
    /// restarts the queue on it.
    ///
    /// # Safety
    ///
    /// `dev` is a registered device whose instance lock the caller holds, and it is the
    /// binding's device.
    pub unsafe fn bind_queue(
        &self,
        dev: *mut bindings::net_device,
        index: u32,
        ack: Option<&mut ExtAck>,
    ) -> Result {
        let params = self.mp_params();
        let ack = ack.map_or(core::ptr::null_mut(), |a| core::ptr::from_mut(a).cast());
        let mut bound = self.bound.lock();
        bound.queues.reserve(1, GFP_KERNEL)?;
        // SAFETY: `dev` is registered and locked (caller); `params` names static ops and this
        // binding, which stays alive while installed (the pools hold user references, and
        // unbind closes the queue before dropping the creator's).
        to_result(unsafe { bindings::netif_mp_open_rxq(dev, index, &params, ack) })?;
        // SAFETY: `index` was accepted by `netif_mp_open_rxq`, so the queue exists.
        let rxq = unsafe { bindings::__netif_get_rx_queue(dev, index) };
        // Room was reserved above.
        let _ = bound.queues.push_within_capacity(BoundQueue { rxq, index });
        Ok(())
    }

    /// Unbinds: the id disappears, every bound queue is restarted without the binding, and
    /// the creator's reference is dropped. The binding lives on until its last user lets
    /// go.
    ///
    /// # Safety
    ///
    /// The caller gives up the creator's reference, holds the instance lock of the
    /// binding's device if it still has one, and calls this once per binding.
    pub unsafe fn unbind(&self) {
        unregister(self);
        let params = self.mp_params();
        let queues = {
            let mut bound = self.bound.lock();
            core::mem::take(&mut bound.queues)
        };
        let dev = self.dev();
        if !dev.is_null() {
            for q in queues.iter() {
                // SAFETY: The device is alive and locked (caller); the queue was opened with
                // these parameters.
                unsafe { bindings::netif_mp_close_rxq(dev, q.index, &params) };
            }
        }
        // SAFETY: The caller gives up the creator's reference.
        unsafe { self.put() };
    }

    fn forget_queue(&self, rxq: *mut bindings::netdev_rx_queue) {
        let mut bound = self.bound.lock();
        if let Some(i) = bound.queues.iter().position(|q| q.rxq == rxq) {
            bound.queues.remove(i).ok();
            if bound.queues.is_empty() {
                // The device is going away: nothing may DMA through this binding any more.
                self.dev.store(core::ptr::null_mut(), Relaxed);
            }
        }
    }
}

#[pinned_drop]
impl PinnedDrop for Binding {
    fn drop(self: Pin<&mut Self>) {
        let chunks = self.chunks.lock();
        if chunks.available() != chunks.len() {
            pr_err!(
                "devmem-rs: binding freed with {} of {} net_iovs in use\n",
                chunks.len() - chunks.available(),
                chunks.len()
            );
        }
        // `mapping` unmaps and detaches, then drops the dma-buf; `chunks` frees the areas.
    }
}

/// The memory provider of a [`Binding`].
pub struct DevmemProvider;

#[vtable]
impl MemoryProvider for DevmemProvider {
    type Priv = Binding;

    fn init(b: &Binding, pool: &mut PoolInit<'_>) -> Result {
        if pool.pool().order() + PAGE_SHIFT as u32 != b.shift {
            return Err(E2BIG);
        }
        // dma-buf addresses are not synced by the CPU.
        pool.disable_dma_sync();
        b.get();
        Ok(())
    }

    fn destroy(b: &Binding, _pool: &PagePool) {
        // SAFETY: `init` took this reference for the pool.
        unsafe { b.put() };
    }

    fn alloc_netmems(
        b: &Binding,
        pool: &PagePool,
        cache: &mut AllocCache<'_>,
    ) -> Option<NetmemRef> {
        let mut chunks = b.chunks.lock();
        let first = chunks.alloc()?;
        pool.attach(first);
        let first = NetmemRef::from(first);
        // Refill the pool's cache in the same critical section: the next allocations are
        // served from it without calling back.
        let want = cache.space().min(ALLOC_CACHE_REFILL - 1);
        chunks.alloc_batch(want, |niov| {
            // There is room: `want` is at most the cache's space.
            let _ = cache.push(niov);
        });
        Some(first)
    }

    fn release_netmem(b: &Binding, pool: &PagePool, netmem: NetmemRef) -> bool {
        // SAFETY: The pool gives back a buffer it got from this provider; it is alive.
        let Some(niov) = (unsafe { netmem.net_iov() }) else {
            pr_warn!("devmem-rs: a page came back to the dma-buf provider\n");
            return false;
        };
        if niov.pp_ref_count() != 1 {
            pr_warn!("devmem-rs: net_iov released with references held\n");
            return false;
        }
        pool.detach(niov);
        if b.chunks.lock().free(niov).is_err() {
            pr_warn!("devmem-rs: net_iov released twice or to the wrong binding\n");
        }
        // Never let the pool put_page() a net_iov.
        false
    }

    fn nl_fill(b: &Binding, msg: &mut NlMsg<'_>, rxq: Option<&RxQueue>) -> Result {
        let attr = if rxq.is_some() {
            bindings::NETDEV_A_QUEUE_DMABUF
        } else {
            bindings::NETDEV_A_PAGE_POOL_DMABUF
        };
        msg.put_u32(attr, b.id())
    }

    fn uninstall(b: &Binding, rxq: &RxQueue) {
        b.forget_queue(rxq.as_raw());
    }
}

/// The provider's ops table, in read-only data as `page_pool_init` requires.
pub static DEVMEM_OPS: MemoryProviderOps<DevmemProvider> = MemoryProviderOps::new();

/// The registered bindings, by id.
struct Registry {
    next: u32,
    bindings: KVec<Arc<Binding>>,
}

kernel::sync::global_lock! {
    // SAFETY: Initialized by the crate's init, before netlink or KUnit can reach it.
    unsafe(uninit) static REGISTRY: Mutex<Registry> = Registry { next: 1, bindings: KVec::new() };
}

/// Initializes the registry.
///
/// # Safety
///
/// Called once, before any other function of this module.
pub unsafe fn init() {
    // SAFETY: As promised by the caller.
    unsafe { REGISTRY.init() };
}

/// Gives `binding` a globally unique id and makes it visible to [`lookup`].
pub fn register(binding: &Arc<Binding>) -> Result<u32> {
    let mut reg = REGISTRY.lock();
    reg.bindings.reserve(1, GFP_KERNEL)?;
    // Ids are handed out cyclically, skipping 0 and ids in use, like upstream's
    // xa_alloc_cyclic.
    let mut id = reg.next;
    loop {
        if id != 0 && !reg.bindings.iter().any(|b| b.id() == id) {
            break;
        }
        id = id.wrapping_add(1);
    }
    reg.next = id.wrapping_add(1);
    binding.id.store(id, Relaxed);
    // Room was reserved above.
    let _ = reg.bindings.push_within_capacity(binding.clone());
    Ok(id)
}

fn unregister(binding: &Binding) {
    let removed = {
        let mut reg = REGISTRY.lock();
        match reg
            .bindings
            .iter()
            .position(|b| core::ptr::eq(&**b, binding))
        {
            Some(i) => reg.bindings.remove(i).ok(),
            None => None,
        }
    };
    // Dropped outside the lock: when the users are already gone this frees the binding.
    drop(removed);
}

/// The registered binding with id `id`, with a user reference taken for the caller.
pub fn lookup(id: u32) -> Option<*const Binding> {
    let reg = REGISTRY.lock();
    let b = reg.bindings.iter().find(|b| b.id() == id)?;
    // A registered binding still has its creator's reference, so `users` is not zero.
    b.get();
    Some(Arc::as_ptr(b))
}

/// The registered bindings owned by `owner`, each with a temporary `Arc`.
pub fn owned_by(owner: usize) -> Result<KVec<Arc<Binding>>> {
    let reg = REGISTRY.lock();
    let mut v = KVec::new();
    for b in reg.bindings.iter().filter(|b| b.owner() == owner) {
        v.push(b.clone(), GFP_KERNEL)?;
    }
    Ok(v)
}

/// The first registered binding owned by `owner`, with a temporary `Arc`.
pub fn owned_by_first(owner: usize) -> Option<Arc<Binding>> {
    REGISTRY
        .lock()
        .bindings
        .iter()
        .find(|b| b.owner() == owner)
        .cloned()
}

/// The registered binding with id `id`, with a temporary `Arc`.
pub fn find(id: u32) -> Option<Arc<Binding>> {
    REGISTRY
        .lock()
        .bindings
        .iter()
        .find(|b| b.id() == id)
        .cloned()
}

/// The number of registered bindings.
pub fn registered() -> usize {
    REGISTRY.lock().bindings.len()
}

#[kunit_tests(devmem_rs_binding)]
mod tests {
    use super::*;
    use kernel::dma_buf::kunit::{export, released, test_device};

    const SHIFT_4K: u32 = 12;

    fn target() -> BindTarget {
        BindTarget {
            dev: core::ptr::null_mut(),
            vdev: 0,
            owner: 0x5eed,
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

    fn bind(dev: &Device, pages: usize) -> Result<Arc<Binding>> {
        let (buf, _mock) = export(pages)?;
        Binding::new(
            buf,
            dev,
            DataDirection::FromDevice,
            SHIFT_4K,
            target(),
            None,
        )
    }

    #[test]
    fn register_lookup_unbind_releases_the_dma_buf() -> Result {
        let before = released();
        let b = bind(test_device()?, 8)?;
        assert_eq!(b.niovs(), (8, 8));
        let id = register(&b)?;
        assert_ne!(id, 0);
        assert_eq!(b.id(), id);

        let found = lookup(id).ok_or(ENOENT)?;
        assert!(core::ptr::eq(found, &*b));
        // SAFETY: `lookup` took this reference.
        unsafe { b.put() };

        // SAFETY: The creator's reference is ours; no device.
        unsafe { b.unbind() };
        assert!(find(id).is_none());
        assert!(lookup(id).is_none());
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
        let b = Binding::new(
            buf,
            test_device()?,
            DataDirection::FromDevice,
            SHIFT_4K,
            target(),
            None,
        )?;
        register(&b)?;
        // What C does for a token or an skb frag (net_devmem_get_net_iov).
        b.get();
        // SAFETY: The creator's reference is ours; no device.
        unsafe { b.unbind() };
        drop(b.clone());
        // Not released while a net_iov is held.
        assert_eq!(wait_released(before + 1), before);
        assert_eq!(mock.unmaps(), 0);

        // SAFETY: The reference taken above.
        unsafe { b.put() };
        drop(b);
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
            let r = Binding::new(
                buf.clone(),
                dev,
                DataDirection::FromDevice,
                14,
                target(),
                ack,
            );
            assert_eq!(r.err(), Some(EINVAL));
            assert_eq!(maps.maps(), maps.unmaps());
        }
        // SAFETY: `raw` is valid and no longer borrowed.
        let ack = unsafe { ExtAck::from_raw(&mut raw) }.ok_or(EINVAL)?;
        assert!(ack.msg().is_some());
        assert_eq!(wait_released(before + 1), before + 1);

        // A tx binding must be a whole number of pages: it is, so it binds.
        let (buf, _) = export(2)?;
        let tx = Binding::new(buf, dev, DataDirection::ToDevice, SHIFT_4K, target(), None)?;
        assert!(tx.niov_at(0x1800).is_some());
        assert!(tx.niov_at(0x2000).is_none());
        // SAFETY: The creator's reference is ours; never registered.
        unsafe { tx.put() };
        Ok(())
    }

    #[test]
    fn a_page_pool_on_a_bound_queue_takes_its_net_iovs_from_the_binding() -> Result {
        use kernel::net::device::NetDevice;
        use kernel::net::page_pool::{OwnedPagePool, Params, PoolNetmem};
        use kernel::page::PAGE_SIZE;

        const NIOVS: usize = 128;
        let before = released();
        let dev = test_device()?;
        let b = bind(dev, NIOVS)?;

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
        // SAFETY: As above.
        unsafe { (*rxq).mp_params = b.mp_params() };

        // SAFETY: `nd` and its queue 0 outlive the pool; its lock is held around creation.
        let params = unsafe {
            Params::new(dev, 0, 256, DataDirection::FromDevice, PAGE_SIZE as u32)
                .unreadable(NetDevice::from_raw(nd), 0)
        };
        // SAFETY: `nd` is valid.
        unsafe { bindings::netdev_lock(nd) };
        let pool = OwnedPagePool::new(&params);
        // SAFETY: Locked above.
        unsafe { bindings::netdev_unlock(nd) };

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
            let all_out = b.niovs();
            let n = got.len();
            // Dropping them gives each back to `pool`; destroying the pool returns its
            // net_iovs to the binding.
            drop(got);
            drop(pool);
            (n, all_out, b.niovs())
        });

        // SAFETY: The pool is gone; nothing else uses `nd`.
        unsafe {
            (*rxq).mp_params = pin_init::zeroed();
            bindings::free_netdev(nd);
        }
        let (n, all_out, after) = result?;
        assert_eq!(n, NIOVS);
        assert_eq!(all_out, (NIOVS, 0));
        assert_eq!(after, (NIOVS, NIOVS));

        // SAFETY: The creator's reference is ours; never registered.
        unsafe { b.put() };
        drop(b);
        assert_eq!(wait_released(before + 1), before + 1);
        Ok(())
    }

    #[test]
    fn thousand_bind_unbind_cycles_leave_nothing() -> Result {
        let before = released();
        let registered_before = registered();
        let dev = test_device()?;
        for _ in 0..1000 {
            let b = bind(dev, 4)?;
            register(&b)?;
            // SAFETY: The creator's reference is ours; no device.
            unsafe { b.unbind() };
        }
        assert_eq!(registered(), registered_before);
        assert_eq!(wait_released(before + 1000), before + 1000);
        Ok(())
    }
}
