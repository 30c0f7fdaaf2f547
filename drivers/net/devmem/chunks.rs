// SPDX-License-Identifier: GPL-2.0

//! The `net_iov`s of a dma-buf binding and their allocator.
//!
//! A mapped dma-buf is a list of contiguous DMA ranges. Each range becomes one
//! [`NetIovArea`] with a `net_iov` for every rx-page-size chunk of it (`1 << shift` bytes),
//! whose DMA address is set once. The allocator hands free `net_iov`s to the page pools of
//! the bound queues, one at a time or in batches for a refill, and takes them back.

use kernel::{
    alloc::AllocError,
    dma::DmaAddress,
    net::netmem::{
        NetIov,
        NetIovArea,
        NetIovType, //
    },
    prelude::*, //
};

/// What the binding records for each contiguous DMA range.
pub struct Range {
    /// The index of the range, which is also the index of its area in [`Chunks`].
    pub index: u32,
    /// The DMA address of the range's first byte.
    pub dma_addr: DmaAddress,
    /// The address of the object that owns the chunks (the binding), for going from a
    /// `net_iov` back to it.
    pub owner: usize,
}

/// Why a mapped dma-buf cannot be cut into `net_iov`s.
#[derive(Debug, PartialEq, Eq)]
pub enum ChunksError {
    /// A DMA range whose address or length is not a multiple of the chunk size.
    Misaligned {
        /// The DMA address of the range.
        addr: DmaAddress,
        /// Its length in bytes.
        len: usize,
        /// The chunk size in bytes.
        chunk: usize,
    },
    /// The buffer holds no whole chunk.
    Empty,
    /// More chunks than the allocator can count.
    TooLarge,
    /// Memory for the descriptors could not be allocated.
    NoMemory,
}

impl ChunksError {
    /// The errno userspace gets for this error.
    pub fn to_errno(&self) -> Error {
        match self {
            Self::Misaligned { .. } | Self::Empty => EINVAL,
            Self::TooLarge => E2BIG,
            Self::NoMemory => ENOMEM,
        }
    }
}

impl From<AllocError> for ChunksError {
    fn from(_: AllocError) -> Self {
        Self::NoMemory
    }
}

/// A `net_iov` of [`Chunks`], named by its area and its index in the area.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Slot {
    area: u32,
    index: u32,
}

/// The `net_iov`s of a mapped dma-buf, and which of them are free.
///
/// # Invariants
///
/// `free` holds each free slot exactly once; `allocated[i]` is true exactly for the slots
/// (numbered area by area) that are not in `free`.
pub struct Chunks {
    shift: u32,
    areas: KVec<Pin<KBox<NetIovArea<Range>>>>,
    // The slot number of the first `net_iov` of each area.
    first: KVec<u32>,
    free: KVVec<Slot>,
    allocated: KVVec<bool>,
}

