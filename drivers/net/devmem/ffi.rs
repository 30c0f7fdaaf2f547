// SPDX-License-Identifier: GPL-2.0

//! The C boundary: what net/core calls with `CONFIG_NET_DEVMEM_RUST` (net/core/devmem.h).
//! The binding is opaque to C, so the fields C reads inline upstream are calls here. A
//! binding pointer C holds is a reference from [`Binding::get`], or the registry's.

use crate::binding::{
    self,
    BindTarget,
    Binding,
    Owner, //
};
use kernel::{
    bindings,
    device::Device,
    dma::DataDirection,
    dma_buf::DmaBuf,
    error::from_result,
    net::{
        device::{
            LockedNetDevice,
            NetDevice, //
        },
        ext_ack::ExtAck,
        netmem::NetIov,
        sock::LockedTcpSock, //
    },
    page::PAGE_SIZE,
    prelude::*,
    sync::Arc, //
};

/// Creates and registers a binding of dma-buf `fd` to `dev`.
/// # Safety
/// `dev`, and `vdev` if any, are registered and locked for the call; `dma_dev` is null or a
/// live device.
#[no_mangle]
unsafe extern "C" fn net_devmem_bind_dmabuf(
    dev: &NetDevice,
    vdev: Option<&NetDevice>,
    dma_dev: *mut bindings::device,
    dir: bindings::dma_data_direction,
    fd: u32,
    niov_shift: u32,
    priv_: *const bindings::netdev_nl_sock,
    mut ack: Option<&mut ExtAck>,
) -> *const Binding {
    let res = (|| {
        if dma_dev.is_null() {
            kernel::ext_ack_fmt!(ack, "Device doesn't support DMA");
            return Err(EOPNOTSUPP);
        }
        let dir = match dir {
            bindings::dma_data_direction::DMA_TO_DEVICE => DataDirection::ToDevice,
            bindings::dma_data_direction::DMA_FROM_DEVICE => DataDirection::FromDevice,
            _ => return Err(EINVAL),
        };
        let buf = DmaBuf::from_fd(i32::try_from(fd).map_err(|_| EBADF)?).inspect_err(|e| {
            let what = if *e == EBADF {
                "an open file descriptor"
            } else {
                "a dma-buf"
            };
            kernel::ext_ack_fmt!(ack, "fd is not {what}");
        })?;
        let target = BindTarget {
            dev: Some(dev),
            vdev,
            owner: Owner(priv_),
        };
        // SAFETY: `dma_dev` is a live device; the mapping takes its own reference on it.
        let dma_dev = unsafe { Device::from_raw(dma_dev) };
        let b = Binding::bind(buf, dma_dev, dir, niov_shift, target, ack.as_deref_mut())?;
        // The registry keeps the creator's reference, which is what C holds.
        Ok(Arc::as_ptr(&b))
    })();
    res.unwrap_or_else(|e| e.to_ptr())
}

/// Binds rx queue `rxq_idx` of `dev` to `binding`.
/// # Safety
/// `dev` is the binding's device, locked for the call.
#[no_mangle]
unsafe extern "C" fn net_devmem_bind_dmabuf_to_queue(
    dev: &NetDevice,
    rxq_idx: u32,
    binding: &Binding,
    ack: Option<&mut ExtAck>,
) -> c_int {
    // SAFETY: `dev` is locked for the call (caller).
    let dev = unsafe { LockedNetDevice::assume_locked(dev) };
    from_result(|| binding.bind_queue(dev, rxq_idx, ack).map(|()| 0))
}

/// Unbinds `binding`, on netdev-genl's error paths.
/// # Safety
/// `binding` is the creator's reference, not unbound yet; the binding's device, if it still
/// has one, is locked for the call.
#[no_mangle]
unsafe extern "C" fn net_devmem_unbind_dmabuf(binding: *const Binding) {
    // SAFETY: The registry holds the binding until this unbinds it; the new reference keeps
    // it alive until the end.
    let b = unsafe { &*binding }.arc();
    // SAFETY: A non-null `dev()` is the binding's registered device, locked (caller).
    b.unbind(unsafe { b.dev().as_ref().map(|d| LockedNetDevice::assume_locked(d)) });
}

/// Unbinds every binding the netlink socket `priv_` made, as it closes.
#[no_mangle]
extern "C" fn net_devmem_unbind_sock(priv_: *const bindings::netdev_nl_sock) {
    while let Some(b) = binding::each().find(|b| b.owner == Owner(priv_)) {
        b.unbind_locked();
    }
}

