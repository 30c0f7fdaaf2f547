// SPDX-License-Identifier: GPL-2.0

//! Network memory: pages and `net_iov`s behind one reference.
//!
//! A [`NetmemRef`] names a buffer of network memory: either a `struct page` or a [`NetIov`],
//! a descriptor of memory that has no `struct page` behind it (device memory reached through
//! a dma-buf, for example). Memory providers own their [`NetIov`]s in a [`NetIovArea`].
//!
//! C header: [`include/net/netmem.h`](srctree/include/net/netmem.h)

use crate::{
    alloc::Flags,
    dma::DmaAddress,
    error::code::EOVERFLOW,
    prelude::*,
    types::Opaque, //
};
use core::{marker::PhantomPinned, mem::size_of};

/// The kind of memory provider a [`NetIov`] belongs to (C `enum net_iov_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum NetIovType {
    /// Device memory reached through a dma-buf (devmem TCP).
    DmaBuf = bindings::net_iov_type_NET_IOV_DMABUF,
    /// Memory registered by io_uring zero-copy receive.
    IoUring = bindings::net_iov_type_NET_IOV_IOURING,
}

/// A reference to network memory: a page or a [`NetIov`] (C `netmem_ref`).
///
/// It is a plain value, like the C type: holding one does not keep the memory alive, so
/// turning it back into a reference is `unsafe`.
///
/// # Examples
///
/// ```
/// use kernel::net::netmem::NetmemRef;
///
/// // The low bit tells a net_iov from a page.
/// assert!(NetmemRef::from_raw(0x1000 | 1).is_net_iov());
/// assert!(!NetmemRef::from_raw(0x1000).is_net_iov());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(transparent)]
pub struct NetmemRef(bindings::netmem_ref);

// CAST: `NET_IOV` is the constant 1; it fits any integer type.
const NET_IOV_BIT: bindings::netmem_ref = bindings::NET_IOV as bindings::netmem_ref;

impl NetmemRef {
    /// Wraps a C `netmem_ref`.
    #[inline]
    pub const fn from_raw(raw: bindings::netmem_ref) -> Self {
        Self(raw)
    }

    /// Returns the C `netmem_ref`.
    #[inline]
    pub const fn as_raw(self) -> bindings::netmem_ref {
        self.0
    }

    /// Whether this refers to a [`NetIov`] rather than a page.
    #[inline]
    pub const fn is_net_iov(self) -> bool {
        self.0 & NET_IOV_BIT != 0
    }

    /// Returns the [`NetIov`] this refers to, or `None` for a page.
    ///
    /// # Safety
    ///
    /// If this refers to a `net_iov`, that `net_iov` must be initialized (its owner set) and
    /// stay alive for `'a`.
    #[inline]
    pub unsafe fn net_iov<'a>(self) -> Option<&'a NetIov> {
        if !self.is_net_iov() {
            return None;
        }
        let ptr = (self.0 & !NET_IOV_BIT) as *mut bindings::net_iov;
        // SAFETY: The tag bit said this is a `net_iov`; the caller guarantees it is
        // initialized and alive for `'a`.
        Some(unsafe { NetIov::from_raw(ptr) })
    }
}

impl From<&NetIov> for NetmemRef {
    #[inline]
    fn from(niov: &NetIov) -> Self {
        // CAST: the C encoding of a `net_iov` in a `netmem_ref` is its address with the tag
        // bit set; `net_iov`s are at least pointer aligned, so the bit is free.
        Self(niov.as_raw() as bindings::netmem_ref | NET_IOV_BIT)
    }
}

/// A descriptor of network memory that has no `struct page` behind it (C `struct net_iov`).
///
/// # Invariants
///
/// Outside this module, the `net_iov` is initialized: its `owner` points to the area whose
/// array holds it, and that area outlives every reference to the `net_iov`. (Inside
/// [`NetIovArea::new`], the array exists for a moment before the owners are set; only
/// [`NetIov::as_raw`] is used on it then.)
#[repr(transparent)]
pub struct NetIov(Opaque<bindings::net_iov>);

// SAFETY: A `net_iov` is a descriptor shared by the page pool, the stack and the provider;
// the fields they change concurrently are atomics or are protected by the page pool's rules,
// and the methods of `NetIov` only read fields that are fixed once the area is set up.
unsafe impl Sync for NetIov {}
// SAFETY: See above: nothing about a `net_iov` is tied to the thread that made it.
unsafe impl Send for NetIov {}

