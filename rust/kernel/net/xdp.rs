// SPDX-License-Identifier: GPL-2.0

//! Native XDP in a driver: the program a device runs ([`BpfProg`]), the rx queue its
//! buffers come from ([`XdpRxq`]), a received frame as the program sees it ([`XdpBuff`],
//! built over page-pool buffers), and a frame to transmit ([`XdpFrame`]).
//!
//! A driver's rx poll builds an [`XdpBuff`] from the buffers of one frame, runs the
//! program on it ([`XdpBuff::run`]) and acts on the [`Verdict`]: an skb built on the
//! buffer for the stack ([`XdpBuff::build_skb`]), a frame for its own tx ring
//! ([`XdpBuff::into_frame`]), a redirect ([`XdpBuff::redirect`], flushed at the end of the
//! poll with [`flush`]); a dropped buff gives its buffers back to their pool.
//!
//! C headers: [`include/net/xdp.h`](srctree/include/net/xdp.h),
//! [`include/linux/filter.h`](srctree/include/linux/filter.h)

use crate::{
    bindings,
    error::to_result,
    net::{
        device::NetDevice,
        napi::PollContext,
        page_pool::{
            OwnedPagePool,
            PoolNetmem, //
        },
        skbuff::SkBuff, //
    },
    prelude::*,
    types::Opaque, //
};
use core::{
    marker::PhantomData,
    ptr::NonNull, //
};

/// The headroom an XDP buffer keeps before the frame (C `XDP_PACKET_HEADROOM`), for
/// `bpf_xdp_adjust_head` and the `xdp_frame` a transmitted buffer carries.
pub const HEADROOM: u32 = bindings::XDP_PACKET_HEADROOM;

/// The tailroom a buffer keeps for the shared info of an skb built on it, or of the frags
/// of a multi-buffer frame (C `SKB_DATA_ALIGN(sizeof(struct skb_shared_info))`).
pub const TAILROOM: u32 = bindings::XDP_SHINFO_TAILROOM as u32;

/// The XDP capabilities of a device (C `xdp_features_t`, `NETDEV_XDP_ACT_*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Features(u32);

impl Features {
    /// None: the device runs no XDP program of its own.
    pub const EMPTY: Self = Self(0);
    /// Runs programs that return `XDP_ABORTED`, `XDP_DROP`, `XDP_PASS` and `XDP_TX`.
    pub const BASIC: Self = Self(bindings::netdev_xdp_act_NETDEV_XDP_ACT_BASIC);
    /// Carries out `XDP_REDIRECT`.
    pub const REDIRECT: Self = Self(bindings::netdev_xdp_act_NETDEV_XDP_ACT_REDIRECT);
    /// Transmits frames redirected to it (`ndo_xdp_xmit`).
    pub const NDO_XMIT: Self = Self(bindings::netdev_xdp_act_NETDEV_XDP_ACT_NDO_XMIT);
    /// Runs programs on frames of several buffers (programs with `xdp.frags`).
    pub const RX_SG: Self = Self(bindings::netdev_xdp_act_NETDEV_XDP_ACT_RX_SG);
    /// Transmits redirected frames of several buffers.
    pub const NDO_XMIT_SG: Self = Self(bindings::netdev_xdp_act_NETDEV_XDP_ACT_NDO_XMIT_SG);

    /// The capabilities of both sets.
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// The C value.
    pub const fn as_raw(self) -> u32 {
        self.0
    }
}

impl core::ops::BitOr for Features {
    type Output = Self;

    fn bitor(self, other: Self) -> Self {
        self.union(other)
    }
}

/// A BPF program, and one reference to it (C `struct bpf_prog`, `bpf_prog_inc` and
/// `bpf_prog_put`).
///
/// # Invariants
///
/// The pointer is a live program of which this value holds one reference.
pub struct BpfProg(NonNull<bindings::bpf_prog>);

// SAFETY: A program's reference may be taken, used and given up from any thread.
unsafe impl Send for BpfProg {}
// SAFETY: Running a program and reading its flags through a shared reference is
// thread-safe (programs are run concurrently on every CPU).
unsafe impl Sync for BpfProg {}

