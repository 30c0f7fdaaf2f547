// SPDX-License-Identifier: GPL-2.0

//! The rx rings: buffers from a header and a payload page pool, and the receive poll.

use crate::regs::*;
use crate::{
    driver::FRAME_OVERHEAD,
    queue::{
        desc_read,
        desc_write,
        ring_dist,
        ring_next,
        QueuePair,
        Repoll,
        REPOLL_DELAY, //
    },
    stats::RxStats, //
};
use kernel::{
    device,
    dma::{
        Coherent,
        DataDirection, //
    },
    io::{
        register::Array,
        Io, //
    },
    net::{
        device::{
            Features,
            NetDevice, //
        },
        dim::Dim,
        napi::{
            Napi,
            PollContext, //
        },
        page_pool::{
            OwnedPagePool,
            Params,
            PoolFrag,
            PoolNetmem, //
        },
        queue::QueueConfig,
        skbuff::{
            self,
            SkBuff,
            NET_IP_ALIGN,
            NET_SKB_PAD, //
        },
        xdp::{
            self,
            BpfProg,
            Verdict,
            XdpBuff,
            XdpRxq, //
        }, //
    },
    page::PAGE_SIZE,
    prelude::*,
    sync::barrier::{
        dma_mb,
        Read,
        Write, //
    },
    time::hrtimer::{
        ArcHrTimerHandle,
        HrTimerPointer, //
    }, //
};

/// The header buffer size programmed in SRRCTL.BSIZEHDR (a multiple of 64, at most 960).
pub(crate) const HDR_BUF: u32 = 256;

/// Where the NIC writes in a header frag: after the headroom of the skb built on it.
const HDR_HEADROOM: u32 = NET_SKB_PAD + NET_IP_ALIGN;

/// A header frag of the header pool's pages (six to a 4 KiB page with 64-byte cache lines):
/// the headroom and the header buffer, then the tailroom for the shared info of the skb
/// built on it.
const HDR_FRAG: u32 = skbuff::data_align(HDR_HEADROOM + HDR_BUF) + xdp::TAILROOM;

/// Payload buffer: one page, unless a memory provider asks for larger ones
/// (`rx-page-size`), up to the largest power of two SRRCTL.BSIZEPACKET holds (127 KiB).
pub(crate) const PKT_BUF: u32 = PAGE_SIZE as u32;

pub(crate) const MAX_PKT_BUF: u32 = 64 * 1024;

/// Payload buffer of a ring that takes whole frames (header split off, or an XDP
/// program): a page holds the headroom, the frame and the tailroom for the shared info of
/// an skb built on it (or of a frame's frags), so BSIZEPACKET (1 KiB units) is 3 KiB.
pub(crate) const XDP_BUF: u32 = 3 * 1024;

/// The most buffers of one frame the ring gathers for an XDP program: an skb's.
const XDP_MAX_BUFS: usize = kernel::net::tx::MAX_SEGMENTS;

/// The buffers of an rx ring, from its two page pools; made when the queue starts.
pub(crate) struct RxRing {
    /// The buffers posted on each descriptor, given back to their pools when dropped
    /// (before the pools, which are declared after them). A ring that takes whole frames
    /// posts no header buffers.
    pub(crate) hdr: KVec<Option<PoolFrag>>,
    pub(crate) pkt: KVec<Option<PoolNetmem>>,
    /// The skb of a packet spanning several descriptors, until its last one.
    pub(crate) partial: Option<SkBuff>,
    pub(crate) hdr_pool: OwnedPagePool,
    pub(crate) pkt_pool: OwnedPagePool,
    /// The next descriptor the NIC writes back.
    pub(crate) ntc: u32,
    /// The tail: the next descriptor to post buffers on.
    pub(crate) ntu: u32,
    /// Dropping the descriptors of a packet until its last one.
    pub(crate) discard: bool,
    /// The payload pool hands out `net_iov`s of a memory provider: the CPU cannot read the
    /// payload buffers, so only split packets are delivered.
    pub(crate) devmem: bool,
    /// Header split (`ethtool -G tcp-data-split`); off, each frame lands whole in its
    /// payload buffers and the skb is built on the first of them.
    pub(crate) split: bool,
    /// The size of a payload buffer (the queue's `rx_page_size`, or [`XDP_BUF`]).
    pub(crate) buf_size: u32,
    /// Where the NIC writes in a payload buffer: after the headroom of a ring that takes
    /// whole frames, at the start of a split ring's.
    pub(crate) headroom: u32,
    /// The memory a payload buffer takes (its pool's page size).
    pub(crate) truesize: u32,
    /// A ring made for XDP (one buffer per descriptor, headroom, no split): its program,
    /// which may change while it runs.
    pub(crate) xdp: Option<KBox<XdpRing>>,
}

