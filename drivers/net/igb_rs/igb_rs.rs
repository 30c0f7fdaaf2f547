// SPDX-License-Identifier: GPL-2.0

//! igb_rs: a Rust driver for the Intel 82576 as QEMU emulates it (`-device igb`).
//!
//! One MSI-X vector and one NAPI context per rx/tx queue pair, plus a vector for the
//! link. Rx uses header split (SRRCTL "split always"): the headers of each packet land in
//! a buffer of the queue's header page pool and are copied into the skb's linear part, the
//! payload lands in a buffer of its payload page pool and becomes a frag. The payload pool
//! takes `net_iov`s from a memory provider when one is bound to the queue (devmem TCP).
//!
//! Register facts: the C igb driver and QEMU's hw/net/igb_core.c; see
//! Documentation/networking/igb-rs.rst.

mod regs;
mod rss;
mod txdesc;

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use kernel::{
    device::{self, Bound, Core},
    dma::{Coherent, DataDirection, Device as _, DmaAddress, DmaMask},
    io::{io_read, io_write, Io},
    irq::{self, IrqReturn},
    net::{
        device::{
            with_bh_disabled, ExtraOps, Features, LinkStats64, LockedNetDevice, NetDevice,
            Operations, Registration, TxQueue as NetTxQueue, TxResult,
        },
        ethtool::{
            flow_type, rss_hash, rss_key_fill, rx_cls_loc, rxnfc_cmd, string_set, tcp_data_split,
            Channels, Coalesce, EthtoolOps, Ip4L4, Ip6L4, KernelRingParam, RingParam, RxfhParam,
            Rxnfc, Strings, COALESCE_RX_USECS, RING_USE_HDS_THRS, RING_USE_TCP_DATA_SPLIT,
            RXH_XFRM_NO_CHANGE, RX_CLS_FLOW_DISC, RX_CLS_FLOW_WAKE,
        },
        ext_ack::ExtAck,
        napi::{Napi, PollContext},
        page_pool::{OwnedPagePool, Params, PoolNetmem},
        queue::{
            QueueConfig, QueueMgmtOps, QueueStatsOps, QueueStatsRx, QueueStatsTx, QCFG_RX_PAGE_SIZE,
        },
        skbuff::{GsoKind, SkBuff},
        tx::{TxPacket, MAX_SEGMENTS},
    },
    page::PAGE_SIZE,
    pci,
    prelude::*,
    sync::{
        aref::ARef,
        barrier::{dma_mb, Read, Write},
        Arc, Mutex, SpinLock,
    },
    time::{delay::fsleep, Delta},
};
use regs::*;
use rss::{Addrs, Place, Rss, Rule, RuleError, TcpFlow};
use txdesc::{Offload, MAX_PER_DESC};

/// Queue pairs (and vectors for them) the driver sets up; one more vector serves the
/// link. `ethtool -L` chooses how many of them are in use.
const MAX_QUEUES: u32 = 4;
/// Queue pairs in use after probe.
const DEFAULT_QUEUES: u32 = 2;
/// Descriptors per ring.
const RING_SIZE: u32 = 256;
/// The header buffer size programmed in SRRCTL.BSIZEHDR (a multiple of 64, at most 960).
const HDR_BUF: u32 = 256;
/// Without header split: the most header bytes pulled into an skb's linear part.
const RX_PULL: u32 = 256;
/// Payload buffer: one page, unless a memory provider asks for larger ones
/// (`rx-page-size`), up to the largest power of two SRRCTL.BSIZEPACKET holds (127 KiB).
const PKT_BUF: u32 = PAGE_SIZE as u32;
const MAX_PKT_BUF: u32 = 64 * 1024;
/// The most descriptors a packet takes: a context descriptor, and for each of its
/// buffers as many as its length needs (a linear part of up to 64 KiB, frags of up to 32
/// KiB). The queue stops while fewer are free.
const TX_DESC_MAX: u32 = 1 + 2 + (MAX_SEGMENTS as u32 - 1);
/// The interrupt interval of a queue pair's vector after probe, in microseconds (about
/// 20000 interrupts a second at most).
const DEFAULT_RX_USECS: u32 = 50;
/// The largest interval EITR holds, in microseconds.
const MAX_RX_USECS: u32 = EITR_INTERVAL >> 2;
/// The `ethtool -S` names of the device's own counters, before the queues'.
const DEV_STATS: [&str; 2] = ["rx_undersize", "rx_oversize"];
/// The offloads of the device (`ethtool -k`).
const FEATURES: Features = Features::SG
    .union(Features::IP_CSUM)
    .union(Features::IPV6_CSUM)
    .union(Features::TSO)
    .union(Features::TSO6)
    .union(Features::RXCSUM)
    .union(Features::RXHASH);
/// The largest frame: 9000 bytes of MTU plus the Ethernet header and a VLAN tag.
const MAX_FRAME: u32 = 9000 + 14 + 4;

/// The device's registers.
struct Hw {
    bar: pci::DevresBar<BAR_SIZE>,
    link_event: AtomicBool,
}

impl Hw {
    fn rd(&self, off: usize) -> u32 {
        self.bar
            .try_access()
            .and_then(|b| (&*b).try_read32(off).ok())
            .unwrap_or(0)
    }

    fn wr(&self, off: usize, val: u32) {
        if let Some(b) = self.bar.try_access() {
            let _ = (&*b).try_write32(val, off);
        }
    }
}

/// The buffers of an rx ring, from its two page pools; made when the queue starts.
struct RxRing {
    /// The buffers posted on each descriptor, given back to their pools when dropped
    /// (before the pools, which are declared after them).
    hdr: KVec<Option<PoolNetmem>>,
    pkt: KVec<Option<PoolNetmem>>,
    /// The skb of a packet spanning several descriptors, until its last one.
    partial: Option<SkBuff>,
    hdr_pool: OwnedPagePool,
    pkt_pool: OwnedPagePool,
    /// The next descriptor the NIC writes back.
    ntc: u32,
    /// The tail: the next descriptor to post buffers on.
    ntu: u32,
    /// Dropping the descriptors of a packet until its last one.
    discard: bool,
    /// The payload pool hands out `net_iov`s of a memory provider: the CPU cannot read the
    /// payload buffers, so only split packets are delivered.
    devmem: bool,
    /// Header split (`ethtool -G tcp-data-split`); off, each frame lands whole in its
    /// payload buffers and its headers are pulled into the linear part.
    split: bool,
    /// The size of a payload buffer (the queue's `rx_page_size`).
    buf_size: u32,
}

/// The payload buffer size for a queue configuration: `rx_page_size`, or a page.
fn pkt_buf_size(qcfg: &QueueConfig) -> Result<u32> {
    match qcfg.rx_page_size {
        0 => Ok(PKT_BUF),
        n if n.is_power_of_two() && (PKT_BUF..=MAX_PKT_BUF).contains(&n) => Ok(n),
        _ => Err(EINVAL),
    }
}

/// The state of a tx ring: the packets in it, mapped for the device, until it sent them.
struct TxRing {
    /// The next free descriptor.
    ntu: u32,
    /// The first descriptor of the oldest packet not yet reclaimed.
    ntc: u32,
    /// The packet whose first descriptor is `i`, and its last descriptor (EOP and RS:
    /// the one the NIC writes DD back into).
    pkts: KVVec<Option<(TxPacket, u32)>>,
}

/// The counters of an rx queue.
#[derive(Clone, Copy, Default)]
struct RxStats {
    packets: u64,
    bytes: u64,
    /// Packets the driver dropped (no skb, unsplit frames on a devmem queue).
    drops: u64,
    /// Buffers a page pool could not give for a descriptor.
    alloc_fail: u64,
    /// Packets delivered with a TCP checksum the NIC verified.
    csum_unnecessary: u64,
    /// Packets whose IP or L4 checksum the NIC found wrong: delivered without
    /// `CHECKSUM_UNNECESSARY`, for the stack to drop.
    csum_err: u64,
}

impl RxStats {
    /// The `ethtool -S` names of the counters after `rx<queue>_`, in the order of `values`.
    const NAMES: [&'static str; 6] = [
        "packets",
        "bytes",
        "dropped",
        "alloc_fail",
        "csum_unnecessary",
        "csum_err",
    ];

