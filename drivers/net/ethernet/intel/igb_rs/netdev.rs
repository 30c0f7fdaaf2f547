// SPDX-License-Identifier: GPL-2.0

//! The netdev, queue-management and per-queue statistics callbacks, and the state they share.

use crate::regs::*;
use crate::{
    driver::{
        DEFAULT_RX_QUEUE,
        FRAME_OVERHEAD,
        MAX_FRAME, //
    },
    hw::Hw,
    queue::QueuePair,
    rss::Rss,
    rx::{
        pkt_buf_size,
        RxRing,
        XDP_BUF, //
    },
    stats::{
        RxStats,
        TxStats, //
    },
    tx::TxRing, //
};
use core::sync::atomic::{
    AtomicBool,
    AtomicU32,
    AtomicU64,
    Ordering, //
};
use kernel::{
    device,
    io::{
        register::Array,
        Io, //
    },
    net::{
        device::{
            LinkStats64,
            LockedNetDevice,
            NetDevice,
            Operations,
            TxResult, //
        },
        ext_ack::ExtAck,
        napi::Napi,
        queue::{
            QueueConfig,
            QueueMgmtOps,
            QueueStatsOps,
            QueueStatsRx,
            QueueStatsTx,
            QCFG_RX_PAGE_SIZE, //
        },
        skbuff::SkBuff,
        xdp::{
            BpfProg,
            XdpXmit, //
        }, //
    },
    prelude::*,
    sync::{
        aref::ARef,
        Arc,
        Mutex, //
    }, //
};

/// What the netdev callbacks share.
#[pin_data]
pub(crate) struct Adapter {
    pub(crate) hw: Arc<Hw>,
    pub(crate) dev: ARef<device::Device>,
    pub(crate) pairs: KVec<Arc<QueuePair>>,
    /// How many of `pairs`, from the first, are in use (`ethtool -L`). Changed with the
    /// device stopped, under the RTNL and the instance lock (`set_channels`); read by the
    /// callbacks, which run under those locks or while the device runs.
    pub(crate) active: AtomicU32,
    /// The rings, vectors and NAPI contexts of the pairs in use are set up: from the end
    /// of `open` to the start of `stop`, under the instance lock.
    pub(crate) up: AtomicBool,
    /// Rx header split (`ethtool -G tcp-data-split`), for the rings made from now on;
    /// changed under the instance lock.
    pub(crate) split: AtomicBool,
    /// Descriptors per rx and per tx ring (`ethtool -G rx N tx N`), for the rings made
    /// from now on; changed under the instance lock.
    pub(crate) rx_ring: AtomicU32,
    pub(crate) tx_ring: AtomicU32,
    /// The least time between two interrupts of a queue pair's vector, in microseconds
    /// (`ethtool -C rx-usecs`; EITR); 0: an interrupt for every write-back.
    pub(crate) rx_usecs: AtomicU32,
    /// Adaptive rx moderation (`ethtool -C adaptive-rx`): each pair's interval follows
    /// its DIM; changed under the instance lock.
    pub(crate) adaptive_rx: AtomicBool,
    /// The RSS key, redirection table (`ethtool -X`) and flow steering rules (`ethtool
    /// -N`), programmed at open and when they change.
    #[pin]
    pub(crate) rss: Mutex<Rss>,
    /// The NIC's undersize and oversize frame counters (RUC, ROC), which clear on read,
    /// summed.
    pub(crate) rx_undersize: AtomicU64,
    pub(crate) rx_oversize: AtomicU64,
    /// Userspace asked for header split (`tcp-data-split on`), rather than leaving it to
    /// the driver: an XDP program is refused then. Set under the instance lock.
    pub(crate) split_requested: AtomicBool,
    /// The XDP program, for the rings made from now on (running rings hold their own
    /// reference); changed under the instance lock (`xdp_setup`).
    #[pin]
    pub(crate) xdp: Mutex<Option<BpfProg>>,
}

impl Adapter {
    pub(crate) fn split(&self) -> bool {
        self.split.load(Ordering::Relaxed)
    }

    /// The XDP program the rings made now run.
    pub(crate) fn xdp_prog(&self) -> Option<BpfProg> {
        self.xdp.lock().clone()
    }

    /// Whether the rings made now split headers from payload: the setting, unless an XDP
    /// program runs (it sees whole frames).
    pub(crate) fn rx_split(&self) -> bool {
        self.split() && self.xdp.lock().is_none()
    }

