// SPDX-License-Identifier: GPL-2.0

//! The functions net/core calls when devmem-rs implements devmem TCP
//! (`CONFIG_NET_DEVMEM_RUST`), declared in net/core/devmem.h.
//!
//! This is the C boundary: every function takes what C passes, checks it, and hands safe
//! types to [`crate::binding`]. The binding is opaque to C (`struct
//! net_devmem_dmabuf_binding` has no definition in this build), so the fields C read inline
//! in upstream's header are calls here.

use crate::binding::{
    self,
    BindTarget,
    Binding, //
};
use kernel::{
    bindings,
    device::Device,
    dma::DataDirection,
    dma_buf::DmaBuf,
    error::{
        code::*,
        Error, //
    },
    ffi::{
        c_int,
        c_uint,
        c_ulong,
        c_void, //
    },
    net::{
        device::NetDevice,
        ext_ack::ExtAck,
        netmem::NetIov, //
    },
    page::PAGE_SIZE,
    prelude::*,
    sync::rcu, //
};

fn direction(raw: bindings::dma_data_direction) -> Option<DataDirection> {
    if raw == bindings::dma_data_direction::DMA_TO_DEVICE {
        Some(DataDirection::ToDevice)
    } else if raw == bindings::dma_data_direction::DMA_FROM_DEVICE {
        Some(DataDirection::FromDevice)
    } else {
        None
    }
}

/// Creates a binding of dma-buf `fd` to `dev` (C `net_devmem_bind_dmabuf`).
///
/// # Safety
///
/// Called by netdev-genl with the device locked, `dma_dev` null or a device that outlives
/// the binding's mapping, `priv_` the caller's socket state (locked) and `extack` null or
/// the request's acknowledgement.
#[no_mangle]
pub unsafe extern "C" fn net_devmem_bind_dmabuf(
    dev: *mut bindings::net_device,
    vdev: *mut c_void,
    dma_dev: *mut bindings::device,
    dir: bindings::dma_data_direction,
    fd: c_uint,
    niov_shift: c_uint,
    priv_: *mut bindings::netdev_nl_sock,
    extack: *mut bindings::netlink_ext_ack,
) -> *mut c_void {
    // SAFETY: As promised by the caller.
    let mut ack = unsafe { ExtAck::from_raw(extack) };
    let res = (|| -> Result<*mut c_void> {
        if dma_dev.is_null() {
            if let Some(a) = ack.as_deref_mut() {
                a.set_msg(c"Device doesn't support DMA");
            }
            return Err(EOPNOTSUPP);
        }
        let dir = direction(dir).ok_or(EINVAL)?;
        let fd = i32::try_from(fd).map_err(|_| EBADF)?;
        let buf = DmaBuf::from_fd(fd).inspect_err(|e| {
            if let Some(a) = ack.as_deref_mut() {
                a.set_msg(if *e == EBADF {
                    c"fd is not an open file descriptor"
                } else {
                    c"fd is not a dma-buf"
                });
            }
        })?;
        // SAFETY: `dma_dev` is a valid device for the binding's lifetime (caller).
        let dma_dev = unsafe { Device::from_raw(dma_dev) };
        let target = BindTarget {
            dev,
            vdev: vdev as usize,
            owner: priv_ as usize,
        };
        let b = Binding::new(buf, dma_dev, dir, niov_shift, target, ack.as_deref_mut())?;
        if let Err(e) = binding::register(&b) {
            // SAFETY: Nothing else has the binding; this drops the creator's reference.
            unsafe { b.put() };
            return Err(e);
        }
        Ok(b.as_ptr())
    })();
    res.unwrap_or_else(Error::to_ptr)
}

