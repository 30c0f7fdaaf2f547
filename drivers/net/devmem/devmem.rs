// SPDX-License-Identifier: GPL-2.0

//! devmem-rs: device-memory TCP in Rust.
//!
//! The dma-buf binding of devmem TCP and its page-pool memory provider. With
//! `CONFIG_NET_DEVMEM_RUST` the netdev family's bind-rx, bind-tx and unbind reach it
//! through [`ffi`], in place of `net/core/devmem.c`.

pub mod binding;
pub mod chunks;
#[cfg(CONFIG_NET_DEVMEM_RUST)]
pub mod ffi;
pub mod provider;

use kernel::prelude::*;

module! {
    type: DevmemRs,
    name: "devmem_rs",
    authors: ["devmem-rs"],
    description: "Device-memory TCP in Rust: dma-buf bindings and their memory provider",
    license: "GPL",
}

/// The devmem-rs core, built in.
pub struct DevmemRs;

impl kernel::Module for DevmemRs {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        binding::init()?;
        Ok(DevmemRs)
    }
}
