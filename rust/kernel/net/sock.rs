// SPDX-License-Identifier: GPL-2.0

//! Sockets (C `struct sock`), as code the socket layer calls into sees them.
//!
//! C header: [`include/net/sock.h`](srctree/include/net/sock.h)

use crate::{
    bindings,
    net::device::NetDevice,
    prelude::*,
    sync::rcu,
    types::Opaque, //
};

/// A TCP socket whose lock the holder of the reference holds (C `lock_sock`).
///
/// # Invariants
///
/// The socket is a TCP socket, so an `inet_connection_sock`, and it is locked for as long
/// as the reference lives.
#[repr(transparent)]
pub struct LockedTcpSock(Opaque<bindings::sock>);

impl LockedTcpSock {
    /// Borrows the socket at `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` is a TCP socket that the caller holds locked for `'a`.
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::sock) -> &'a Self {
        // SAFETY: Transparent wrapper; valid and locked for `'a` (caller).
        unsafe { &*ptr.cast() }
    }

    /// The device the socket's route goes out through, after rebuilding an expired route
    /// (C `__sk_dst_get`, `icsk_af_ops->rebuild_header`, `dst_dev_rcu`); `EHOSTUNREACH`
    /// without one.
    ///
    /// The device is not held: the pointer is only good for comparing with a device the
    /// caller holds.
    pub fn route_dev(&self) -> Result<*const NetDevice> {
        let sk = self.0.get();
        let _rcu = rcu::read_lock();
        // SAFETY: The socket is locked (type invariant), so its dst and its ops are stable,
        // and it is an `inet_connection_sock`; the dst is read under RCU (`_rcu`).
        unsafe {
            let mut dst = bindings::__sk_dst_get(sk);
            if dst.is_null() {
                let icsk = sk.cast::<bindings::inet_connection_sock>();
                if let Some(rebuild) = (*(*icsk).icsk_af_ops).rebuild_header {
                    if rebuild(sk) == 0 {
                        dst = bindings::__sk_dst_get(sk);
                    }
                }
            }
            if dst.is_null() {
                return Err(EHOSTUNREACH);
            }
            Ok(bindings::dst_dev_rcu(dst).cast_const().cast())
        }
    }
}
