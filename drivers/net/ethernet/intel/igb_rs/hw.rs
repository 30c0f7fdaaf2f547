// SPDX-License-Identifier: GPL-2.0

//! Hardware bring-up: reset, interrupt routing, RSS registers and the programming of the rings.

use crate::regs::*;
use crate::{
    netdev::Adapter,
    queue::{
        vector_mask,
        QueuePair, //
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
    io::{
        register::Array,
        Io, //
    },
    pci,
    prelude::*,
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
pub(crate) const MAX_RX_USECS: u32 = (1 << 13) - 1;

/// The EITR value for an interval of `usecs` (at most [`MAX_RX_USECS`]), with CNT_IGNR so
/// that writing it does not restart the running interval.
pub(crate) fn eitr_of(usecs: u32) -> EITR {
    let usecs = usecs.min(MAX_RX_USECS);
    EITR::from_raw(0)
        .with_cnt_ignr(usecs > 0)
        .try_with_interval(usecs)
        .unwrap_or(EITR::from_raw(0))
}

/// The MMIO BAR of the device.
pub(crate) type Bar<'a> = pci::Bar<'a, BAR_SIZE>;

/// The device's registers.
pub(crate) struct Hw {
    pub(crate) bar: pci::DevresBar<BAR_SIZE>,
    pub(crate) link_event: AtomicBool,
}

impl Hw {
    /// Runs `f` with the registers: `ENODEV` once the device is gone (unbound, removed),
    /// when no register can be read or written.
    pub(crate) fn io<R>(&self, f: impl for<'a> FnOnce(&Bar<'a>) -> R) -> Result<R> {
        self.bar.try_access_with(f).ok_or(ENODEV)
    }

    /// As [`Hw::io`], for an `f` that can fail too.
    pub(crate) fn try_io<R>(&self, f: impl for<'a> FnOnce(&Bar<'a>) -> Result<R>) -> Result<R> {
        self.io(f)?
    }
}

impl Adapter {
    /// Resets the device and masks its interrupts.
    pub(crate) fn reset(hw: &Hw) -> Result {
        hw.io(|io| io.update(CTRL, |r| r.with_rst(true)))?;
        fsleep(Delta::from_millis(2));
        hw.io(|io| {
            io.write_reg(IMC::from_raw(!0));
            io.write_reg(EIMC::from_raw(!0));
            let _ = io.read(ICR);
        })
    }

    /// The MAC address the device was given (RAL0/RAH0).
    pub(crate) fn mac(hw: &Hw) -> Result<[u8; 6]> {
        hw.io(|io| {
            let lo = io.read(RAL0).into_raw().to_le_bytes();
            let hi = io.read(RAH0).into_raw().to_le_bytes();
            [lo[0], lo[1], lo[2], lo[3], hi[0], hi[1]]
        })
    }

    /// The link vector: the one after the vectors of all queue pairs, in use or not.
    pub(crate) fn other_vector(&self) -> u32 {
        self.pairs.len() as u32
    }

    /// The interrupt causes (EIMS/EIAC bits) of the pairs in use and of the link.
    pub(crate) fn irq_mask(&self) -> u32 {
        vector_mask(self.active().len() as u32) | (1 << self.other_vector())
    }

    /// Routes the interrupt causes to their vectors, programs RSS and the rx checksum
    /// offloads.
    pub(crate) fn configure(&self) -> Result {
        let n = self.active().len();
        let rss = self.rss.lock();
        self.hw.try_io(|io| {
            io.write_reg(GPIE::from_raw(0).with_msix_mode(true).with_nsicr(true));
            // The rx and tx causes of a pair in use go to its vector; unused pairs get none.
            for (q, pair) in self.pairs.iter().enumerate() {
                let v = if q < n { (q as u32) | IVAR_VALID } else { 0 };
                let shift = ((q & 8) << 1) as u32;
                let mut iv = io.read(IVAR::try_at(q & 7).ok_or(EINVAL)?).into_raw();
                iv &= !(0xFFFF << shift);
                iv |= (v << shift) | (v << (shift + 8));
                io.write(IVAR::try_at(q & 7).ok_or(EINVAL)?, IVAR::from_raw(iv));
                // The interval the pair has: `rx-usecs`, or where its DIM is.
                let usecs = pair.usecs.load(Ordering::Relaxed);
                io.write(EITR::try_at(q).ok_or(EINVAL)?, eitr_of(usecs));
            }
            io.write_reg(
                IVAR_MISC::from_raw(0)
                    .with_valid(true)
                    .try_with_vector(self.other_vector())?,
            );
            io.write_reg(EIAC::from_raw(self.irq_mask()));

            // RSS over the queue pairs (the key and table of `ethtool -X`).
            Self::program_rss_io(io, &rss)?;
            io.write_reg(
                RXCSUM::from_raw(0)
                    .with_pcsd(true)
                    .with_ipofld(true)
                    .with_tuofld(true),
            );
            for i in 0..128 {
                io.write(MTA::try_at(i).ok_or(EINVAL)?, MTA::from_raw(0));
            }
            Ok(())
        })
    }

    /// Writes the RSS key (RSSRK), redirection table (RETA) and hashed packet types (MRQC).
    /// The model uses them from the next packet on.
    pub(crate) fn program_rss(&self, rss: &Rss) -> Result {
        self.hw.try_io(|io| Self::program_rss_io(io, rss))
    }

