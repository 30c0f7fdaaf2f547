// SPDX-License-Identifier: GPL-2.0

//! What every case starts with: a module, two netdev types (`A` with ethtool ops, `B`
//! without) and a queue state with a NAPI context. devtools/compile-fail.sh appends the
//! case and builds the module against the Rust build.

#![allow(dead_code, unused_imports, unreachable_code)]

use kernel::{
    device::Device,
    net::{
        device::{
            ExtraOps,
            LockedNetDevice,
            NetDevice,
            Operations,
            Registration,
            TxResult, //
        },
        ethtool::EthtoolOps,
        napi::{
            Napi,
            PollContext, //
        },
        page_pool::{
            OwnedPagePool,
            PoolNetmem, //
        },
        skbuff::SkBuff,
        xdp::{
            self,
            BpfProg,
            Verdict,
            XdpBuff,
            XdpRxq, //
        },
    },
    prelude::*,
    sync::Arc,
};

module! {
    type: CompileFail,
    name: "compile_fail",
    authors: ["devmem-rs"],
    description: "A case of devtools/compile_fail",
    license: "GPL",
}

struct CompileFail;

impl kernel::Module for CompileFail {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        Ok(Self)
    }
}

struct A;

#[vtable]
impl Operations for A {
    type Data = u32;

    fn open(_: &u32, _: &LockedNetDevice) -> Result {
        Ok(())
    }

    fn stop(_: &u32, _: &LockedNetDevice) -> Result {
        Ok(())
    }

    fn start_xmit(_: &u32, _: &NetDevice, _: SkBuff) -> TxResult {
        TxResult::Ok
    }
}

#[vtable]
impl EthtoolOps for A {}

struct B;

#[vtable]
impl Operations for B {
    type Data = u64;

    fn open(_: &u64, _: &LockedNetDevice) -> Result {
        Ok(())
    }

    fn stop(_: &u64, _: &LockedNetDevice) -> Result {
        Ok(())
    }

    fn start_xmit(_: &u64, _: &NetDevice, _: SkBuff) -> TxResult {
        TxResult::Ok
    }
}

#[pin_data]
struct Pair {
    #[pin]
    napi: Napi<Pair>,
}

kernel::impl_napi_poll!(Pair, napi, poll);

// The case below defines `Pair::poll` and `case`.
