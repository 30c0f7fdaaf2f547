// SPDX-License-Identifier: GPL-2.0

//! String sets and the strings of `get_strings`.

use crate::{
    bindings,
    str::Formatter, //
};
use core::fmt::{
    self,
    Write, //
};

/// A string set (C `enum ethtool_stringset`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StringSet {
    /// The names of the driver's statistics (`ethtool -S`).
    Stats,
    /// A set this enum does not name.
    Other(u32),
}

impl StringSet {
    pub(super) fn from_raw(v: u32) -> Self {
        match v {
            bindings::ethtool_stringset_ETH_SS_STATS => Self::Stats,
            v => Self::Other(v),
        }
    }
}

/// The size of an ethtool string, with its NUL (C `ETH_GSTRING_LEN`).
pub const ETH_GSTRING_LEN: usize = bindings::ETH_GSTRING_LEN as usize;

/// The strings of a string set, written in order into the core's buffer (`get_strings`).
pub struct Strings<'a> {
    /// The room left: whole strings of `ETH_GSTRING_LEN` bytes.
    buf: &'a mut [u8],
}

impl<'a> Strings<'a> {
    pub(super) fn new(buf: &'a mut [u8]) -> Self {
        Self { buf }
    }

    /// Writes the next string: `args`, cut to `ETH_GSTRING_LEN - 1` bytes and padded with
    /// NULs. Strings beyond the count the driver reported are dropped.
    pub fn push(&mut self, args: fmt::Arguments<'_>) {
        if self.buf.len() < ETH_GSTRING_LEN {
            return;
        }
        let (slot, rest) = core::mem::take(&mut self.buf).split_at_mut(ETH_GSTRING_LEN);
        slot.fill(0);
        // The formatter writes at most the bytes before the last one, which stays NUL; a
        // string that does not fit is cut.
        let _ = Formatter::new(&mut slot[..ETH_GSTRING_LEN - 1]).write_fmt(args);
        self.buf = rest;
    }
}