impl Chunks {
    /// Cuts the DMA ranges `ranges` (address, length) of a mapped dma-buf into `net_iov`s
    /// of `1 << shift` bytes.
    ///
    /// Every range must start and end on a chunk boundary, as a page pool hands out whole
    /// chunks and the NIC writes them at their DMA address. `owner` is recorded in every
    /// area (see [`Chunks::owner_of`]).
    pub fn new(
        ranges: impl Iterator<Item = (DmaAddress, usize)>,
        shift: u32,
        owner: usize,
    ) -> Result<Self, ChunksError> {
        let chunk = 1usize << shift;
        let mut areas = KVec::new();
        let mut first = KVec::new();
        let mut total: usize = 0;
        let mut offset: usize = 0;

        for (addr, len) in ranges {
            // CAST: a DMA address is at most 64 bits; only its low bits are tested.
            if (addr as usize) & (chunk - 1) != 0 || len & (chunk - 1) != 0 {
                return Err(ChunksError::Misaligned { addr, len, chunk });
            }
            let count = len >> shift;
            let index = u32::try_from(areas.len()).map_err(|_| ChunksError::TooLarge)?;
            let start = u32::try_from(total).map_err(|_| ChunksError::TooLarge)?;
            let area = NetIovArea::new(
                count,
                NetIovType::DmaBuf,
                offset,
                Range {
                    index,
                    dma_addr: addr,
                    owner,
                },
                GFP_KERNEL,
            )
            .map_err(|_| ChunksError::NoMemory)?;
            for (i, niov) in area.iter().enumerate() {
                // CAST: `i << shift` is within the range's length, which fits.
                niov.set_dma_addr(addr + (i << shift) as DmaAddress)
                    .map_err(|_| ChunksError::TooLarge)?;
            }
            areas.push(area, GFP_KERNEL)?;
            first.push(start, GFP_KERNEL)?;
            total = total.checked_add(count).ok_or(ChunksError::TooLarge)?;
            offset = offset.checked_add(len).ok_or(ChunksError::TooLarge)?;
        }
        if total == 0 {
            return Err(ChunksError::Empty);
        }
        u32::try_from(total).map_err(|_| ChunksError::TooLarge)?;

        let mut free = KVVec::with_capacity(total, GFP_KERNEL)?;
        let mut allocated = KVVec::with_capacity(total, GFP_KERNEL)?;
        // Hand out the lowest addresses first: the free list is a stack.
        for (a, area) in areas.iter().enumerate().rev() {
            for i in (0..area.len()).rev() {
                // CAST: both counts were checked to fit in a `u32` above.
                free.push(
                    Slot {
                        area: a as u32,
                        index: i as u32,
                    },
                    GFP_KERNEL,
                )?;
            }
        }
        for _ in 0..total {
            allocated.push(false, GFP_KERNEL)?;
        }
        // INVARIANT: every slot is free and none is marked allocated.
        Ok(Self {
            shift,
            areas,
            first,
            free,
            allocated,
        })
    }

    /// The size of a chunk: `1 << shift` bytes.
    pub fn chunk_size(&self) -> usize {
        1 << self.shift
    }

    /// The number of `net_iov`s.
    pub fn len(&self) -> usize {
        self.allocated.len()
    }

    /// Whether there are no `net_iov`s (never true for a value made by [`Chunks::new`]).
    pub fn is_empty(&self) -> bool {
        self.allocated.is_empty()
    }

    /// The number of free `net_iov`s.
    pub fn available(&self) -> usize {
        self.free.len()
    }

    fn niov(&self, slot: Slot) -> &NetIov {
        // CAST: slots only hold indices of existing areas and `net_iov`s (`u32` fits).
        let area = &self.areas[slot.area as usize];
        // Slots are made from the areas' lengths, so the index exists.
        &area.as_slice()[slot.index as usize]
    }

    fn number(&self, slot: Slot) -> usize {
        // CAST: as above.
        self.first[slot.area as usize] as usize + slot.index as usize
    }

    /// Takes a free `net_iov`, or `None` when all are in use.
    pub fn alloc(&mut self) -> Option<&NetIov> {
        let slot = self.free.pop()?;
        let n = self.number(slot);
        // INVARIANT: the slot left `free` and is marked allocated.
        self.allocated[n] = true;
        Some(self.niov(slot))
    }

    /// Takes up to `max` free `net_iov`s, giving each to `f`; returns how many were taken.
    pub fn alloc_batch(&mut self, max: usize, mut f: impl FnMut(&NetIov)) -> usize {
        let mut taken = 0;
        while taken < max {
            let Some(slot) = self.free.pop() else {
                break;
            };
            let n = self.number(slot);
            // INVARIANT: the slot left `free` and is marked allocated.
            self.allocated[n] = true;
            f(self.niov(slot));
            taken += 1;
        }
        taken
    }

