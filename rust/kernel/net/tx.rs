// SPDX-License-Identifier: GPL-2.0

//! Transmitting socket buffers: the streaming DMA mapping of a packet's data. What the
//! stack asks of the NIC for it (checksum and segmentation offload) is read from the
//! [`SkBuff`].
//!
//! A driver's `start_xmit` turns the [`SkBuff`] into a [`TxPacket`] with [`TxPacket::map`],
//! writes one descriptor per [`Segment`] and keeps the packet in its ring until the NIC is
//! done with it; [`TxPacket::complete`] then unmaps it and frees the skb. Dropping a
//! `TxPacket` does the same from any context (ring teardown).
//!
//! Frags that are `net_iov`s of a devmem TX binding (see
//! [`ExtraOps::netmem_tx`](super::device::ExtraOps::netmem_tx)) are not mapped here: the
//! binding mapped its dma-buf for the device when it was made, and their segments carry
//! that address.
//!
//! C headers: [`include/linux/skbuff.h`](srctree/include/linux/skbuff.h),
//! [`include/linux/dma-mapping.h`](srctree/include/linux/dma-mapping.h)

use crate::{
    bindings,
    device::Device,
    dma::DmaAddress,
    net::{
        napi::PollContext,
        skbuff::SkBuff, //
    },
    prelude::*,
    sync::aref::ARef, //
};

/// The most buffers an skb has: its linear part and `MAX_SKB_FRAGS` frags.
pub const MAX_SEGMENTS: usize = bindings::MAX_SKB_FRAGS as usize + 1;

/// How a [`Segment`] is unmapped.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Unmap {
    /// Mapped with `dma_map_single` (the linear part).
    Single,
    /// Mapped with `skb_frag_dma_map` (a page frag).
    Page,
    /// Not mapped here (a `net_iov` of a TX binding).
    None,
}

/// One buffer of a [`TxPacket`], as the device sees it.
#[derive(Clone, Copy)]
pub struct Segment {
    addr: DmaAddress,
    len: u32,
    unmap: Unmap,
}

impl Segment {
    const EMPTY: Self = Self {
        addr: 0,
        len: 0,
        unmap: Unmap::None,
    };

    /// The bus address of the buffer.
    pub fn addr(&self) -> DmaAddress {
        self.addr
    }

    /// Its length in bytes.
    pub fn len(&self) -> u32 {
        self.len
    }

    /// Whether it has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The DMA mappings of a packet's buffers, undone on drop.
///
/// # Invariants
///
/// `segs[..n]` are mapped for `dev` as their `unmap` says, for `DMA_TO_DEVICE`.
struct Mappings {
    dev: ARef<Device>,
    segs: [Segment; MAX_SEGMENTS],
    n: usize,
}

impl Drop for Mappings {
    fn drop(&mut self) {
        let dev = self.dev.as_raw();
        let dir = bindings::dma_data_direction::DMA_TO_DEVICE;
        for s in &self.segs[..self.n] {
            // SAFETY: Mapped for `dev` with these values (type invariant), unmapped once.
            unsafe {
                match s.unmap {
                    Unmap::Single => {
                        bindings::dma_unmap_single_attrs(dev, s.addr, s.len as usize, dir, 0)
                    }
                    Unmap::Page => {
                        bindings::dma_unmap_page_attrs(dev, s.addr, s.len as usize, dir, 0)
                    }
                    Unmap::None => {}
                }
            }
        }
    }
}

/// A packet handed to the device: the skb and the DMA mappings of its data, which last
/// until [`TxPacket::complete`] or drop.
pub struct TxPacket {
    // Dropped first: the mappings go before the skb that owns the memory.
    map: Mappings,
    skb: SkBuff,
}

impl TxPacket {
    /// Maps the linear part (if not empty) and every frag of `skb` for `dev` to read.
    /// On failure the skb comes back with the error; nothing stays mapped.
    ///
    /// `dev` is the DMA device of the net device transmitting, whose driver is bound to it
    /// for as long as the net device is registered (the one the driver passed to
    /// [`Registration::new`](super::device::Registration::new)); `start_xmit` has it only as
    /// a plain [`Device`], as [`page_pool::Params`](super::page_pool::Params) does.
    pub fn map(dev: &Device, skb: SkBuff) -> Result<Self, (Error, SkBuff)> {
        let raw = skb.as_raw();
        let mut map = Mappings {
            dev: dev.into(),
            segs: [Segment::EMPTY; MAX_SEGMENTS],
            n: 0,
        };
        let dir = bindings::dma_data_direction::DMA_TO_DEVICE;
        let headlen = skb.headlen();
        if headlen > 0 {
            // SAFETY: `data` holds `headlen` bytes of the skb, which outlives the mapping
            // (the packet drops its mappings first).
            let addr = unsafe {
                bindings::dma_map_single_attrs(
                    dev.as_raw(),
                    (*raw).data.cast(),
                    headlen as usize,
                    dir,
                    0,
                )
            };
            // SAFETY: `addr` was just returned for `dev`.
            if unsafe { bindings::dma_mapping_error(dev.as_raw(), addr) } != 0 {
                return Err((ENOMEM, skb));
            }
            map.segs[0] = Segment {
                addr,
                len: headlen,
                unmap: Unmap::Single,
            };
            // INVARIANT: `segs[0]` is mapped as it says.
            map.n = 1;
        }
        let shinfo = skb.shinfo();
        for i in 0..skb.nr_frags() as usize {
            // SAFETY: `i < nr_frags <= MAX_SKB_FRAGS`: a frag of the skb.
            let frag = unsafe { core::ptr::addr_of!((*shinfo).frags[i]) };
            // SAFETY: `frag` points to frag `i` of the skb, in its shared info (above).
            let (netmem, len) = unsafe { ((*frag).netmem, (*frag).len) };
            let niov = netmem & bindings::NET_IOV as usize != 0;
            // SAFETY: A frag of the skb; a page frag gets mapped for `dev`, a `net_iov`
            // gives the address its binding mapped.
            let addr =
                unsafe { bindings::__skb_frag_dma_map(dev.as_raw(), frag, 0, len as usize, dir) };
            // SAFETY: `addr` was just returned by the mapping call for `dev`.
            if !niov && unsafe { bindings::dma_mapping_error(dev.as_raw(), addr) } != 0 {
                // `map` unmaps the segments mapped so far.
                drop(map);
                return Err((ENOMEM, skb));
            }
            map.segs[map.n] = Segment {
                addr,
                len,
                unmap: if niov { Unmap::None } else { Unmap::Page },
            };
            // INVARIANT: as mapped above; at most `1 + MAX_SKB_FRAGS` segments.
            map.n += 1;
        }
        Ok(Self { map, skb })
    }

    /// The packet's buffers in order: the linear part (unless empty), then the frags.
    pub fn segments(&self) -> &[Segment] {
        &self.map.segs[..self.map.n]
    }

    /// The skb.
    pub fn skb(&self) -> &SkBuff {
        &self.skb
    }

    /// The device finished: unmaps the buffers and frees the skb, through the softirq's
    /// cache when called from a NAPI poll (`ctx`), else from any context.
    pub fn complete(self, ctx: Option<&PollContext<'_>>) {
        let Self { map, skb } = self;
        drop(map);
        match ctx {
            Some(ctx) => ctx.consume_skb(skb),
            None => skb.consume_any(),
        }
    }
}
