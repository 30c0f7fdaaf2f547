// SPDX-License-Identifier: GPL-2.0

//! Socket buffers (C `struct sk_buff`) as a NIC driver holds them: a received packet
//! built from page-pool buffers, and the offloads the stack asks for on transmit.
//!
//! C header: [`include/linux/skbuff.h`](srctree/include/linux/skbuff.h)

use crate::{
    bindings,
    error::to_result,
    ffi::c_int,
    net::{
        device::NetDevice,
        page_pool::PoolNetmem, //
    },
    prelude::*, //
};
use core::ptr::NonNull;

/// The most frags an skb holds (C `MAX_SKB_FRAGS`).
pub const MAX_FRAGS: u32 = bindings::MAX_SKB_FRAGS;

/// The headroom the stack expects in front of a received packet's data (C `NET_SKB_PAD`):
/// a cache line, at least 32 bytes. C's generic definition (a `max()`, which no constant
/// initializer can take); the one architecture that overrides it, s390, has no Rust.
pub const NET_SKB_PAD: u32 = if bindings::L1_CACHE_BYTES > 32 {
    bindings::L1_CACHE_BYTES
} else {
    32
};

/// What a driver adds to a received packet's headroom so that the IP header after a
/// 14-byte Ethernet header is aligned (C `NET_IP_ALIGN`; 0 where unaligned access is cheap).
pub const NET_IP_ALIGN: u32 = bindings::NET_IP_ALIGN;

/// `len` rounded up to the alignment of an skb's data and shared info, a cache line
/// (C `SKB_DATA_ALIGN`).
pub const fn data_align(len: u32) -> u32 {
    len.next_multiple_of(bindings::SMP_CACHE_BYTES)
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

    /// Frees a packet that was sent, from any context (C `dev_consume_skb_any`): unlike
    /// [`SkBuff::free_any`], not counted as a drop.
    pub fn consume_any(self) {
        // SAFETY: Our reference, given up; a budget of 0 is the any-context path.
        unsafe { bindings::napi_consume_skb(self.into_raw(), 0) }
    }
}

impl Drop for SkBuff {
    fn drop(&mut self) {
        // SAFETY: Our reference (type invariant).
        unsafe { bindings::dev_kfree_skb_any(self.0.as_ptr()) }
    }
}

/// A received packet in the making: the linear part holds the headers, the frags the
/// payload (pages or `net_iov`s of a page pool).
impl SkBuff {
    /// Appends a page-pool buffer as the next frag (C `skb_add_rx_frag_netmem`): a
    /// `net_iov` makes the skb unreadable. The skb takes the buffer's reference; mark the
    /// skb for recycling ([`SkBuff::mark_for_recycle`]) so that freeing it gives the
    /// buffer back to its pool. `truesize` is the buffer's size: a frag that would end past
    /// it, and a full skb ([`MAX_FRAGS`]), are refused and the buffer handed back.
    pub fn push_rx_frag(
        &mut self,
        buf: PoolNetmem,
        off: u32,
        len: u32,
        truesize: u32,
    ) -> core::result::Result<(), PoolNetmem> {
        let i = self.nr_frags();
        let fits = off.checked_add(len).is_some_and(|end| end <= truesize);
        if i >= MAX_FRAGS || !fits {
            return Err(buf);
        }
        let netmem = buf.into_netmem();
        // SAFETY: Valid skb; `i` is its frag count, below `MAX_SKB_FRAGS`, so frag `i` is
        // inside the array and follows the ones in use; the buffer reference is handed over.
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
        Ok(())
    }

    /// Marks the skb's page-pool buffers for recycling on free (C `skb_mark_for_recycle`).
    pub fn mark_for_recycle(&mut self) {
        // SAFETY: Valid skb.
        unsafe { bindings::skb_mark_for_recycle(self.as_raw()) }
    }