impl NetIov {
    /// Creates a reference from a pointer to a C `net_iov`.
    ///
    /// # Safety
    ///
    /// `ptr` must point to an initialized `net_iov` (owner set) that stays alive for `'a`.
    #[inline]
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::net_iov) -> &'a Self {
        // SAFETY: `NetIov` is a transparent wrapper of `net_iov`; the caller guarantees the
        // pointer is valid for `'a`.
        unsafe { &*ptr.cast() }
    }

    /// Returns the pointer to the C `net_iov`.
    #[inline]
    pub fn as_raw(&self) -> *mut bindings::net_iov {
        self.0.get()
    }

    /// The pointer to the C area this `net_iov` belongs to.
    #[inline]
    fn owner_raw(&self) -> *mut bindings::net_iov_area {
        // SAFETY: By the type invariant `owner` was set before any reference existed and is
        // never changed afterwards.
        unsafe { (*self.as_raw()).owner }
    }

    /// The index of this `net_iov` in its area (C `net_iov_idx`).
    #[inline]
    pub fn index(&self) -> usize {
        let owner = self.owner_raw();
        // SAFETY: By the type invariant `owner` is a live area whose `niovs` array holds this
        // `net_iov`, so both pointers are in one allocation and the difference is exact.
        let idx = unsafe { self.as_raw().offset_from((*owner).niovs) };
        // CAST: an element of the array is at a non-negative offset from its start.
        idx as usize
    }

    /// The offset of this `net_iov`'s memory in the provider's address space, for a
    /// `net_iov` of `1 << shift` bytes: the area's base plus `index << shift`.
    #[inline]
    pub fn virtual_addr(&self, shift: u32) -> usize {
        let owner = self.owner_raw();
        // SAFETY: By the type invariant `owner` is a live area; `base_virtual` is fixed.
        let base = unsafe { (*owner).base_virtual };
        base + (self.index() << shift)
    }

    /// The page-pool reference count of this `net_iov` (C `pp_ref_count`): 1 while a pool
    /// owns it with no other user, more while skbs or userspace tokens hold it.
    #[inline]
    pub fn pp_ref_count(&self) -> isize {
        // SAFETY: The `net_iov` is valid (type invariant); the count is read atomically.
        unsafe { bindings::netmem_pp_ref_count(NetmemRef::from(self).as_raw()) }
    }

    /// The kind of provider that owns this `net_iov`, if the kernel knows it.
    pub fn kind(&self) -> Option<NetIovType> {
        // SAFETY: `type_` is set with `owner` and fixed afterwards (type invariant).
        match unsafe { (*self.as_raw()).type_ } {
            bindings::net_iov_type_NET_IOV_DMABUF => Some(NetIovType::DmaBuf),
            bindings::net_iov_type_NET_IOV_IOURING => Some(NetIovType::IoUring),
            _ => None,
        }
    }

    /// The DMA address of this `net_iov`'s memory, as stored by [`NetIov::set_dma_addr`].
    #[inline]
    pub fn dma_addr(&self) -> DmaAddress {
        // SAFETY: `self` is an initialized `net_iov` (type invariant), which is what the
        // helper needs to read the address stored in its descriptor.
        unsafe { bindings::page_pool_get_dma_addr_netmem(NetmemRef::from(self).as_raw()) }
    }

    /// Stores the DMA address of this `net_iov`'s memory (C `net_mp_niov_set_dma_addr`).
    ///
    /// Fails with `EOVERFLOW` when the address cannot be stored in the descriptor (on
    /// 32-bit systems the page pool keeps it shifted by `PAGE_SHIFT`).
    #[inline]
    pub fn set_dma_addr(&self, addr: DmaAddress) -> Result {
        // SAFETY: `self` is an initialized `net_iov`; the function only writes its
        // descriptor's `dma_addr`.
        if unsafe { bindings::net_mp_niov_set_dma_addr(self.as_raw(), addr) } {
            return Err(EOVERFLOW);
        }
        Ok(())
    }
}

/// The data a memory provider keeps in its [`NetIovArea`]s: the type owns a kind of
/// `net_iov`, so that a `net_iov` of that kind leads back to its area.
///
/// # Safety
///
/// Every `net_iov` of kind `KIND` that is handed to [`NetIovArea::from_net_iov`] for `Self`
/// belongs to a `NetIovArea<Self>`: neither C nor another implementor makes `net_iov`s of
/// that kind where they could be.
pub unsafe trait NetIovOwner: Sized {
    /// The kind of the `net_iov`s of the areas.
    const KIND: NetIovType;
}