impl BpfProg {
    /// Takes over a reference to `ptr`, or `None` for null.
    ///
    /// # Safety
    ///
    /// A non-null `ptr` is a live program, and the caller owns a reference to it that it
    /// gives to the value returned.
    pub unsafe fn from_raw(ptr: *mut bindings::bpf_prog) -> Option<Self> {
        // INVARIANT: by the safety contract.
        NonNull::new(ptr).map(Self)
    }

    /// The C pointer.
    pub fn as_raw(&self) -> *mut bindings::bpf_prog {
        self.0.as_ptr()
    }

    /// Whether the program handles frames of several buffers (loaded with
    /// `BPF_F_XDP_HAS_FRAGS`, section `xdp.frags`).
    pub fn has_frags(&self) -> bool {
        // SAFETY: A live program (type invariant) has its `aux`, set at load and not
        // changed after.
        unsafe { (*(*self.as_raw()).aux).xdp_has_frags }
    }
}

impl Clone for BpfProg {
    fn clone(&self) -> Self {
        // SAFETY: A live program of which we hold a reference (type invariant).
        unsafe { bindings::bpf_prog_inc(self.as_raw()) };
        // INVARIANT: the reference just taken.
        Self(self.0)
    }
}

impl Drop for BpfProg {
    fn drop(&mut self) {
        // SAFETY: Our reference (type invariant), given up once. The program is freed after
        // an RCU grace period, so a poll that still runs it is done with it by then.
        unsafe { bindings::bpf_prog_put(self.as_raw()) }
    }
}

/// The rx queue of a device's XDP buffers (C `struct xdp_rxq_info`), registered with the
/// page pool the buffers come from (`MEM_TYPE_PAGE_POOL`), so that frames given back
/// anywhere return to it. Unregistered on drop.
///
/// # Invariants
///
/// `raw` is registered, with the memory model of a page pool.
#[pin_data(PinnedDrop)]
pub struct XdpRxq {
    #[pin]
    raw: Opaque<bindings::xdp_rxq_info>,
}

// SAFETY: Registered once, then only read (by the queue's NAPI poll and the frames it
// makes); unregistered from any thread by its owner.
unsafe impl Send for XdpRxq {}
// SAFETY: As above: shared access only reads it.
unsafe impl Sync for XdpRxq {}

impl XdpRxq {
    /// Registers rx queue `queue` of `dev`, whose buffers come from `pool` and are
    /// `frag_size` bytes each (the room `bpf_xdp_adjust_tail` may grow a frag into).
    pub fn new(
        dev: &NetDevice,
        queue: u32,
        pool: &OwnedPagePool,
        frag_size: u32,
    ) -> Result<Pin<KBox<Self>>> {
        let dev = dev.as_raw();
        let pool = pool.as_raw();
        // SAFETY: The closure initializes the whole slot (its one field) or, failing,
        // leaves nothing registered.
        let init = unsafe {
            pin_init::pin_init_from_closure(move |slot: *mut Self| {
                // SAFETY: `slot` is valid for writes and pinned (the contract of the
                // closure); the field is the `xdp_rxq_info`.
                let raw = Opaque::cast_into(core::ptr::addr_of!((*slot).raw));
                // SAFETY: As above; all-zero bytes are the unregistered state.
                raw.write_bytes(0, 1);
                // SAFETY: `raw` is an unregistered `xdp_rxq_info` at a stable address that
                // stays valid until unregistered on drop; `dev` is live and the
                // registration checks the queue index.
                to_result(bindings::__xdp_rxq_info_reg(raw, dev, queue, 0, frag_size))?;
                // SAFETY: `raw` was just registered; `pool` is live, and the registration
                // keeps it (a user reference) until unregistered.
                let r = bindings::xdp_rxq_info_reg_mem_model(
                    raw,
                    bindings::xdp_mem_type_MEM_TYPE_PAGE_POOL,
                    pool.cast(),
                );
                if let Err(e) = to_result(r) {
                    // SAFETY: Registered above, without a memory model.
                    bindings::xdp_rxq_info_unreg(raw);
                    return Err(e);
                }
                Ok(())
            })
        };
        // INVARIANT: registered with the page pool's memory model.
        KBox::pin_init(init, GFP_KERNEL)
    }

    fn as_raw(&self) -> *mut bindings::xdp_rxq_info {
        self.raw.get()
    }
}

#[pinned_drop]
impl PinnedDrop for XdpRxq {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: Registered (type invariant); unregistering also drops the memory model's
        // user reference to the page pool.
        unsafe { bindings::xdp_rxq_info_unreg(self.as_raw()) }
    }
}