    /// Sets the protocol from the Ethernet header and pulls it (C `eth_type_trans`).
    /// `EINVAL`, and the skb unchanged, if its linear part is shorter than an Ethernet
    /// header (the headers a device wrote are not to be trusted).
    pub fn eth_type_trans(&mut self, dev: &NetDevice) -> Result {
        if self.headlen() < bindings::ETH_HLEN {
            return Err(EINVAL);
        }
        // SAFETY: Valid skb with an Ethernet header in the linear part (checked above).
        unsafe { bindings::skb_set_protocol_eth(self.as_raw(), dev.as_raw()) };
        Ok(())
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

    /// Sets the RSS hash the NIC computed over the packet's `fields` (C `skb_set_hash`).
    ///
    /// A driver calls it only for packets the NIC hashed: a hash set here is used as it is
    /// (an L4 one as the flow's), whereas a packet without one is hashed by the stack when
    /// it needs a hash.
    pub fn set_hash(&mut self, hash: u32, fields: HashOver) {
        let ty = match fields {
            HashOver::Addrs => bindings::pkt_hash_types_PKT_HASH_TYPE_L3,
            HashOver::AddrsPorts => bindings::pkt_hash_types_PKT_HASH_TYPE_L4,
        };
        // SAFETY: Valid skb.
        unsafe { bindings::skb_set_hash(self.as_raw(), hash, ty) }
    }
}

/// What a NIC computed a packet's RSS hash over (C `enum pkt_hash_types`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashOver {
    /// The IP addresses alone (`PKT_HASH_TYPE_L3`).
    Addrs,
    /// The IP addresses and the TCP or UDP ports (`PKT_HASH_TYPE_L4`): one value per flow.
    AddrsPorts,
}

/// A segmentation offload the stack asks for (`skb_shinfo(skb)->gso_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gso {
    /// The payload bytes per segment (the MSS).
    pub size: u16,
    /// How many segments the packet makes.
    pub segs: u16,
    /// TCP over IPv4 (`SKB_GSO_TCPV4`), else over IPv6 (`SKB_GSO_TCPV6`), or neither.
    pub kind: GsoKind,
}

/// The protocols of a [`Gso`] packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GsoKind {
    /// TCP over IPv4.
    Tcp4,
    /// TCP over IPv6.
    Tcp6,
    /// Anything else (the C `gso_type` bits), which a NIC offering only TSO never gets.
    Other(u32),
}

/// What the stack asks of the device on transmit.
impl SkBuff {
    /// The skb's shared info (C `skb_shinfo`).
    pub(crate) fn shinfo(&self) -> *mut bindings::skb_shared_info {
        // SAFETY: Valid skb (type invariant); the shared info lives at its end pointer.
        unsafe { bindings::skb_end_pointer(self.as_raw()).cast() }
    }

    /// The number of frags.
    pub fn nr_frags(&self) -> u32 {
        // SAFETY: The shared info of a valid skb.
        u32::from(unsafe { (*self.shinfo()).nr_frags })
    }

    /// For a packet whose L4 checksum the stack left to the device (`CHECKSUM_PARTIAL`):
    /// where the checksummed bytes start, from the start of the data, and the offset of
    /// the checksum field from there (`csum_start`, `csum_offset`).
    pub fn csum_partial(&self) -> Option<(u32, u32)> {
        let raw = self.as_raw();
        // SAFETY: Valid skb; `csum_start` and `csum_offset` are meaningful when
        // `ip_summed` is `CHECKSUM_PARTIAL`.
        unsafe {
            if u32::from(bindings::skb_ip_summed(raw)) != bindings::CHECKSUM_PARTIAL {
                return None;
            }
            let off = bindings::skb_csum_offset(raw);
            let start = bindings::skb_checksum_start_offset(raw);
            Some((u32::try_from(start).ok()?, u32::from(off)))
        }
    }

    /// The offset of the network header from the start of the data.
    pub fn network_offset(&self) -> u32 {
        // SAFETY: Valid skb.
        unsafe { bindings::skb_network_offset(self.as_raw()) as u32 }
    }

    /// The offset of the transport header from the start of the data.
    pub fn transport_offset(&self) -> u32 {
        // SAFETY: Valid skb.
        unsafe { bindings::skb_transport_offset(self.as_raw()) as u32 }
    }

    /// The segmentation offload the stack asks for, if any.
    pub fn gso(&self) -> Option<Gso> {
        // SAFETY: The shared info of a valid skb.
        let (size, segs, ty) = unsafe {
            let s = self.shinfo();
            ((*s).gso_size, (*s).gso_segs, (*s).gso_type)
        };
        if size == 0 {
            return None;
        }
        let kind = if ty & bindings::SKB_GSO_TCPV4 as u32 != 0 {
            GsoKind::Tcp4
        } else if ty & bindings::SKB_GSO_TCPV6 as u32 != 0 {
            GsoKind::Tcp6
        } else {
            GsoKind::Other(ty)
        };
        Some(Gso { size, segs, kind })
    }