    /// The slot of `niov` if it is one of ours.
    fn slot_of(&self, niov: &NetIov) -> Option<Slot> {
        // A `net_iov` of another binding would point at another area: compare addresses
        // rather than trusting its owner to be a `NetIovArea<Range>`.
        self.areas.iter().enumerate().find_map(|(a, area)| {
            let base = area.as_slice().as_ptr_range();
            let p = core::ptr::from_ref(niov);
            base.contains(&p).then(|| Slot {
                // CAST: the number of areas fits in a `u32` (checked in `new`).
                area: a as u32,
                // CAST: `p` lies in the area's array, so the index fits.
                index: niov.index() as u32,
            })
        })
    }

    /// Gives back a `net_iov` taken from this allocator.
    ///
    /// Fails with `EINVAL` for a `net_iov` that is not ours and `EALREADY` for one that is
    /// already free; the allocator is left unchanged then.
    pub fn free(&mut self, niov: &NetIov) -> Result {
        let slot = self.slot_of(niov).ok_or(EINVAL)?;
        let n = self.number(slot);
        if !self.allocated[n] {
            return Err(EALREADY);
        }
        // `free` was allocated for every slot and this one is not in it, so there is room.
        self.free.push_within_capacity(slot).map_err(|_| EINVAL)?;
        // INVARIANT: the slot is back in `free` once and no longer marked allocated.
        self.allocated[n] = false;
        Ok(())
    }

    /// The offset of `niov`'s chunk in the dma-buf.
    pub fn offset_of(&self, niov: &NetIov) -> usize {
        niov.virtual_addr(self.shift)
    }

    /// The `net_iov` holding byte `offset` of the dma-buf, if the buffer is that large.
    pub fn niov_at(&self, offset: usize) -> Option<&NetIov> {
        let mut start = 0;
        for area in self.areas.iter() {
            let len = area.len() << self.shift;
            if offset < start + len {
                return area.get((offset - start) >> self.shift);
            }
            start += len;
        }
        None
    }

    /// The owner recorded for the chunks `niov` belongs to.
    ///
    /// # Safety
    ///
    /// `niov` was made by a [`Chunks`] that is still alive.
    pub unsafe fn owner_of(niov: &NetIov) -> usize {
        // SAFETY: `Chunks` only makes areas of type `NetIovArea<Range>`, and this one is alive
        // (as promised by the caller).
        unsafe { NetIovArea::<Range>::from_net_iov(niov) }
            .data()
            .owner
    }
}

#[kunit_tests(devmem_rs_chunks)]
mod tests {
    use super::*;

    const SHIFT_4K: u32 = 12;
    const OWNER: usize = 0x5a5a;

    #[test]
    fn one_niov_per_chunk_with_its_dma_address() -> Result {
        let ranges = [(0x10_0000u64, 0x4000usize), (0x80_0000, 0x2000)];
        let mut chunks =
            Chunks::new(ranges.iter().copied(), SHIFT_4K, OWNER).map_err(|e| e.to_errno())?;
        assert_eq!(chunks.len(), 6);
        assert_eq!(chunks.available(), 6);

        let mut seen = KVec::new();
        while let Some(niov) = chunks.alloc() {
            seen.push((niov.dma_addr(), niov.virtual_addr(SHIFT_4K)), GFP_KERNEL)?;
        }
        let want = [
            (0x10_0000, 0x0000),
            (0x10_1000, 0x1000),
            (0x10_2000, 0x2000),
            (0x10_3000, 0x3000),
            (0x80_0000, 0x4000),
            (0x80_1000, 0x5000),
        ];
        assert_eq!(seen.len(), want.len());
        for (got, want) in seen.iter().zip(want.iter()) {
            assert_eq!(got, want);
        }

        // Offsets map back to the same net_iovs, which know their owner.
        for &(_, off) in want.iter() {
            let niov = chunks.niov_at(off + 0x10).ok_or(EINVAL)?;
            assert_eq!(niov.virtual_addr(SHIFT_4K), off);
            // SAFETY: `niov` was made by `chunks`, which is alive.
            assert_eq!(unsafe { Chunks::owner_of(niov) }, OWNER);
        }
        assert!(chunks.niov_at(0x6000).is_none());
        Ok(())
    }