    /// The queue pairs in use.
    pub(crate) fn active(&self) -> &[Arc<QueuePair>] {
        let n = self.active.load(Ordering::Relaxed) as usize;
        &self.pairs[..n.min(self.pairs.len())]
    }

    /// The pairs not in use: their counters are kept, as the base of the queue stats.
    pub(crate) fn inactive(&self) -> &[Arc<QueuePair>] {
        &self.pairs[self.active().len()..]
    }
}

pub(crate) struct IgbOps;

impl IgbOps {
    /// Programs the device for the rings installed by `open`, starts the queues and their
    /// NAPI contexts, enables rx, tx and interrupts, and asks for the link.
    fn bring_up(a: &Adapter, dev: &LockedNetDevice) -> Result {
        a.configure()?;
        for p in a.active() {
            a.start_queue(p)?;
            Napi::start(p, dev, p.index, Some(p.irq))?;
        }
        let link = a.hw.try_io(|io| {
            io.write_reg(RLPML::from_raw(0).try_with_len(MAX_FRAME)?);
            // Every multicast frame is taken (the multicast table is not programmed):
            // IPv6 neighbour discovery asks for port A at its solicited-node address.
            io.write_reg(
                RCTL::from_raw(0)
                    .with_en(true)
                    .with_mpe(true)
                    .with_bam(true)
                    .with_secrc(true)
                    .with_lpe(true),
            );
            io.write_reg(TCTL::from_raw(0).with_en(true).with_psp(true));
            io.write_reg(EIMS::from_raw(0).try_with_vectors(a.irq_mask())?);
            io.write_reg(IMS::from_raw(0).with_lsc(true));
            // The model brings the link up only after an autonegotiation restart; LSC
            // follows.
            io.write_reg(MDIC_PHY_AUTONEG_RESTART);
            Ok(io.read(STATUS).lu())
        })?;
        if link {
            dev.carrier_on();
        }
        Ok(())
    }
}

#[vtable]
impl Operations for IgbOps {
    type Data = Adapter;

