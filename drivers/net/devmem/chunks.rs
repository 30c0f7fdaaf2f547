// SPDX-License-Identifier: GPL-2.0

//! The `net_iov`s of a dma-buf binding and their allocator.
//!
//! Each DMA range of the mapped dma-buf becomes a [`NetIovArea`] with a `net_iov` per
//! rx-page-size chunk. They are numbered in dma-buf order (offset >> `shift`) and never
//! change; a [`FreeList`] of numbers allocates and frees them in O(1).

use crate::binding::Binding;
use kernel::{
    dma::DmaAddress,
    net::{
        ext_ack::ExtAck,
        netmem::{
            NetIov,
            NetIovArea,
            NetIovType, //
        }, //
    },
    prelude::*, //
};

/// What each area of [`Chunks`] records: the number of its first `net_iov`, and the binding.
pub struct Area {
    first: usize,
    owner: *const Binding,
}

/// The `net_iov`s of a mapped dma-buf.
///
/// # Invariants
///
/// Area `i` holds the `net_iov`s numbered from its `first` up to the next area's.
pub struct Chunks {
    shift: u32,
    owner: *const Binding,
    areas: KVec<Pin<KBox<NetIovArea<Area>>>>,
}

impl Chunks {
    /// Cuts the DMA ranges `ranges` (address, length) into `net_iov`s of `1 << shift` bytes,
    /// recording `owner` in every area. Each range must start and end on a chunk boundary:
    /// a page pool hands out whole chunks, and the NIC writes them at their DMA address.
    pub fn new(
        ranges: impl Iterator<Item = (DmaAddress, usize)>,
        shift: u32,
        owner: *const Binding,
        mut ack: Option<&mut ExtAck>,
    ) -> Result<Self> {
        let chunk = 1usize << shift;
        let mut areas = KVec::new();
        let mut count = 0;
        for (addr, len) in ranges {
            // CAST: only the low bits of the DMA address are tested.
            if (addr as usize | len) & (chunk - 1) != 0 {
                kernel::ext_ack_fmt!(
                    ack,
                    "dmabuf range (addr={addr:#x}, len={len}) not aligned to rx-page-size {chunk}"
                );
                return Err(EINVAL);
            }
            let area = Area {
                first: count,
                owner,
            };
            let area = NetIovArea::new(
                len >> shift,
                NetIovType::DmaBuf,
                count << shift,
                area,
                GFP_KERNEL,
            )?;
            for (i, niov) in area.iter().enumerate() {
                // CAST: `i << shift` is within the range's length.
                niov.set_dma_addr(addr + (i << shift) as DmaAddress)?;
            }
            areas.push(area, GFP_KERNEL)?;
            count = count.checked_add(len >> shift).ok_or(E2BIG)?;
        }
        if count == 0 {
            kernel::ext_ack_fmt!(ack, "dma-buf smaller than one rx page ({chunk} bytes)");
            return Err(EINVAL);
        }
        // INVARIANT: the areas were numbered in order.
        Ok(Self {
            shift,
            owner,
            areas,
        })
    }

    /// The number of `net_iov`s.
    pub fn count(&self) -> usize {
        self.areas.last().map_or(0, |a| a.data().first + a.len())
    }

    /// The `net_iov` numbered `n`, if there is one.
    pub fn get(&self, n: usize) -> Option<&NetIov> {
        // The areas are in number order, and the first one starts at 0.
        let a = self.areas.partition_point(|a| a.data().first <= n);
        let area = self.areas.get(a.checked_sub(1)?)?;
        area.get(n - area.data().first)
    }

    /// The number of `niov`, if it is one of ours.
    pub fn number(&self, niov: &NetIov) -> Option<usize> {
        let area = area_of(niov).filter(|a| a.owner == self.owner)?;
        Some(area.first + niov.index())
    }

    /// The `net_iov` holding byte `offset` of the dma-buf, if the buffer is that large.
    pub fn niov_at(&self, offset: usize) -> Option<&NetIov> {
        self.get(offset >> self.shift)
    }

    /// The binding of the chunks `niov` belongs to, if devmem-rs made it.
    pub fn owner_of(niov: &NetIov) -> Option<*const Binding> {
        area_of(niov).map(|a| a.owner)
    }
}

fn area_of(niov: &NetIov) -> Option<&Area> {
    if niov.kind() != Some(NetIovType::DmaBuf) {
        return None;
    }
    // SAFETY: Only devmem-rs makes `net_iov`s of type `DmaBuf` (the C implementation is not
    // built with it), always in a `NetIovArea<Area>`, which outlives them.
    Some(unsafe { NetIovArea::<Area>::from_net_iov(niov) }.data())
}

// SAFETY: `owner` is only compared and handed back; the areas are `Send` and `Sync`.
unsafe impl Send for Chunks {}
// SAFETY: As for `Send`; nothing in `Chunks` changes after `new`.
unsafe impl Sync for Chunks {}

/// Which of the `net_iov`s of a [`Chunks`] are free.
///
/// # Invariants
///
/// `free` holds the number of each free `net_iov` once, and `allocated[n]` is true exactly
/// for the numbers not in it.
pub struct FreeList {
    free: KVVec<u32>,
    allocated: KVVec<bool>,
}