/// Binds rx queue `rxq_idx` of `dev` to `binding` (C `net_devmem_bind_dmabuf_to_queue`).
///
/// # Safety
///
/// `dev` is registered and locked, `binding` is live and its creator's reference is held by
/// the caller, `extack` is null or the request's acknowledgement.
#[no_mangle]
pub unsafe extern "C" fn net_devmem_bind_dmabuf_to_queue(
    dev: *mut bindings::net_device,
    rxq_idx: u32,
    binding: *mut c_void,
    extack: *mut bindings::netlink_ext_ack,
) -> c_int {
    // SAFETY: As promised by the caller.
    let (b, ack) = unsafe { (Binding::from_raw(binding), ExtAck::from_raw(extack)) };
    // SAFETY: As promised by the caller.
    match unsafe { b.bind_queue(dev, rxq_idx, ack) } {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// Unbinds `binding` and drops its creator's reference (C `net_devmem_unbind_dmabuf`).
///
/// # Safety
///
/// The caller owns the creator's reference and holds the device's instance lock if the
/// binding still has a device.
#[no_mangle]
pub unsafe extern "C" fn net_devmem_unbind_dmabuf(binding: *mut c_void) {
    // SAFETY: As promised by the caller.
    unsafe { Binding::from_raw(binding).unbind() };
}

/// Unbinds `b` as its owner asked: with its device held and locked when it has one.
fn unbind_owned(b: &Binding) {
    let dev = b.hold_dev();
    if dev.is_null() {
        // SAFETY: The device is gone; the owner's reference is given up here, once (the
        // binding leaves the registry, so no other unbind finds it).
        unsafe { b.unbind() };
        return;
    }
    // SAFETY: `hold_dev` took a reference on `dev`, so it stays allocated until the
    // `dev_put` below.
    let netdev = unsafe { NetDevice::from_raw(dev) };
    {
        let _locked = netdev.lock();
        // SAFETY: The instance lock of the binding's device is held (`_locked`), as
        // `Binding::unbind` needs; the owner's reference is given up here, once.
        unsafe { b.unbind() };
    }
    // SAFETY: The reference `hold_dev` took, given back once the device is unlocked.
    unsafe { bindings::dev_put(dev) };
}

/// Unbinds every binding the netlink socket `priv_` made (C `netdev_nl_sock_priv_destroy`).
///
/// # Safety
///
/// `priv_` is a socket's netdev state; the caller holds its lock.
#[no_mangle]
pub unsafe extern "C" fn net_devmem_unbind_sock(priv_: *mut bindings::netdev_nl_sock) {
    // The socket is going away: there is no one to report a failure to. A failed snapshot
    // (out of memory) is retried binding by binding.
    loop {
        match binding::owned_by(priv_ as usize) {
            Ok(list) if list.is_empty() => return,
            Ok(list) => list.iter().for_each(|b| unbind_owned(b)),
            // Out of memory for the snapshot: one at a time.
            Err(_) => match binding::owned_by_first(priv_ as usize) {
                Some(b) => unbind_owned(&b),
                None => return,
            },
        }
    }
}

/// Unbinds the binding `id`, which the socket `priv_` must own (the netdev family's
/// `unbind` op).
///
/// # Safety
///
/// `priv_` is the requesting socket's netdev state, locked by the caller; `extack` is null
/// or the request's acknowledgement.
#[no_mangle]
pub unsafe extern "C" fn net_devmem_unbind_id(
    priv_: *mut bindings::netdev_nl_sock,
    id: u32,
    extack: *mut bindings::netlink_ext_ack,
) -> c_int {
    // SAFETY: As promised by the caller.
    let ack = unsafe { ExtAck::from_raw(extack) };
    let Some(b) = binding::find(id) else {
        if let Some(a) = ack {
            a.set_msg(c"no dma-buf binding with this id");
        }
        return ENOENT.to_errno();
    };
    if b.owner() != priv_ as usize {
        if let Some(a) = ack {
            a.set_msg(c"dma-buf binding belongs to another netlink socket");
        }
        return EPERM.to_errno();
    }
    unbind_owned(&b);
    0
}

/// The binding's id (upstream reads `binding->id`).
///
/// # Safety
///
/// `binding` is live.
#[no_mangle]
pub unsafe extern "C" fn net_devmem_binding_id(binding: *const c_void) -> u32 {
    // SAFETY: As promised by the caller.
    unsafe { Binding::from_raw(binding) }.id()
}

/// Drops a reference taken by [`net_devmem_get_binding`] (C
/// `net_devmem_dmabuf_binding_put`).
///
/// # Safety
///
/// The caller owns a user reference of `binding`.
#[no_mangle]
pub unsafe extern "C" fn net_devmem_dmabuf_binding_put(binding: *mut c_void) {
    // SAFETY: As promised by the caller.
    unsafe { Binding::from_raw(binding).put() };
}

/// # Safety
///
/// `niov` is a live devmem `net_iov`.
unsafe fn binding_of<'a>(niov: *const bindings::net_iov) -> (&'a Binding, &'a NetIov) {
    // SAFETY: As promised by the caller.
    let niov = unsafe { NetIov::from_raw(niov.cast_mut()) };
    // SAFETY: As promised by the caller; the binding outlives its `net_iov`s.
    (unsafe { Binding::of_net_iov(niov) }, niov)
}

/// Takes a reference on the binding of `niov` for an skb frag (C `net_devmem_get_net_iov`).
///
/// # Safety
///
/// `niov` is a live devmem `net_iov`.
#[no_mangle]
pub unsafe extern "C" fn net_devmem_get_net_iov(niov: *mut bindings::net_iov) {
    // SAFETY: As promised by the caller.
    unsafe { binding_of(niov) }.0.get();
}

/// Drops a reference taken by [`net_devmem_get_net_iov`].
///
/// # Safety
///
/// The caller owns such a reference.
#[no_mangle]
pub unsafe extern "C" fn net_devmem_put_net_iov(niov: *mut bindings::net_iov) {
    // SAFETY: As promised by the caller.
    unsafe { binding_of(niov).0.put() };
}

/// The id of the binding of `niov` (the `dmabuf_id` of a devmem cmsg).
///
/// # Safety
///
/// `niov` is a live devmem `net_iov`.
#[no_mangle]
pub unsafe extern "C" fn net_devmem_iov_binding_id(niov: *const bindings::net_iov) -> u32 {
    // SAFETY: As promised by the caller.
    unsafe { binding_of(niov) }.0.id()
}

/// The device the binding of `niov` DMAs for, or null once it went away.
///
/// # Safety
///
/// `niov` is a live devmem `net_iov`.
#[no_mangle]
pub unsafe extern "C" fn net_devmem_iov_dev(
    niov: *const bindings::net_iov,
) -> *mut bindings::net_device {
    // SAFETY: As promised by the caller.
    unsafe { binding_of(niov) }.0.dev()
}

/// The offset of `niov` in its dma-buf (the `frag_offset` of a devmem cmsg).
///
/// # Safety
///
/// `niov` is a live devmem `net_iov`.
#[no_mangle]
pub unsafe extern "C" fn net_iov_virtual_addr(niov: *const bindings::net_iov) -> c_ulong {
    // SAFETY: As promised by the caller.
    let (b, niov) = unsafe { binding_of(niov) };
    // CAST: an offset in a dma-buf fits in an unsigned long.
    b.offset_of(niov) as c_ulong
}

/// The tx binding `id` if `sk` routes through its device, with a reference for the caller
/// (C `net_devmem_get_binding`).
///
/// # Safety
///
/// `sk` is a locked TCP socket.
#[no_mangle]
pub unsafe extern "C" fn net_devmem_get_binding(
    sk: *mut bindings::sock,
    id: c_uint,
) -> *mut c_void {
    let Some(ptr) = binding::lookup(id) else {
        return EINVAL.to_ptr();
    };
    // SAFETY: `lookup` took a reference for us.
    let b = unsafe { &*ptr };
    let err = if b.direction() != DataDirection::ToDevice {
        EINVAL
    } else {
        // SAFETY: `sk` is a locked socket (caller).
        match unsafe { route_dev_matches(sk, b) } {
            Ok(()) => return b.as_ptr(),
            Err(e) => e,
        }
    };
    // SAFETY: The reference `lookup` took.
    unsafe { b.put() };
    err.to_ptr()
}

/// Whether `sk`'s route goes out through the binding's device (or the virtual device tx
/// was bound on): the dma addresses are only valid for that device.
///
/// # Safety
///
/// `sk` is a locked socket.
unsafe fn route_dev_matches(sk: *mut bindings::sock, b: &Binding) -> Result {
    let _rcu = rcu::read_lock();
    // SAFETY: `sk` is locked (caller); the dst is read under RCU (`_rcu`).
    unsafe {
        let mut dst = bindings::__sk_dst_get(sk);
        if dst.is_null() {
            // The route expired: rebuild it (C `icsk_af_ops->rebuild_header`).
            let icsk = sk.cast::<bindings::inet_connection_sock>();
            let rebuild = (*(*icsk).icsk_af_ops).rebuild_header;
            match rebuild {
                Some(f) if f(sk) == 0 => dst = bindings::__sk_dst_get(sk),
                _ => {}
            }
        }
        if dst.is_null() {
            Err(EHOSTUNREACH)
        } else {
            let dev = bindings::dst_dev_rcu(dst);
            if dev.is_null() || (dev != b.dev() && dev as usize != b.vdev()) {
                Err(ENODEV)
            } else {
                Ok(())
            }
        }
    }
}

/// The `net_iov` at byte `addr` of a tx binding, with the offset in it and the bytes left
/// in it (C `net_devmem_get_niov_at`).
///
/// # Safety
///
/// `binding` is live; `off` and `size` are valid for writes.
#[no_mangle]
pub unsafe extern "C" fn net_devmem_get_niov_at(
    binding: *mut c_void,
    addr: usize,
    off: *mut usize,
    size: *mut usize,
) -> *mut bindings::net_iov {
    // SAFETY: As promised by the caller.
    let b = unsafe { Binding::from_raw(binding) };
    if addr >= b.size() {
        return core::ptr::null_mut();
    }
    let Some(niov) = b.niov_at(addr) else {
        return core::ptr::null_mut();
    };
    // SAFETY: Valid for writes (caller).
    unsafe {
        *off = addr % PAGE_SIZE;
        *size = PAGE_SIZE - *off;
    }
    niov
}
