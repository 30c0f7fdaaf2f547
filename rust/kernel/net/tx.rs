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
    ffi::c_void,
    net::{
        napi::PollContext,
        skbuff::SkBuff,
        xdp::XdpFrame, //
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

impl Mappings {
    /// Maps `head_len` bytes at `head` (if any) and each frag of `frags` for `dev` to read.
    /// A `net_iov` frag takes the address its TX binding mapped when `niov_ok`, and is
    /// refused (`EINVAL`) otherwise. Nothing stays mapped on failure.
    ///
    /// # Safety
    ///
    /// `head` holds `head_len` bytes and each frag is a live `skb_frag_t`, all outliving
    /// the mappings.
    unsafe fn new(
        dev: &Device,
        head: *mut c_void,
        head_len: u32,
        frags: impl Iterator<Item = *const bindings::skb_frag>,
        niov_ok: bool,
    ) -> Result<Self> {
        let mut map = Mappings {
            dev: dev.into(),
            segs: [Segment::EMPTY; MAX_SEGMENTS],
            n: 0,
        };
        let dir = bindings::dma_data_direction::DMA_TO_DEVICE;
        if head_len > 0 {
            // SAFETY: `head` holds `head_len` bytes that outlive the mapping (the
            // function's safety contract).
            let addr = unsafe {
                bindings::dma_map_single_attrs(dev.as_raw(), head, head_len as usize, dir, 0)
            };
            // SAFETY: `addr` was just returned for `dev`.
            if unsafe { bindings::dma_mapping_error(dev.as_raw(), addr) } != 0 {
                return Err(ENOMEM);
            }
            map.segs[0] = Segment {
                addr,
                len: head_len,
                unmap: Unmap::Single,
            };
            // INVARIANT: `segs[0]` is mapped as it says.
            map.n = 1;
        }
        for frag in frags {
            if map.n == MAX_SEGMENTS {
                // `map` unmaps the segments mapped so far.
                return Err(EINVAL);
            }
            // SAFETY: A live frag (the function's safety contract).
            let (netmem, len) = unsafe { ((*frag).netmem, (*frag).len) };
            let niov = netmem & bindings::NET_IOV as usize != 0;
            if niov && !niov_ok {
                return Err(EINVAL);
            }
            // SAFETY: A live frag; a page frag gets mapped for `dev`, a `net_iov` gives the
            // address its binding mapped.
            let addr =
                unsafe { bindings::__skb_frag_dma_map(dev.as_raw(), frag, 0, len as usize, dir) };
            // SAFETY: `addr` was just returned by the mapping call for `dev`.
            if !niov && unsafe { bindings::dma_mapping_error(dev.as_raw(), addr) } != 0 {
                return Err(ENOMEM);
            }
            map.segs[map.n] = Segment {
                addr,
                len,
                unmap: if niov { Unmap::None } else { Unmap::Page },
            };
            // INVARIANT: as mapped above; at most `MAX_SEGMENTS` segments.
            map.n += 1;
        }
        Ok(map)
    }
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

/// What a [`TxPacket`] carries: an skb of the stack, or an XDP frame.
enum Owner {
    Skb(SkBuff),
    Frame(XdpFrame),
}

/// A packet handed to the device: the skb (or XDP frame) and the DMA mappings of its
/// data, which last until [`TxPacket::complete`] or drop.
pub struct TxPacket {
    // Dropped first: the mappings go before the owner of the memory.
    map: Mappings,
    owner: Owner,
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
        // SAFETY: `data` holds `headlen` bytes of the skb, which outlives the mapping (the
        // packet drops its mappings first).
        let head = unsafe { (*raw).data.cast() };
        let shinfo = skb.shinfo();
        let frags = (0..skb.nr_frags() as usize).map(|i| {
            // SAFETY: `i < nr_frags`: a frag of the skb, in its shared info, which lives
            // with it.
            unsafe { core::ptr::addr_of!((*shinfo).frags[i]) }
        });
        // SAFETY: As above: the head and frags of the skb, which the packet keeps.
        match unsafe { Mappings::new(dev, head, skb.headlen(), frags, true) } {
            Ok(map) => Ok(Self {
                map,
                owner: Owner::Skb(skb),
            }),
            Err(e) => Err((e, skb)),
        }
    }

    /// Maps the first buffer and the frags of an XDP frame for `dev` to read (as
    /// [`TxPacket::map`]). On failure the frame comes back with the error. A frame with
    /// unreadable frags (`net_iov`s) is refused (`EINVAL`).
    pub fn map_frame(dev: &Device, frame: XdpFrame) -> Result<Self, (Error, XdpFrame)> {
        let frags = frame.frag_ptrs();
        // SAFETY: The frame's first buffer and frags, which the packet keeps.
        match unsafe { Mappings::new(dev, frame.data(), frame.head_len(), frags, false) } {
            Ok(map) => Ok(Self {
                map,
                owner: Owner::Frame(frame),
            }),
            Err(e) => Err((e, frame)),
        }
    }

    /// The packet's buffers in order: the linear part (unless empty), then the frags.
    pub fn segments(&self) -> &[Segment] {
        &self.map.segs[..self.map.n]
    }

    /// The device finished: unmaps the buffers and frees the skb, through the softirq's
    /// cache when called from a NAPI poll (`ctx`), else from any context; an XDP frame
    /// goes back to its memory.
    pub fn complete(self, ctx: Option<&PollContext<'_>>) {
        let Self { map, owner } = self;
        drop(map);
        match (owner, ctx) {
            (Owner::Skb(skb), Some(ctx)) => ctx.consume_skb(skb),
            (Owner::Skb(skb), None) => skb.consume_any(),
            (Owner::Frame(frame), _) => drop(frame),
        }
    }
}