    fn values(&self) -> [u64; 6] {
        [
            self.packets,
            self.bytes,
            self.drops,
            self.alloc_fail,
            self.csum_unnecessary,
            self.csum_err,
        ]
    }

    fn add(&mut self, o: &Self) {
        self.packets += o.packets;
        self.bytes += o.bytes;
        self.drops += o.drops;
        self.alloc_fail += o.alloc_fail;
        self.csum_unnecessary += o.csum_unnecessary;
        self.csum_err += o.csum_err;
    }

    /// The counters the netdev family's qstats report (the drops are the driver's, not
    /// the hardware's `hw-drops`).
    fn to_qstats(&self, rx: &mut QueueStatsRx) {
        rx.packets = self.packets;
        rx.bytes = self.bytes;
        rx.alloc_fail = self.alloc_fail;
        rx.csum_unnecessary = self.csum_unnecessary;
        rx.csum_bad = self.csum_err;
    }
}

/// The counters of a tx queue.
#[derive(Clone, Copy, Default)]
struct TxStats {
    packets: u64,
    bytes: u64,
    /// Packets the driver dropped (could not pad, checksum or map them).
    drops: u64,
    /// Times the queue was stopped for lack of descriptors, and woken again.
    stops: u64,
    wakes: u64,
    /// Packets sent with the L4 checksum left to the NIC, TCP segmentation offloaded
    /// (one per packet of many segments), and checksummed in software instead.
    csum_offload: u64,
    tso: u64,
    csum_sw: u64,
}

impl TxStats {
    /// The `ethtool -S` names of the counters after `tx<queue>_`, in the order of `values`.
    const NAMES: [&'static str; 8] = [
        "packets",
        "bytes",
        "dropped",
        "stop",
        "wake",
        "csum_offload",
        "tso",
        "csum_sw",
    ];

    fn values(&self) -> [u64; 8] {
        [
            self.packets,
            self.bytes,
            self.drops,
            self.stops,
            self.wakes,
            self.csum_offload,
            self.tso,
            self.csum_sw,
        ]
    }

    fn add(&mut self, o: &Self) {
        self.packets += o.packets;
        self.bytes += o.bytes;
        self.drops += o.drops;
        self.stops += o.stops;
        self.wakes += o.wakes;
        self.csum_offload += o.csum_offload;
        self.tso += o.tso;
        self.csum_sw += o.csum_sw;
    }

    /// The counters the netdev family's qstats report: `needs-csum` counts the packets
    /// whose checksum the NIC computed (TSO ones included), `hw-gso-packets` the TSO ones.
    fn to_qstats(&self, tx: &mut QueueStatsTx) {
        tx.packets = self.packets;
        tx.bytes = self.bytes;
        tx.stop = self.stops;
        tx.wake = self.wakes;
        tx.needs_csum = self.csum_offload + self.tso;
        tx.hw_gso_packets = self.tso;
    }
}

/// An rx queue: its ring while it runs, and its counters, which outlive rings (queue
/// restarts, close and open), so the statistics cover the device's whole life.
#[derive(Default)]
struct RxQueue {
    ring: Option<RxRing>,
    stats: RxStats,
}

/// A tx queue: its ring while the device is up, and its counters.
#[derive(Default)]
struct TxQueue {
    ring: Option<TxRing>,
    stats: TxStats,
}

/// An rx/tx queue pair and the NAPI context that serves it.
#[pin_data]
struct QueuePair {
    #[pin]
    napi: Napi<QueuePair>,
    index: u32,
    hw: Arc<Hw>,
    rx_desc: Coherent<[u64]>,
    tx_desc: Coherent<[u64]>,
    // Taken by NAPI (softirq) and xmit (softirqs off); process context (open, stop,
    // stats, queue restarts) takes them with softirqs off too (`with_bh_disabled`).
    #[pin]
    rx: SpinLock<RxQueue>,
    #[pin]
    tx: SpinLock<TxQueue>,
}

kernel::impl_napi_poll!(QueuePair, napi, napi_poll);

/// What the netdev callbacks share.
#[pin_data]
struct Adapter {
    hw: Arc<Hw>,
    dev: ARef<device::Device>,
    pairs: KVec<Arc<QueuePair>>,
    /// How many of `pairs`, from the first, are in use (`ethtool -L`). Changed with the
    /// device stopped, under the RTNL and the instance lock (`set_channels`); read by the
    /// callbacks, which run under those locks or while the device runs.
    active: AtomicU32,
    /// The rings, vectors and NAPI contexts of the pairs in use are set up: from the end
    /// of `open` to the start of `stop`, under the instance lock.
    up: AtomicBool,
    /// Rx header split (`ethtool -G tcp-data-split`), for the rings made from now on;
    /// changed under the instance lock.
    split: AtomicBool,
    /// The least time between two interrupts of a queue pair's vector, in microseconds
    /// (`ethtool -C rx-usecs`; EITR); 0: an interrupt for every write-back.
    rx_usecs: AtomicU32,
    /// The RSS key, redirection table (`ethtool -X`) and flow steering rules (`ethtool
    /// -N`), programmed at open and when they change.
    #[pin]
    rss: Mutex<Rss>,
    /// The NIC's undersize and oversize frame counters (RUC, ROC), which clear on read,
    /// summed.
    rx_undersize: AtomicU64,
    rx_oversize: AtomicU64,
}

/// Writes descriptor `i` of a ring: two little-endian quadwords.
fn desc_write(ring: &Coherent<[u64]>, i: u32, lo: u64, hi: u64) -> Result {
    let i = 2 * i as usize;
    io_write!(ring, [try: i], lo);
    io_write!(ring, [try: i + 1], hi);
    Ok(())
}

/// Reads descriptor `i` of a ring.
fn desc_read(ring: &Coherent<[u64]>, i: u32) -> Result<(u64, u64)> {
    let i = 2 * i as usize;
    let lo: u64 = io_read!(ring, [try: i]);
    let hi: u64 = io_read!(ring, [try: i + 1]);
    Ok((lo, hi))
}

impl RxRing {
    fn new(
        dev: &device::Device,
        net: &NetDevice,
        q: u32,
        split: bool,
        qcfg: &QueueConfig,
    ) -> Result<Self> {
        let buf_size = pkt_buf_size(qcfg)?;
        // A power of two from PKT_BUF on (`pkt_buf_size`): its page order, without the
        // panicking `ilog2`.
        let order = (buf_size / PKT_BUF).trailing_zeros();
        let hdr_params = Params::new(dev, 0, RING_SIZE, DataDirection::FromDevice, HDR_BUF);
        let mut pkt_params =
            Params::new(dev, order, RING_SIZE, DataDirection::FromDevice, buf_size);
        let devmem = net.rx_queue_has_provider(q);
        if devmem {
            // SAFETY: `net` has queue `q` and outlives the pool (the ring is dropped in
            // `stop` or the queue restart before the device goes); the instance lock is
            // held by `open` and the queue-management callbacks that create rings.
            pkt_params = unsafe { pkt_params.unreadable(net, q) };
        }
        let hdr_pool = OwnedPagePool::new(&hdr_params)?;
        let pkt_pool = OwnedPagePool::new(&pkt_params)?;
        let mut hdr = KVec::with_capacity(RING_SIZE as usize, GFP_KERNEL)?;
        let mut pkt = KVec::with_capacity(RING_SIZE as usize, GFP_KERNEL)?;
        for _ in 0..RING_SIZE {
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
            // off with one bound.
            split: split || devmem,
            buf_size,
        })
    }

    /// Posts buffers on descriptor `i`; false when a pool is empty (counted in `stats`).
    fn post(&mut self, desc: &Coherent<[u64]>, i: u32, stats: &mut RxStats) -> bool {
        let s = i as usize;
        if self.hdr[s].is_none() {
            self.hdr[s] = self.hdr_pool.alloc_netmem(GFP_ATOMIC);
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
        match (&self.hdr[s], &self.pkt[s]) {
            (Some(h), Some(p)) => desc_write(desc, i, p.dma_addr(), h.dma_addr()).is_ok(),
            _ => false,
        }
    }

    /// Posts buffers from the tail up to the descriptor before the next one the NIC
    /// writes back (one slot stays empty); returns the new tail.
    fn refill(&mut self, desc: &Coherent<[u64]>, stats: &mut RxStats) -> u32 {
        while (self.ntu + 1) % RING_SIZE != self.ntc {
            if !self.post(desc, self.ntu, stats) {
                break;
            }
            self.ntu = (self.ntu + 1) % RING_SIZE;
        }
        self.ntu
    }
}

