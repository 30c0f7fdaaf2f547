// SPDX-License-Identifier: GPL-2.0

//! Dynamic interrupt moderation of a receive queue (`ethtool -C adaptive-rx on`).
//!
//! C header: [`include/linux/dim.h`](srctree/include/linux/dim.h)
//!
//! A [`Dim`] is the net DIM algorithm of one queue: fed the queue's packet and byte totals
//! each time its poll completes and the interrupt is re-enabled, it compares the rates of
//! successive windows of [`EVENTS`] interrupts and moves along the library's five rx
//! profiles, towards longer intervals while the queue moves more data for it and back when
//! it does not. [`Dim::update`] returns the interval it moved to, which the driver applies
//! to the queue's interrupt before re-enabling it.

use crate::{
    bindings,
    prelude::*,
    types::Opaque, //
};

/// The interrupts in one measuring window: DIM decides at most once per window.
pub const EVENTS: u32 = bindings::DIM_NEVENTS;

/// An interrupt moderation the algorithm chose (an entry of the library's rx profiles).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Moderation {
    /// The interval between interrupts, in microseconds.
    pub usecs: u16,
}

/// The moderation algorithm of one receive queue.
///
/// It measures interrupt intervals as starting from the event (the library's EQE mode,
/// whose rx profiles are 1, 8, 64, 128 and 256 microseconds): a NIC whose throttle counts
/// from the interrupt it raised, as igb's EITR does. Only the profiles' intervals are
/// used; their packet counts have no counterpart in such a NIC.
///
/// Dropping a [`Dim`] may sleep (it waits for the library's work item), so it must be
/// dropped in process context, not under a spinlock.
///
/// All instances share one lockdep class for their work item, which takes no lock.
///
/// # Invariants
///
/// `inner` is a `struct dim` whose `work` was initialised with [`Dim::work`]; its fields
/// other than `work` are written only through `Pin<&mut Dim>` (the workqueue core updates
/// `work` itself, atomically, whenever the library queues it).
#[pin_data(PinnedDrop)]
pub struct Dim {
    #[pin]
    inner: Opaque<bindings::dim>,
    events: u16,
}

// SAFETY: The `struct dim` has no thread affinity; its work item is a kernel work item,
// usable from any thread.
unsafe impl Send for Dim {}

impl Dim {
    /// A new instance at the library's default rx profile (8 microseconds).
    pub fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            inner <- Opaque::ffi_init(|slot: *mut bindings::dim| {
                // SAFETY: `slot` is valid for writes; all-zero bytes are a `struct dim` in
                // its first state (start measuring, parked on top, no steps).
                unsafe { slot.write(pin_init::zeroed()) };
                // SAFETY: `slot` was just initialised and its `work` is not queued.
                unsafe { Self::init_work(&raw mut (*slot).work) };
                // SAFETY: `slot` is valid for writes.
                unsafe {
                    (*slot).mode = bindings::dim_cq_period_mode_DIM_CQ_PERIOD_MODE_START_FROM_EQE
                        as u8;
                    (*slot).profile_ix = bindings::NET_DIM_DEF_PROFILE_EQE as u8;
                }
            }),
            events: 0,
        })
    }

    /// Initialises the work item of a new instance with [`Dim::work`], under the name and
    /// lockdep class all instances share.
    ///
    /// Not inlined, and not part of `new`'s initialiser: that closure is instantiated in
    /// each caller's crate, where the name would be a copy of the literal at another
    /// address, and lockdep warns when it meets one class under two names (a driver's
    /// instance after this crate's KUnit tests ran their work).
    ///
    /// # Safety
    ///
    /// `work` is valid for writes and not queued.
    #[inline(never)]
    unsafe fn init_work(work: *mut bindings::work_struct) {
        // SAFETY: The caller guarantees `work`; `Self::work` is a work function (it does
        // nothing); the name and the class are static.
        unsafe {
            bindings::init_work_with_key(
                work,
                Some(Self::work),
                false,
                c"dim".as_char_ptr(),
                crate::static_lock_class!().as_ptr(),
            )
        };
    }

    /// Starts over: the default profile, no window open, nothing learnt. For a queue whose
    /// traffic the instance has not seen for a while (adaptive moderation switched back
    /// on, the device opened again), whose first window would otherwise span the gap.
    pub fn reset(self: Pin<&mut Self>) {
        // SAFETY: Nothing is moved out of `self`.
        let this = unsafe { self.get_unchecked_mut() };
        let dim = this.inner.get();
        // SAFETY: `dim` is valid (type invariant) and `&mut self` makes this its only
        // writer but for `work`, which is left alone (it may be queued: its function does
        // nothing). Zero is the first state of every other field, as in `new`.
        unsafe {
            (*dim).state = bindings::dim_state_DIM_START_MEASURE as u8;
            (*dim).prev_stats = pin_init::zeroed();
            (*dim).start_sample = pin_init::zeroed();
            (*dim).measuring_sample = pin_init::zeroed();
            (*dim).profile_ix = bindings::NET_DIM_DEF_PROFILE_EQE as u8;
            (*dim).tune_state = 0;
            (*dim).steps_right = 0;
            (*dim).steps_left = 0;
            (*dim).tired = 0;
        }
        this.events = 0;
    }

    /// The moderation the algorithm is at.
    pub fn moderation(&self) -> Moderation {
        let dim = self.inner.get();
        // SAFETY: `dim` is valid (type invariant); `mode` and `profile_ix` are written only
        // through `Pin<&mut Self>`, which cannot coexist with `&self`.
        let (mode, ix) = unsafe { ((*dim).mode, (*dim).profile_ix) };
        // SAFETY: Pure lookup; the library clamps neither, but `mode` and `ix` are always
        // in range (set by `new`, moved only by `net_dim` within its profiles).
        let m = unsafe { bindings::net_dim_get_rx_moderation(mode, ix.into()) };
        Moderation { usecs: m.usec }
    }

    /// Counts one interrupt of the queue (a completed poll, before the interrupt is
    /// re-enabled), with the queue's totals of packets and bytes received so far; returns
    /// the moderation to apply when the algorithm moved to another.
    pub fn update(self: Pin<&mut Self>, packets: u64, bytes: u64) -> Option<Moderation> {
        // SAFETY: Nothing is moved out of `self`.
        let this = unsafe { self.get_unchecked_mut() };
        this.events = this.events.wrapping_add(1);
        let sample = bindings::dim_sample {
            // SAFETY: No requirement.
            time: unsafe { bindings::ktime_get() },
            // The library counts in 32 bits and takes differences modulo 2^32.
            pkt_ctr: packets as u32,
            byte_ctr: bytes as u32,
            event_ctr: this.events,
            comp_ctr: 0,
        };
        let dim = this.inner.get();
        // SAFETY: `dim` is valid and its work initialised (type invariant); `&mut self`
        // makes this the only writer of the fields `net_dim` changes but `work`, which it
        // may queue (the workqueue core updates it atomically; `drop` cancels it).
        unsafe { bindings::net_dim(dim, &sample) };
        // SAFETY: As above.
        let moved = unsafe { u32::from((*dim).state) == bindings::dim_state_DIM_APPLY_NEW_PROFILE };
        if !moved {
            return None;
        }
        // The new profile is applied by the caller now, so the next window measures it:
        // `net_dim` scheduled `work` for that, which has nothing left to do.
        // SAFETY: As above.
        unsafe { (*dim).state = bindings::dim_state_DIM_START_MEASURE as u8 };
        Some(this.moderation())
    }

    /// The work function `net_dim` queues when it picks a new profile. [`Dim::update`]
    /// applies the profile itself, in the poll, so there is nothing to do.
    unsafe extern "C" fn work(_work: *mut bindings::work_struct) {}
}

