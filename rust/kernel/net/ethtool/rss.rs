// SPDX-License-Identifier: GPL-2.0

//! RSS: the hash function, key and indirection table of a request (`ethtool -x/-X`).

use crate::bindings;

/// An RSS hash function (C `ETH_RSS_HASH_*`), as `hfunc` carries it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashFunction {
    /// On set: keep the current function. On get: unknown.
    NoChange,
    /// Toeplitz.
    Toeplitz,
    /// XOR.
    Xor,
    /// CRC32.
    Crc32,
    /// A function this enum does not name (its `hfunc` bits).
    Other(u8),
}

impl HashFunction {
    const TOP: u8 = 1 << bindings::ETH_RSS_HASH_TOP_BIT;
    const XOR: u8 = 1 << bindings::ETH_RSS_HASH_XOR_BIT;
    const CRC32: u8 = 1 << bindings::ETH_RSS_HASH_CRC32_BIT;

    fn from_raw(v: u8) -> Self {
        match v {
            0 => Self::NoChange,
            Self::TOP => Self::Toeplitz,
            Self::XOR => Self::Xor,
            Self::CRC32 => Self::Crc32,
            v => Self::Other(v),
        }
    }

    fn to_raw(self) -> u8 {
        match self {
            Self::NoChange => 0,
            Self::Toeplitz => Self::TOP,
            Self::Xor => Self::XOR,
            Self::Crc32 => Self::CRC32,
            Self::Other(v) => v,
        }
    }
}

/// `input_xfrm` on set: keep the current input transformation (C `RXH_XFRM_NO_CHANGE`).
pub const RXH_XFRM_NO_CHANGE: u8 = bindings::RXH_XFRM_NO_CHANGE as u8;

/// Fills `key` with the system-wide random RSS key (C `netdev_rss_key_fill`), as drivers
/// do for their default key. Only the first `NETDEV_RSS_KEY_LEN` bytes are filled.
pub fn rss_key_fill(key: &mut [u8]) {
    let len = key.len().min(bindings::NETDEV_RSS_KEY_LEN as usize);
    // SAFETY: `key` has `len` writable bytes; `len` is at most the size of the C key,
    // beyond which the function BUGs.
    unsafe { bindings::netdev_rss_key_fill(key.as_mut_ptr().cast(), len) };
}

/// The RSS settings of a request (C `struct ethtool_rxfh_param`): the indirection table, the
/// hash key, the hash function and the input transformation.
///
/// `get_rxfh` fills what the core asked for (the table and the key only when the core
/// passed buffers for them); `set_rxfh` reads what is to change (a table or a key is only
/// present when it changes).
///
/// # Invariants
///
/// `indir` is null or points to `indir_size` entries, and `key` is null or points to
/// `key_size` bytes, valid and not accessed by anyone else for as long as the reference to
/// the `RxfhParam` is.
#[repr(transparent)]
pub struct RxfhParam(bindings::ethtool_rxfh_param);

impl RxfhParam {
    /// Borrows the parameters at `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` is valid and not accessed by anyone else for `'a`, and so are the table and
    /// the key it points to, of `indir_size` entries and `key_size` bytes.
    pub(super) unsafe fn from_raw<'a>(ptr: *mut bindings::ethtool_rxfh_param) -> &'a mut Self {
        // SAFETY: Transparent wrapper; validity and exclusivity promised by the caller, which
        // makes the type invariant hold.
        unsafe { &mut *ptr.cast() }
    }

    /// The hash function (on set, `NoChange` keeps it).
    pub fn hfunc(&self) -> HashFunction {
        HashFunction::from_raw(self.0.hfunc)
    }

    /// Reports the hash function.
    pub fn set_hfunc(&mut self, hfunc: HashFunction) {
        self.0.hfunc = hfunc.to_raw();
    }

    /// The input transformation (C `RXH_XFRM_*`; on set, [`RXH_XFRM_NO_CHANGE`] keeps it).
    pub fn input_xfrm(&self) -> u8 {
        self.0.input_xfrm
    }

    /// The RSS context (0: the device's main table).
    pub fn rss_context(&self) -> u32 {
        self.0.rss_context
    }

    /// The indirection table: rx queue indices, one per entry.
    pub fn indir(&self) -> Option<&[u32]> {
        if self.0.indir.is_null() {
            return None;
        }
        // SAFETY: A non-null table has `indir_size` entries, valid while `self` is (type
        // invariant).
        Some(unsafe { core::slice::from_raw_parts(self.0.indir, self.0.indir_size as usize) })
    }

    /// The indirection table, to fill.
    pub fn indir_mut(&mut self) -> Option<&mut [u32]> {
        if self.0.indir.is_null() {
            return None;
        }
        // SAFETY: A non-null table has `indir_size` entries, valid while `self` is (type
        // invariant); nobody else accesses it while `self` is borrowed mutably.
        Some(unsafe { core::slice::from_raw_parts_mut(self.0.indir, self.0.indir_size as usize) })
    }

    /// The hash key.
    pub fn key(&self) -> Option<&[u8]> {
        if self.0.key.is_null() {
            return None;
        }
        // SAFETY: A non-null key has `key_size` bytes, valid while `self` is (type invariant).
        Some(unsafe { core::slice::from_raw_parts(self.0.key, self.0.key_size as usize) })
    }

    /// The hash key, to fill.
    pub fn key_mut(&mut self) -> Option<&mut [u8]> {
        if self.0.key.is_null() {
            return None;
        }
        // SAFETY: A non-null key has `key_size` bytes, valid while `self` is (type
        // invariant); nobody else accesses it while `self` is borrowed mutably.
        Some(unsafe { core::slice::from_raw_parts_mut(self.0.key, self.0.key_size as usize) })
    }
}