    #[test]
    fn exhaustion_and_refill() -> Result {
        let mut chunks = Chunks::new([(0u64, 0x8000usize)].into_iter(), SHIFT_4K, OWNER)
            .map_err(|e| e.to_errno())?;
        let mut held = KVec::new();
        let n = chunks.alloc_batch(64, |niov| {
            held.push(niov.as_raw(), GFP_NOWAIT).unwrap_or(())
        });
        assert_eq!(n, 8);
        assert_eq!(held.len(), 8);
        assert_eq!(chunks.available(), 0);
        assert!(chunks.alloc().is_none());
        assert_eq!(chunks.alloc_batch(4, |_| {}), 0);

        for &p in held.iter() {
            // SAFETY: `p` is a `net_iov` of `chunks`, which is alive.
            let niov = unsafe { NetIov::from_raw(p) };
            chunks.free(niov)?;
        }
        assert_eq!(chunks.available(), 8);
        assert!(chunks.alloc().is_some());
        Ok(())
    }

    #[test]
    fn double_free_and_foreign_niov_are_refused() -> Result {
        let mut chunks = Chunks::new([(0u64, 0x2000usize)].into_iter(), SHIFT_4K, OWNER)
            .map_err(|e| e.to_errno())?;
        let mut other = Chunks::new([(0u64, 0x1000usize)].into_iter(), SHIFT_4K, OWNER)
            .map_err(|e| e.to_errno())?;

        let p = chunks.alloc().ok_or(ENOMEM)?.as_raw();
        // SAFETY: `p` is a `net_iov` of `chunks`, which is alive.
        let niov = unsafe { NetIov::from_raw(p) };
        chunks.free(niov)?;
        assert_eq!(chunks.free(niov), Err(EALREADY));
        assert_eq!(chunks.available(), 2);

        let q = other.alloc().ok_or(ENOMEM)?.as_raw();
        // SAFETY: `q` is a `net_iov` of `other`, which is alive.
        let foreign = unsafe { NetIov::from_raw(q) };
        assert_eq!(chunks.free(foreign), Err(EINVAL));
        assert_eq!(chunks.available(), 2);
        Ok(())
    }

    #[test]
    fn misaligned_ranges_are_refused() {
        let bad_addr = Chunks::new([(0x800u64, 0x1000usize)].into_iter(), SHIFT_4K, OWNER);
        assert_eq!(
            bad_addr.err(),
            Some(ChunksError::Misaligned {
                addr: 0x800,
                len: 0x1000,
                chunk: 0x1000
            })
        );
        let bad_len = Chunks::new([(0u64, 0x1800usize)].into_iter(), SHIFT_4K, OWNER);
        assert!(matches!(
            bad_len.err(),
            Some(ChunksError::Misaligned { .. })
        ));

        // A 16 KiB rx page size over 4 KiB-aligned memory.
        let big = Chunks::new([(0x1000u64, 0x4000usize)].into_iter(), 14, OWNER);
        assert_eq!(big.err().map(|e| e.to_errno()), Some(EINVAL));
    }

    #[test]
    fn a_buffer_smaller_than_one_chunk_is_refused() {
        let none = Chunks::new(core::iter::empty(), SHIFT_4K, OWNER);
        assert_eq!(none.err(), Some(ChunksError::Empty));
        // Shorter than one 16 KiB chunk: misaligned length.
        let short = Chunks::new([(0u64, 0x1000usize)].into_iter(), 14, OWNER);
        assert_eq!(short.err().map(|e| e.to_errno()), Some(EINVAL));
    }
}
