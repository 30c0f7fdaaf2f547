// SPDX-License-Identifier: GPL-2.0

//! Hardware bring-up: reset, interrupt routing, RSS registers and the programming of the rings.

use crate::regs::*;
use crate::{
    netdev::Adapter,
    queue::{
        vector_mask,
        QueuePair,
        RING_SIZE, //
    },
    rss::Rss,
    rx::{
        RxQueue,
        HDR_BUF, //
    }, //
};
use core::sync::atomic::{
    AtomicBool,
    Ordering, //
};
use kernel::{
    dma::DmaAddress,
    io::Io as _,
    pci,
    sync::barrier::{
        dma_mb,
        Write, //
    },
    time::{
        delay::fsleep,
        Delta, //
    }, //
};

/// The largest interval EITR holds, in microseconds.
pub(crate) const MAX_RX_USECS: u32 = EITR_INTERVAL >> 2;

/// The device's registers.
pub(crate) struct Hw {
    pub(crate) bar: pci::DevresBar<BAR_SIZE>,
    pub(crate) link_event: AtomicBool,
}

impl Hw {
    pub(crate) fn rd(&self, off: usize) -> u32 {
        self.bar
            .try_access()
            .and_then(|b| (&*b).try_read32(off).ok())
            .unwrap_or(0)
    }

    pub(crate) fn wr(&self, off: usize, val: u32) {
        if let Some(b) = self.bar.try_access() {
            let _ = (&*b).try_write32(val, off);
        }
    }
}

impl Adapter {
    pub(crate) fn reset(hw: &Hw) {
        hw.wr(CTRL, hw.rd(CTRL) | CTRL_RST);
        fsleep(Delta::from_millis(2));
        hw.wr(IMC, !0);
        hw.wr(EIMC, !0);
        let _ = hw.rd(ICR);
    }

    pub(crate) fn mac(hw: &Hw) -> [u8; 6] {
        let lo = hw.rd(RAL0).to_le_bytes();
        let hi = hw.rd(RAH0).to_le_bytes();
        [lo[0], lo[1], lo[2], lo[3], hi[0], hi[1]]
    }

    /// The EITR value for `rx_usecs`: the interval in bits 14:2 (microseconds), and CNT_IGNR
    /// so that writing it does not reset the running interval.
    pub(crate) fn eitr_val(&self) -> u32 {
        let usecs = self.rx_usecs.load(Ordering::Relaxed);
        ((usecs << 2) & EITR_INTERVAL) | if usecs > 0 { EITR_CNT_IGNR } else { 0 }
    }

    /// The link vector: the one after the vectors of all queue pairs, in use or not.
    pub(crate) fn other_vector(&self) -> u32 {
        self.pairs.len() as u32
    }

    /// The interrupt causes (EIMS/EIAC bits) of the pairs in use and of the link.
    pub(crate) fn irq_mask(&self) -> u32 {
        vector_mask(self.active().len() as u32) | (1 << self.other_vector())
    }

    pub(crate) fn configure(&self) {
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
    pub(crate) fn program_rss(&self, rss: &Rss) {
        for (i, v) in rss.key_regs().into_iter().enumerate() {
            self.hw.wr(rssrk(i), v);
        }
        for (i, v) in rss.reta_regs().into_iter().enumerate() {
            self.hw.wr(reta(i), v);
        }
    }

    /// Disables the rx or tx ring whose registers start at `base` (its RDBAL/TDBAL) and
    /// points it at `addr`, empty. Rx and tx rings have the same register layout.
    pub(crate) fn program_ring(&self, base: usize, addr: DmaAddress) {
        let hw = &*self.hw;
        hw.wr(base + RING_CTL, 0);
        hw.wr(base + RING_BAL, addr as u32);
        hw.wr(base + RING_BAH, (addr >> 32) as u32);
        hw.wr(base + RING_LEN, RING_SIZE * 16);
        hw.wr(base + RING_HEAD, 0);
        hw.wr(base + RING_TAIL, 0);
    }

    pub(crate) fn start_queue(&self, p: &QueuePair) {
        self.start_rx(p);
        self.start_tx(p);
    }

    /// Programs the rx ring of `p`, if it has one, and posts its buffers.
    pub(crate) fn start_rx(&self, p: &QueuePair) {
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

    /// Programs the tx ring of `p`, if it has one, empty.
    pub(crate) fn start_tx(&self, p: &QueuePair) {
        let hw = &*self.hw;
        let q = p.index as usize;
        if let Some(tx) = p.tx.lock().ring.as_mut() {
            self.program_ring(tdbal(q), p.tx_desc.dma_address());
            tx.ntu = 0;
            tx.ntc = 0;
            hw.wr(txdctl(q), XDCTL_ENABLE);
        }
    }

    pub(crate) fn stop_queue(&self, p: &QueuePair) {
        let q = p.index as usize;
        self.hw.wr(rxdctl(q), 0);
        self.hw.wr(txdctl(q), 0);
    }
}
