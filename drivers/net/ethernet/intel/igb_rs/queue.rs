// SPDX-License-Identifier: GPL-2.0

//! Queue pairs: an rx and a tx ring sharing an MSI-X vector and a NAPI context, and the
//! interrupt handlers.

use crate::regs::*;
use crate::{
    hw::{
        eitr_of,
        Hw, //
    },
    rx::RxQueue,
    stats::{
        RxStats,
        TxStats, //
    },
    tx::TxQueue, //
};
use core::sync::atomic::{
    AtomicBool,
    AtomicU32,
    Ordering, //
};
use kernel::{
    device::{
        self,
        Bound, //
    },
    dma::Coherent,
    io::{
        io_read,
        io_write,
        register::Array,
        Io, //
    },
    irq::{
        self,
        IrqReturn, //
    },
    net::{
        device::{
            NetDevice,
            TxQueue as NetTxQueue, //
        },
        dim::Dim,
        napi::{
            Napi,
            PollContext, //
        }, //
    },
    prelude::*,
    sync::{
        aref::ARef,
        lock::spinlock_bh::SpinLockBh,
        Arc,
        ArcBorrow, //
    },
    time::{
        hrtimer::{
            HrTimer,
            HrTimerCallback,
            HrTimerCallbackContext,
            HrTimerRestart,
            RelativeMode, //
        },
        Delta,
        Monotonic, //
    }, //
};

/// Descriptors per ring (`ethtool -G rx N tx N`): from `RING_MIN` to `RING_MAX`, in
/// steps of `RING_STEP` (RDLEN and TDLEN count 128-byte units: 8 descriptors).
pub(crate) const RING_DEFAULT: u32 = 256;
pub(crate) const RING_MIN: u32 = 64;
pub(crate) const RING_MAX: u32 = 4096;
pub(crate) const RING_STEP: u32 = 8;

/// An rx/tx queue pair and the NAPI context that serves it.
#[pin_data]
pub(crate) struct QueuePair {
    #[pin]
    pub(crate) napi: Napi<QueuePair>,
    pub(crate) index: u32,
    /// The interrupt of the pair's MSI-X vector, which schedules its NAPI.
    pub(crate) irq: u32,
    pub(crate) hw: Arc<Hw>,
    /// The PCI device, which maps for DMA what the pair transmits.
    pub(crate) ddev: ARef<device::Device>,
    /// Polls a starved rx ring again (`rx.rs`).
    pub(crate) repoll: Arc<Repoll>,
    /// Adaptive moderation (`ethtool -C adaptive-rx on`): the interval follows the
    /// pair's [`Dim`] instead of `rx-usecs`. Changed with the rx lock held.
    pub(crate) adaptive: AtomicBool,
    /// The interval in effect on the pair's vector (EITR), in microseconds: `rx-usecs`,
    /// or DIM's choice. Changed with the rx lock held.
    pub(crate) usecs: AtomicU32,
    pub(crate) rx_desc: Coherent<[u64]>,
    pub(crate) tx_desc: Coherent<[u64]>,
    // Taken by NAPI (softirq) and xmit (softirqs off), and by process context (open,
    // stop, stats, queue restarts) with softirqs off, so that NAPI cannot take them on the
    // same CPU meanwhile.
    #[pin]
    pub(crate) rx: SpinLockBh<RxQueue>,
    #[pin]
    pub(crate) tx: SpinLockBh<TxQueue>,
}

kernel::impl_napi_poll!(QueuePair, napi, napi_poll);

/// The descriptor after `i` in a ring of `size` descriptors, wrapping to 0 at the end:
/// the ring indices move by this, without a division per descriptor.
#[inline]
pub(crate) fn ring_next(i: u32, size: u32) -> u32 {
    if i + 1 >= size {
        0
    } else {
        i + 1
    }
}

/// The number of descriptors from `from` on, up to and without `to`, in a ring of `size`.
#[inline]
pub(crate) fn ring_dist(from: u32, to: u32, size: u32) -> u32 {
    if to >= from {
        to - from
    } else {
        to + size - from
    }
}

