// SPDX-License-Identifier: GPL-2.0

//! Netlink extended acknowledgements.
//!
//! The error message a netlink request handler leaves for userspace next to the errno.
//!
//! C header: [`include/linux/netlink.h`](srctree/include/linux/netlink.h)

use crate::{
    bindings,
    prelude::*,
    str::Formatter,
    types::Opaque, //
};
use core::fmt::{
    self,
    Write, //
};

/// The extended acknowledgement of a netlink request (C `struct netlink_ext_ack`).
///
/// # Invariants
///
/// The object is valid for as long as the reference is, and the holder of the reference is
/// the request handler that may write the message.
#[repr(transparent)]
pub struct ExtAck(Opaque<bindings::netlink_ext_ack>);

impl ExtAck {
    /// Borrows the extended acknowledgement at `ptr`, which may be null (callers that are
    /// not netlink handlers pass none).
    ///
    /// # Safety
    ///
    /// A non-null `ptr` points to a `struct netlink_ext_ack` that is valid, and written by
    /// no one else, for `'a`.
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::netlink_ext_ack) -> Option<&'a mut Self> {
        // SAFETY: `ExtAck` is a transparent wrapper; validity and exclusivity are promised by
        // the caller.
        unsafe { ptr.cast::<Self>().as_mut() }
    }

    /// Returns the pointer to the C object, for a C call that may write the message.
    pub fn as_raw(&mut self) -> *mut bindings::netlink_ext_ack {
        self.0.get()
    }

    /// Sets the message to a constant string (C `NL_SET_ERR_MSG`).
    pub fn set_msg(&mut self, msg: &'static CStr) {
        // SAFETY: The object is valid and ours to write (type invariant); `msg` lives for
        // ever, so the pointer outlives the acknowledgement.
        unsafe { (*self.0.get())._msg = msg.as_char_ptr() };
    }

    /// Sets the message to formatted text (C `NL_SET_ERR_MSG_FMT`), cut to the
    /// acknowledgement's buffer of `NETLINK_MAX_FMTMSG_LEN` bytes.
    pub fn set_msg_fmt(&mut self, args: fmt::Arguments<'_>) {
        let ack = self.0.get();
        // SAFETY: The object is valid and ours to write (type invariant); the buffer is a
        // plain byte array inside it.
        let buf = unsafe { &mut (*ack)._msg_buf };
        let len = buf.len();
        let written = {
            // SAFETY: `c_char` and `u8` have the same layout.
            let bytes: &mut [u8] =
                unsafe { core::slice::from_raw_parts_mut(buf.as_mut_ptr().cast(), len) };
            let mut f = Formatter::new(&mut bytes[..len - 1]);
            // A message that does not fit is cut: the formatter stops writing at the end,
            // but counts the bytes of the whole piece that crossed it.
            let _ = f.write_fmt(args);
            f.bytes_written().min(len - 1)
        };
        buf[written] = 0;
        // SAFETY: The object is valid and ours to write (type invariant); the message now
        // points into the acknowledgement itself, which outlives it.
        unsafe { (*ack)._msg = (*ack)._msg_buf.as_ptr() };
    }

    /// The message set so far, if any.
    pub fn msg(&self) -> Option<&CStr> {
        // SAFETY: The object is valid (type invariant).
        let msg = unsafe { (*self.0.get())._msg };
        // SAFETY: A set message is a NUL-terminated string that lives as long as the
        // acknowledgement (a static string or its own buffer).
        (!msg.is_null()).then(|| unsafe { CStr::from_char_ptr(msg) })
    }
}

/// Sets the message of an optional [`ExtAck`] to formatted text.
///
/// ```
/// use kernel::net::ext_ack::ExtAck;
/// # use kernel::{bindings, prelude::*};
/// // SAFETY: All-zero bytes are a valid, empty `netlink_ext_ack`.
/// let mut raw: bindings::netlink_ext_ack = unsafe { core::mem::zeroed() };
/// // SAFETY: `raw` is valid and not used otherwise while `ack` lives.
/// let mut ack = unsafe { ExtAck::from_raw(&mut raw) };
/// kernel::ext_ack_fmt!(ack, "queue {} out of range", 7);
/// assert_eq!(ack.unwrap().msg(), Some(c"queue 7 out of range"));
/// ```
#[macro_export]
macro_rules! ext_ack_fmt {
    ($ack:expr, $($arg:tt)*) => {
        if let Some(ack) = ($ack).as_deref_mut() {
            $crate::net::ext_ack::ExtAck::set_msg_fmt(ack, ::core::format_args!($($arg)*));
        }
    };
}