/// What an rx ring needs to run an XDP program.
pub(crate) struct XdpRing {
    pub(crate) prog: BpfProg,
    /// The queue registered for XDP with the payload pool.
    pub(crate) rxq: Pin<KBox<XdpRxq>>,
    /// The buffers of the frame being gathered.
    pub(crate) frame: KVec<(PoolNetmem, u32)>,
}

// The longest payload pool ring (`RxRing::new`: four one-page buffers a descriptor) is one
// the page pool takes whole: it shortens any longer to 16384 entries without a word.
const _: () = assert!(crate::queue::RING_MAX * 4 <= 16384);

/// The payload buffer size for a queue configuration: `rx_page_size`, or a page.
pub(crate) fn pkt_buf_size(qcfg: &QueueConfig) -> Result<u32> {
    match qcfg.rx_page_size {
        0 => Ok(PKT_BUF),
        n if n.is_power_of_two() && (PKT_BUF..=MAX_PKT_BUF).contains(&n) => Ok(n),
        _ => Err(EINVAL),
    }
}

/// An rx queue: its ring while it runs, and its counters, which outlive rings (queue
/// restarts, close and open), so the statistics cover the device's whole life.
#[derive(Default)]
pub(crate) struct RxQueue {
    pub(crate) ring: Option<RxRing>,
    pub(crate) stats: RxStats,
    /// The re-poll a starved ring last asked for (see [`Repoll`]); dropping it cancels it.
    pub(crate) repoll: Option<ArcHrTimerHandle<Repoll>>,
    /// The adaptive moderation of the pair's vector; its state outlives rings too.
    pub(crate) dim: Option<Pin<KBox<Dim>>>,
}