/// What an XDP program decided for a frame ([`XdpBuff::run`]). The buffers of a dropped
/// or aborted frame are already back in their pool.
pub enum Verdict<'a> {
    /// `XDP_PASS`: to the stack ([`XdpBuff::build_skb`]).
    Pass(XdpBuff<'a>),
    /// `XDP_TX`: out of the port it came in on ([`XdpBuff::into_frame`]).
    Tx(XdpBuff<'a>),
    /// `XDP_REDIRECT`: where the program said ([`XdpBuff::redirect`]).
    Redirect(XdpBuff<'a>),
    /// `XDP_DROP`.
    Drop,
    /// `XDP_ABORTED`, or an action the program may not return (traced as an exception).
    Aborted,
}

/// A received frame as an XDP program sees it (C `struct xdp_buff`): page buffers of one
/// page pool, the first with the headers, the others its frags. Gives its buffers back to
/// the pool when dropped.
///
/// Made and run in the NAPI poll that allocates from the pool (the `&mut` borrow of the
/// pool, for `'a`): buffers given back from it are recycled straight into the pool's
/// cache.
///
/// # Invariants
///
/// `raw` is prepared over buffers of one page pool with `rxq`'s memory model, whose
/// references this value holds.
pub struct XdpBuff<'a> {
    raw: bindings::xdp_buff,
    /// The pool of every buffer, and the size of its buffers.
    pool: NonNull<bindings::page_pool>,
    room: u32,
    _p: PhantomData<(&'a mut OwnedPagePool, &'a XdpRxq, &'a ())>,
}

impl<'a> XdpBuff<'a> {
    /// A frame whose first `len` bytes are in `head`, a page buffer of `pool`, from
    /// `headroom` on; `frame_sz` is the room of the buffer, of which the last [`TAILROOM`]
    /// bytes are kept for shared info. `rxq` is the queue's, registered with `pool`; `ctx`
    /// is the poll of the queue, which the buff cannot outlive (running the program,
    /// redirecting and recycling all need the poll's context). The buffer comes back if it
    /// does not fit these conditions, or if `frame_sz` is not a whole number of cache lines
    /// (the shared info at its end, where an skb built on the buff keeps it, needs that
    /// alignment).
    pub fn new(
        _ctx: &'a PollContext<'_>,
        rxq: &'a XdpRxq,
        pool: &'a mut OwnedPagePool,
        head: PoolNetmem,
        headroom: u32,
        len: u32,
        frame_sz: u32,
    ) -> core::result::Result<Self, PoolNetmem> {
        let room = (crate::page::PAGE_SIZE << pool.order()) as u32;
        let fits = headroom
            .checked_add(len)
            .and_then(|n| n.checked_add(TAILROOM))
            .is_some_and(|end| end <= frame_sz && frame_sz <= room);
        let aligned = frame_sz % bindings::SMP_CACHE_BYTES == 0;
        if !fits || !aligned || !head.is_of(pool) || head.netmem().is_net_iov() {
            return Err(head);
        }
        // SAFETY: A page buffer (not a `net_iov`), mapped in the kernel.
        let addr = unsafe { bindings::netmem_address(head.netmem().as_raw()) }.cast::<u8>();
        if addr.is_null() {
            return Err(head);
        }
        // SAFETY: All-zero bytes are a valid `xdp_buff` (integers and pointers), prepared
        // below.
        let mut raw: bindings::xdp_buff = unsafe { core::mem::zeroed() };
        // SAFETY: `addr` spans `frame_sz` bytes of the buffer (checked above), with `len`
        // bytes of frame at `headroom` and the tailroom after; `rxq` outlives the buff.
        unsafe {
            bindings::xdp_init_buff(&mut raw, frame_sz, rxq.as_raw());
            bindings::xdp_prepare_buff(&mut raw, addr, headroom as i32, len as i32, true);
        }
        // INVARIANT: the buff holds the buffer's reference from here on.
        let _ = head.into_netmem();
        Ok(Self {
            raw,
            pool: pool.as_nonnull(),
            room,
            _p: PhantomData,
        })
    }

    /// Appends `len` bytes at `off` in `buf`, a page buffer of the same pool, as the next
    /// frag. The buffer comes back if it does not fit the page, or the frame has
    /// `MAX_SKB_FRAGS` frags already.
    pub fn add_frag(
        &mut self,
        buf: PoolNetmem,
        off: u32,
        len: u32,
    ) -> core::result::Result<(), PoolNetmem> {
        let fits = off.checked_add(len).is_some_and(|end| end <= self.room);
        if !fits || !buf.is_of_raw(self.pool) || buf.netmem().is_net_iov() {
            return Err(buf);
        }
        let netmem = buf.netmem();
        // SAFETY: `raw` is prepared (type invariant); `netmem` is a page buffer of the same
        // pool, with `len` bytes at `off` within it.
        let added = unsafe {
            bindings::xdp_buff_add_frag(&mut self.raw, netmem.as_raw(), off, len, self.room)
        };
        if !added {
            return Err(buf);
        }
        // INVARIANT: the buff holds the buffer's reference from here on.
        let _ = buf.into_netmem();
        Ok(())
    }

    /// The frame's length, frags included.
    pub fn len(&self) -> u32 {
        // SAFETY: `raw` is prepared (type invariant).
        unsafe { bindings::xdp_get_buff_len(&self.raw) }
    }

    /// Whether the frame has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Runs `prog` on the frame received by `dev`.
    pub fn run(mut self, prog: &BpfProg, dev: &NetDevice) -> Verdict<'a> {
        // SAFETY: `raw` is prepared (type invariant), in the NAPI poll of its queue (the
        // context borrowed at `new`), where the redirect state the program sets lives.
        let act = unsafe { bindings::bpf_prog_run_xdp(prog.as_raw(), &mut self.raw) };
        match act {
            bindings::xdp_action_XDP_PASS => Verdict::Pass(self),
            bindings::xdp_action_XDP_TX => Verdict::Tx(self),
            bindings::xdp_action_XDP_REDIRECT => Verdict::Redirect(self),
            bindings::xdp_action_XDP_DROP => Verdict::Drop,
            _ => {
                if act != bindings::xdp_action_XDP_ABORTED {
                    // SAFETY: Live device and program.
                    unsafe {
                        bindings::bpf_warn_invalid_xdp_action(dev.as_raw(), prog.as_raw(), act)
                    };
                }
                // SAFETY: Live device and program.
                unsafe { bindings::trace_xdp_exception(dev.as_raw(), prog.as_raw(), act) };
                Verdict::Aborted
            }
        }
    }

    /// An skb on the frame's buffers, which it takes (C `xdp_build_skb_from_buff`), for the
    /// stack: its protocol and rx queue are set. `None` if none could be allocated (the
    /// buffers go back to the pool).
    pub fn build_skb(self) -> Option<SkBuff> {
        // SAFETY: `raw` is prepared over buffers of a page pool (type invariant), with
        // tailroom for the shared info (`new`).
        let skb = unsafe { bindings::xdp_build_skb_from_buff(&self.raw) };
        if skb.is_null() {
            return None;
        }
        // The skb holds the buffers now.
        core::mem::forget(self);
        // SAFETY: A new skb, ours.
        Some(unsafe { SkBuff::from_raw(skb) })
    }

    /// The frame as an `xdp_frame`, stored in its headroom, which takes the buffers (C
    /// `xdp_convert_buff_to_frame`). `None` if the headroom is too short for it (the
    /// buffers go back to the pool).
    pub fn into_frame(mut self) -> Option<XdpFrame> {
        // SAFETY: `raw` is prepared (type invariant).
        let f = unsafe { bindings::xdp_convert_buff_to_frame(&mut self.raw) };
        let f = NonNull::new(f)?;
        core::mem::forget(self);
        // INVARIANT: the frame holds the buffers now.
        Some(XdpFrame(f))
    }

    /// Carries out the redirect the program asked for (C `xdp_do_redirect`); [`flush`]
    /// before the poll ends. On failure the buffers go back to the pool.
    pub fn redirect(mut self, dev: &NetDevice, prog: &BpfProg) -> Result {
        // SAFETY: `raw` is prepared (type invariant), in the NAPI poll in which `prog`
        // just ran on it and set where it goes.
        to_result(unsafe {
            bindings::xdp_do_redirect(dev.as_raw(), &mut self.raw, prog.as_raw())
        })?;
        // The target holds the buffers now.
        core::mem::forget(self);
        Ok(())
    }
}

impl Drop for XdpBuff<'_> {
    fn drop(&mut self) {
        // SAFETY: `raw` holds its buffers (type invariant); in the poll that allocates from
        // their pool (`'a`), so recycling them into its cache is allowed.
        unsafe { bindings::xdp_return_buff(&mut self.raw) }
    }
}

