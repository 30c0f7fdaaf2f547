// SPDX-License-Identifier: GPL-2.0

//! The `net_iov`s of a dma-buf binding and their allocator.
//!
//! Each DMA range of the mapped dma-buf becomes a [`NetIovArea`] with a `net_iov` per
//! rx-page-size chunk. They are numbered in dma-buf order (offset >> `shift`) and never
//! change; a [`FreeList`] bitmap of numbers allocates and frees them.

use crate::binding::Binding;
use kernel::{
    dma::DmaAddress,
    net::{
        ext_ack::ExtAck,
        netmem::{
            NetIov,
            NetIovArea,
            NetIovOwner,
            NetIovType, //
        }, //
    },
    prelude::*,
    sync::atomic::{
        Acquire,
        Atomic,
        Relaxed,
        Release, //
    }, //
};

/// What the area of a [`Chunks`] records: the binding it belongs to.
pub struct Area(*const Binding);

// SAFETY: devmem-rs is the only maker of dma-buf `net_iov`s: the C implementation is not built
// with it, and nothing else makes that kind.
unsafe impl NetIovOwner for Area {
    const KIND: NetIovType = NetIovType::DmaBuf;
}

// SAFETY: The binding's address is only compared and handed back.
unsafe impl Send for Area {}
// SAFETY: As for `Send`.
unsafe impl Sync for Area {}

/// The `net_iov`s of a mapped dma-buf, one per chunk of `1 << shift` bytes, in one area in
/// dma-buf order: a `net_iov`'s number is its index in the area, and byte `offset` of the
/// dma-buf is in `net_iov` number `offset >> shift`, whatever range it came from.
pub struct Chunks {
    shift: u32,
    area: Pin<KBox<NetIovArea<Area>>>,
}

impl Chunks {
    /// Cuts the DMA ranges (address, length) that `ranges` yields into `net_iov`s of
    /// `1 << shift` bytes, charged to the caller's memory cgroup, recording `owner` in their
    /// area. Each range must start and end on a chunk boundary: a page pool hands out whole
    /// chunks, and the NIC writes them at their DMA address.
    pub fn new<I: Iterator<Item = (DmaAddress, usize)>>(
        ranges: impl Fn() -> I,
        shift: u32,
        owner: *const Binding,
        mut ack: Option<&mut ExtAck>,
    ) -> Result<Self> {
        let chunk = 1usize << shift;
        let mut count = 0usize;
        for (addr, len) in ranges() {
            // CAST: only the low bits of the DMA address are tested.
            if (addr as usize | len) & (chunk - 1) != 0 {
                kernel::ext_ack_fmt!(
                    ack,
                    "dmabuf range (addr={addr:#x}, len={len}) not aligned to rx-page-size {chunk}"
                );
                return Err(EINVAL);
            }
            count = count.checked_add(len >> shift).ok_or(E2BIG)?;
        }
        if count == 0 {
            kernel::ext_ack_fmt!(ack, "dma-buf smaller than one rx page ({chunk} bytes)");
            return Err(EINVAL);
        }
        // Every chunk of every range, in order: the DMA address of each `net_iov`.
        let addrs = ranges().flat_map(|(addr, len)| {
            // CAST: `i << shift` is within the range's length.
            (0..len >> shift).map(move |i| addr + (i << shift) as DmaAddress)
        });
        let area = NetIovArea::with_dma_addrs(count, 0, Area(owner), addrs, GFP_KERNEL_ACCOUNT)?;
        Ok(Self { shift, area })
    }

    /// The number of `net_iov`s.
    pub fn count(&self) -> usize {
        self.area.len()
    }

    /// The `net_iov` numbered `n`, if there is one.
    pub fn get(&self, n: usize) -> Option<&NetIov> {
        self.area.get(n)
    }

    /// The number of `niov`, if it is one of ours.
    pub fn number(&self, niov: &NetIov) -> Option<usize> {
        let area = NetIovArea::<Area>::from_net_iov(niov)?;
        core::ptr::eq(area, &*self.area).then(|| niov.index())
    }

    /// The `net_iov` holding byte `offset` of the dma-buf, if the buffer is that large.
    pub fn niov_at(&self, offset: usize) -> Option<&NetIov> {
        self.get(offset >> self.shift)
    }

    /// The binding of the chunks `niov` belongs to, if devmem-rs made it.
    pub fn owner_of(niov: &NetIov) -> Option<*const Binding> {
        NetIovArea::<Area>::from_net_iov(niov).map(|a| a.data().0)
    }
}

/// Which of the `net_iov`s of a [`Chunks`] are in use: a bit each, set when in use. Lock
/// free: a refill takes a batch of free bits from a word with one compare-and-exchange, and
/// a buffer coming back clears its bit with another, so the pool's refill and the buffers
/// coming back from softirq or process context never wait on each other or turn interrupts
/// off. The search for free bits goes on from where the last one stopped, a word at a time.
pub struct FreeList {
    /// The bits, `usize::BITS` a word; those past `count` in the last word are set, so that
    /// they are never free.
    words: KVVec<Atomic<usize>>,
    count: usize,
    /// Where the next search starts: the number after the last one handed out. A hint:
    /// concurrent searches may start from the same place, and the bits decide.
    next: Atomic<usize>,
}

