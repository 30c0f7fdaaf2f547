// SPDX-License-Identifier: GPL-2.0

//! RSS: the hash function, key and indirection table of a request (`ethtool -x/-X`).

use super::FlowKind;
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

/// The header fields a flow type's RSS hash is computed over (C `RXH_*` bits); empty when
/// such packets are not hashed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashFields(u32);

impl HashFields {
    /// No field: such packets are not hashed.
    pub const NONE: Self = Self(0);
    /// The IP source address.
    pub const IP_SRC: Self = Self(bindings::RXH_IP_SRC);
    /// The IP destination address.
    pub const IP_DST: Self = Self(bindings::RXH_IP_DST);
    /// Bytes 0 and 1 of the L4 header (the source port of TCP and UDP).
    pub const L4_B_0_1: Self = Self(bindings::RXH_L4_B_0_1);
    /// Bytes 2 and 3 of the L4 header (the destination port of TCP and UDP).
    pub const L4_B_2_3: Self = Self(bindings::RXH_L4_B_2_3);
    /// Addresses and ports (`ethtool -N ... rx-flow-hash ... sdfn`).
    pub const ADDRS_PORTS: Self = Self(
        bindings::RXH_IP_SRC
            | bindings::RXH_IP_DST
            | bindings::RXH_L4_B_0_1
            | bindings::RXH_L4_B_2_3,
    );

    /// The C bits.
    pub fn bits(self) -> u32 {
        self.0
    }
}

impl core::ops::BitOr for HashFields {
    type Output = Self;

    /// Both sets of fields (`IP_SRC | IP_DST`: `ethtool -N ... rx-flow-hash ... sd`).
    fn bitor(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

/// The hash fields of one flow type (C `struct ethtool_rxfh_fields`), as `ethtool -n/-N
/// ... rx-flow-hash` and the `flow-hash` attribute of the RSS netlink messages carry them.
#[repr(transparent)]
pub struct RxfhFields(bindings::ethtool_rxfh_fields);

impl RxfhFields {
    /// Borrows the fields at `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` is valid and not written by anyone else for `'a`.
    pub(super) unsafe fn from_raw<'a>(ptr: *const bindings::ethtool_rxfh_fields) -> &'a Self {
        // SAFETY: Transparent wrapper; validity promised by the caller.
        unsafe { &*ptr.cast() }
    }

    /// Borrows the fields at `ptr`, to fill.
    ///
    /// # Safety
    ///
    /// `ptr` is valid and not accessed by anyone else for `'a`.
    pub(super) unsafe fn from_raw_mut<'a>(ptr: *mut bindings::ethtool_rxfh_fields) -> &'a mut Self {
        // SAFETY: Transparent wrapper; validity and exclusivity promised by the caller.
        unsafe { &mut *ptr.cast() }
    }

    /// The flow type (without `FLOW_RSS`).
    pub fn flow_kind(&self) -> FlowKind {
        FlowKind::from_raw(self.0.flow_type)
    }

    /// The RSS context (always 0 unless the driver keeps fields per context, which the
    /// table does not declare).
    pub fn rss_context(&self) -> u32 {
        self.0.rss_context
    }

    /// The fields the flow type is hashed over.
    pub fn fields(&self) -> HashFields {
        HashFields(self.0.data)
    }

    /// Reports the fields the flow type is hashed over.
    pub fn set_fields(&mut self, fields: HashFields) {
        self.0.data = fields.0;
    }
}
