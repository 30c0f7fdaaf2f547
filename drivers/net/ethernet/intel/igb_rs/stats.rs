// SPDX-License-Identifier: GPL-2.0

//! Statistics: the per-queue counters behind `ethtool -S`, qstats and the device totals.

use crate::netdev::Adapter;
use crate::regs::*;
use core::sync::atomic::Ordering;
use kernel::{
    io::Io,
    net::{
        device::LinkStats64,
        queue::{
            QueueStatsRx,
            QueueStatsTx, //
        }, //
    }, //
};

/// The `ethtool -S` names of the device's own counters, before the queues'.
pub(crate) const DEV_STATS: [&str; 2] = ["rx_undersize", "rx_oversize"];

/// Declares a set of queue counters, each once: its field and its `ethtool -S` name. The
/// set gets the names, the values in the same order, and the sum of two sets.
macro_rules! counters {
    (
        $(#[$attr:meta])*
        $name:ident {
            $( $(#[$fattr:meta])* $field:ident: $label:literal, )*
        }
    ) => {
        $(#[$attr])*
        #[derive(Clone, Copy, Default)]
        pub(crate) struct $name {
            $( $(#[$fattr])* pub(crate) $field: u64, )*
        }

        impl $name {
            /// The `ethtool -S` names of the counters, in the order of `values`.
            pub(crate) const NAMES: &'static [&'static str] = &[$($label),*];

            /// The counters, in the order of `NAMES`.
            pub(crate) fn values(&self) -> impl Iterator<Item = u64> {
                [$(self.$field),*].into_iter()
            }

            /// Adds the counters of `o`.
            pub(crate) fn add(&mut self, o: &Self) {
                $(self.$field += o.$field;)*
            }
        }
    };
}

counters! {
    /// The counters of an rx queue (`ethtool -S` names after `rx<queue>_`).
    RxStats {
        packets: "packets",
        bytes: "bytes",
        /// Packets the driver dropped (no skb, more buffers than an skb has frags,
        /// unsplit frames on a devmem queue).
        drops: "dropped",
        /// Buffers a page pool could not give for a descriptor.
        alloc_fail: "alloc_fail",
        /// Polls that left the ring without a buffer posted, and so polled again.
        starved: "starved",
        /// NAPI polls of the queue's pair that found the ring (those with no packet
        /// included): `packets` over them is the packets per poll.
        polls: "polls",
        /// Packets delivered with a TCP checksum the NIC verified.
        csum_unnecessary: "csum_unnecessary",
        /// Packets whose IP or L4 checksum the NIC found wrong: delivered without
        /// `CHECKSUM_UNNECESSARY`, for the stack to drop.
        csum_err: "csum_err",
        /// Frames the XDP program dropped (`XDP_DROP`).
        xdp_drop: "xdp_drop",
        /// Frames the XDP program sent back out (`XDP_TX`), and those the tx ring had no
        /// room for (dropped).
        xdp_tx: "xdp_tx",
        xdp_tx_full: "xdp_tx_full",
        /// Frames the XDP program redirected, and those the redirect failed for (dropped).
        xdp_redirect: "xdp_redirect",
        xdp_redirect_fail: "xdp_redirect_fail",
        /// Frames the XDP program aborted on (`XDP_ABORTED` or an unknown action).
        xdp_aborted: "xdp_aborted",
        /// Interval changes of adaptive moderation (`adaptive-rx`) on the queue's vector.
        moderations: "moderations",
    }
}

counters! {
    /// The counters of a tx queue (`ethtool -S` names after `tx<queue>_`).
    TxStats {
        packets: "packets",
        bytes: "bytes",
        /// Packets the driver dropped (could not pad, checksum or map them).
        drops: "dropped",
        /// Times the queue was stopped for lack of descriptors, and woken again.
        stops: "stop",
        wakes: "wake",
        /// Packets sent with the L4 checksum left to the NIC, TCP segmentation offloaded
        /// (one per packet of many segments), and checksummed in software instead.
        csum_offload: "csum_offload",
        tso: "tso",
        csum_sw: "csum_sw",
        /// XDP frames sent (`XDP_TX` on this pair's rx ring, or redirected here), among
        /// `packets`.
        xdp_xmit: "xdp_xmit",
    }
}

impl RxStats {
    /// The counters the netdev family's qstats report. `hw-drops` counts the frames that
    /// "entered the device, but never left it": the model keeps no drop counter of its
    /// own (RQDPC stays 0), so these are the frames the driver took off the ring and
    /// dropped (`rx<q>_dropped`).
    pub(crate) fn fill_qstats(&self, rx: &mut QueueStatsRx) {
        rx.packets = self.packets;
        rx.bytes = self.bytes;
        rx.alloc_fail = self.alloc_fail;
        rx.hw_drops = self.drops;
        rx.csum_unnecessary = self.csum_unnecessary;
        rx.csum_bad = self.csum_err;
    }
}

impl TxStats {
    /// The counters the netdev family's qstats report: `needs-csum` counts the packets
    /// whose checksum the NIC computed (TSO ones included), `hw-gso-packets` the TSO ones.
    pub(crate) fn fill_qstats(&self, tx: &mut QueueStatsTx) {
        tx.packets = self.packets;
        tx.bytes = self.bytes;
        tx.stop = self.stops;
        tx.wake = self.wakes;
        tx.needs_csum = self.csum_offload + self.tso;
        tx.hw_gso_packets = self.tso;
    }
}

impl Adapter {
    /// The frames the NIC counted as too short (and padded) and too long (and dropped),
    /// since probe.
    pub(crate) fn length_errors(&self) -> (u64, u64) {
        // A device that is gone adds nothing to what it counted before.
        let (ruc, roc) = self
            .hw
            .io(|io| (io.read(RUC).count().get(), io.read(ROC).count().get()))
            .map_or((0, 0), |(u, o)| (u64::from(u), u64::from(o)));
        (
            self.rx_undersize.fetch_add(ruc, Ordering::Relaxed) + ruc,
            self.rx_oversize.fetch_add(roc, Ordering::Relaxed) + roc,
        )
    }

    pub(crate) fn add_stats(&self, s: &mut LinkStats64) {
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