/// An area of [`NetIov`]s owned by a memory provider, with the provider's data `T`
/// (C `struct net_iov_area` and the array it points to).
///
/// The `net_iov`s of an area point back at it, so it is pinned. The provider's data rides
/// along, so that code holding a [`NetIov`] of a known provider can get to it with
/// [`NetIovArea::from_net_iov`], as C does with `container_of` on the area.
///
/// # Invariants
///
/// `area.niovs` points to the `num_niovs` elements of `niovs`, `area.base_virtual` is fixed,
/// and each of them has its `owner` set to `area`.
///
/// # Examples
///
/// ```
/// use kernel::net::netmem::{NetIovArea, NetIovOwner, NetIovType, NetmemRef};
///
/// struct Data(u32);
/// // SAFETY: The `net_iov`s of this example go nowhere but to `NetIovArea::<Data>`.
/// unsafe impl NetIovOwner for Data {
///     const KIND: NetIovType = NetIovType::DmaBuf;
/// }
///
/// let area = NetIovArea::new(4, 0x10000, Data(7), GFP_KERNEL)?;
/// assert_eq!(area.len(), 4);
/// assert_eq!(area.data().0, 7);
///
/// let niov = area.get(2).ok_or(EINVAL)?;
/// assert_eq!(niov.index(), 2);
/// assert_eq!(niov.kind(), Some(NetIovType::DmaBuf));
/// assert_eq!(niov.virtual_addr(12), 0x10000 + 2 * 4096);
///
/// // A netmem_ref made from the net_iov is tagged and turns back into the same net_iov.
/// let netmem = NetmemRef::from(niov);
/// assert!(netmem.is_net_iov());
/// // SAFETY: `area` is alive for the rest of the test.
/// let back = unsafe { netmem.net_iov() }.ok_or(EINVAL)?;
/// assert_eq!(back.as_raw(), niov.as_raw());
///
/// // The area and its data are found again from any of its net_iovs.
/// let found = NetIovArea::<Data>::from_net_iov(back).ok_or(EINVAL)?;
/// assert_eq!(found.data().0, 7);
///
/// niov.set_dma_addr(0x8000_0000)?;
/// assert_eq!(niov.dma_addr(), 0x8000_0000);
///
/// // An area made with DMA addresses gives each net_iov its own, in order; fewer addresses
/// // than net_iovs is refused.
/// let addrs = [0x1000, 0x5000, 0x9000];
/// let area = NetIovArea::with_dma_addrs(3, 0, Data(1), addrs, GFP_KERNEL)?;
/// for (niov, addr) in area.iter().zip(addrs) {
///     assert_eq!(niov.dma_addr(), addr);
///     assert_eq!(niov.kind(), Some(NetIovType::DmaBuf));
/// }
/// let short = NetIovArea::with_dma_addrs(4, 0, Data(2), addrs, GFP_KERNEL);
/// assert_eq!(short.err(), Some(EINVAL));
/// # Ok::<(), Error>(())
/// ```
#[repr(C)]
#[pin_data]
pub struct NetIovArea<T> {
    // First field, so that a pointer to the C area is a pointer to `Self`.
    area: Opaque<bindings::net_iov_area>,
    niovs: KVVec<NetIov>,
    data: T,
    #[pin]
    _pin: PhantomPinned,
}

impl<T: NetIovOwner> NetIovArea<T> {
    /// Allocates an area of `count` `net_iov`s of kind `T::KIND`, whose memory starts at
    /// `base_virtual` in the provider's address space, with no DMA address.
    pub fn new(
        count: usize,
        base_virtual: usize,
        data: T,
        flags: Flags,
    ) -> Result<Pin<KBox<Self>>> {
        Self::with_dma_addrs(count, base_virtual, data, core::iter::repeat(0), flags)
    }