impl TxRing {
    fn new() -> Result<Self> {
        let mut pkts = KVVec::with_capacity(RING_SIZE as usize, GFP_KERNEL)?;
        for _ in 0..RING_SIZE {
            pkts.push(None, GFP_KERNEL)?;
        }
        Ok(Self {
            ntu: 0,
            ntc: 0,
            pkts,
        })
    }

    fn free_slots(&self) -> u32 {
        (self.ntc + RING_SIZE - self.ntu - 1) % RING_SIZE
    }

    /// Reclaims the packets the NIC sent: unmaps them and frees their skbs, from a NAPI
    /// poll (`ctx`) or elsewhere.
    fn clean(&mut self, desc: &Coherent<[u64]>, ctx: Option<&PollContext<'_>>) {
        while self.ntc != self.ntu {
            let Some(last) = self.pkts[self.ntc as usize].as_ref().map(|(_, l)| *l) else {
                // Not the start of a packet: cannot happen; resynchronise on the tail.
                self.ntc = self.ntu;
                break;
            };
            let Ok((_, hi)) = desc_read(desc, last) else {
                break;
            };
            // DD: bit 0 of the upper half of the second quadword (olinfo_status).
            if (hi >> 32) as u32 & TXD_STAT_DD == 0 {
                break;
            }
            if let Some((pkt, _)) = self.pkts[self.ntc as usize].take() {
                pkt.complete(ctx);
            }
            self.ntc = (last + 1) % RING_SIZE;
        }
    }
}

impl QueuePair {
    fn new(
        dev: &device::Device<Bound>,
        index: u32,
        hw: Arc<Hw>,
    ) -> Result<impl PinInit<Self, Error>> {
        let rx_desc = Coherent::<u64>::zeroed_slice(dev, 2 * RING_SIZE as usize, GFP_KERNEL)?;
        let tx_desc = Coherent::<u64>::zeroed_slice(dev, 2 * RING_SIZE as usize, GFP_KERNEL)?;
        Ok(try_pin_init!(Self {
            napi <- Napi::new(),
            index,
            hw,
            rx_desc,
            tx_desc,
            rx <- kernel::new_spinlock!(RxQueue::default()),
            tx <- kernel::new_spinlock!(TxQueue::default()),
        }? Error))
    }

    /// A snapshot of the queue pair's counters, from process context.
    fn stats(&self) -> (RxStats, TxStats) {
        with_bh_disabled(|| (self.rx.lock().stats, self.tx.lock().stats))
    }

    fn vector_bit(&self) -> u32 {
        1u32.checked_shl(self.index).unwrap_or(0)
    }

