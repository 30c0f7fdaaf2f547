// SPDX-License-Identifier: GPL-2.0

//! devmem-rs: device-memory TCP in Rust.
//!
//! The dma-buf binding of devmem TCP and its page-pool memory provider. This crate grows
//! towards serving the netdev family's `bind-rx`/`bind-tx` in place of
//! `net/core/devmem.c` (`CONFIG_NET_DEVMEM_RUST`); today it holds the binding's `net_iov`
//! chunks and their allocator.

pub mod chunks;
