// SPDX-License-Identifier: GPL-2.0

//! Sockets (C `struct sock`), as code the socket layer calls into sees them.
//!
//! bindgen's `struct sock` is 64 bytes short from `sk_lock` on (it drops the anonymous
//! `struct slock_owned` of `socket_lock_t`, an `-fms-extensions` member), so the fields of a
//! socket are reached through C helpers, never through the bindings' layout.
//!
//! C header: [`include/net/sock.h`](srctree/include/net/sock.h)

use crate::{
    bindings,
    net::device::NetDevice,
    prelude::*,
    sync::rcu,
    task::Kuid,
    types::Opaque, //
};

/// A network namespace (C `struct net`), as an identity: only compared, never dereferenced.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct NetNs(pub(crate) *const bindings::net);

// SAFETY: A `NetNs` is only compared.
unsafe impl Send for NetNs {}
// SAFETY: As for `Send`.
unsafe impl Sync for NetNs {}

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

    /// The network namespace the socket is in.
    pub fn net(&self) -> NetNs {
        // SAFETY: The socket is valid (type invariant).
        NetNs(unsafe { bindings::sock_net(self.0.get()) })
    }

    /// The effective uid of the task that opened the socket's file, if it has one (C
    /// `sk->sk_socket->file->f_cred`).
    pub fn opener_euid(&self) -> Option<Kuid> {
        // SAFETY: The socket is locked (type invariant), so the `struct socket` it is
        // attached to, if any, and that socket's file stay as they are; the credentials live
        // as long as the file, and are read at once.
        unsafe {
            let cred = bindings::sk_file_cred(self.0.get());
            (!cred.is_null()).then(|| Kuid::from_raw((*cred).euid))
        }
    }

    /// Whether both the socket's opener and the current task have `CAP_NET_ADMIN` over the
    /// socket's network namespace (C `sk_net_capable`); false for a socket without a file.
    pub fn net_admin_capable(&self) -> bool {
        if self.opener_euid().is_none() {
            return false;
        }
        // CAST: capability numbers are small.
        let cap = bindings::CAP_NET_ADMIN as c_int;
        // SAFETY: The socket is valid (type invariant) and attached to a file (checked
        // above; it stays so while the socket is locked), which `sk_net_capable` reads.
        unsafe { bindings::sk_net_capable(self.0.get(), cap) }
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
            if dst.is_null() && bindings::inet_csk_rebuild_header(sk) == 0 {
                dst = bindings::__sk_dst_get(sk);
            }
            if dst.is_null() {
                return Err(EHOSTUNREACH);
            }
            Ok(bindings::dst_dev_rcu(dst).cast_const().cast())
        }
    }
}