#[pinned_drop]
impl PinnedDrop for Dim {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: `work` was initialised (type invariant). Once this returns it is neither
        // queued nor running, and nothing queues it again: only `update` can, through
        // `Pin<&mut Self>`. It sleeps if the work runs: see the type's documentation.
        unsafe { bindings::cancel_work_sync(&raw mut (*self.inner.get()).work) };
    }
}

#[kunit_tests(rust_net_dim)]
mod tests {
    use super::*;
    use crate::alloc::KBox;

    #[test]
    fn starts_at_the_default_profile() -> Result {
        let dim = KBox::pin_init(Dim::new(), GFP_KERNEL)?;
        assert_eq!(dim.moderation(), Moderation { usecs: 8 });
        Ok(())
    }

    #[test]
    fn moves_after_a_window_of_traffic_and_not_before_and_resets() -> Result {
        let mut dim = KBox::pin_init(Dim::new(), GFP_KERNEL)?;
        let (mut packets, mut bytes) = (0u64, 0u64);
        // The first call opens the window; a decision needs `EVENTS` more interrupts and
        // time between the first and the last.
        assert_eq!(dim.as_mut().update(packets, bytes), None);
        for _ in 1..EVENTS {
            packets += 10;
            bytes += 15_000;
            assert_eq!(dim.as_mut().update(packets, bytes), None);
        }
        crate::time::delay::fsleep(crate::time::Delta::from_micros(200));
        packets += 10;
        bytes += 15_000;
        // The first window compared with none is better: the algorithm leaves its parking
        // spot and steps left, to the shortest interval.
        assert_eq!(
            dim.as_mut().update(packets, bytes),
            Some(Moderation { usecs: 1 })
        );
        assert_eq!(dim.moderation(), Moderation { usecs: 1 });
        // The move queued the work item: let it run, so that its lockdep class is known by
        // the time a driver's instance runs its own (which must find the same name).
        // SAFETY: The work was initialised by `new`.
        unsafe { bindings::flush_work(&raw mut (*dim.inner.get()).work) };
        // A new window starts: the next interrupts decide nothing yet.
        assert_eq!(dim.as_mut().update(packets + 10, bytes + 15_000), None);
        // Reset: the default profile, and a full window again before any move.
        dim.as_mut().reset();
        assert_eq!(dim.moderation(), Moderation { usecs: 8 });
        for _ in 0..EVENTS {
            packets += 10;
            bytes += 15_000;
            assert_eq!(dim.as_mut().update(packets, bytes), None);
        }
        Ok(())
    }
}