const WORD_BITS: usize = usize::BITS as usize;

/// The lowest `n` set bits of `bits` (all of them if it has no more than `n`).
#[inline]
fn lowest_bits(bits: usize, n: usize) -> usize {
    // CAST: a word has at most `usize::BITS` bits set.
    if bits.count_ones() as usize <= n {
        return bits;
    }
    let (mut rest, mut taken) = (bits, 0);
    for _ in 0..n {
        let bit = rest & rest.wrapping_neg();
        taken |= bit;
        rest ^= bit;
    }
    taken
}

impl FreeList {
    /// A free list of `count` numbers, all free.
    pub fn new(count: usize) -> Result<Self> {
        let nwords = count.div_ceil(WORD_BITS);
        let mut words = KVVec::with_capacity(nwords, GFP_KERNEL_ACCOUNT)?;
        for w in 0..nwords {
            let past_end = (w + 1) * WORD_BITS > count;
            let bits = if past_end {
                !0 << (count % WORD_BITS)
            } else {
                0
            };
            words.push(Atomic::new(bits), GFP_KERNEL_ACCOUNT)?;
        }
        Ok(Self {
            words,
            count,
            next: Atomic::new(0),
        })
    }

    /// The number of `net_iov`s in use (a count of the bits: for checks, not fast paths).
    pub fn in_use(&self) -> usize {
        // CAST: at most `usize::BITS` bits of a word are set.
        let set: usize = self
            .words
            .iter()
            .map(|w| w.load(Relaxed).count_ones() as usize)
            .sum();
        // The bits past `count` are set for good.
        set - (self.words.len() * WORD_BITS - self.count)
    }

    /// Takes up to `max` free numbers, handing each to `take`, and returns how many: fewer
    /// than `max` only when no other was free when its word was read. The search starts
    /// after the last number handed out and wraps around once.
    #[inline]
    pub fn alloc_batch(&self, max: usize, mut take: impl FnMut(usize)) -> usize {
        let nwords = self.words.len();
        let mut done = 0;
        let start = self.next.load(Relaxed);
        let mut w = start / WORD_BITS;
        // The first word from `next` on; it is visited again at the end, whole.
        let mut mask = !0usize << (start % WORD_BITS);
        let mut last = None;
        for _ in 0..=nwords {
            if done == max {
                break;
            }
            let Some(word) = self.words.get(w) else {
                break;
            };
            let mut cur = word.load(Relaxed);
            // The lowest free bits, as many as are still wanted; taken if the word did not
            // change meanwhile (a buffer coming back only clears bits: try again then).
            let taken = loop {
                let free = !cur & mask;
                let taken = lowest_bits(free, max - done);
                if taken == 0 {
                    break 0;
                }
                // Acquire: what released the bits (the `net_iov`s taken out of their pool)
                // happens before the caller gives them to another.
                match word.cmpxchg(cur, cur | taken, Acquire) {
                    Ok(_) => break taken,
                    Err(now) => cur = now,
                }
            };
            if taken != 0 {
                let mut bits = taken;
                while bits != 0 {
                    // CAST: a bit position is below `usize::BITS`.
                    take(w * WORD_BITS + bits.trailing_zeros() as usize);
                    bits &= bits - 1;
                }
                // CAST: as above; and a word has at most `usize::BITS` bits set.
                last = Some(w * WORD_BITS + (WORD_BITS - 1 - taken.leading_zeros() as usize));
                done += taken.count_ones() as usize;
            }
            mask = !0;
            w = if w + 1 == nwords { 0 } else { w + 1 };
        }
        if let Some(n) = last {
            self.next
                .store(if n + 1 == self.count { 0 } else { n + 1 }, Relaxed);
        }
        done
    }

    /// Takes a free number, or `None` when all are in use.
    pub fn alloc(&self) -> Option<usize> {
        let mut got = None;
        self.alloc_batch(1, |n| got = Some(n));
        got
    }

    /// Gives back number `n`: `EINVAL` if there is no such number, `EALREADY` if it is free.
    #[inline]
    pub fn free(&self, n: usize) -> Result {
        if n >= self.count {
            return Err(EINVAL);
        }
        let bit = 1usize << (n % WORD_BITS);
        let word = self.words.get(n / WORD_BITS).ok_or(EINVAL)?;
        let mut cur = word.load(Relaxed);
        loop {
            if cur & bit == 0 {
                return Err(EALREADY);
            }
            // Release: the caller's last use of the `net_iov` happens before another takes it.
            match word.cmpxchg(cur, cur & !bit, Release) {
                Ok(_) => return Ok(()),
                Err(now) => cur = now,
            }
        }
    }
}