    /// The device's tx queue of this pair.
    fn txq<'a>(&self, dev: &'a NetDevice) -> Option<NetTxQueue<'a>> {
        dev.tx_queue(self.index)
    }

    fn napi_poll(&self, ctx: PollContext<'_>, budget: i32) -> i32 {
        let dev = ctx.dev();
        if self.index == 0 && self.hw.link_event.swap(false, Ordering::Relaxed) {
            if self.hw.rd(STATUS) & STATUS_LU != 0 {
                dev.carrier_on();
            } else {
                dev.carrier_off();
            }
        }
        {
            let mut guard = self.tx.lock();
            let TxQueue { ring, stats } = &mut *guard;
            if let Some(tx) = ring.as_mut() {
                tx.clean(&self.tx_desc, Some(&ctx));
                if let Some(txq) = self.txq(dev) {
                    if txq.is_stopped() && tx.free_slots() > RING_SIZE / 4 {
                        txq.wake();
                        stats.wakes += 1;
                    }
                }
            }
        }
        let work = self.rx_poll(&ctx, dev, budget);
        if work < budget && ctx.complete_done(work) {
            self.hw.wr(EIMS, self.vector_bit());
        }
        work.min(budget)
    }

    fn rx_poll(&self, ctx: &PollContext<'_>, dev: &NetDevice, budget: i32) -> i32 {
        let mut guard = self.rx.lock();
        let RxQueue { ring, stats } = &mut *guard;
        let Some(rx) = ring.as_mut() else {
            return 0;
        };
        let q = self.index as usize;
        let features = dev.features();
        let mut done = 0;
        let mut used = 0;
        while done < budget && used < RING_SIZE - 1 {
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
            let len = ((hi >> 32) & 0xFFFF) as u32;
            let hdr_info = lo as u32;
            rx.ntc = (rx.ntc + 1) % RING_SIZE;
            used += 1;
            let s = i as usize;

            if rx.discard {
                // The buffers of a dropped packet stay on their descriptors for reuse.
                rx.discard = status & RXD_STAT_EOP == 0;
                continue;
            }
            // A devmem queue runs in plain header-split mode, in which the model puts a
            // packet it does not split (not TCP/UDP over IP, or headers longer than the
            // header buffer) whole into the payload buffer, which the CPU cannot read.
            let split = hdr_info & RXD_SPH != 0 && status & RXD_STAT_HBO == 0;
            if rx.partial.is_none() && rx.devmem && !split {
                stats.drops += 1;
                rx.discard = status & RXD_STAT_EOP == 0;
                continue;
            }

            if rx.partial.is_none() && !rx.split {
                // One buffer: the frame is in the payload buffers; the header buffer stays
                // posted, unused.
                let Some(skb) = ctx.alloc_skb(RX_PULL) else {
                    stats.drops += 1;
                    rx.discard = status & RXD_STAT_EOP == 0;
                    continue;
                };
                rx.partial = Some(skb);
            }
            if rx.partial.is_none() {
                let hlen = if status & RXD_STAT_HBO != 0 {
                    HDR_BUF
                } else {
                    ((hdr_info >> RXD_HDR_LEN_SHIFT) & RXD_HDR_LEN_MASK).min(HDR_BUF)
                };
                let Some(h) = rx.hdr[s].take() else {
                    stats.drops += 1;
                    continue;
                };
                rx.hdr_pool.sync_for_cpu(&h, hlen);
                let skb = ctx.alloc_skb(hlen.max(64)).map(|mut skb| {
                    if let Some(b) = rx.hdr_pool.page_bytes(&h, hlen as usize) {
                        skb.put_data(b);
                    }
                    skb
                });
                // Its bytes were copied: back to the pool.
                drop(h);
                let Some(skb) = skb else {
                    stats.drops += 1;
                    continue;
                };
                rx.partial = Some(skb);
            }
            if len > 0 {
                if let (Some(p), Some(skb)) = (rx.pkt[s].take(), rx.partial.as_mut()) {
                    rx.pkt_pool.sync_for_cpu(&p, len);
                    if skb.push_rx_frag(p, 0, len, rx.buf_size).is_err() {
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
            if !rx.split && skb.pull_headers(dev, RX_PULL).is_err() {
                stats.drops += 1;
                continue;
            }
            if skb.len() < 14 {
                stats.drops += 1;
                continue;
            }
            stats.packets += 1;
            stats.bytes += u64::from(skb.len());
            skb.eth_type_trans(dev);
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
                skb.set_hash_l4((lo >> 32) as u32);
            }
            skb.record_rx_queue(self.index as u16);
            ctx.gro_receive(skb);
            done += 1;
        }
        if used > 0 {
            let tail = rx.refill(&self.rx_desc, stats);
            dma_mb(Write);
            // The tail is the last posted descriptor plus one.
            self.hw.wr(rdt(q), tail);
        }
        done
    }

    /// What `skb` asks of the NIC; a checksum the NIC cannot do is computed here, and a
    /// TSO packet's headers are prepared. `Err` drops the packet.
    fn tx_offload(skb: &mut SkBuff, stats: &mut TxStats) -> Result<Offload> {
        let Some((start, csum_offset)) = skb.csum_partial() else {
            return Ok(Offload::None);
        };
        let network = skb.network_offset();
        if let Some(gso) = skb.gso() {
            let ipv4 = match gso.kind {
                GsoKind::Tcp4 => true,
                GsoKind::Tcp6 => false,
                // Only TSO and TSO6 are offered.
                GsoKind::Other(_) => return Err(EINVAL),
            };
            let transport = skb.transport_offset();
            let doff = *skb
                .header_mut(transport + 13)?
                .get(transport as usize + 12)
                .ok_or(EINVAL)?;
            let o = txdesc::tso_offload(network, transport, doff, u32::from(gso.size), ipv4)
                .ok_or(EINVAL)?;
            let paylen = skb.len() - transport;
            if !txdesc::tso_fix_headers(skb.header_mut(o.tso_hdrlen())?, &o, paylen) {
                return Err(EINVAL);
            }
            stats.tso += 1;
            return Ok(o);
        }
        match txdesc::csum_offload(network, start, csum_offset) {
            Some(o) => {
                stats.csum_offload += 1;
                Ok(o)
            }
            None => {
                skb.checksum_help()?;
                stats.csum_sw += 1;
                Ok(Offload::None)
            }
        }
    }

    fn xmit(&self, dev: &NetDevice, ddev: &device::Device, skb: SkBuff) -> TxResult {
        let mut guard = self.tx.lock();
        let TxQueue { ring, stats } = &mut *guard;
        let Some(tx) = ring.as_mut() else {
            stats.drops += 1;
            return TxResult::Ok;
        };
        if tx.free_slots() < TX_DESC_MAX {
            tx.clean(&self.tx_desc, None);
            if tx.free_slots() < TX_DESC_MAX {
                // Stopped after the previous packet when this could happen: not expected.
                if let Some(txq) = self.txq(dev) {
                    txq.stop();
                }
                stats.stops += 1;
                return TxResult::Busy(skb);
            }
        }
        // The NIC pads short frames (TCTL.PSP) from 17 bytes on. Padding in software would
        // count in the length the checksum offload uses.
        let Ok(mut skb) = skb.pad_to(17) else {
            stats.drops += 1;
            return TxResult::Ok;
        };
        let offload = match Self::tx_offload(&mut skb, stats) {
            Ok(o) => o,
            Err(_) => {
                stats.drops += 1;
                return TxResult::Ok;
            }
        };
        let total = skb.len();
        let pkt = match TxPacket::map(ddev, skb) {
            Ok(p) => p,
            Err(_) => {
                stats.drops += 1;
                return TxResult::Ok;
            }
        };
        let first = tx.ntu;
        let mut i = first;
        if let Some((q0, q1)) = txdesc::context_desc(&offload) {
            let _ = desc_write(&self.tx_desc, i, q0, q1);
            i = (i + 1) % RING_SIZE;
        }
        // The data descriptors: every non-empty buffer, in pieces of at most MAX_PER_DESC.
        let mut pieces = pkt
            .segments()
            .iter()
            .filter(|s| !s.is_empty())
            .flat_map(|s| {
                (0..txdesc::descs_for(s.len())).map(move |k| {
                    let off = k * MAX_PER_DESC;
                    (
                        s.addr() + DmaAddress::from(off),
                        (s.len() - off).min(MAX_PER_DESC),
                    )
                })
            });
        let mut next = pieces.next();
        let mut is_first = true;
        let mut last = i;
        while let Some((addr, len)) = next {
            next = pieces.next();
            let hi = txdesc::data_desc(&offload, len, total, is_first, next.is_none());
            let _ = desc_write(&self.tx_desc, i, addr, hi);
            is_first = false;
            last = i;
            i = (i + 1) % RING_SIZE;
        }
        if is_first {
            // No bytes at all: nothing was written.
            stats.drops += 1;
            return TxResult::Ok;
        }
        tx.pkts[first as usize] = Some((pkt, last));
        tx.ntu = i;
        stats.packets += 1;
        stats.bytes += u64::from(total);
        // The descriptors are in memory before the NIC is told of them.
        dma_mb(Write);
        self.hw.wr(tdt(self.index as usize), tx.ntu);
        if tx.free_slots() < TX_DESC_MAX {
            if let Some(txq) = self.txq(dev) {
                txq.stop();
            }
            stats.stops += 1;
        }
        TxResult::Ok
    }
}

/// The EICR/EIMS bits of the first `n` MSI-X vectors.
fn vector_mask(n: u32) -> u32 {
    1u32.checked_shl(n).unwrap_or(0).wrapping_sub(1)
}

/// The interrupt handler of a queue pair's vector.
#[pin_data]
struct QueueIrq {
    pair: Arc<QueuePair>,
}

impl irq::Handler for QueueIrq {
    fn handle(&self) -> IrqReturn {
        self.pair.hw.wr(EIMC, self.pair.vector_bit());
        self.pair.napi.schedule();
        IrqReturn::Handled
    }
}

/// The interrupt handler of the link ("other") vector.
#[pin_data]
struct OtherIrq {
    pair0: Arc<QueuePair>,
}

impl irq::Handler for OtherIrq {
    fn handle(&self) -> IrqReturn {
        let hw = &self.pair0.hw;
        // Reading ICR clears it (GPIE.NSICR).
        if hw.rd(ICR) & ICR_LSC != 0 {
            hw.link_event.store(true, Ordering::Relaxed);
            self.pair0.napi.schedule();
        }
        IrqReturn::Handled
    }
}

impl Adapter {
    fn reset(hw: &Hw) {
        hw.wr(CTRL, hw.rd(CTRL) | CTRL_RST);
        fsleep(Delta::from_millis(2));
        hw.wr(IMC, !0);
        hw.wr(EIMC, !0);
        let _ = hw.rd(ICR);
    }

    fn mac(hw: &Hw) -> [u8; 6] {
        let lo = hw.rd(RAL0).to_le_bytes();
        let hi = hw.rd(RAH0).to_le_bytes();
        [lo[0], lo[1], lo[2], lo[3], hi[0], hi[1]]
    }

    /// The queue pairs in use.
    /// The EITR value for `rx_usecs`: the interval in bits 14:2 (microseconds), and CNT_IGNR
    /// so that writing it does not reset the running interval.
    fn eitr_val(&self) -> u32 {
        let usecs = self.rx_usecs.load(Ordering::Relaxed);
        ((usecs << 2) & EITR_INTERVAL) | if usecs > 0 { EITR_CNT_IGNR } else { 0 }
    }

    fn split(&self) -> bool {
        self.split.load(Ordering::Relaxed)
    }

    fn active(&self) -> &[Arc<QueuePair>] {
        let n = self.active.load(Ordering::Relaxed) as usize;
        &self.pairs[..n.min(self.pairs.len())]
    }

    /// The pairs not in use: their counters are kept, as the base of the queue stats.
    fn inactive(&self) -> &[Arc<QueuePair>] {
        &self.pairs[self.active().len()..]
    }

    /// The link vector: the one after the vectors of all queue pairs, in use or not.
    fn other_vector(&self) -> u32 {
        self.pairs.len() as u32
    }

    /// The interrupt causes (EIMS/EIAC bits) of the pairs in use and of the link.
    fn irq_mask(&self) -> u32 {
        vector_mask(self.active().len() as u32) | (1 << self.other_vector())
    }

    fn configure(&self) {
        let hw = &*self.hw;
        let n = self.active().len();
        hw.wr(GPIE, GPIE_MSIX_MODE | GPIE_NSICR);
        // The rx and tx causes of a pair in use go to its vector; unused pairs get none.
        for q in 0..self.pairs.len() {
            let v = if q < n { (q as u32) | IVAR_VALID } else { 0 };
            let shift = ((q & 8) << 1) as u32;
            let mut iv = hw.rd(ivar(q & 7));
            iv &= !(0xFFFF << shift);
            iv |= (v << shift) | (v << (shift + 8));
            hw.wr(ivar(q & 7), iv);
            hw.wr(eitr(q), self.eitr_val());
        }
        hw.wr(IVAR_MISC, (self.other_vector() | IVAR_VALID) << 8);
        hw.wr(EIAC, self.irq_mask());

        // RSS over the queue pairs (the key and table of `ethtool -X`).
        self.program_rss(&self.rss.lock());
        hw.wr(RXCSUM, RXCSUM_PCSD | RXCSUM_IPOFLD | RXCSUM_TUOFLD);
        hw.wr(MRQC, MRQC_RSS);
        for i in 0..128 {
            hw.wr(MTA + 4 * i, 0);
        }
    }

    /// Writes the RSS key (RSSRK) and redirection table (RETA). The model uses them from
    /// the next packet on.
    fn program_rss(&self, rss: &Rss) {
        for (i, v) in rss.key_regs().into_iter().enumerate() {
            self.hw.wr(rssrk(i), v);
        }
        for (i, v) in rss.reta_regs().into_iter().enumerate() {
            self.hw.wr(reta(i), v);
        }
    }

    /// Disables the rx or tx ring whose registers start at `base` (its RDBAL/TDBAL) and
    /// points it at `addr`, empty. Rx and tx rings have the same register layout.
    fn program_ring(&self, base: usize, addr: DmaAddress) {
        let hw = &*self.hw;
        hw.wr(base + RING_CTL, 0);
        hw.wr(base + RING_BAL, addr as u32);
        hw.wr(base + RING_BAH, (addr >> 32) as u32);
        hw.wr(base + RING_LEN, RING_SIZE * 16);
        hw.wr(base + RING_HEAD, 0);
        hw.wr(base + RING_TAIL, 0);
    }

    fn start_queue(&self, p: &QueuePair) {
        self.start_rx(p);
        self.start_tx(p);
    }

    fn start_rx(&self, p: &QueuePair) {
        with_bh_disabled(|| self.start_rx_locked(p))
    }

    fn start_rx_locked(&self, p: &QueuePair) {
        let hw = &*self.hw;
        let q = p.index as usize;
        let mut guard = p.rx.lock();
        let RxQueue { ring, stats } = &mut *guard;
        if let Some(rx) = ring.as_mut() {
            self.program_ring(rdbal(q), p.rx_desc.dma_address());
            // "Split always" puts small frames whole into the header buffer, readable: right
            // for a queue of pages, wrong for a devmem queue, whose TCP payload must all land
            // in the dma-buf (the stack does not mix readable and unreadable payload).
            let desctype = if rx.devmem {
                SRRCTL_DESCTYPE_HDR_SPLIT
            } else if rx.split {
                SRRCTL_DESCTYPE_HDR_SPLIT_ALWAYS
            } else {
                SRRCTL_DESCTYPE_ONE_BUF
            };
            hw.wr(
                srrctl(q),
                desctype | ((HDR_BUF << 2) & 0xF00) | (rx.buf_size >> 10),
            );
            hw.wr(rxdctl(q), XDCTL_ENABLE);
            rx.ntc = 0;
            rx.ntu = 0;
            rx.discard = false;
            let tail = rx.refill(&p.rx_desc, stats);
            dma_mb(Write);
            hw.wr(rdt(q), tail);
        }
    }

    fn start_tx(&self, p: &QueuePair) {
        with_bh_disabled(|| self.start_tx_locked(p))
    }

    fn start_tx_locked(&self, p: &QueuePair) {
        let hw = &*self.hw;
        let q = p.index as usize;
        if let Some(tx) = p.tx.lock().ring.as_mut() {
            self.program_ring(tdbal(q), p.tx_desc.dma_address());
            tx.ntu = 0;
            tx.ntc = 0;
            hw.wr(txdctl(q), XDCTL_ENABLE);
        }
    }

    fn stop_queue(&self, p: &QueuePair) {
        let q = p.index as usize;
        self.hw.wr(rxdctl(q), 0);
        self.hw.wr(txdctl(q), 0);
    }
}

struct IgbOps;

#[vtable]
impl Operations for IgbOps {
    type Data = Adapter;

    fn open(a: &Adapter, dev: &LockedNetDevice) -> Result {
        // Every ring first: on failure nothing is installed and nothing needs undoing.
        let mut rings = KVec::with_capacity(a.active().len(), GFP_KERNEL)?;
        for p in a.active() {
            rings.push(
                (
                    RxRing::new(&a.dev, dev, p.index, a.split(), &dev.queue_config(p.index)?)?,
                    TxRing::new()?,
                ),
                GFP_KERNEL,
            )?;
        }
        for (p, (rx, tx)) in a.active().iter().zip(rings) {
            with_bh_disabled(|| {
                p.rx.lock().ring = Some(rx);
                p.tx.lock().ring = Some(tx);
            });
        }
        a.configure();
        let mut started = Ok(());
        for p in a.active() {
            a.start_queue(p);
            started = started.and(Napi::start(p, dev, p.index));
        }
        if let Err(e) = started {
            // What did start is stopped with the rest.
            a.up.store(true, Ordering::Relaxed);
            <Self as Operations>::stop(a, dev)?;
            return Err(e);
        }
        let hw = &*a.hw;
        hw.wr(RLPML, MAX_FRAME);
        hw.wr(RCTL, RCTL_EN | RCTL_BAM | RCTL_SECRC | RCTL_LPE);
        hw.wr(TCTL, TCTL_EN | TCTL_PSP);
        hw.wr(EIMS, a.irq_mask());
        hw.wr(IMS, ICR_LSC);
        // The model brings the link up only after an autonegotiation restart; LSC follows.
        hw.wr(MDIC, MDIC_PHY_AUTONEG_RESTART);
        if hw.rd(STATUS) & STATUS_LU != 0 {
            dev.carrier_on();
        }
        dev.tx_start_all();
        a.up.store(true, Ordering::Relaxed);
        Ok(())
    }

    fn stop(a: &Adapter, dev: &LockedNetDevice) -> Result {
        // Not running: a channel change whose `open` failed left nothing to stop.
        if !a.up.swap(false, Ordering::Relaxed) {
            return Ok(());
        }
        dev.tx_disable();
        dev.carrier_off();
        let hw = &*a.hw;
        hw.wr(IMC, !0);
        hw.wr(EIMC, !0);
        hw.wr(RCTL, 0);
        hw.wr(TCTL, 0);
        for p in a.active() {
            a.stop_queue(p);
            // Started by `open` on this device: cannot fail.
            let _ = Napi::stop(p, dev);
            // Dropped outside the locks: destroying a page pool sleeps.
            let (rx, _tx) = with_bh_disabled(|| (p.rx.lock().ring.take(), p.tx.lock().ring.take()));
            drop(rx);
        }
        Ok(())
    }

    fn start_xmit(a: &Adapter, dev: &NetDevice, skb: SkBuff) -> TxResult {
        let pairs = a.active();
        let q = usize::from(skb.queue_mapping())
            .checked_rem(pairs.len())
            .unwrap_or(0);
        match pairs.get(q) {
            Some(p) => p.xmit(dev, &a.dev, skb),
            None => TxResult::Ok,
        }
    }

    fn get_stats64(a: &Adapter, _dev: &NetDevice, s: &mut LinkStats64) {
        a.add_stats(s);
    }
}

impl Adapter {
    /// The frames the NIC counted as too short (and padded) and too long (and dropped),
    /// since probe.
    fn length_errors(&self) -> (u64, u64) {
        let ruc = u64::from(self.hw.rd(RUC));
        let roc = u64::from(self.hw.rd(ROC));
        (
            self.rx_undersize.fetch_add(ruc, Ordering::Relaxed) + ruc,
            self.rx_oversize.fetch_add(roc, Ordering::Relaxed) + roc,
        )
    }

    fn add_stats(&self, s: &mut LinkStats64) {
        let (under, over) = self.length_errors();
        s.rx_length_errors += under + over;
        s.rx_errors += under + over;
        for p in self.pairs.iter() {
            let (rx, tx) = p.stats();
            s.rx_packets += rx.packets;
            s.rx_bytes += rx.bytes;
            s.rx_dropped += rx.drops;
            s.tx_packets += tx.packets;
            s.tx_bytes += tx.bytes;
            s.tx_dropped += tx.drops;
        }
    }
}

#[vtable]
impl QueueMgmtOps for IgbOps {
    type QueueMem = RxRing;
    const SUPPORTED_PARAMS: u32 = QCFG_RX_PAGE_SIZE;

    fn validate_qcfg(
        _a: &Adapter,
        _dev: &NetDevice,
        qcfg: &QueueConfig,
        ack: Option<&mut ExtAck>,
    ) -> Result {
        pkt_buf_size(qcfg).map(|_| ()).inspect_err(|_| {
            if let Some(ack) = ack {
                ack.set_msg(c"igb_rs: rx-page-size must be a power of two from 4 KiB to 64 KiB");
            }
        })
    }

    fn mem_alloc(a: &Adapter, dev: &NetDevice, idx: u32, qcfg: &QueueConfig) -> Result<RxRing> {
        // Administratively up but without rings (a channel change whose `open` failed):
        // refused before the core stops anything.
        if !a.up.load(Ordering::Relaxed) {
            return Err(ENETDOWN);
        }
        a.active().get(idx as usize).ok_or(EINVAL)?;
        RxRing::new(&a.dev, dev, idx, a.split(), qcfg)
    }

    fn start(
        a: &Adapter,
        _dev: &NetDevice,
        idx: u32,
        mem: RxRing,
    ) -> core::result::Result<(), (Error, RxRing)> {
        let Some(p) = a.active().get(idx as usize) else {
            return Err((EINVAL, mem));
        };
        with_bh_disabled(|| p.rx.lock().ring = Some(mem));
        a.start_rx(p);
        Ok(())
    }

    fn stop(a: &Adapter, _dev: &NetDevice, idx: u32) -> Result<RxRing> {
        let p = a.active().get(idx as usize).ok_or(EINVAL)?;
        // The model stops writing a disabled queue at once; the poll sees no ring after this.
        a.hw.wr(rxdctl(idx as usize), 0);
        with_bh_disabled(|| p.rx.lock().ring.take()).ok_or(EINVAL)
    }
}

#[vtable]
impl QueueStatsOps for IgbOps {
    fn get_queue_stats_rx(a: &Adapter, _dev: &NetDevice, idx: u32, rx: &mut QueueStatsRx) {
        if let Some(p) = a.active().get(idx as usize) {
            p.stats().0.to_qstats(rx);
        }
    }

    fn get_queue_stats_tx(a: &Adapter, _dev: &NetDevice, idx: u32, tx: &mut QueueStatsTx) {
        if let Some(p) = a.active().get(idx as usize) {
            p.stats().1.to_qstats(tx);
        }
    }

    fn get_base_stats(a: &Adapter, _dev: &NetDevice, rx: &mut QueueStatsRx, tx: &mut QueueStatsTx) {
        // The counters of a queue pair cover its whole life (they outlive the rings): the
        // base is what the pairs out of use (`ethtool -L`) counted.
        let (mut r, mut t) = (RxStats::default(), TxStats::default());
        for p in a.inactive() {
            let (pr, pt) = p.stats();
            r.add(&pr);
            t.add(&pt);
        }
        r.to_qstats(rx);
        t.to_qstats(tx);
    }
}

#[vtable]
impl EthtoolOps for IgbOps {
    const SUPPORTED_RING_PARAMS: u32 = RING_USE_TCP_DATA_SPLIT | RING_USE_HDS_THRS;
    const SUPPORTED_COALESCE_PARAMS: u32 = COALESCE_RX_USECS;

    fn get_coalesce(a: &Adapter, _dev: &NetDevice, ec: &mut Coalesce) -> Result {
        // One vector per queue pair: its interval covers tx completions too.
        ec.rx_coalesce_usecs = a.rx_usecs.load(Ordering::Relaxed);
        Ok(())
    }

    fn set_coalesce(
        a: &Adapter,
        _dev: &NetDevice,
        ec: &Coalesce,
        ack: Option<&mut ExtAck>,
    ) -> Result {
        if ec.rx_coalesce_usecs > MAX_RX_USECS {
            if let Some(ack) = ack {
                ack.set_msg(c"igb_rs: rx-usecs is at most 8191");
            }
            return Err(EINVAL);
        }
        a.rx_usecs.store(ec.rx_coalesce_usecs, Ordering::Relaxed);
        // Called under the instance lock, as `open` and `stop` are.
        if a.up.load(Ordering::Relaxed) {
            for p in a.active() {
                a.hw.wr(eitr(p.index as usize), a.eitr_val());
            }
        }
        Ok(())
    }

    fn get_ringparam(a: &Adapter, _dev: &NetDevice, r: &mut RingParam, k: &mut KernelRingParam) {
        r.rx_max_pending = RING_SIZE;
        r.tx_max_pending = RING_SIZE;
        r.rx_pending = RING_SIZE;
        r.tx_pending = RING_SIZE;
        // Rx splits headers from payload unless told not to.
        if k.tcp_data_split == tcp_data_split::UNKNOWN {
            k.tcp_data_split = if a.split() {
                tcp_data_split::ENABLED
            } else {
                tcp_data_split::DISABLED
            };
        }
        k.hds_thresh_max = 0;
    }

    fn set_ringparam(
        a: &Adapter,
        dev: &LockedNetDevice,
        r: &RingParam,
        k: &KernelRingParam,
        ack: Option<&mut ExtAck>,
    ) -> Result {
        if r.rx_pending != RING_SIZE || r.tx_pending != RING_SIZE {
            if let Some(ack) = ack {
                ack.set_msg(c"igb_rs rings have a fixed size of 256 descriptors");
            }
            return Err(EINVAL);
        }
        let split = match k.tcp_data_split {
            tcp_data_split::DISABLED => false,
            tcp_data_split::ENABLED => true,
            _ => a.split(),
        };
        if split == a.split() {
            return Ok(());
        }
        // The descriptor type of every rx queue changes: a running device is stopped and
        // opened again with new rings (the core refused turning split off while a memory
        // provider is bound).
        let running = dev.is_running();
        if running {
            <IgbOps as Operations>::stop(a, dev)?;
        }
        a.split.store(split, Ordering::Relaxed);
        if running {
            <IgbOps as Operations>::open(a, dev)?;
        }
        Ok(())
    }

    fn get_channels(a: &Adapter, _dev: &NetDevice, ch: &mut Channels) {
        ch.max_combined = a.pairs.len() as u32;
        ch.combined_count = a.active().len() as u32;
        // The link vector, as the C igb driver reports it.
        ch.max_other = 1;
        ch.other_count = 1;
    }

    fn set_channels(a: &Adapter, dev: &LockedNetDevice, ch: &Channels) -> Result {
        // Combined channels only (an rx/tx queue pair per vector), and the link vector.
        let n = ch.combined_count;
        if ch.rx_count != 0 || ch.tx_count != 0 || ch.other_count != 1 {
            return Err(EINVAL);
        }
        if n == 0 || n > a.pairs.len() as u32 {
            return Err(EINVAL);
        }
        let old = a.active().len() as u32;
        if n == old {
            return Ok(());
        }
        // The rings, vectors and NAPI contexts are set up for the pairs in use at open:
        // a running device is stopped and opened again with the new count, as `ip link
        // set down; up` would (the core has checked that nothing bound to a queue that
        // goes away: memory providers, AF_XDP, rules, a user-set RSS table).
        let running = dev.is_running();
        if running {
            <IgbOps as Operations>::stop(a, dev)?;
        }
        let res = dev.set_real_num_queues(n, n);
        if res.is_ok() {
            a.active.store(n, Ordering::Relaxed);
            if !dev.rxfh_configured() {
                a.rss.lock().spread(n as u8);
            }
        }
        if running {
            <IgbOps as Operations>::open(a, dev)?;
        }
        res
    }

    fn get_sset_count(a: &Adapter, _dev: &NetDevice, sset: u32) -> Result<u32> {
        match sset {
            string_set::STATS => Ok((DEV_STATS.len()
                + a.active().len() * (RxStats::NAMES.len() + TxStats::NAMES.len()))
                as u32),
            _ => Err(EOPNOTSUPP),
        }
    }

    fn get_strings(a: &Adapter, _dev: &NetDevice, sset: u32, out: &mut Strings<'_>) {
        if sset != string_set::STATS {
            return;
        }
        // The device's counters, all rx queues, then all tx queues: rx_undersize, ...,
        // rx0_packets, ..., tx1_csum_sw.
        for name in DEV_STATS {
            out.push(fmt!("{}", name));
        }
        for p in a.active() {
            for name in RxStats::NAMES {
                out.push(fmt!("rx{}_{}", p.index, name));
            }
        }
        for p in a.active() {
            for name in TxStats::NAMES {
                out.push(fmt!("tx{}_{}", p.index, name));
            }
        }
    }

    fn get_ethtool_stats(a: &Adapter, _dev: &NetDevice, stats: &mut [u64]) {
        let (under, over) = a.length_errors();
        let rx = a.active().iter().flat_map(|p| p.stats().0.values());
        let tx = a.active().iter().flat_map(|p| p.stats().1.values());
        let all = Iterator::chain([under, over].into_iter(), Iterator::chain(rx, tx));
        for (d, v) in stats.iter_mut().zip(all) {
            *d = v;
        }
    }

    fn get_rx_ring_count(a: &Adapter, _dev: &NetDevice) -> u32 {
        a.active().len() as u32
    }

    fn get_rxfh_key_size(_a: &Adapter, _dev: &NetDevice) -> u32 {
        rss::KEY_LEN as u32
    }

    fn get_rxfh_indir_size(_a: &Adapter, _dev: &NetDevice) -> u32 {
        rss::RETA_LEN as u32
    }

    fn get_rxfh(a: &Adapter, _dev: &NetDevice, rxfh: &mut RxfhParam) -> Result {
        rxfh.set_hfunc(rss_hash::TOP);
        let cfg = a.rss.lock();
        if let Some(indir) = rxfh.indir_mut() {
            for (e, q) in indir.iter_mut().zip(cfg.reta()) {
                *e = u32::from(q);
            }
        }
        if let Some(key) = rxfh.key_mut() {
            for (d, s) in key.iter_mut().zip(cfg.key()) {
                *d = *s;
            }
        }
        Ok(())
    }

    fn set_rxfh(
        a: &Adapter,
        _dev: &NetDevice,
        rxfh: &RxfhParam,
        mut ack: Option<&mut ExtAck>,
    ) -> Result {
        let hfunc = rxfh.hfunc();
        if hfunc != rss_hash::NO_CHANGE && hfunc != rss_hash::TOP {
            return Err(refuse(
                &mut ack,
                c"igb_rs hashes with Toeplitz only",
                EOPNOTSUPP,
            ));
        }
        let xfrm = rxfh.input_xfrm();
        if xfrm != 0 && xfrm != RXH_XFRM_NO_CHANGE {
            return Err(refuse(
                &mut ack,
                c"igb_rs has no input transformation",
                EOPNOTSUPP,
            ));
        }
        if rxfh.rss_context() != 0 {
            return Err(refuse(&mut ack, c"igb_rs has no RSS contexts", EOPNOTSUPP));
        }
        // Check everything before changing anything.
        let queues = a.active().len();
        let indir = match rxfh.indir() {
            None => None,
            Some(t) if t.len() != rss::RETA_LEN => {
                kernel::ext_ack_fmt!(
                    ack,
                    "igb_rs: {} table entries given, the table has {}",
                    t.len(),
                    rss::RETA_LEN
                );
                return Err(EINVAL);
            }
            Some(t) => {
                let mut table = [0u8; rss::RETA_LEN];
                for (i, (e, &q)) in table.iter_mut().zip(t).enumerate() {
                    if q as usize >= queues {
                        kernel::ext_ack_fmt!(
                            ack,
                            "igb_rs: entry {}: queue {} out of range ({} rx queues)",
                            i,
                            q,
                            queues
                        );
                        return Err(EINVAL);
                    }
                    *e = q as u8;
                }
                Some(table)
            }
        };
        let key = match rxfh.key() {
            None => None,
            Some(k) => match <[u8; rss::KEY_LEN]>::try_from(k) {
                Ok(k) => Some(k),
                Err(_) => {
                    kernel::ext_ack_fmt!(
                        ack,
                        "igb_rs: {} key bytes given, the key has {}",
                        k.len(),
                        rss::KEY_LEN
                    );
                    return Err(EINVAL);
                }
            },
        };
        let mut cfg = a.rss.lock();
        if let Some(key) = &key {
            if let Err(e) = cfg.set_key(key) {
                if let RuleError::Conflict { loc, other, entry } = e {
                    kernel::ext_ack_fmt!(
                        ack,
                        "igb_rs: with this key, flow rules {} and {} (other queues) share entry {}",
                        loc,
                        other,
                        entry
                    );
                }
                return Err(EBUSY);
            }
        }
        if let Some(table) = &indir {
            cfg.set_indir(table);
        }
        a.program_rss(&cfg);
        Ok(())
    }

    fn get_rxnfc(
        a: &Adapter,
        _dev: &NetDevice,
        info: &mut Rxnfc,
        rule_locs: Option<&mut [u32]>,
    ) -> Result {
        match info.cmd() {
            rxnfc_cmd::GRXRINGS => info.set_data(a.active().len() as u64),
            rxnfc_cmd::GRXCLSRLCNT => {
                let cfg = a.rss.lock();
                info.set_rule_cnt(cfg.locations().count() as u32);
                // A rule inserted without a location gets one from the driver.
                info.set_data(rss::MAX_RULES as u64 | u64::from(rx_cls_loc::SPECIAL));
            }
            rxnfc_cmd::GRXCLSRULE => {
                let cfg = a.rss.lock();
                let rule = cfg.rule(info.location() as usize).ok_or(ENOENT)?;
                describe_rule(info, rule);
            }
            rxnfc_cmd::GRXCLSRLALL => {
                let cfg = a.rss.lock();
                let locs = rule_locs.unwrap_or_default();
                let mut n = 0;
                for loc in cfg.locations() {
                    *locs.get_mut(n).ok_or(EMSGSIZE)? = loc as u32;
                    n += 1;
                }
                info.set_rule_cnt(n as u32);
                info.set_data(rss::MAX_RULES as u64);
            }
            _ => return Err(EOPNOTSUPP),
        }
        Ok(())
    }

    fn set_rxnfc(a: &Adapter, _dev: &NetDevice, info: &mut Rxnfc) -> Result {
        match info.cmd() {
            rxnfc_cmd::SRXCLSRLINS => {
                let rule = parse_rule(info, a.active().len()).map_err(|(e, why)| {
                    // The ioctl has no extended acknowledgement: say why in the log.
                    dev_info!(a.dev, "flow rule refused: {}\n", why);
                    e
                })?;
                let place = match info.location() {
                    rx_cls_loc::ANY | rx_cls_loc::FIRST => Place::First,
                    rx_cls_loc::LAST => Place::Last,
                    loc if loc & rx_cls_loc::SPECIAL != 0 => return Err(EINVAL),
                    loc => Place::At(loc as usize),
                };
                let mut cfg = a.rss.lock();
                match cfg.insert(place, rule) {
                    Ok(loc) => info.set_location(loc as u32),
                    Err(RuleError::Conflict { other, entry, .. }) => {
                        dev_info!(
                            a.dev,
                            "flow rule refused: rule {} hashes to the same table entry ({}) and steers to another queue\n",
                            other,
                            entry
                        );
                        return Err(EBUSY);
                    }
                    Err(RuleError::Full) => return Err(ENOSPC),
                    Err(_) => {
                        dev_info!(
                            a.dev,
                            "flow rule refused: locations go up to {}\n",
                            rss::MAX_RULES - 1
                        );
                        return Err(EINVAL);
                    }
                }
                a.program_rss(&cfg);
            }
            rxnfc_cmd::SRXCLSRLDEL => {
                let mut cfg = a.rss.lock();
                cfg.remove(info.location() as usize).map_err(|_| ENOENT)?;
                a.program_rss(&cfg);
            }
            _ => return Err(EOPNOTSUPP),
        }
        Ok(())
    }
}

/// A full mask of IPv4 addresses and ports.
const IP4_FULL: Ip4L4 = Ip4L4 {
    src: [0xff; 4],
    dst: [0xff; 4],
    sport: 0xffff,
    dport: 0xffff,
    tos: 0,
};

/// A full mask of IPv6 addresses and ports.
const IP6_FULL: Ip6L4 = Ip6L4 {
    src: [0xff; 16],
    dst: [0xff; 16],
    sport: 0xffff,
    dport: 0xffff,
    tclass: 0,
};

/// The rule `info` asks for, or the error and why: the rules live in the redirection
/// table, so they can only steer a whole TCP 4-tuple to one queue.
fn parse_rule(info: &Rxnfc, queues: usize) -> core::result::Result<Rule, (Error, &'static str)> {
    let ft = info.flow_type();
    if ft & flow_type::FLOW_RSS != 0 {
        return Err((EOPNOTSUPP, "no RSS contexts"));
    }
    if ft & (flow_type::FLOW_EXT | flow_type::FLOW_MAC_EXT) != 0 {
        return Err((
            EOPNOTSUPP,
            "only the TCP 4-tuple can be matched (no VLAN, user-def or dst-mac)",
        ));
    }
    let cookie = info.ring_cookie();
    if cookie == RX_CLS_FLOW_DISC || cookie == RX_CLS_FLOW_WAKE {
        return Err((EOPNOTSUPP, "the action must be a queue (no drop)"));
    }
    if cookie >= queues as u64 {
        return Err((EINVAL, "the action is not one of the rx queues"));
    }
    const PARTIAL: &str = "src-ip, dst-ip, src-port and dst-port must all be given, without masks";
    let flow = match ft {
        flow_type::TCP_V4 => {
            let (v, m) = info.ip4_l4();
            if m.tos != 0 {
                return Err((EOPNOTSUPP, "tos cannot be matched"));
            }
            if m != IP4_FULL {
                return Err((EOPNOTSUPP, PARTIAL));
            }
            TcpFlow {
                addrs: Addrs::V4 {
                    src: v.src,
                    dst: v.dst,
                },
                sport: v.sport,
                dport: v.dport,
            }
        }
        flow_type::TCP_V6 => {
            let (v, m) = info.ip6_l4();
            if m.tclass != 0 {
                return Err((EOPNOTSUPP, "tclass cannot be matched"));
            }
            if m != IP6_FULL {
                return Err((EOPNOTSUPP, PARTIAL));
            }
            TcpFlow {
                addrs: Addrs::V6 {
                    src: v.src,
                    dst: v.dst,
                },
                sport: v.sport,
                dport: v.dport,
            }
        }
        _ => return Err((EOPNOTSUPP, "only tcp4 and tcp6 flows can be steered")),
    };
    Ok(Rule {
        flow,
        queue: cookie as u8,
    })
}

/// Describes `rule` in `info` (`ETHTOOL_GRXCLSRULE`).
fn describe_rule(info: &mut Rxnfc, rule: &Rule) {
    let f = &rule.flow;
    match f.addrs {
        Addrs::V4 { src, dst } => {
            let v = Ip4L4 {
                src,
                dst,
                sport: f.sport,
                dport: f.dport,
                tos: 0,
            };
            info.set_ip4_l4(flow_type::TCP_V4, &v, &IP4_FULL);
        }
        Addrs::V6 { src, dst } => {
            let v = Ip6L4 {
                src,
                dst,
                sport: f.sport,
                dport: f.dport,
                tclass: 0,
            };
            info.set_ip6_l4(flow_type::TCP_V6, &v, &IP6_FULL);
        }
    }
    info.set_ring_cookie(u64::from(rule.queue));
}

/// Leaves `msg` in the request's extended acknowledgement, if it has one; returns `err`.
fn refuse(ack: &mut Option<&mut ExtAck>, msg: &'static CStr, err: Error) -> Error {
    if let Some(ack) = ack.as_deref_mut() {
        ack.set_msg(msg);
    }
    err
}

/// What the driver keeps for a bound device. Fields drop in order: the net device
/// (unregistered: `stop` quiesces the NIC), then the interrupt handlers, then the vectors.
struct IgbData<'bound> {
    _netdev: Registration<IgbOps>,
    _irqs: KVec<Pin<KBox<irq::Registration<'bound, QueueIrq>>>>,
    _other: Pin<KBox<irq::Registration<'bound, OtherIrq>>>,
    _vectors: Pin<KBox<pci::IrqVectorRegistration<'bound>>>,
}

