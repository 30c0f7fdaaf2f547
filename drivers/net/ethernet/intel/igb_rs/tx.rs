// SPDX-License-Identifier: GPL-2.0

//! The tx rings and transmit: offloads, descriptors and completion.

use crate::regs::*;
use crate::{
    queue::{
        desc_read,
        desc_write,
        ring_dist,
        ring_next,
        QueuePair, //
    },
    stats::TxStats,
    txdesc::{
        Offload,
        MAX_PER_DESC, //
    }, //
};
use kernel::{
    device,
    dma::{
        Coherent,
        DmaAddress, //
    },
    io::{
        register::Array,
        Io, //
    },
    net::{
        device::{
            NetDevice,
            TxResult, //
        },
        napi::PollContext,
        skbuff::{
            GsoKind,
            SkBuff, //
        },
        tx::{
            TxPacket,
            MAX_SEGMENTS, //
        },
        xdp::XdpFrame, //
    },
    prelude::*,
    sync::barrier::{
        dma_mb,
        Write, //
    }, //
};

/// The most descriptors a packet takes: a context descriptor, and for each of its
/// buffers as many as its length needs (a linear part of up to 64 KiB, frags of up to 32
/// KiB). The queue stops while fewer are free.
pub(crate) const TX_DESC_MAX: u32 = 1 + 2 + (MAX_SEGMENTS as u32 - 1);

/// The state of a tx ring: the packets in it, mapped for the device, until it sent them.
pub(crate) struct TxRing {
    /// The next free descriptor.
    pub(crate) ntu: u32,
    /// The first descriptor of the oldest packet not yet reclaimed.
    pub(crate) ntc: u32,
    /// The packet whose first descriptor is `i`, and its last descriptor (EOP and RS:
    /// the one the NIC writes DD back into).
    pub(crate) pkts: KVVec<Option<(TxPacket, u32)>>,
}

/// A tx queue: its ring while the device is up, and its counters.
#[derive(Default)]
pub(crate) struct TxQueue {
    pub(crate) ring: Option<TxRing>,
    pub(crate) stats: TxStats,
}

impl TxRing {
    pub(crate) fn new(size: u32) -> Result<Self> {
        let mut pkts = KVVec::with_capacity(size as usize, GFP_KERNEL)?;
        for _ in 0..size {
            pkts.push(None, GFP_KERNEL)?;
        }
        Ok(Self {
            ntu: 0,
            ntc: 0,
            pkts,
        })
    }

    /// The number of descriptors.
    pub(crate) fn size(&self) -> u32 {
        // CAST: at most `RING_MAX` (`set_ringparam`).
        self.pkts.len() as u32
    }

    pub(crate) fn free_slots(&self) -> u32 {
        // One slot stays empty: a full ring is not an empty one.
        self.size()
            .saturating_sub(ring_dist(self.ntc, self.ntu, self.size()) + 1)
    }

    /// Reclaims the packets the NIC sent: unmaps them and frees their skbs, from a NAPI
    /// poll (`ctx`) or elsewhere.
    pub(crate) fn clean(&mut self, desc: &Coherent<[u64]>, ctx: Option<&PollContext<'_>>) {
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
            self.ntc = ring_next(last, self.size());
        }
    }
}