/// Sends the frames redirected in this poll on their way (C `xdp_do_flush`).
pub fn flush(_ctx: &PollContext<'_>) {
    // SAFETY: In a NAPI poll, whose redirect state this flushes.
    unsafe { bindings::xdp_do_flush() }
}

/// A frame to transmit (C `struct xdp_frame`): from this device's `XDP_TX`, or redirected
/// to it. Given back to its memory (C `xdp_return_frame`) when dropped.
///
/// # Invariants
///
/// The pointer is a frame whose buffers this value owns.
pub struct XdpFrame(NonNull<bindings::xdp_frame>);

// SAFETY: A frame may be sent and given back from any thread.
unsafe impl Send for XdpFrame {}
// SAFETY: Shared access only reads it.
unsafe impl Sync for XdpFrame {}

impl XdpFrame {
    /// The C pointer.
    pub fn as_raw(&self) -> *mut bindings::xdp_frame {
        self.0.as_ptr()
    }

    /// The bytes of the first buffer.
    pub fn head_len(&self) -> u32 {
        // SAFETY: A live frame (type invariant).
        unsafe { (*self.as_raw()).len }
    }

    /// The frags after the first buffer (C `skb_frag_t`, in the frame's shared info).
    pub(crate) fn frag_ptrs(&self) -> impl Iterator<Item = *const bindings::skb_frag> + use<> {
        let raw = self.as_raw();
        // SAFETY: A live frame (type invariant).
        let (sinfo, n) = unsafe {
            if bindings::xdp_frame_has_frags(raw) {
                let s = bindings::xdp_get_shared_info_from_frame(raw);
                (s, usize::from((*s).nr_frags))
            } else {
                (core::ptr::null_mut(), 0)
            }
        };
        (0..n).map(move |i| {
            // SAFETY: `i < nr_frags`: a frag of the frame, in its shared info.
            unsafe { core::ptr::addr_of!((*sinfo).frags[i]) }
        })
    }