    /// Computes the checksum the stack left to the device in software (C
    /// `skb_checksum_help`), for a packet the device cannot checksum.
    pub fn checksum_help(&mut self) -> Result {
        // SAFETY: Valid skb, owned.
        to_result(unsafe { bindings::skb_checksum_help(self.as_raw()) })
    }

    /// The first `len` bytes of the linear part, writable: a header the skb shares with a
    /// clone is copied first (C `skb_cow_head`). `EINVAL` when the linear part is shorter.
    pub fn header_mut(&mut self, len: u32) -> Result<&mut [u8]> {
        // SAFETY: Valid skb, owned.
        to_result(unsafe { bindings::skb_cow_head(self.as_raw(), 0) })?;
        if self.headlen() < len {
            return Err(EINVAL);
        }
        // SAFETY: `data` points to `headlen >= len` bytes of the skb's own (no longer
        // shared) header, which `&mut self` lets nobody else reach for the borrow.
        Ok(unsafe { core::slice::from_raw_parts_mut((*self.as_raw()).data, len as usize) })
    }
}

#[macros::kunit_tests(rust_skbuff)]
mod tests {
    use super::*;
    use crate::{
        dma::DataDirection,
        net::page_pool::{
            kunit_dma_device,
            OwnedPagePool,
            Params, //
        },
        page::PAGE_SIZE,
    };

    /// A page pool of one-page buffers for a KUnit device, and an empty skb marked for
    /// recycling.
    fn pool_and_skb() -> Result<(OwnedPagePool, SkBuff)> {
        let dev = kunit_dma_device(c"rust-skbuff")?;
        let params = Params::new(dev, 0, 64, DataDirection::FromDevice, PAGE_SIZE as u32);
        let pool = OwnedPagePool::new(&params)?;
        // SAFETY: Allocates an skb with 64 bytes of linear room, or returns null.
        let raw =
            unsafe { bindings::__alloc_skb(64, GFP_KERNEL.as_raw(), 0, bindings::NUMA_NO_NODE) };
        if raw.is_null() {
            return Err(ENOMEM);
        }
        // SAFETY: A new skb, ours.
        let mut skb = unsafe { SkBuff::from_raw(raw) };
        skb.mark_for_recycle();
        Ok((pool, skb))
    }

    #[test]
    fn a_frag_past_its_buffer_is_refused() -> Result {
        let (mut pool, mut skb) = pool_and_skb()?;
        let page = PAGE_SIZE as u32;
        for (off, len) in [(0, page + 1), (page, 1), (u32::MAX, 2)] {
            let buf = pool.alloc_netmem(GFP_KERNEL).ok_or(ENOMEM)?;
            assert!(skb.push_rx_frag(buf, off, len, page).is_err());
        }
        assert_eq!(skb.nr_frags(), 0);
        let buf = pool.alloc_netmem(GFP_KERNEL).ok_or(ENOMEM)?;
        assert!(skb.push_rx_frag(buf, 100, page - 100, page).is_ok());
        assert_eq!(skb.len(), page - 100);
        drop(skb);
        drop(pool);
        Ok(())
    }

    #[test]
    fn push_rx_frag_stops_at_max_frags() -> Result {
        let (mut pool, mut skb) = pool_and_skb()?;
        for i in 0..MAX_FRAGS {
            let buf = pool.alloc_netmem(GFP_KERNEL).ok_or(ENOMEM)?;
            assert!(skb.push_rx_frag(buf, 0, 100, PAGE_SIZE as u32).is_ok());
            assert_eq!(skb.nr_frags(), i + 1);
        }
        let buf = pool.alloc_netmem(GFP_KERNEL).ok_or(ENOMEM)?;
        // Full: the buffer comes back, the skb is unchanged.
        assert!(skb.push_rx_frag(buf, 0, 100, PAGE_SIZE as u32).is_err());
        assert_eq!(skb.nr_frags(), MAX_FRAGS);
        assert_eq!(skb.len(), 100 * MAX_FRAGS);
        drop(skb);
        drop(pool);
        Ok(())
    }
}