impl RxRing {
    pub(crate) fn new(
        dev: &device::Device,
        net: &NetDevice,
        q: u32,
        split: bool,
        qcfg: &QueueConfig,
        size: u32,
        prog: Option<BpfProg>,
    ) -> Result<Self> {
        // XDP and memory providers exclude each other (the core refuses either with the
        // other), and so do XDP and rx-page-size, which only providers set.
        let devmem = net.rx_queue_has_provider(q);
        // A ring that takes whole frames (an XDP program, or no header split) leaves room
        // around each frame for the skb built on its buffer; a split ring's payload
        // buffers are frags, whole.
        let whole = prog.is_some() || !(split || devmem);
        let (buf_size, headroom) = if whole {
            (XDP_BUF, xdp::HEADROOM)
        } else {
            (pkt_buf_size(qcfg)?, 0)
        };
        // A power of two from PKT_BUF on (`pkt_buf_size`): its page order, without the
        // panicking `ilog2`; an XDP buffer is a page.
        let order = (buf_size / PKT_BUF).max(1).trailing_zeros();
        // Header buffers are frags: a page comes back whole, and is synced whole.
        let mut hdr_params = Params::new(dev, 0, size, DataDirection::FromDevice, PKT_BUF);
        // The payload pool's ring takes back what the stack frees outside the poll (TCP's
        // reader, in batches as large as its receive queue): a ring as long as the rx ring
        // was full for a tenth of the whole-page buffers, which then went back to the page
        // allocator and were allocated again. It keeps four pages a descriptor, and never
        // fewer buffers than descriptors. A provider's ring stays as long as the rx ring: a
        // full one gives its buffers back to the provider, which costs little, and a longer
        // one would keep more of a binding shared by several queues from the others.
        let pool_len = if devmem {
            size
        } else {
            (size << 2 >> order).max(size)
        };
        let mut pkt_params =
            Params::new(dev, order, pool_len, DataDirection::FromDevice, buf_size).offset(headroom);
        // SAFETY: `net` is registered (rings are made while it is open) and has queue `q`,
        // and both outlive the pools (the ring is dropped in `stop` or the queue restart
        // before the device goes); the instance lock is held by `open` and the
        // queue-management callbacks that create rings.
        unsafe {
            hdr_params = hdr_params.netdev(net, q);
            pkt_params = if devmem {
                pkt_params.unreadable(net, q)
            } else {
                pkt_params.netdev(net, q)
            };
        }
        let hdr_pool = OwnedPagePool::new(&hdr_params)?;
        let pkt_pool = OwnedPagePool::new(&pkt_params)?;
        let xdp = match prog {
            Some(prog) => Some(KBox::new(
                XdpRing {
                    prog,
                    // A frag may grow to the end of its page (`bpf_xdp_adjust_tail`).
                    rxq: XdpRxq::new(net, q, &pkt_pool, PAGE_SIZE as u32)?,
                    frame: KVec::with_capacity(XDP_MAX_BUFS, GFP_KERNEL)?,
                },
                GFP_KERNEL,
            )?),
            None => None,
        };
        let mut hdr = KVec::with_capacity(size as usize, GFP_KERNEL)?;
        let mut pkt = KVec::with_capacity(size as usize, GFP_KERNEL)?;
        for _ in 0..size {
            hdr.push(None, GFP_KERNEL)?;
            pkt.push(None, GFP_KERNEL)?;
        }
        Ok(Self {
            hdr_pool,
            pkt_pool,
            hdr,
            pkt,
            ntc: 0,
            ntu: 0,
            partial: None,
            discard: false,
            devmem,
            // The core refuses a memory provider without tcp-data-split, and turning it
            // off with one bound; an XDP program sees whole frames.
            split: !whole,
            buf_size,
            headroom,
            // CAST: a page of at most `MAX_PKT_BUF` bytes.
            truesize: (PAGE_SIZE << order) as u32,
            xdp,
        })
    }

    /// Links both pools to the NAPI context of the pair the ring serves, so that buffers
    /// freed in its polls' softirq (by GRO, by TCP) recycle straight into the pools' caches.
    /// Made before the context polls the ring, and undone by [`Self::unlink_napi`] or the
    /// drop while it is disabled or stopped.
    ///
    /// # Safety
    ///
    /// `napi` is the context whose polls alone take buffers from this ring (or no one, while
    /// it is not scheduled), and it stays in memory until the ring is dropped or unlinked.
    pub(crate) unsafe fn link_napi(&self, napi: &Napi<QueuePair>) {
        // SAFETY: The caller's promise, for each pool of the ring, which only the ring's
        // user allocates from.
        unsafe {
            self.hdr_pool.link_napi(napi);
            self.pkt_pool.link_napi(napi);
        }
    }

    /// Ends [`Self::link_napi`], with the pair's NAPI context disabled.
    pub(crate) fn unlink_napi(&self) {
        self.hdr_pool.unlink_napi();
        self.pkt_pool.unlink_napi();
    }

    /// The number of descriptors.
    pub(crate) fn size(&self) -> u32 {
        // CAST: at most `RING_MAX` (`set_ringparam`).
        self.pkt.len() as u32
    }

    /// Posts buffers on descriptor `i`; false when a pool is empty (counted in `stats`).
    pub(crate) fn post(&mut self, desc: &Coherent<[u64]>, i: u32, stats: &mut RxStats) -> bool {
        let s = i as usize;
        if self.split && self.hdr[s].is_none() {
            self.hdr[s] = self.hdr_pool.alloc_frag(HDR_FRAG, GFP_ATOMIC);
            if self.hdr[s].is_none() {
                stats.alloc_fail += 1;
            }
        }
        if self.pkt[s].is_none() {
            self.pkt[s] = self.pkt_pool.alloc_netmem(GFP_ATOMIC);
            if self.pkt[s].is_none() {
                stats.alloc_fail += 1;
            }
        }
        // One-buffer mode (whole frames) reads no header address: 0.
        let ha = match (&self.hdr[s], self.split) {
            (Some(h), true) => h.dma_addr() + kernel::dma::DmaAddress::from(HDR_HEADROOM),
            (None, false) => 0,
            _ => return false,
        };
        match &self.pkt[s] {
            Some(p) => {
                let pa = p.dma_addr() + kernel::dma::DmaAddress::from(self.headroom);
                desc_write(desc, i, pa, ha).is_ok()
            }
            None => false,
        }
    }