struct IgbDriver;

kernel::pci_device_table!(
    PCI_TABLE,
    <IgbDriver as pci::Driver>::IdInfo,
    [(pci::DeviceId::from_id(pci::Vendor::INTEL, 0x10c9), ())]
);

impl pci::Driver for IgbDriver {
    type IdInfo = ();
    type Data<'bound> = IgbData<'bound>;

    const ID_TABLE: pci::IdTable<Self::IdInfo> = &PCI_TABLE;

    fn probe<'bound>(
        pdev: &'bound pci::Device<Core<'_>>,
        _info: Option<&'bound Self::IdInfo>,
    ) -> impl PinInit<Self::Data<'bound>, Error> + 'bound {
        pdev.enable_device_mem()?;
        pdev.set_master();
        // SAFETY: No DMA is in flight: the device was just enabled and is reset below.
        unsafe { pdev.dma_set_mask_and_coherent(DmaMask::new::<64>())? };
        let bar = pdev
            .iomap_region_sized::<BAR_SIZE>(0, c"igb_rs")?
            .into_devres()?;
        let hw = Arc::new(
            Hw {
                bar,
                link_event: AtomicBool::new(false),
            },
            GFP_KERNEL,
        )?;
        Adapter::reset(&hw);
        let mac = Adapter::mac(&hw);

        let vectors = KBox::pin(
            pdev.alloc_irq_vectors(
                MAX_QUEUES + 1,
                MAX_QUEUES + 1,
                pci::IrqTypes::default().with(pci::IrqType::MsiX),
            )?,
            GFP_KERNEL,
        )?;
        // SAFETY: The registration is pinned on the heap and dropped after the handlers
        // that borrow it (field order of `IgbData`), so the borrow does not outlive it.
        let vref: &'bound pci::IrqVectorRegistration<'bound> =
            unsafe { &*core::ptr::from_ref(&*vectors) };

        let mut pairs = KVec::new();
        for q in 0..MAX_QUEUES {
            let init = QueuePair::new(pdev.as_ref(), q, hw.clone())?;
            pairs.push(Arc::pin_init(init, GFP_KERNEL)?, GFP_KERNEL)?;
        }
        let mut irqs = KVec::new();
        for p in pairs.iter() {
            let req = vref.index(p.index as usize)?;
            let pair = p.clone();
            // SAFETY: The registration is kept in `IgbData` and dropped, never forgotten.
            let reg = unsafe {
                irq::Registration::new(
                    req.into(),
                    irq::Flags::TRIGGER_NONE,
                    c"igb_rs-queue",
                    try_pin_init!(QueueIrq { pair }? Error),
                )
            };
            irqs.push(KBox::pin_init(reg, GFP_KERNEL)?, GFP_KERNEL)?;
        }
        let req = vref.index(MAX_QUEUES as usize)?;
        let pair0 = pairs[0].clone();
        // SAFETY: As above.
        let other = KBox::pin_init(
            unsafe {
                irq::Registration::new(
                    req.into(),
                    irq::Flags::TRIGGER_NONE,
                    c"igb_rs-link",
                    try_pin_init!(OtherIrq { pair0 }? Error),
                )
            },
            GFP_KERNEL,
        )?;

        let ddev: &device::Device = pdev.as_ref();
        // The system's random RSS key, the table spread over the queue pairs.
        let mut key = [0u8; rss::KEY_LEN];
        rss_key_fill(&mut key);
        let adapter = Arc::pin_init(
            pin_init!(Adapter {
                hw,
                dev: ddev.into(),
                pairs,
                active: AtomicU32::new(DEFAULT_QUEUES),
                up: AtomicBool::new(false),
                split: AtomicBool::new(true),
                rx_usecs: AtomicU32::new(DEFAULT_RX_USECS),
                rss <- kernel::new_mutex!(Rss::new(key, DEFAULT_QUEUES as u8)),
                rx_undersize: AtomicU64::new(0),
                rx_oversize: AtomicU64::new(0),
            }),
            GFP_KERNEL,
        )?;
        let mut netdev = Registration::<IgbOps>::new(
            ddev,
            MAX_QUEUES,
            MAX_QUEUES,
            adapter,
            ExtraOps::new()
                .ethtool()
                .queue_mgmt()
                .queue_stats()
                .features(FEATURES)
                .netmem_tx(),
        )?;
        netdev
            .dev()
            .set_real_num_queues(DEFAULT_QUEUES, DEFAULT_QUEUES)?;
        netdev.dev().set_mac(&mac);
        netdev.dev().set_mtu_range(68, MAX_FRAME - 18);
        netdev.register()?;
        dev_info!(
            pdev,
            "igb_rs: {} of {} queue pairs in use, MAC {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}\n",
            DEFAULT_QUEUES,
            MAX_QUEUES,
            mac[0],
            mac[1],
            mac[2],
            mac[3],
            mac[4],
            mac[5]
        );
        Ok(IgbData {
            _netdev: netdev,
            _irqs: irqs,
            _other: other,
            _vectors: vectors,
        })
    }
}

kernel::module_pci_driver! {
    type: IgbDriver,
    name: "igb_rs",
    authors: ["devmem-rs"],
    description: "Intel 82576 (as QEMU emulates it) in Rust, with header split for devmem TCP",
    license: "GPL",
}