    /// The address of the first buffer's bytes.
    pub fn data(&self) -> *mut c_void {
        // SAFETY: A live frame (type invariant).
        unsafe { (*self.as_raw()).data }
    }

    /// Gives up ownership: the caller gives the frame back.
    pub fn into_raw(self) -> *mut bindings::xdp_frame {
        let p = self.as_raw();
        core::mem::forget(self);
        p
    }
}

impl Drop for XdpFrame {
    fn drop(&mut self) {
        // SAFETY: Our frame (type invariant), given back once.
        unsafe { bindings::xdp_return_frame(self.as_raw()) }
    }
}

/// The frames another device redirected to this one (C `ndo_xdp_xmit`), taken in order by
/// the driver. Those it does not take stay the caller's, which gives them back.
pub struct XdpXmit<'a> {
    frames: &'a [*mut bindings::xdp_frame],
    taken: usize,
}

impl<'a> XdpXmit<'a> {
    /// # Safety
    ///
    /// `frames` are live frames that the caller gives, in order, to whoever takes them.
    pub(crate) unsafe fn new(frames: &'a [*mut bindings::xdp_frame]) -> Self {
        Self { frames, taken: 0 }
    }

    /// The frames not taken yet.
    pub fn remaining(&self) -> usize {
        self.frames.len() - self.taken
    }

    /// Takes the next frame.
    pub fn take(&mut self) -> Option<XdpFrame> {
        let f = NonNull::new(*self.frames.get(self.taken)?)?;
        self.taken += 1;
        // INVARIANT: the caller gave us this frame (`new`).
        Some(XdpFrame(f))
    }

    /// Gives back the frame last taken, not sent: it and those after it stay the caller's.
    pub fn untake(&mut self, frame: XdpFrame) {
        match self.taken.checked_sub(1) {
            Some(last) if self.frames[last] == frame.as_raw() => {
                let _ = frame.into_raw();
                self.taken = last;
            }
            // Not the last frame taken: it is ours to give back.
            _ => drop(frame),
        }
    }

    /// How many frames the driver took.
    pub(crate) fn taken(&self) -> usize {
        self.taken
    }
}
