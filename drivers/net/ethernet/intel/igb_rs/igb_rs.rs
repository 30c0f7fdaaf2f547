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

mod driver;
mod ethtool;
mod flow;
mod hw;
mod netdev;
mod queue;
mod regs;
mod rss;
mod rx;
mod stats;
mod tx;
mod txdesc;

kernel::module_pci_driver! {
    type: driver::IgbDriver,
    name: "igb_rs",
    authors: ["devmem-rs"],
    description: "Intel 82576 (as QEMU emulates it) in Rust, with header split for devmem TCP",
    license: "GPL",
}