impl TxRing {
    /// Writes the descriptors of `pkt` from the tail on: a context descriptor for
    /// `offload` if it needs one, then every non-empty buffer in pieces of at most
    /// `MAX_PER_DESC`; the ring keeps the packet until the NIC sent it. The caller made
    /// sure of room for `TX_DESC_MAX` descriptors. `Err` (nothing written) for a packet
    /// without bytes.
    pub(crate) fn post(
        &mut self,
        desc: &Coherent<[u64]>,
        pkt: TxPacket,
        offload: &Offload,
        total: u32,
    ) -> Result {
        let first = self.ntu;
        let size = self.size();
        let mut i = first;
        if let Some((q0, q1)) = crate::txdesc::context_desc(offload) {
            let _ = desc_write(desc, i, q0, q1);
            i = ring_next(i, size);
        }
        let mut pieces = pkt
            .segments()
            .iter()
            .filter(|s| !s.is_empty())
            .flat_map(|s| {
                (0..crate::txdesc::descs_for(s.len())).map(move |k| {
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
            let hi = crate::txdesc::data_desc(offload, len, total, is_first, next.is_none());
            let _ = desc_write(desc, i, addr, hi);
            is_first = false;
            last = i;
            i = ring_next(i, size);
        }
        if is_first {
            return Err(EINVAL);
        }
        self.pkts[first as usize] = Some((pkt, last));
        self.ntu = i;
        Ok(())
    }
}

impl QueuePair {
    /// Tells the NIC of the descriptors written up to the tail.
    fn doorbell(&self, tx: &TxRing) {
        // The descriptors are in memory before the NIC is told of them.
        dma_mb(Write);
        // A device that is gone sends nothing: the packet stays on the ring until it is
        // torn down.
        let q = self.index as usize;
        let _ = self.hw.try_io(|io| {
            io.write(TDT::try_at(q).ok_or(EINVAL)?, TDT::from_raw(tx.ntu));
            Ok(())
        });
    }

    /// Sends an XDP frame on this pair's ring, telling the NIC at once with `doorbell`
    /// (else [`QueuePair::xdp_doorbell`] does, after a batch). The frame comes back when
    /// the ring is down or full, or it cannot be mapped.
    pub(crate) fn xmit_frame(&self, frame: XdpFrame, doorbell: bool) -> Result<(), XdpFrame> {
        let mut guard = self.tx.lock();
        let TxQueue { ring, stats } = &mut *guard;
        let Some(tx) = ring.as_mut() else {
            return Err(frame);
        };
        if tx.free_slots() < TX_DESC_MAX {
            tx.clean(&self.tx_desc, None);
            if tx.free_slots() < TX_DESC_MAX {
                return Err(frame);
            }
        }
        let pkt = TxPacket::map_frame(&self.ddev, frame).map_err(|(_, f)| f)?;
        let total: u32 = pkt.segments().iter().map(|s| s.len()).sum();
        // Shorter than the NIC pads from (TCTL.PSP), or than an Ethernet header: dropped
        // (with its packet).
        if total < 17 {
            stats.drops += 1;
            return Ok(());
        }
        // A frame without bytes is dropped with its packet.
        if tx.post(&self.tx_desc, pkt, &Offload::None, total).is_err() {
            stats.drops += 1;
            return Ok(());
        }
        stats.packets += 1;
        stats.bytes += u64::from(total);
        stats.xdp_xmit += 1;
        if doorbell {
            self.doorbell(tx);
        }
        Ok(())
    }

    /// Tells the NIC of the XDP frames sent without a doorbell.
    pub(crate) fn xdp_doorbell(&self) {
        if let Some(tx) = self.tx.lock().ring.as_ref() {
            self.doorbell(tx);
        }
    }

    /// What `skb` asks of the NIC; a checksum the NIC cannot do is computed here, and a
    /// TSO packet's headers are prepared. `Err` drops the packet.
    pub(crate) fn tx_offload(skb: &mut SkBuff, stats: &mut TxStats) -> Result<Offload> {
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
            let o = crate::txdesc::tso_offload(network, transport, doff, u32::from(gso.size), ipv4)
                .ok_or(EINVAL)?;
            let paylen = skb.len() - transport;
            if !crate::txdesc::tso_fix_headers(skb.header_mut(o.tso_hdrlen())?, &o, paylen) {
                return Err(EINVAL);
            }
            stats.tso += 1;
            return Ok(o);
        }
        match crate::txdesc::csum_offload(network, start, csum_offset) {
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

    pub(crate) fn xmit(&self, dev: &NetDevice, ddev: &device::Device, skb: SkBuff) -> TxResult {
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
        if tx.post(&self.tx_desc, pkt, &offload, total).is_err() {
            // No bytes at all: nothing was written.
            stats.drops += 1;
            return TxResult::Ok;
        }
        stats.packets += 1;
        stats.bytes += u64::from(total);
        self.doorbell(tx);
        if tx.free_slots() < TX_DESC_MAX {
            if let Some(txq) = self.txq(dev) {
                txq.stop();
            }
            stats.stops += 1;
        }
        TxResult::Ok
    }
}