    fn open(a: &Adapter, dev: &LockedNetDevice) -> Result {
        // Every ring first: on failure nothing is installed and nothing needs undoing.
        let mut rings = KVec::with_capacity(a.active().len(), GFP_KERNEL)?;
        let prog = a.xdp_prog();
        for p in a.active() {
            rings.push(
                (
                    RxRing::new(
                        &a.dev,
                        dev,
                        p.index,
                        a.split(),
                        &dev.queue_config(p.index)?,
                        a.rx_ring.load(Ordering::Relaxed),
                        prog.clone(),
                    )?,
                    TxRing::new(a.tx_ring.load(Ordering::Relaxed))?,
                ),
                GFP_KERNEL,
            )?;
        }
        for (p, (rx, tx)) in a.active().iter().zip(rings) {
            // SAFETY: The pair's context polls the ring, and is not started yet (`stop`
            // stopped it, or it never was); the pair, which holds it, outlives its rings
            // (dropped in `stop` or by a queue restart, while the adapter holds the pair).
            // Linked outside the lock: it takes a mutex.
            unsafe { rx.link_napi(&p.napi) };
            let mut q = p.rx.lock();
            q.ring = Some(rx);
            // Adaptive moderation starts over: its DIM saw nothing while the device was
            // down. `bring_up` writes the interval to EITR.
            if let Some(dim) = q.dim.as_mut() {
                dim.as_mut().reset();
                if p.adaptive.load(Ordering::Relaxed) {
                    p.usecs
                        .store(u32::from(dim.moderation().usecs), Ordering::Relaxed);
                }
            }
            drop(q);
            p.tx.lock().ring = Some(tx);
        }
        if let Err(e) = Self::bring_up(a, dev) {
            // What did start (rings, NAPI contexts) is stopped with the rest.
            a.up.store(true, Ordering::Relaxed);
            <Self as Operations>::stop(a, dev)?;
            return Err(e);
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
        // Nothing to quiesce on a device that is gone.
        let _ = a.hw.io(|io| {
            io.write_reg(IMC::from_raw(!0));
            io.write_reg(EIMC::from_raw(!0));
            io.write_reg(RCTL::from_raw(0));
            io.write_reg(TCTL::from_raw(0));
        });
        for p in a.active() {
            a.stop_queue(p);
            // Started by `open` on this device: cannot fail.
            let _ = Napi::stop(p, dev);
            // Dropped outside the locks: destroying a page pool sleeps; dropping the
            // re-poll cancels it.
            let (rx, repoll) = {
                let mut rx = p.rx.lock();
                (rx.ring.take(), rx.repoll.take())
            };
            let _tx = p.tx.lock().ring.take();
            drop(repoll);
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

    fn change_mtu(a: &Adapter, _dev: &LockedNetDevice, mtu: u32) -> Result {
        // Serialized with `xdp_setup` by the instance lock: a single-buffer program keeps
        // the MTU it was attached under (see there).
        if a.xdp_prog().is_some_and(|p| !p.has_frags()) && mtu + FRAME_OVERHEAD > XDP_BUF {
            dev_warn!(
                a.dev,
                "MTU {} too large for single-buffer XDP ({} at most)\n",
                mtu,
                XDP_BUF - FRAME_OVERHEAD
            );
            return Err(EINVAL);
        }
        Ok(())
    }

    fn xdp_setup(
        a: &Adapter,
        dev: &LockedNetDevice,
        prog: Option<BpfProg>,
        ack: Option<&mut ExtAck>,
    ) -> Result {
        if let Some(p) = &prog {
            // The core refused a single-buffer program under a requested split; the
            // rings of a multi-buffer one would have to give it the header buffer as the
            // frame's head, which is not done.
            if a.split_requested.load(Ordering::Relaxed) {
                if let Some(ack) = ack {
                    ack.set_msg(c"igb_rs: XDP runs on whole frames: turn tcp-data-split off");
                }
                return Err(EOPNOTSUPP);
            }
            if !p.has_frags() && dev.mtu() + FRAME_OVERHEAD > XDP_BUF {
                if let Some(ack) = ack {
                    ack.set_msg(c"igb_rs: MTU too large for single-buffer XDP (3054 at most)");
                }
                return Err(EOPNOTSUPP);
            }
        }
        let mut cur = a.xdp.lock();
        let layout = cur.is_some() != prog.is_some();
        if !layout || !a.up.load(Ordering::Relaxed) {
            // The running rings take the new program at once (each under its lock, which
            // its poll holds); the old one goes once they are done with it.
            if let Some(new) = &prog {
                for p in a.active() {
                    let old =
                        p.rx.lock()
                            .ring
                            .as_mut()
                            .and_then(|r| r.xdp.as_mut())
                            .map(|x| core::mem::replace(&mut x.prog, new.clone()));
                    drop(old);
                }
            }
            *cur = prog;
            return Ok(());
        }
        // Attaching the first program or detaching the last changes the rings (headroom,
        // buffer size, no split): stopped and opened again, as `ip link set down; up`
        // would. On failure the old program stays.
        let old = core::mem::replace(&mut *cur, prog);
        drop(cur);
        <Self as Operations>::stop(a, dev)?;
        if let Err(e) = <Self as Operations>::open(a, dev) {
            *a.xdp.lock() = old;
            // The rings as they were, if they can be made.
            let _ = <Self as Operations>::open(a, dev);
            return Err(e);
        }
        Ok(())
    }

    fn xdp_xmit(a: &Adapter, _dev: &NetDevice, frames: &mut XdpXmit<'_>, flush: bool) -> Result {
        let pairs = a.active();
        if !a.up.load(Ordering::Relaxed) || pairs.is_empty() {
            return Err(ENETDOWN);
        }
        // The pair of this CPU, as the stack's transmit queues spread over them.
        let cpu = kernel::cpu::CpuId::current().as_u32() as usize;
        let p = &pairs[cpu % pairs.len()];
        while let Some(f) = frames.take() {
            if let Err(f) = p.xmit_frame(f, false) {
                frames.untake(f);
                break;
            }
        }
        if flush {
            p.xdp_doorbell();
        }
        Ok(())
    }
}

#[vtable]
impl QueueMgmtOps for IgbOps {
    type QueueMem = RxRing;
    const SUPPORTED_PARAMS: u32 = QCFG_RX_PAGE_SIZE;

    fn validate_qcfg(
        a: &Adapter,
        dev: &NetDevice,
        qcfg: &QueueConfig,
        ack: Option<&mut ExtAck>,
    ) -> Result {
        if pkt_buf_size(qcfg).is_err() {
            if let Some(ack) = ack {
                ack.set_msg(c"igb_rs: rx-page-size must be a power of two from 4 KiB to 64 KiB");
            }
            return Err(EINVAL);
        }
        // The core installs a provider before it validates the queue's new config. Queue 0
        // takes every frame RSS does not hash (ARP, ICMP, UDP, IP fragments: `hw.rs`),
        // most of which the model does not split: bound, the port would stop answering.
        if dev.rx_queue_has_provider(DEFAULT_RX_QUEUE) {
            if let Some(ack) = ack {
                ack.set_msg(
                    c"igb_rs: rx queue 0 takes ARP, ICMP, UDP and IP fragments: not bindable",
                );
            }
            return Err(EINVAL);
        }
        // RSS must keep every other queue to TCP, which a queue with a provider can take.
        // (`set_rxfh_fields` refuses UDP hashing while a queue has one: only the queue
        // being bound can be the one.)
        let bound = (0..a.active().len() as u32).any(|q| dev.rx_queue_has_provider(q));
        if bound && !a.rss.lock().tcp_only() {
            if let Some(ack) = ack {
                ack.set_msg(
                    c"igb_rs: rx-flow-hash hashes UDP (udp4 or udp6 sdfn): an rx queue would get it, not bindable",
                );
            }
            return Err(EINVAL);
        }
        Ok(())
    }

    fn mem_alloc(a: &Adapter, dev: &NetDevice, idx: u32, qcfg: &QueueConfig) -> Result<RxRing> {
        // Administratively up but without rings (a channel change whose `open` failed):
        // refused before the core stops anything.
        if !a.up.load(Ordering::Relaxed) {
            return Err(ENETDOWN);
        }
        a.active().get(idx as usize).ok_or(EINVAL)?;
        let size = a.rx_ring.load(Ordering::Relaxed);
        RxRing::new(&a.dev, dev, idx, a.split(), qcfg, size, a.xdp_prog())
    }

    fn start(
        a: &Adapter,
        dev: &LockedNetDevice,
        idx: u32,
        mem: RxRing,
    ) -> core::result::Result<(), (Error, RxRing)> {
        let Some(p) = a.active().get(idx as usize) else {
            return Err((EINVAL, mem));
        };
        // SAFETY: The pair's context polls the ring; `stop` disabled it, so the buffers
        // `start_rx` posts are taken while it is not scheduled; the pair, which holds it,
        // outlives its rings (dropped in `stop` or by a queue restart).
        unsafe { mem.link_napi(&p.napi) };
        p.rx.lock().ring = Some(mem);
        if let Err(e) = a.start_rx(p) {
            // `start_rx` leaves the ring in place: it is there to hand back. The context
            // stays disabled: the core starts the queue again on its old ring.
            let Some(mem) = p.rx.lock().ring.take() else {
                // Not seen: the ring was installed under the instance lock, which keeps
                // everything else that takes it out. The pair polls its tx at least.
                let _ = p.napi.enable(dev);
                return Ok(());
            };
            mem.unlink_napi();
            return Err((e, mem));
        }
        // Started by `open` on this device: cannot fail.
        let _ = p.napi.enable(dev);
        // An interrupt while the context was disabled left the vector masked (the handler
        // masks it for the poll, which did not run): unmask it and raise it, so that the
        // pair is polled for what came meanwhile. A device that is gone takes neither.
        let bit = p.vector_bit();
        let _ = a.hw.io(|io| {
            io.write_reg(EIMS::from_raw(bit));
            io.write_reg(EICS::from_raw(bit));
        });
        Ok(())
    }

    fn stop(a: &Adapter, dev: &LockedNetDevice, idx: u32) -> Result<RxRing> {
        let p = a.active().get(idx as usize).ok_or(EINVAL)?;
        // The model stops writing a disabled queue at once; the poll sees no ring after this.
        // A device that is gone writes nothing either.
        let _ = a.hw.try_io(|io| {
            io.write(
                RXDCTL::try_at(idx as usize).ok_or(EINVAL)?,
                RXDCTL::from_raw(0),
            );
            Ok(())
        });
        let ring = p.rx.lock().ring.take().ok_or(EINVAL)?;
        // The pair's poll (its tx too) pauses until `start`: the ring's pools leave the
        // context only once no poll can recycle into them.
        if let Err(e) = p.napi.disable(dev) {
            p.rx.lock().ring = Some(ring);
            return Err(e);
        }
        ring.unlink_napi();
        Ok(ring)
    }
}

#[vtable]
impl QueueStatsOps for IgbOps {
    fn get_queue_stats_rx(a: &Adapter, _dev: &NetDevice, idx: u32, rx: &mut QueueStatsRx) {
        if let Some(p) = a.active().get(idx as usize) {
            p.stats().0.fill_qstats(rx);
        }
    }

    fn get_queue_stats_tx(a: &Adapter, _dev: &NetDevice, idx: u32, tx: &mut QueueStatsTx) {
        if let Some(p) = a.active().get(idx as usize) {
            p.stats().1.fill_qstats(tx);
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
        r.fill_qstats(rx);
        t.fill_qstats(tx);
    }
}