/// Writes descriptor `i` of a ring: two little-endian quadwords.
pub(crate) fn desc_write(ring: &Coherent<[u64]>, i: u32, lo: u64, hi: u64) -> Result {
    let i = 2 * i as usize;
    io_write!(ring, [try: i], lo);
    io_write!(ring, [try: i + 1], hi);
    Ok(())
}

/// Reads descriptor `i` of a ring.
pub(crate) fn desc_read(ring: &Coherent<[u64]>, i: u32) -> Result<(u64, u64)> {
    let i = 2 * i as usize;
    let lo: u64 = io_read!(ring, [try: i]);
    let hi: u64 = io_read!(ring, [try: i + 1]);
    Ok((lo, hi))
}

impl QueuePair {
    pub(crate) fn new(
        dev: &device::Device<Bound>,
        index: u32,
        irq: u32,
        hw: Arc<Hw>,
        usecs: u32,
    ) -> Result<impl PinInit<Self, Error>> {
        // Room for the largest rings: a ring size change needs no new descriptor memory.
        let rx_desc = Coherent::<u64>::zeroed_slice(dev, 2 * RING_MAX as usize, GFP_KERNEL)?;
        let tx_desc = Coherent::<u64>::zeroed_slice(dev, 2 * RING_MAX as usize, GFP_KERNEL)?;
        let repoll = Arc::pin_init(Repoll::new(hw.clone(), index), GFP_KERNEL)?;
        let ddev: &device::Device = dev;
        let ddev = ARef::from(ddev);
        let dim = Some(KBox::pin_init(Dim::new(), GFP_KERNEL)?);
        Ok(try_pin_init!(Self {
            napi <- Napi::new(),
            index,
            irq,
            hw,
            ddev,
            repoll,
            adaptive: AtomicBool::new(false),
            usecs: AtomicU32::new(usecs),
            rx_desc,
            tx_desc,
            rx <- kernel::new_spinlock_bh!(RxQueue {
                dim,
                ..Default::default()
            }),
            tx <- kernel::new_spinlock_bh!(TxQueue::default()),
        }? Error))
    }

    /// A snapshot of the queue pair's counters, from process context.
    pub(crate) fn stats(&self) -> (RxStats, TxStats) {
        (self.rx.lock().stats, self.tx.lock().stats)
    }

    pub(crate) fn vector_bit(&self) -> u32 {
        1u32.checked_shl(self.index).unwrap_or(0)
    }

    /// The device's tx queue of this pair.
    pub(crate) fn txq<'a>(&self, dev: &'a NetDevice) -> Option<NetTxQueue<'a>> {
        dev.tx_queue(self.index)
    }

    pub(crate) fn napi_poll(&self, ctx: PollContext<'_>, budget: i32) -> i32 {
        let dev = ctx.dev();
        if self.index == 0 && self.hw.link_event.swap(false, Ordering::Relaxed) {
            // A device that is gone reports no link change.
            match self.hw.io(|io| io.read(STATUS).lu()) {
                Ok(true) => dev.carrier_on(),
                Ok(false) => dev.carrier_off(),
                Err(_) => {}
            }
        }
        {
            let mut guard = self.tx.lock();
            let TxQueue { ring, stats } = &mut *guard;
            if let Some(tx) = ring.as_mut() {
                tx.clean(&self.tx_desc, Some(&ctx));
                if let Some(txq) = self.txq(dev) {
                    if txq.is_stopped() && tx.free_slots() > tx.size() / 4 {
                        txq.wake();
                        stats.wakes += 1;
                    }
                }
            }
        }
        let work = self.rx_poll(&ctx, dev, budget);
        if work < budget && ctx.complete_done(work) {
            if self.adaptive.load(Ordering::Relaxed) {
                self.moderate();
            }
            // Re-enables the vector; nothing to re-enable on a device that is gone.
            let _ = self
                .hw
                .io(|io| io.write_reg(EIMS::from_raw(self.vector_bit())));
        }
        work.min(budget)
    }

    /// Counts an interrupt of the pair for its adaptive moderation and applies the
    /// interval DIM moves to, before the vector is re-enabled.
    fn moderate(&self) {
        let mut guard = self.rx.lock();
        let RxQueue { stats, dim, .. } = &mut *guard;
        // Checked again under the lock: `set_coalesce` may have turned it off since.
        if !self.adaptive.load(Ordering::Relaxed) {
            return;
        }
        let Some(dim) = dim.as_mut() else {
            return;
        };
        if let Some(m) = dim.as_mut().update(stats.packets, stats.bytes) {
            let usecs = u32::from(m.usecs);
            self.usecs.store(usecs, Ordering::Relaxed);
            stats.moderations += 1;
            // A device that is gone has no interval to change.
            let _ = self.hw.try_io(|io| {
                io.write(
                    EITR::try_at(self.index as usize).ok_or(EINVAL)?,
                    eitr_of(usecs),
                );
                Ok(())
            });
        }
    }
}