    /// Posts buffers from the tail up to the descriptor before the next one the NIC
    /// writes back (one slot stays empty); returns the new tail.
    pub(crate) fn refill(&mut self, desc: &Coherent<[u64]>, stats: &mut RxStats) -> u32 {
        while ring_next(self.ntu, self.size()) != self.ntc {
            if !self.post(desc, self.ntu, stats) {
                break;
            }
            self.ntu = ring_next(self.ntu, self.size());
        }
        self.ntu
    }
}

/// What the NIC found of a packet's checksums and hash, on its skb.
fn rx_offloads(skb: &mut SkBuff, status: u32, lo: u64, features: Features, stats: &mut RxStats) {
    let csum_bad = status & (RXD_ERR_TCPE | RXD_ERR_IPE) != 0;
    if csum_bad {
        stats.csum_err += 1;
    }
    let csum_ok = status & (RXD_STAT_TCPCS | RXD_STAT_IPCS) != 0 && !csum_bad;
    if csum_ok && status & RXD_STAT_TCPCS != 0 && features.contains(Features::RXCSUM) {
        skb.set_csum_unnecessary();
        stats.csum_unnecessary += 1;
    }
    if features.contains(Features::RXHASH) {
        // A packet the NIC did not hash gets its hash from the stack when one is needed;
        // set as the NIC's, its 0 would put all such flows in one RPS bucket.
        if let Some(over) = crate::rss::hashed_over(lo) {
            skb.set_hash((lo >> 32) as u32, over);
        }
    }
}

impl QueuePair {
    /// A descriptor of an XDP ring: its buffer joins the frame being gathered, and at the
    /// frame's last one the program runs on the frame and its verdict is carried out.
    /// True when a packet went to the stack.
    #[allow(clippy::too_many_arguments)]
    fn rx_xdp(
        &self,
        ctx: &PollContext<'_>,
        dev: &NetDevice,
        rx: &mut RxRing,
        stats: &mut RxStats,
        s: usize,
        len: u32,
        status: u32,
        lo: u64,
        redirected: &mut bool,
    ) -> bool {
        let eop = status & RXD_STAT_EOP != 0;
        let RxRing {
            xdp,
            pkt,
            pkt_pool,
            discard,
            ..
        } = rx;
        let Some(x) = xdp.as_mut() else {
            return false;
        };
        let XdpRing { prog, rxq, frame } = &mut **x;
        let Some(p) = pkt[s].take() else {
            stats.drops += 1;
            frame.clear();
            *discard = !eop;
            return false;
        };
        pkt_pool.sync_for_cpu(&p, len);
        // More buffers than a frame may have: the frame goes (and the buffer back).
        if frame.len() == XDP_MAX_BUFS || frame.push((p, len), GFP_ATOMIC).is_err() {
            stats.drops += 1;
            frame.clear();
            *discard = !eop;
            return false;
        }
        if !eop {
            return false;
        }
        let xdp_frame = frame;
        let headroom = xdp::HEADROOM;
        stats.packets += 1;
        stats.bytes += xdp_frame.iter().map(|(_, l)| u64::from(*l)).sum::<u64>();
        // A single-buffer program gets only frames of one buffer (the MTU it was attached
        // under keeps them so; a larger frame from the peer is dropped).
        if xdp_frame.len() > 1 && !prog.has_frags() {
            stats.drops += 1;
            xdp_frame.clear();
            return false;
        }
        let mut bufs = xdp_frame.drain_all();
        let Some((head, hlen)) = bufs.next() else {
            return false;
        };
        let frame_sz = PAGE_SIZE as u32;
        let Ok(mut buff) = XdpBuff::new(ctx, rxq, pkt_pool, head, headroom, hlen, frame_sz) else {
            stats.drops += 1;
            return false;
        };
        for (b, l) in bufs {
            if buff.add_frag(b, headroom, l).is_err() {
                stats.drops += 1;
                return false;
            }
        }
        let prog = &*prog;
        match buff.run(prog, dev) {
            Verdict::Pass(b) => {
                let Some(mut skb) = b.build_skb() else {
                    stats.drops += 1;
                    return false;
                };
                rx_offloads(&mut skb, status, lo, dev.features(), stats);
                ctx.gro_receive(skb);
                return true;
            }
            Verdict::Tx(b) => match b.into_frame() {
                Some(f) => match self.xmit_frame(f, true) {
                    Ok(()) => stats.xdp_tx += 1,
                    // The tx ring is full: the frame goes back to the pool.
                    Err(_) => stats.xdp_tx_full += 1,
                },
                None => stats.drops += 1,
            },
            Verdict::Redirect(b) => match b.redirect(dev, prog) {
                Ok(()) => {
                    stats.xdp_redirect += 1;
                    *redirected = true;
                }
                Err(_) => stats.xdp_redirect_fail += 1,
            },
            Verdict::Drop => stats.xdp_drop += 1,
            Verdict::Aborted => stats.xdp_aborted += 1,
        }
        false
    }