impl FreeList {
    /// A free list of `count` numbers, all free; the lowest are handed out first.
    pub fn new(count: usize) -> Result<Self> {
        let top = u32::try_from(count).map_err(|_| E2BIG)?;
        let mut free = KVVec::with_capacity(count, GFP_KERNEL)?;
        let mut allocated = KVVec::with_capacity(count, GFP_KERNEL)?;
        for n in (0..top).rev() {
            // Room was reserved above.
            let _ = free.push_within_capacity(n);
            let _ = allocated.push_within_capacity(false);
        }
        // INVARIANT: every number is free once and none is marked allocated.
        Ok(Self { free, allocated })
    }

    /// The number of `net_iov`s in use.
    pub fn in_use(&self) -> usize {
        self.allocated.len() - self.free.len()
    }

    /// Takes a free number, or `None` when all are in use.
    pub fn alloc(&mut self) -> Option<usize> {
        // CAST: a `u32` fits in a `usize`.
        let n = self.free.pop()? as usize;
        // INVARIANT: `n` left `free` and is marked allocated.
        self.allocated[n] = true;
        Some(n)
    }

    /// Gives back number `n`: `EINVAL` if there is no such number, `EALREADY` if it is free.
    pub fn free(&mut self, n: usize) -> Result {
        if !*self.allocated.get(n).ok_or(EINVAL)? {
            return Err(EALREADY);
        }
        // CAST: `n` is a number of ours, so it fits in a `u32`. There is room for each.
        self.free
            .push_within_capacity(n as u32)
            .map_err(|_| EINVAL)?;
        // INVARIANT: `n` is back in `free` once and no longer marked allocated.
        self.allocated[n] = false;
        Ok(())
    }
}

impl Drop for FreeList {
    fn drop(&mut self) {
        let (held, count) = (self.in_use(), self.allocated.len());
        if held != 0 {
            pr_err!("devmem-rs: binding freed with {held} of {count} net_iovs in use\n");
        }
    }
}

#[kunit_tests(devmem_rs_chunks)]
mod tests {
    use super::*;

    const SHIFT_4K: u32 = 12;
    const OWNER: *const Binding = 0x5a5a as *const Binding;

    fn chunks(ranges: &[(u64, usize)], shift: u32) -> Result<Chunks> {
        Chunks::new(ranges.iter().copied(), shift, OWNER, None)
    }

    #[test]
    fn one_niov_per_chunk_with_its_dma_address() -> Result {
        let chunks = chunks(&[(0x10_0000, 0x4000), (0x80_0000, 0x2000)], SHIFT_4K)?;
        let mut free = FreeList::new(chunks.count())?;
        assert_eq!(chunks.count(), 6);
        assert_eq!(free.in_use(), 0);

        let mut seen = KVec::new();
        while let Some(n) = free.alloc() {
            let niov = chunks.get(n).ok_or(EINVAL)?;
            assert_eq!(chunks.number(niov), Some(n));
            seen.push((niov.dma_addr(), niov.virtual_addr(SHIFT_4K)), GFP_KERNEL)?;
        }
        (0..6).try_for_each(|n| free.free(n))?;
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
            assert_eq!(Chunks::owner_of(niov), Some(OWNER));
        }
        assert!(chunks.niov_at(0x6000).is_none());
        Ok(())
    }

    #[test]
    fn exhaustion_and_refill() -> Result {
        let mut free = FreeList::new(8)?;
        let mut held = KVec::new();
        while let Some(n) = free.alloc() {
            held.push(n, GFP_KERNEL)?;
        }
        assert_eq!(held.len(), 8);
        assert_eq!(free.in_use(), 8);
        for &n in held.iter() {
            free.free(n)?;
        }
        assert_eq!(free.in_use(), 0);
        // A stack: the last number given back is the first handed out again.
        assert_eq!(free.alloc(), Some(7));
        free.free(7)
    }

    #[test]
    fn double_free_and_foreign_niov_are_refused() -> Result {
        let mut free = FreeList::new(2)?;
        let n = free.alloc().ok_or(ENOMEM)?;
        free.free(n)?;
        assert_eq!(free.free(n), Err(EALREADY));
        assert_eq!(free.free(2), Err(EINVAL));
        assert_eq!(free.in_use(), 0);

        // A net_iov of another binding has no number here.
        let chunks = chunks(&[(0, 0x2000)], SHIFT_4K)?;
        let other_owner = 0x6b6b as *const Binding;
        let other = Chunks::new([(0, 0x1000)].into_iter(), SHIFT_4K, other_owner, None)?;
        let foreign = other.get(0).ok_or(EINVAL)?;
        assert_eq!(chunks.number(foreign), None);
        assert_eq!(Chunks::owner_of(foreign), Some(other_owner));
        Ok(())
    }

    #[test]
    fn misaligned_ranges_are_refused() {
        // A misaligned address, a misaligned length, 16 KiB rx pages over 4 KiB alignment.
        assert_eq!(chunks(&[(0x800, 0x1000)], SHIFT_4K).err(), Some(EINVAL));
        assert_eq!(chunks(&[(0, 0x1800)], SHIFT_4K).err(), Some(EINVAL));
        assert_eq!(chunks(&[(0x1000, 0x4000)], 14).err(), Some(EINVAL));
    }

    #[test]
    fn a_buffer_smaller_than_one_chunk_is_refused() {
        // No range, and one shorter than a 16 KiB chunk.
        assert_eq!(chunks(&[], SHIFT_4K).err(), Some(EINVAL));
        assert_eq!(chunks(&[(0, 0x1000)], 14).err(), Some(EINVAL));
    }
}