/// The EICR/EIMS bits of the first `n` MSI-X vectors.
pub(crate) fn vector_mask(n: u32) -> u32 {
    1u32.checked_shl(n).unwrap_or(0).wrapping_sub(1)
}

/// The interrupt handler of a queue pair's vector.
#[pin_data]
pub(crate) struct QueueIrq {
    pub(crate) pair: Arc<QueuePair>,
}

impl irq::Handler for QueueIrq {
    fn handle(&self) -> IrqReturn {
        let pair = &self.pair;
        // Masked until the poll is done with it; an interrupt from a device that is gone
        // is not ours.
        if pair
            .hw
            .io(|io| io.write_reg(EIMC::from_raw(pair.vector_bit())))
            .is_err()
        {
            return IrqReturn::None;
        }
        pair.napi.schedule();
        IrqReturn::Handled
    }
}

/// How long a starved rx ring waits before its queue pair is polled again.
pub(crate) const REPOLL_DELAY: Delta = Delta::from_millis(1);

/// A timer that raises a queue pair's interrupt (EICS), so that NAPI polls the pair again:
/// an rx ring without buffers gets no packet, and so no interrupt, of its own.
#[pin_data]
pub(crate) struct Repoll {
    #[pin]
    timer: HrTimer<Repoll>,
    hw: Arc<Hw>,
    index: u32,
}

impl Repoll {
    fn new(hw: Arc<Hw>, index: u32) -> impl PinInit<Self> {
        pin_init!(Self {
            timer <- HrTimer::new(),
            hw,
            index,
        })
    }
}

impl HrTimerCallback for Repoll {
    type Pointer<'a> = Arc<Self>;

    fn run(this: ArcBorrow<'_, Self>, _ctx: HrTimerCallbackContext<'_, Self>) -> HrTimerRestart {
        // A device that is gone takes no interrupt cause, and polls nothing.
        let _ = this
            .hw
            .io(|io| io.write_reg(EICS::from_raw(1u32.checked_shl(this.index).unwrap_or(0))));
        HrTimerRestart::NoRestart
    }
}

kernel::impl_has_hr_timer! {
    impl HasHrTimer<Self> for Repoll {
        mode: RelativeMode<Monotonic>, field: self.timer
    }
}

/// The interrupt handler of the link ("other") vector.
#[pin_data]
pub(crate) struct OtherIrq {
    pub(crate) pair0: Arc<QueuePair>,
}

impl irq::Handler for OtherIrq {
    fn handle(&self) -> IrqReturn {
        let hw = &self.pair0.hw;
        // Reading ICR clears it (GPIE.NSICR).
        match hw.io(|io| io.read(ICR).lsc()) {
            Ok(true) => {
                hw.link_event.store(true, Ordering::Relaxed);
                self.pair0.napi.schedule();
                IrqReturn::Handled
            }
            Ok(false) => IrqReturn::Handled,
            Err(_) => IrqReturn::None,
        }
    }
}