    /// Allocates an area of `count` `net_iov`s of kind `T::KIND`, whose memory starts at
    /// `base_virtual` in the provider's address space, the `net_iov` at index `i` with the
    /// `i`-th DMA address that `dma_addrs` yields.
    ///
    /// Each `net_iov` is written once, whole: its owner and kind (C `net_iov_init`), its DMA
    /// address (C `net_mp_niov_set_dma_addr`) and no page pool. Fails with `EINVAL` if
    /// `dma_addrs` yields fewer than `count` addresses, and with `EOVERFLOW` if an address
    /// cannot be stored in the descriptor (on 32-bit systems the page pool keeps it shifted
    /// by `PAGE_SHIFT`).
    pub fn with_dma_addrs(
        count: usize,
        base_virtual: usize,
        data: T,
        dma_addrs: impl IntoIterator<Item = DmaAddress>,
        flags: Flags,
    ) -> Result<Pin<KBox<Self>>> {
        let niovs = KVVec::with_capacity(count, flags)?;
        let mut this = KBox::pin_init(
            pin_init!(Self {
                area: Opaque::zeroed(),
                niovs,
                data,
                _pin: PhantomPinned,
            }),
            flags,
        )?;
        // SAFETY: Nothing is moved out of `this`: only the C area and the spare capacity of
        // the array (on the heap, not in `this`) are written.
        let this_mut = unsafe { this.as_mut().get_unchecked_mut() };
        let area = this_mut.area.get();
        // A `net_iov` keeps its DMA address in an `unsigned long`, shifted right by
        // `PAGE_SHIFT` where that is narrower than a DMA address: C stores and checks it then.
        let shifted = size_of::<DmaAddress>() > size_of::<usize>();
        let slots = this_mut.niovs.spare_capacity_mut().as_mut_ptr();
        let mut written = 0;
        let mut overflow = false;
        // One pass, driven by the iterator (`for_each` runs nested iterators as nested
        // loops), at most `count` addresses.
        dma_addrs.into_iter().take(count).for_each(|addr| {
            let mut niov: bindings::net_iov = pin_init::zeroed();
            niov.type_ = T::KIND as bindings::net_iov_type;
            niov.owner = area;
            // CAST: the address fits an `unsigned long` unless `shifted`, handled below.
            niov.desc.dma_addr = addr as _;
            // SAFETY: `take(count)` yields at most `count` addresses, and the array has
            // room for `count`: slot `written` is in its spare capacity.
            let slot = unsafe { &mut *slots.add(written) };
            let niov = slot.write(NetIov(Opaque::new(niov)));
            // SAFETY: `niov` is initialized; the function only writes its `dma_addr`.
            overflow |=
                shifted && unsafe { bindings::net_mp_niov_set_dma_addr(niov.as_raw(), addr) };
            written += 1;
        });
        if overflow {
            return Err(EOVERFLOW);
        }
        if written < count {
            return Err(EINVAL);
        }
        // SAFETY: The first `count` elements of the spare capacity were written above.
        unsafe { this_mut.niovs.inc_len(count) };
        // SAFETY: `area` is valid for writes: it lives in `this`, and nothing else refers
        // to it yet.
        unsafe {
            (*area).niovs = this_mut.niovs.as_mut_ptr().cast();
            (*area).num_niovs = count;
            (*area).base_virtual = base_virtual;
        }
        // INVARIANT: the C area now points to the array, and each `net_iov` to the area.
        Ok(this)
    }

    /// Finds the area that owns `niov`, if `niov` is of `T`'s kind; `None` for any other.
    #[inline]
    pub fn from_net_iov(niov: &NetIov) -> Option<&Self> {
        if niov.kind() != Some(T::KIND) {
            return None;
        }
        // SAFETY: A `net_iov` of kind `T::KIND` belongs to a `NetIovArea<T>` (`NetIovOwner`),
        // whose `area` is the first field of a `repr(C)` struct, so the pointers are equal,
        // and the area outlives `niov` (type invariant of `NetIov`).
        Some(unsafe { &*niov.owner_raw().cast::<Self>() })
    }

    /// The number of `net_iov`s in the area.
    #[inline]
    pub fn len(&self) -> usize {
        self.niovs.len()
    }

    /// Whether the area has no `net_iov`s.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.niovs.is_empty()
    }

    /// The `net_iov` at `index`.
    #[inline]
    pub fn get(&self, index: usize) -> Option<&NetIov> {
        self.niovs.get(index)
    }

    /// The `net_iov`s of the area, in order.
    #[inline]
    pub fn iter(&self) -> impl Iterator<Item = &NetIov> {
        self.niovs.iter()
    }

    /// The `net_iov`s of the area as a slice.
    #[inline]
    pub fn as_slice(&self) -> &[NetIov] {
        &self.niovs
    }

    /// The provider's data.
    #[inline]
    pub fn data(&self) -> &T {
        &self.data
    }

    /// The pointer to the C area.
    #[inline]
    pub fn as_raw(&self) -> *mut bindings::net_iov_area {
        self.area.get()
    }
}

// SAFETY: The area is only read after `new` returns; its `net_iov`s are `Sync`.
unsafe impl<T: Sync> Sync for NetIovArea<T> {}
// SAFETY: Nothing in the area is tied to a thread; the data moves with it.
unsafe impl<T: Send> Send for NetIovArea<T> {}