    fn program_rss_io(io: &Bar<'_>, rss: &Rss) -> Result {
        for (i, v) in rss.key_regs().into_iter().enumerate() {
            io.write(RSSRK::try_at(i).ok_or(EINVAL)?, RSSRK::from_raw(v));
        }
        for (i, v) in rss.reta_regs().into_iter().enumerate() {
            io.write(RETA::try_at(i).ok_or(EINVAL)?, RETA::from_raw(v));
        }
        // TCP, and UDP if asked (`Rss::fields`): the model gives a frame it does not hash
        // queue 0 (not an entry of the table), so ARP, ICMP, IP fragments and by default
        // UDP all land there, and queue 0 is never bound (`validate_qcfg`). A devmem queue
        // then gets TCP alone, whose payload only a devmem TCP socket can take.
        let udp = rss.udp();
        io.write_reg(
            MRQC::from_raw(0)
                .with_const_mode::<2>()
                .with_hash_tcp_ipv4(true)
                .with_hash_tcp_ipv6_ex(true)
                .with_hash_udp_ipv4(udp.v4)
                .with_hash_udp_ipv6(udp.v6),
        );
        Ok(())
    }

    /// Starts the rx and tx rings of `p`.
    pub(crate) fn start_queue(&self, p: &QueuePair) -> Result {
        self.start_rx(p)?;
        self.start_tx(p)
    }

    /// Programs the rx ring of `p`, if it has one, and posts its buffers: the ring is
    /// disabled, pointed at its descriptors, empty, then enabled.
    pub(crate) fn start_rx(&self, p: &QueuePair) -> Result {
        let q = p.index as usize;
        let mut guard = p.rx.lock();
        let RxQueue { ring, stats, .. } = &mut *guard;
        let Some(rx) = ring.as_mut() else {
            return Ok(());
        };
        // "Split always" puts small frames whole into the header buffer, readable: right
        // for a queue of pages, wrong for a devmem queue, whose TCP payload must all land
        // in the dma-buf (the stack does not mix readable and unreadable payload).
        let desctype = if rx.devmem {
            DESCTYPE_HDR_SPLIT
        } else if rx.split {
            DESCTYPE_HDR_SPLIT_ALWAYS
        } else {
            DESCTYPE_ONE_BUF
        };
        let srrctl = SRRCTL::from_raw(0)
            .try_with_desctype(desctype)?
            .try_with_bsizeheader(HDR_BUF / 64)?
            .try_with_bsizepacket(rx.buf_size >> 10)?;
        let addr = p.rx_desc.dma_address();
        self.hw.try_io(|io| {
            io.write(RXDCTL::try_at(q).ok_or(EINVAL)?, RXDCTL::from_raw(0));
            io.write(
                RDBAL::try_at(q).ok_or(EINVAL)?,
                RDBAL::from_raw(addr as u32),
            );
            io.write(
                RDBAH::try_at(q).ok_or(EINVAL)?,
                RDBAH::from_raw((addr >> 32) as u32),
            );
            io.write(
                RDLEN::try_at(q).ok_or(EINVAL)?,
                RDLEN::from_raw(rx.size() * 16),
            );
            io.write(RDH::try_at(q).ok_or(EINVAL)?, RDH::from_raw(0));
            io.write(RDT::try_at(q).ok_or(EINVAL)?, RDT::from_raw(0));
            io.write(SRRCTL::try_at(q).ok_or(EINVAL)?, srrctl);
            io.write(
                RXDCTL::try_at(q).ok_or(EINVAL)?,
                RXDCTL::from_raw(0).with_enable(true),
            );
            Ok(())
        })?;
        rx.ntc = 0;
        rx.ntu = 0;
        rx.discard = false;
        let tail = rx.refill(&p.rx_desc, stats);
        dma_mb(Write);
        self.hw.try_io(|io| {
            io.write(RDT::try_at(q).ok_or(EINVAL)?, RDT::from_raw(tail));
            Ok(())
        })
    }

    /// Programs the tx ring of `p`, if it has one, empty.
    pub(crate) fn start_tx(&self, p: &QueuePair) -> Result {
        let q = p.index as usize;
        let mut guard = p.tx.lock();
        let Some(tx) = guard.ring.as_mut() else {
            return Ok(());
        };
        let addr = p.tx_desc.dma_address();
        self.hw.try_io(|io| {
            io.write(TXDCTL::try_at(q).ok_or(EINVAL)?, TXDCTL::from_raw(0));
            io.write(
                TDBAL::try_at(q).ok_or(EINVAL)?,
                TDBAL::from_raw(addr as u32),
            );
            io.write(
                TDBAH::try_at(q).ok_or(EINVAL)?,
                TDBAH::from_raw((addr >> 32) as u32),
            );
            io.write(
                TDLEN::try_at(q).ok_or(EINVAL)?,
                TDLEN::from_raw(tx.size() * 16),
            );
            io.write(TDH::try_at(q).ok_or(EINVAL)?, TDH::from_raw(0));
            io.write(TDT::try_at(q).ok_or(EINVAL)?, TDT::from_raw(0));
            io.write(
                TXDCTL::try_at(q).ok_or(EINVAL)?,
                TXDCTL::from_raw(0).with_enable(true),
            );
            Ok(())
        })?;
        tx.ntu = 0;
        tx.ntc = 0;
        Ok(())
    }

    /// Disables the rx and tx rings of `p`; nothing to do once the device is gone.
    pub(crate) fn stop_queue(&self, p: &QueuePair) {
        let q = p.index as usize;
        let _ = self.hw.try_io(|io| {
            io.write(RXDCTL::try_at(q).ok_or(EINVAL)?, RXDCTL::from_raw(0));
            io.write(TXDCTL::try_at(q).ok_or(EINVAL)?, TXDCTL::from_raw(0));
            Ok(())
        });
    }
}