    pub(crate) fn rx_poll(&self, ctx: &PollContext<'_>, dev: &NetDevice, budget: i32) -> i32 {
        let mut guard = self.rx.lock();
        let RxQueue {
            ring,
            stats,
            repoll,
            ..
        } = &mut *guard;
        let Some(rx) = ring.as_mut() else {
            return 0;
        };
        stats.polls += 1;
        let q = self.index as usize;
        let features = dev.features();
        let mut done = 0;
        let mut used = 0;
        let mut redirected = false;
        // Only the descriptors from `ntc` up to the tail are posted: one the refill could not
        // post still holds the write-back of its last packet, DD set.
        while done < budget && used < rx.size() - 1 && rx.ntc != rx.ntu {
            let i = rx.ntc;
            let Ok((_, hi)) = desc_read(&self.rx_desc, i) else {
                break;
            };
            if hi as u32 & RXD_STAT_DD == 0 {
                break;
            }
            // Read the rest of the write-back only after seeing DD.
            dma_mb(Read);
            let Ok((lo, hi)) = desc_read(&self.rx_desc, i) else {
                break;
            };
            let status = hi as u32;
            // PKT_LEN, which no correct write-back makes larger than the buffer.
            let len = ((hi >> 32) & 0xFFFF) as u32;
            let hdr_info = lo as u32;
            rx.ntc = ring_next(rx.ntc, rx.size());
            used += 1;
            let s = i as usize;

            if rx.discard || len > rx.buf_size {
                // The buffers of a dropped packet stay on their descriptors for reuse.
                if !rx.discard {
                    stats.drops += 1;
                    rx.partial = None;
                    if let Some(x) = rx.xdp.as_mut() {
                        x.frame.clear();
                    }
                }
                rx.discard = status & RXD_STAT_EOP == 0;
                continue;
            }
            if rx.xdp.is_some() {
                if self.rx_xdp(ctx, dev, rx, stats, s, len, status, lo, &mut redirected) {
                    done += 1;
                }
                continue;
            }
            // A devmem queue runs in plain header-split mode, in which the model puts a
            // packet it does not split (not TCP/UDP over IP, or headers longer than the
            // header buffer) whole into the payload buffer, which the CPU cannot read. RSS
            // hashes TCP only and the rest goes to queue 0, never bound, so what is left is
            // TCP with headers past the header buffer.
            let split = hdr_info & RXD_SPH != 0 && status & RXD_STAT_HBO == 0;
            if rx.partial.is_none() && rx.devmem && !split {
                stats.drops += 1;
                rx.discard = status & RXD_STAT_EOP == 0;
                continue;
            }

            let mut built = false;
            if rx.partial.is_none() && !rx.split {
                // The first buffer of a whole frame: the skb is built on it, headers and
                // all.
                let Some(p) = rx.pkt[s].take() else {
                    stats.drops += 1;
                    rx.discard = status & RXD_STAT_EOP == 0;
                    continue;
                };
                built = true;
                rx.pkt_pool.sync_for_cpu(&p, len);
                match ctx.build_skb(&rx.pkt_pool, p, rx.headroom, len) {
                    Ok(skb) => rx.partial = Some(skb),
                    Err(p) => {
                        // No skb: the buffer stays on its descriptor for reuse.
                        rx.pkt[s] = Some(p);
                        stats.drops += 1;
                        rx.discard = status & RXD_STAT_EOP == 0;
                        continue;
                    }
                }
            } else if rx.partial.is_none() {
                let hlen = if status & RXD_STAT_HBO != 0 {
                    HDR_BUF
                } else {
                    ((hdr_info >> RXD_HDR_LEN_SHIFT) & RXD_HDR_LEN_MASK).min(HDR_BUF)
                };
                let Some(h) = rx.hdr[s].take() else {
                    stats.drops += 1;
                    rx.discard = status & RXD_STAT_EOP == 0;
                    continue;
                };
                rx.hdr_pool.sync_frag_for_cpu(&h, HDR_HEADROOM + hlen);
                // The skb is built on the header frag: nothing is copied.
                match ctx.build_skb_on_frag(&rx.hdr_pool, h, HDR_HEADROOM, hlen) {
                    Ok(skb) => rx.partial = Some(skb),
                    Err(h) => {
                        // No skb: the frag stays on its descriptor for reuse.
                        rx.hdr[s] = Some(h);
                        stats.drops += 1;
                        rx.discard = status & RXD_STAT_EOP == 0;
                        continue;
                    }
                }
            }
            // A payload buffer of a split frame, or a whole frame's after its first.
            if len > 0 && !built {
                if let (Some(p), Some(skb)) = (rx.pkt[s].take(), rx.partial.as_mut()) {
                    rx.pkt_pool.sync_for_cpu(&p, len);
                    if skb.push_rx_frag(p, rx.headroom, len, rx.truesize).is_err() {
                        // More buffers than an skb has frags: the frame goes (and the
                        // refused buffer back to its pool).
                        stats.drops += 1;
                        rx.partial = None;
                        rx.discard = status & RXD_STAT_EOP == 0;
                        continue;
                    }
                }
            }
            if status & RXD_STAT_EOP == 0 {
                continue;
            }
            let Some(mut skb) = rx.partial.take() else {
                continue;
            };
            skb.mark_for_recycle();
            let bytes = u64::from(skb.len());
            // No Ethernet header in the linear part (a first buffer, or a header buffer,
            // shorter than one): nothing the stack can take.
            if skb.eth_type_trans(dev).is_err() {
                stats.drops += 1;
                continue;
            }
            stats.packets += 1;
            stats.bytes += bytes;
            rx_offloads(&mut skb, status, lo, features, stats);
            skb.record_rx_queue(self.index as u16);
            ctx.gro_receive(skb);
            done += 1;
        }
        if redirected {
            xdp::flush(ctx);
        }
        // Refill whenever the ring is short, not only after taking packets: a ring that ran
        // dry (a memory provider out of buffers) takes none until it is refilled.
        if used > 0 || ring_next(rx.ntu, rx.size()) != rx.ntc {
            let tail = rx.refill(&self.rx_desc, stats);
            dma_mb(Write);
            // The tail is the last posted descriptor plus one; a device that is gone takes
            // no buffers.
            let _ = self.hw.try_io(|io| {
                io.write(RDT::try_at(q).ok_or(EINVAL)?, RDT::from_raw(tail));
                Ok(())
            });
        }
        // The NIC takes a frame only when the buffers posted can hold the largest one
        // (QEMU's `igb_has_rxbufs`); with fewer it drops what comes and raises no
        // interrupt that would poll again: at MTU 9000 over 4 KiB buffers, one or two
        // posted buffers are as dry as none. Nothing tells the driver when the pools have
        // buffers again (a memory provider's come back when userspace returns its
        // tokens): poll again in a while, and leave the CPU meanwhile.
        let posted = ring_dist(rx.ntc, rx.ntu, rx.size());
        if posted < (dev.mtu() + FRAME_OVERHEAD).div_ceil(rx.buf_size) {
            stats.starved += 1;
            // The last handle goes first: dropping it cancels the timer, which is the one
            // started next.
            drop(repoll.take());
            *repoll = Some(self.repoll.clone().start(REPOLL_DELAY));
        }
        done
    }
}