impl Drop for FreeList {
    fn drop(&mut self) {
        // Nothing in use: every word clear but the bits past the end. Counted only if not.
        let pad = match self.count % WORD_BITS {
            0 => 0,
            r => !0usize << r,
        };
        let last = self.words.len().saturating_sub(1);
        let clear = self.words.iter().enumerate().all(|(i, w)| {
            let v = w.load(Relaxed);
            v == if i == last { pad } else { 0 }
        });
        if !clear {
            let (held, count) = (self.in_use(), self.count);
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
        Chunks::new(|| ranges.iter().copied(), shift, OWNER, None)
    }

    #[test]
    fn one_niov_per_chunk_with_its_dma_address() -> Result {
        let chunks = chunks(&[(0x10_0000, 0x4000), (0x80_0000, 0x2000)], SHIFT_4K)?;
        let free = FreeList::new(chunks.count())?;
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

    /// The data of areas of io_uring `net_iov`s.
    struct Other;
    // SAFETY: The `net_iov`s of these areas are only looked up as this test's.
    unsafe impl NetIovOwner for Other {
        const KIND: NetIovType = NetIovType::IoUring;
    }

    #[test]
    fn another_kind_of_net_iov_is_not_ours() -> Result {
        let area = NetIovArea::new(2, 0, Other, GFP_KERNEL)?;
        let niov = area.get(1).ok_or(EINVAL)?;
        assert!(NetIovArea::<Other>::from_net_iov(niov).is_some());
        assert_eq!(Chunks::owner_of(niov), None);
        assert_eq!(chunks(&[(0x10_0000, 0x2000)], SHIFT_4K)?.number(niov), None);
        Ok(())
    }

    #[test]
    fn the_last_of_16384_ranges_is_found_as_the_first() -> Result {
        // One-page ranges on every other page of the DMA space: still one area, so any
        // `net_iov` is found by its index, whichever range it came from.
        const RANGES: usize = 16384;
        let ranges = || (0..RANGES).map(|i| ((i as DmaAddress) << 13, 0x1000));
        let chunks = Chunks::new(ranges, SHIFT_4K, OWNER, None)?;
        assert_eq!(chunks.count(), RANGES);
        for i in [0, 1, RANGES / 2, RANGES - 1] {
            let niov = chunks.niov_at((i << 12) + 0x800).ok_or(EINVAL)?;
            assert_eq!(niov.dma_addr(), (i as DmaAddress) << 13);
            assert_eq!(chunks.number(niov), Some(i));
        }
        assert!(chunks.niov_at(RANGES << 12).is_none());
        Ok(())
    }

    #[test]
    fn exhaustion_and_refill() -> Result {
        let free = FreeList::new(8)?;
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
        // The search goes on after the last number handed out, then from the start.
        assert_eq!(free.alloc(), Some(0));
        assert_eq!(free.alloc(), Some(1));
        free.free(0)?;
        assert_eq!(free.alloc(), Some(2));
        Ok(())
    }

    #[test]
    fn batches_cross_words_and_wrap_around() -> Result {
        // 150 numbers: two full words and 22 bits of a third (on 64-bit).
        const N: usize = 150;
        let free = FreeList::new(N)?;
        let mut got = KVec::new();
        assert_eq!(
            free.alloc_batch(100, |n| got.push(n, GFP_KERNEL).unwrap()),
            100
        );
        assert!(got.iter().copied().eq(0..100));
        // Give back a few; the next batch goes on after 99, takes the rest, then wraps
        // around to the ones given back, in order.
        for n in [3, 64, 65, 97] {
            free.free(n)?;
        }
        got.clear();
        assert_eq!(
            free.alloc_batch(64, |n| got.push(n, GFP_KERNEL).unwrap()),
            54
        );
        assert!(got
            .iter()
            .copied()
            .eq(Iterator::chain(100..N, [3, 64, 65, 97])));
        assert_eq!(free.in_use(), N);
        // Nothing left: no number past the end is ever handed out.
        assert_eq!(free.alloc_batch(64, |_| ()), 0);
        assert_eq!(free.alloc(), None);
        (0..N).try_for_each(|n| free.free(n))?;
        assert_eq!(free.in_use(), 0);
        Ok(())
    }

    #[test]
    fn double_free_and_foreign_niov_are_refused() -> Result {
        let free = FreeList::new(2)?;
        let n = free.alloc().ok_or(ENOMEM)?;
        free.free(n)?;
        assert_eq!(free.free(n), Err(EALREADY));
        assert_eq!(free.free(2), Err(EINVAL));
        assert_eq!(free.in_use(), 0);

        // A net_iov of another binding has no number here.
        let chunks = chunks(&[(0, 0x2000)], SHIFT_4K)?;
        let other_owner = 0x6b6b as *const Binding;
        let other = Chunks::new(|| [(0, 0x1000)].into_iter(), SHIFT_4K, other_owner, None)?;
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