/// Unbinds the binding `id`, which the socket `priv_` must own (the `unbind` op).
#[no_mangle]
extern "C" fn net_devmem_unbind_id(
    priv_: *const bindings::netdev_nl_sock,
    id: u32,
    mut ack: Option<&mut ExtAck>,
) -> c_int {
    // Another socket's id is answered as one that does not exist: ids cannot be probed.
    let Some(b) = binding::lookup(id).filter(|b| b.owner == Owner(priv_)) else {
        kernel::ext_ack_fmt!(ack, "no dma-buf binding with this id");
        return ENOENT.to_errno();
    };
    b.unbind_locked();
    0
}

/// Forgets `dev`, which is being unregistered, in the tx bindings.
#[no_mangle]
extern "C" fn net_devmem_dev_unregister(dev: &NetDevice) {
    binding::forget_dev(dev);
}

/// The provider's ops, which a page pool takes from an rx queue bound to a binding: for the
/// benchmark (drivers/net/devmem/bench), which makes such pools on a device of its own.
#[cfg(CONFIG_DEVMEM_RS_BENCH_ORACLE)]
#[no_mangle]
extern "C" fn net_devmem_rs_mp_ops() -> *const bindings::memory_provider_ops {
    crate::provider::DEVMEM_OPS.as_raw()
}

/// The binding's id.
#[no_mangle]
extern "C" fn net_devmem_binding_id(binding: &Binding) -> u32 {
    binding.id()
}

/// Drops a reference.
/// # Safety
/// The caller gives up a reference that [`net_devmem_get_binding`] returned.
#[no_mangle]
unsafe extern "C" fn net_devmem_dmabuf_binding_put(binding: *const Binding) {
    // SAFETY: `net_devmem_get_binding` took this reference with `Binding::get`'s `Arc`.
    unsafe { Binding::put(binding) };
}

/// Takes a reference on the binding of `niov`, for a token or an skb frag.
#[no_mangle]
extern "C" fn net_devmem_get_net_iov(niov: &NetIov) {
    if let Some(b) = Binding::of_net_iov(niov) {
        let _ = b.get();
    }
}

/// Drops a reference taken by [`net_devmem_get_net_iov`].
/// # Safety
/// `niov` is alive, and the caller gives up such a reference.
#[no_mangle]
unsafe extern "C" fn net_devmem_put_net_iov(niov: *mut bindings::net_iov) {
    // SAFETY: `niov` is alive (caller); the reference ends before the put, which may free it.
    let b = Binding::of_net_iov(unsafe { NetIov::from_raw(niov) }).map(core::ptr::from_ref);
    if let Some(b) = b {
        // SAFETY: `net_devmem_get_net_iov` took the reference given up, with `get`.
        unsafe { Binding::put(b) };
    }
}

/// The id of the binding of `niov` (the `dmabuf_id` of a devmem cmsg).
#[no_mangle]
extern "C" fn net_devmem_iov_binding_id(niov: &NetIov) -> u32 {
    Binding::of_net_iov(niov).map_or(0, Binding::id)
}

/// The device the binding of `niov` DMAs for, or null once it went away.
#[no_mangle]
extern "C" fn net_devmem_iov_dev(niov: &NetIov) -> *mut NetDevice {
    Binding::of_net_iov(niov).map_or(core::ptr::null_mut(), Binding::dev)
}

/// The offset of `niov` in its dma-buf (the `frag_offset` of a devmem cmsg).
#[no_mangle]
extern "C" fn net_iov_virtual_addr(niov: &NetIov) -> c_ulong {
    // CAST: an offset in a dma-buf fits in an unsigned long.
    Binding::of_net_iov(niov).map_or(0, |b| niov.virtual_addr(b.shift) as c_ulong)
}

/// The tx binding `id` if `sk` may send from it and routes through its device, with a
/// reference for the caller. A binding `sk` may not use is answered as an unknown id.
#[no_mangle]
extern "C" fn net_devmem_get_binding(sk: &LockedTcpSock, id: u32) -> *const Binding {
    let Some(b) = binding::lookup(id).filter(|b| b.is_tx() && b.may_send(sk)) else {
        return EINVAL.to_ptr();
    };
    // The binding's DMA addresses are only valid for its device.
    match sk.route_dev() {
        Ok(dev) if b.is_bound_to(dev) => Arc::into_raw(b),
        Ok(_) => ENODEV.to_ptr(),
        Err(e) => e.to_ptr(),
    }
}

/// The `net_iov` at byte `addr` of a tx binding, with the offset in it and the bytes left.
#[no_mangle]
extern "C" fn net_devmem_get_niov_at(
    binding: &Binding,
    addr: usize,
    off: &mut usize,
    size: &mut usize,
) -> *mut bindings::net_iov {
    let Some(niov) = binding.chunks.niov_at(addr).map(NetIov::as_raw) else {
        return core::ptr::null_mut();
    };
    *off = addr % PAGE_SIZE;
    *size = PAGE_SIZE - *off;
    niov
}
