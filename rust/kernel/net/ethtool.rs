// SPDX-License-Identifier: GPL-2.0

//! ethtool operations of a network device (C `struct ethtool_ops`).
//!
//! C header: [`include/linux/ethtool.h`](srctree/include/linux/ethtool.h)

use crate::{
    bindings,
    error::VTABLE_DEFAULT_ERROR,
    net::{
        device::{
            LockedNetDevice,
            NetDevice,
            Operations, //
        },
        ext_ack::ExtAck,
    },
    prelude::*,
    str::Formatter,
};
use core::{
    fmt::{self, Write},
    marker::PhantomData,
};

/// Ring sizes (C `struct ethtool_ringparam`).
pub type RingParam = bindings::ethtool_ringparam;
/// Ring settings beyond sizes: tcp-data-split, hds-thresh (C
/// `struct kernel_ethtool_ringparam`).
pub type KernelRingParam = bindings::kernel_ethtool_ringparam;
/// Channel counts (C `struct ethtool_channels`).
pub type Channels = bindings::ethtool_channels;

/// Interrupt coalescing settings (C `struct ethtool_coalesce`, `ethtool -c/-C`).
pub type Coalesce = bindings::ethtool_coalesce;

/// `EthtoolOps::SUPPORTED_COALESCE_PARAMS`: the rx interrupt interval in microseconds
/// (`rx-usecs`).
pub const COALESCE_RX_USECS: u32 = bindings::ETHTOOL_COALESCE_RX_USECS;

/// `tcp-data-split` values.
pub mod tcp_data_split {
    /// Not reported / left to the driver.
    pub const UNKNOWN: u8 =
        crate::bindings::ethtool_tcp_data_split_ETHTOOL_TCP_DATA_SPLIT_UNKNOWN as u8;
    /// Off.
    pub const DISABLED: u8 =
        crate::bindings::ethtool_tcp_data_split_ETHTOOL_TCP_DATA_SPLIT_DISABLED as u8;
    /// On.
    pub const ENABLED: u8 =
        crate::bindings::ethtool_tcp_data_split_ETHTOOL_TCP_DATA_SPLIT_ENABLED as u8;
}

/// `supported_ring_params`: the driver takes tcp-data-split.
pub const RING_USE_TCP_DATA_SPLIT: u32 =
    bindings::ethtool_supported_ring_param_ETHTOOL_RING_USE_TCP_DATA_SPLIT;
/// `supported_ring_params`: the driver takes hds-thresh.
pub const RING_USE_HDS_THRS: u32 = bindings::ethtool_supported_ring_param_ETHTOOL_RING_USE_HDS_THRS;

/// RSS hash functions (C `ETH_RSS_HASH_*`), as `hfunc` carries them.
pub mod rss_hash {
    use crate::bindings;

    /// On set: keep the current function. On get: unknown.
    pub const NO_CHANGE: u8 = bindings::ETH_RSS_HASH_NO_CHANGE as u8;
    /// Toeplitz.
    pub const TOP: u8 = 1 << bindings::ETH_RSS_HASH_TOP_BIT;
    /// XOR.
    pub const XOR: u8 = 1 << bindings::ETH_RSS_HASH_XOR_BIT;
    /// CRC32.
    pub const CRC32: u8 = 1 << bindings::ETH_RSS_HASH_CRC32_BIT;
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
    unsafe fn from_raw<'a>(ptr: *mut bindings::ethtool_rxfh_param) -> &'a mut Self {
        // SAFETY: Transparent wrapper; validity and exclusivity promised by the caller, which
        // makes the type invariant hold.
        unsafe { &mut *ptr.cast() }
    }

    /// The hash function (`rss_hash::*`; on set, `NO_CHANGE` keeps it).
    pub fn hfunc(&self) -> u8 {
        self.0.hfunc
    }

    /// Reports the hash function.
    pub fn set_hfunc(&mut self, hfunc: u8) {
        self.0.hfunc = hfunc;
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
        // SAFETY: As in `indir`; nobody else accesses it while `self` is borrowed mutably.
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
        // SAFETY: As in `key`; nobody else accesses it while `self` is borrowed mutably.
        Some(unsafe { core::slice::from_raw_parts_mut(self.0.key, self.0.key_size as usize) })
    }
}

/// Flow types of steering rules (C `*_FLOW`), in the low bits of a rule's flow type, and
/// the flags above them.
pub mod flow_type {
    use crate::bindings;

    /// TCP over IPv4.
    pub const TCP_V4: u32 = bindings::TCP_V4_FLOW;
    /// UDP over IPv4.
    pub const UDP_V4: u32 = bindings::UDP_V4_FLOW;
    /// SCTP over IPv4.
    pub const SCTP_V4: u32 = bindings::SCTP_V4_FLOW;
    /// TCP over IPv6.
    pub const TCP_V6: u32 = bindings::TCP_V6_FLOW;
    /// UDP over IPv6.
    pub const UDP_V6: u32 = bindings::UDP_V6_FLOW;
    /// SCTP over IPv6.
    pub const SCTP_V6: u32 = bindings::SCTP_V6_FLOW;
    /// The rule also matches the extension fields (VLAN, user-defined data).
    pub const FLOW_EXT: u32 = bindings::FLOW_EXT;
    /// The rule also matches the destination MAC address.
    pub const FLOW_MAC_EXT: u32 = bindings::FLOW_MAC_EXT;
    /// The action is an RSS context.
    pub const FLOW_RSS: u32 = bindings::FLOW_RSS;
    /// The flags; the rest is the flow type.
    pub const FLAGS: u32 = FLOW_EXT | FLOW_MAC_EXT | FLOW_RSS;
}

/// Rx network flow classification commands (C `ETHTOOL_*RX*`), as [`Rxnfc::cmd`] carries
/// them.
pub mod rxnfc_cmd {
    use crate::bindings;

    /// Get the number of rx rings.
    pub const GRXRINGS: u32 = bindings::ETHTOOL_GRXRINGS;
    /// Get the number of rules and the size of the rule table.
    pub const GRXCLSRLCNT: u32 = bindings::ETHTOOL_GRXCLSRLCNT;
    /// Get the rule at a location.
    pub const GRXCLSRULE: u32 = bindings::ETHTOOL_GRXCLSRULE;
    /// Get the locations of all rules.
    pub const GRXCLSRLALL: u32 = bindings::ETHTOOL_GRXCLSRLALL;
    /// Delete the rule at a location.
    pub const SRXCLSRLDEL: u32 = bindings::ETHTOOL_SRXCLSRLDEL;
    /// Insert or replace a rule.
    pub const SRXCLSRLINS: u32 = bindings::ETHTOOL_SRXCLSRLINS;
}

/// Rule locations: the driver picks (C `RX_CLS_LOC_*`).
pub mod rx_cls_loc {
    use crate::bindings;

    /// Set on the special locations below. A driver that picks locations itself reports
    /// it with its table size (`ETHTOOL_GRXCLSRLCNT`).
    pub const SPECIAL: u32 = bindings::RX_CLS_LOC_SPECIAL;
    /// Any free location.
    pub const ANY: u32 = bindings::RX_CLS_LOC_ANY;
    /// The first free location.
    pub const FIRST: u32 = bindings::RX_CLS_LOC_FIRST;
    /// The last free location.
    pub const LAST: u32 = bindings::RX_CLS_LOC_LAST;
}

/// The action of a rule that drops the packets it matches (C `RX_CLS_FLOW_DISC`).
pub const RX_CLS_FLOW_DISC: u64 = bindings::RX_CLS_FLOW_DISC as u64;
/// The action of a rule that wakes the device (C `RX_CLS_FLOW_WAKE`).
pub const RX_CLS_FLOW_WAKE: u64 = bindings::RX_CLS_FLOW_WAKE as u64;

/// The IPv4 fields of a TCP, UDP or SCTP rule, its values or its mask (C `struct
/// ethtool_tcpip4_spec`): addresses in network byte order, ports in host order.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Ip4L4 {
    /// Source address.
    pub src: [u8; 4],
    /// Destination address.
    pub dst: [u8; 4],
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// Type of service.
    pub tos: u8,
}

impl Ip4L4 {
    fn from_spec(s: &bindings::ethtool_tcpip4_spec) -> Self {
        Self {
            // The addresses are big endian in memory: their bytes are in network order.
            src: s.ip4src.to_ne_bytes(),
            dst: s.ip4dst.to_ne_bytes(),
            sport: u16::from_be(s.psrc),
            dport: u16::from_be(s.pdst),
            tos: s.tos,
        }
    }

    fn to_spec(&self) -> bindings::ethtool_tcpip4_spec {
        bindings::ethtool_tcpip4_spec {
            ip4src: u32::from_ne_bytes(self.src),
            ip4dst: u32::from_ne_bytes(self.dst),
            psrc: self.sport.to_be(),
            pdst: self.dport.to_be(),
            tos: self.tos,
        }
    }
}

/// The IPv6 fields of a TCP, UDP or SCTP rule, its values or its mask (C `struct
/// ethtool_tcpip6_spec`): addresses in network byte order, ports in host order.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Ip6L4 {
    /// Source address.
    pub src: [u8; 16],
    /// Destination address.
    pub dst: [u8; 16],
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// Traffic class.
    pub tclass: u8,
}

/// The bytes of an IPv6 address kept as four big-endian words.
fn ip6_bytes(words: &[u32; 4]) -> [u8; 16] {
    let mut b = [0u8; 16];
    for (d, w) in b.chunks_exact_mut(4).zip(words) {
        d.copy_from_slice(&w.to_ne_bytes());
    }
    b
}

/// The four big-endian words of an IPv6 address.
fn ip6_words(bytes: &[u8; 16]) -> [u32; 4] {
    let mut w = [0u32; 4];
    for (d, b) in w.iter_mut().zip(bytes.chunks_exact(4)) {
        *d = u32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
    }
    w
}

impl Ip6L4 {
    fn from_spec(s: &bindings::ethtool_tcpip6_spec) -> Self {
        Self {
            src: ip6_bytes(&s.ip6src),
            dst: ip6_bytes(&s.ip6dst),
            sport: u16::from_be(s.psrc),
            dport: u16::from_be(s.pdst),
            tclass: s.tclass,
        }
    }

    fn to_spec(&self) -> bindings::ethtool_tcpip6_spec {
        bindings::ethtool_tcpip6_spec {
            ip6src: ip6_words(&self.src),
            ip6dst: ip6_words(&self.dst),
            psrc: self.sport.to_be(),
            pdst: self.dport.to_be(),
            tclass: self.tclass,
        }
    }
}

/// An rx network flow classification request (C `struct ethtool_rxnfc`): a command, its
/// rule (`fs`: flow type, match values and masks, action, location) and counts.
///
/// The rule's match is read and written per flow type: [`Rxnfc::ip4_l4`] for the IPv4
/// TCP, UDP and SCTP types, [`Rxnfc::ip6_l4`] for the IPv6 ones.
///
/// # Invariants
///
/// The object is valid and not accessed by anyone else for as long as the reference is.
#[repr(transparent)]
pub struct Rxnfc(bindings::ethtool_rxnfc);

impl Rxnfc {
    /// Borrows the request at `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` is valid and not accessed by anyone else for `'a`.
    unsafe fn from_raw<'a>(ptr: *mut bindings::ethtool_rxnfc) -> &'a mut Self {
        // SAFETY: Transparent wrapper; validity and exclusivity promised by the caller.
        unsafe { &mut *ptr.cast() }
    }

    /// The command (`rxnfc_cmd::*`).
    pub fn cmd(&self) -> u32 {
        self.0.cmd
    }

    /// The command's value: the number of rings, or the size of the rule table.
    pub fn data(&self) -> u64 {
        self.0.data
    }

    /// Sets the command's value.
    pub fn set_data(&mut self, data: u64) {
        self.0.data = data;
    }

    /// The number of rules (`ETHTOOL_GRXCLSRLCNT`), or of rule locations the caller has room
    /// for (`ETHTOOL_GRXCLSRLALL`).
    pub fn rule_cnt(&self) -> u32 {
        // SAFETY: Both members of the union are `u32`s, so any value is a valid `rule_cnt`.
        unsafe { self.0.__bindgen_anon_1.rule_cnt }
    }

    /// Sets the number of rules.
    pub fn set_rule_cnt(&mut self, n: u32) {
        self.0.__bindgen_anon_1.rule_cnt = n;
    }

    /// The RSS context of a rule whose flow type has `FLOW_RSS`.
    pub fn rss_context(&self) -> u32 {
        // SAFETY: As in `rule_cnt`.
        unsafe { self.0.__bindgen_anon_1.rss_context }
    }

    /// The rule's flow type (`flow_type::*`), with its flags.
    pub fn flow_type(&self) -> u32 {
        self.0.fs.flow_type
    }

    /// The rule's location in the driver's table (or `rx_cls_loc::*` on insertion).
    pub fn location(&self) -> u32 {
        self.0.fs.location
    }

    /// Sets the rule's location (the one the driver picked, on insertion).
    pub fn set_location(&mut self, loc: u32) {
        self.0.fs.location = loc;
    }

    /// The rule's action: an rx queue index (with a VF in
    /// `ETHTOOL_RX_FLOW_SPEC_RING_VF`), or [`RX_CLS_FLOW_DISC`] / [`RX_CLS_FLOW_WAKE`].
    pub fn ring_cookie(&self) -> u64 {
        self.0.fs.ring_cookie
    }

    /// Sets the rule's action.
    pub fn set_ring_cookie(&mut self, cookie: u64) {
        self.0.fs.ring_cookie = cookie;
    }

    /// The values and mask of a TCP, UDP or SCTP over IPv4 rule. Mask bits set are bits
    /// to match.
    pub fn ip4_l4(&self) -> (Ip4L4, Ip4L4) {
        // SAFETY: Every member of the unions is made of integers and arrays of them, so
        // any bytes are a valid `ethtool_tcpip4_spec`.
        let (h, m) = unsafe { (&self.0.fs.h_u.tcp_ip4_spec, &self.0.fs.m_u.tcp_ip4_spec) };
        (Ip4L4::from_spec(h), Ip4L4::from_spec(m))
    }

    /// The values and mask of a TCP, UDP or SCTP over IPv6 rule.
    pub fn ip6_l4(&self) -> (Ip6L4, Ip6L4) {
        // SAFETY: As in `ip4_l4`.
        let (h, m) = unsafe { (&self.0.fs.h_u.tcp_ip6_spec, &self.0.fs.m_u.tcp_ip6_spec) };
        (Ip6L4::from_spec(h), Ip6L4::from_spec(m))
    }

    /// Describes a TCP, UDP or SCTP over IPv4 rule of `flow_type`; no extension fields.
    pub fn set_ip4_l4(&mut self, flow_type: u32, value: &Ip4L4, mask: &Ip4L4) {
        self.clear_match(flow_type);
        self.0.fs.h_u.tcp_ip4_spec = value.to_spec();
        self.0.fs.m_u.tcp_ip4_spec = mask.to_spec();
    }

    /// Describes a TCP, UDP or SCTP over IPv6 rule of `flow_type`; no extension fields.
    pub fn set_ip6_l4(&mut self, flow_type: u32, value: &Ip6L4, mask: &Ip6L4) {
        self.clear_match(flow_type);
        self.0.fs.h_u.tcp_ip6_spec = value.to_spec();
        self.0.fs.m_u.tcp_ip6_spec = mask.to_spec();
    }

    fn clear_match(&mut self, flow_type: u32) {
        let fs = &mut self.0.fs;
        fs.flow_type = flow_type;
        // The bindings' defaults are all zeroes.
        fs.h_u = Default::default();
        fs.m_u = Default::default();
        fs.h_ext = Default::default();
        fs.m_ext = Default::default();
    }
}

/// String sets (C `enum ethtool_stringset`).
pub mod string_set {
    use crate::bindings;

    /// The names of the driver's statistics (`ethtool -S`).
    pub const STATS: u32 = bindings::ethtool_stringset_ETH_SS_STATS;
}

/// The size of an ethtool string, with its NUL (C `ETH_GSTRING_LEN`).
pub const ETH_GSTRING_LEN: usize = bindings::ETH_GSTRING_LEN as usize;

/// The strings of a string set, written in order into the core's buffer (`get_strings`).
pub struct Strings<'a> {
    /// The room left: whole strings of `ETH_GSTRING_LEN` bytes.
    buf: &'a mut [u8],
}

impl<'a> Strings<'a> {
    fn new(buf: &'a mut [u8]) -> Self {
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

/// The ethtool callbacks of a driver, on top of its netdev [`Operations`].
#[vtable]
pub trait EthtoolOps: Operations {
    /// Which ring settings `set_ringparam` takes (`RING_USE_*`).
    const SUPPORTED_RING_PARAMS: u32 = 0;

    /// Which coalescing settings `set_coalesce` takes (`COALESCE_*`); the core refuses
    /// the others with `EOPNOTSUPP` before calling the driver.
    const SUPPORTED_COALESCE_PARAMS: u32 = 0;

    /// Reports the interrupt coalescing settings.
    fn get_coalesce(_data: &Self::Data, _dev: &NetDevice, _ec: &mut Coalesce) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Applies interrupt coalescing settings (only the `SUPPORTED_COALESCE_PARAMS` ones
    /// differ from what `get_coalesce` reported).
    fn set_coalesce(
        _data: &Self::Data,
        _dev: &NetDevice,
        _ec: &Coalesce,
        _ack: Option<&mut ExtAck>,
    ) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Reports ring sizes and settings; `kring` arrives with the core's current
    /// tcp-data-split and hds-thresh.
    fn get_ringparam(
        _data: &Self::Data,
        _dev: &NetDevice,
        _ring: &mut RingParam,
        _kring: &mut KernelRingParam,
    ) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Applies ring settings (validated against the maxima by the core), under the
    /// instance lock.
    fn set_ringparam(
        _data: &Self::Data,
        _dev: &LockedNetDevice,
        _ring: &RingParam,
        _kring: &KernelRingParam,
        _ack: Option<&mut ExtAck>,
    ) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Reports channel counts.
    fn get_channels(_data: &Self::Data, _dev: &NetDevice, _ch: &mut Channels) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Changes channel counts (`ethtool -L`), under the RTNL (the table asks the ethtool
    /// core for it) and the instance lock. The core has checked the counts against the
    /// maxima of [`get_channels`](Self::get_channels) and against what uses the queues that
    /// would go away: the RSS table if userspace set it, flow steering rules, memory
    /// providers and AF_XDP sockets.
    fn set_channels(_data: &Self::Data, _dev: &LockedNetDevice, _ch: &Channels) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// The number of rx rings (`ETHTOOL_GRXRINGS`); the core checks the entries of a new
    /// indirection table against it.
    fn get_rx_ring_count(_data: &Self::Data, _dev: &NetDevice) -> u32 {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// The size of the RSS hash key in bytes (0: none); a constant of the device.
    fn get_rxfh_key_size(_data: &Self::Data, _dev: &NetDevice) -> u32 {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// The number of entries of the RSS indirection table (0: none); a constant of the
    /// device.
    fn get_rxfh_indir_size(_data: &Self::Data, _dev: &NetDevice) -> u32 {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Reports the RSS settings (`ethtool -x`); runs under the core's RSS lock.
    fn get_rxfh(_data: &Self::Data, _dev: &NetDevice, _rxfh: &mut RxfhParam) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Changes the RSS settings (`ethtool -X`); what is absent stays as it is. The core
    /// has checked the table's entries against [`EthtoolOps::get_rx_ring_count`] and the
    /// sizes against the driver's. An unsupported change must fail the whole request.
    fn set_rxfh(
        _data: &Self::Data,
        _dev: &NetDevice,
        _rxfh: &RxfhParam,
        _ack: Option<&mut ExtAck>,
    ) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Answers an rx flow classification query (`ethtool -n`): `ETHTOOL_GRXCLSRLCNT`,
    /// `ETHTOOL_GRXCLSRULE`, `ETHTOOL_GRXCLSRLALL` (whose rule locations go to
    /// `rule_locs`, as many as the caller has room for, else `EMSGSIZE`). Unsupported
    /// commands: `EOPNOTSUPP`. The rx ring count comes from
    /// [`EthtoolOps::get_rx_ring_count`].
    fn get_rxnfc(
        _data: &Self::Data,
        _dev: &NetDevice,
        _info: &mut Rxnfc,
        _rule_locs: Option<&mut [u32]>,
    ) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Inserts (`ETHTOOL_SRXCLSRLINS`, setting the location it picked) or deletes
    /// (`ETHTOOL_SRXCLSRLDEL`) a flow steering rule (`ethtool -N`). The ioctl carries no
    /// extended acknowledgement.
    fn set_rxnfc(_data: &Self::Data, _dev: &NetDevice, _info: &mut Rxnfc) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// The number of strings of string set `sset` (`string_set::*`), or `EOPNOTSUPP` for a
    /// set the driver has none of. For `string_set::STATS` it is the number of statistics.
    ///
    /// The core sizes the buffer it then passes to `get_strings` with this count, under the
    /// same lock (RTNL or the instance lock): the count must not change in between.
    fn get_sset_count(_data: &Self::Data, _dev: &NetDevice, _sset: u32) -> Result<u32> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Writes the strings of string set `sset`, as many as `get_sset_count` counts.
    fn get_strings(_data: &Self::Data, _dev: &NetDevice, _sset: u32, _out: &mut Strings<'_>) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Writes the values of the statistics (`ethtool -S`), in the order of their names;
    /// `stats` has room for `get_sset_count(string_set::STATS)` of them.
    fn get_ethtool_stats(_data: &Self::Data, _dev: &NetDevice, _stats: &mut [u64]) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
}

/// The C table of `T`'s ethtool ops, installed by
/// [`ExtraOps::ethtool`](super::device::ExtraOps::ethtool).
pub(crate) struct EthtoolTable<T: EthtoolOps>(PhantomData<T>);

impl<T: EthtoolOps> EthtoolTable<T> {
    /// The table, in read-only data.
    pub(crate) const TABLE: &'static bindings::ethtool_ops = &Self::OPS;

    const OPS: bindings::ethtool_ops = {
        let mut ops: bindings::ethtool_ops = pin_init::zeroed();
        ops.supported_ring_params = T::SUPPORTED_RING_PARAMS;
        ops.supported_coalesce_params = T::SUPPORTED_COALESCE_PARAMS;
        if T::HAS_GET_COALESCE {
            ops.get_coalesce = Some(Self::get_coalesce);
        }
        if T::HAS_SET_COALESCE {
            ops.set_coalesce = Some(Self::set_coalesce);
        }
        ops.get_link = Some(bindings::ethtool_op_get_link);
        if T::HAS_GET_RINGPARAM {
            ops.get_ringparam = Some(Self::get_ringparam);
        }
        if T::HAS_SET_RINGPARAM {
            ops.set_ringparam = Some(Self::set_ringparam);
        }
        if T::HAS_GET_CHANNELS {
            ops.get_channels = Some(Self::get_channels);
        }
        if T::HAS_SET_CHANNELS {
            ops.set_channels = Some(Self::set_channels);
            // The ethtool core takes only the instance lock of an ops-locked device unless
            // asked for the RTNL too; a channel change needs it (the number of real queues
            // changes with the qdiscs).
            ops.op_needs_rtnl |= bindings::ETHTOOL_OP_NEEDS_RTNL_SCHANNELS;
        }
        if T::HAS_GET_RX_RING_COUNT {
            ops.get_rx_ring_count = Some(Self::get_rx_ring_count);
        }
        if T::HAS_GET_RXFH_KEY_SIZE {
            ops.get_rxfh_key_size = Some(Self::get_rxfh_key_size);
        }
        if T::HAS_GET_RXFH_INDIR_SIZE {
            ops.get_rxfh_indir_size = Some(Self::get_rxfh_indir_size);
        }
        if T::HAS_GET_RXFH {
            ops.get_rxfh = Some(Self::get_rxfh);
        }
        if T::HAS_SET_RXFH {
            ops.set_rxfh = Some(Self::set_rxfh);
        }
        if T::HAS_GET_RXNFC {
            ops.get_rxnfc = Some(Self::get_rxnfc);
        }
        if T::HAS_SET_RXNFC {
            ops.set_rxnfc = Some(Self::set_rxnfc);
        }
        if T::HAS_GET_SSET_COUNT {
            ops.get_sset_count = Some(Self::get_sset_count);
        }
        if T::HAS_GET_STRINGS {
            ops.get_strings = Some(Self::get_strings);
        }
        if T::HAS_GET_ETHTOOL_STATS {
            ops.get_ethtool_stats = Some(Self::get_ethtool_stats);
        }
        ops
    };

    /// # Safety
    ///
    /// Called by the networking core through the ops table built here, with the live
    /// objects the C prototype names, on a device (or NAPI context) of the driver.
    unsafe extern "C" fn get_coalesce(
        dev: *mut bindings::net_device,
        ec: *mut bindings::ethtool_coalesce,
        _kec: *mut bindings::kernel_ethtool_coalesce,
        _extack: *mut bindings::netlink_ext_ack,
    ) -> crate::ffi::c_int {
        // SAFETY: The core calls with a live device of `T` and a valid, exclusive struct.
        let (dev, ec) = unsafe { (NetDevice::from_raw(dev), &mut *ec) };
        // SAFETY: As above.
        match T::get_coalesce(unsafe { dev.data::<T>() }, dev, ec) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        }
    }

    /// # Safety
    ///
    /// Called by the networking core through the ops table built here, with the live
    /// objects the C prototype names, on a device (or NAPI context) of the driver.
    unsafe extern "C" fn set_coalesce(
        dev: *mut bindings::net_device,
        ec: *mut bindings::ethtool_coalesce,
        _kec: *mut bindings::kernel_ethtool_coalesce,
        extack: *mut bindings::netlink_ext_ack,
    ) -> crate::ffi::c_int {
        // SAFETY: As in `get_coalesce`; `extack` is null or the request's.
        let (dev, ec, ack) = unsafe { (NetDevice::from_raw(dev), &*ec, ExtAck::from_raw(extack)) };
        // SAFETY: As above.
        match T::set_coalesce(unsafe { dev.data::<T>() }, dev, ec, ack) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        }
    }

    /// # Safety
    ///
    /// Called by the networking core through the ops table built here, with the live
    /// objects the C prototype names, on a device (or NAPI context) of the driver.
    unsafe extern "C" fn get_ringparam(
        dev: *mut bindings::net_device,
        ring: *mut bindings::ethtool_ringparam,
        kring: *mut bindings::kernel_ethtool_ringparam,
        _extack: *mut bindings::netlink_ext_ack,
    ) {
        // SAFETY: The core calls with a live device of `T` and valid, exclusive structs.
        let (dev, ring, kring) = unsafe { (NetDevice::from_raw(dev), &mut *ring, &mut *kring) };
        // SAFETY: As above.
        T::get_ringparam(unsafe { dev.data::<T>() }, dev, ring, kring);
    }

    /// # Safety
    ///
    /// Called by the networking core through the ops table built here, with the live
    /// objects the C prototype names, on a device (or NAPI context) of the driver.
    unsafe extern "C" fn set_ringparam(
        dev: *mut bindings::net_device,
        ring: *mut bindings::ethtool_ringparam,
        kring: *mut bindings::kernel_ethtool_ringparam,
        extack: *mut bindings::netlink_ext_ack,
    ) -> crate::ffi::c_int {
        // SAFETY: The ethtool core calls with a live device of the driver, ops locked (see
        // `Registration`), so under its instance lock; `ring` and `kring` are valid for
        // the call, `extack` is null or the request's.
        let (dev, ring, kring, ack) = unsafe {
            (
                LockedNetDevice::assume_locked(NetDevice::from_raw(dev)),
                &*ring,
                &*kring,
                ExtAck::from_raw(extack),
            )
        };
        // SAFETY: As above.
        match T::set_ringparam(unsafe { dev.data::<T>() }, dev, ring, kring, ack) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        }
    }

    /// # Safety
    ///
    /// Called by the networking core through the ops table built here, with the live
    /// objects the C prototype names, on a device (or NAPI context) of the driver.
    unsafe extern "C" fn get_channels(
        dev: *mut bindings::net_device,
        ch: *mut bindings::ethtool_channels,
    ) {
        // SAFETY: As in `get_ringparam`.
        let (dev, ch) = unsafe { (NetDevice::from_raw(dev), &mut *ch) };
        // SAFETY: As above.
        T::get_channels(unsafe { dev.data::<T>() }, dev, ch);
    }

    /// # Safety
    ///
    /// Called by the networking core through the ops table built here, with the live
    /// objects the C prototype names, on a device (or NAPI context) of the driver.
    unsafe extern "C" fn set_channels(
        dev: *mut bindings::net_device,
        ch: *mut bindings::ethtool_channels,
    ) -> crate::ffi::c_int {
        // SAFETY: The ethtool core calls with a live device of the driver, ops locked (see
        // `Registration`), so under its instance lock; the core only reads `ch` back after
        // the call.
        let (dev, ch) = unsafe {
            (
                LockedNetDevice::assume_locked(NetDevice::from_raw(dev)),
                &*ch,
            )
        };
        // SAFETY: As above.
        match T::set_channels(unsafe { dev.data::<T>() }, dev, ch) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        }
    }

    /// # Safety
    ///
    /// Called by the networking core through the ops table built here, with the live
    /// objects the C prototype names, on a device (or NAPI context) of the driver.
    unsafe extern "C" fn get_rx_ring_count(dev: *mut bindings::net_device) -> u32 {
        // SAFETY: As in `get_ringparam`.
        let dev = unsafe { NetDevice::from_raw(dev) };
        // SAFETY: As above.
        T::get_rx_ring_count(unsafe { dev.data::<T>() }, dev)
    }

    /// # Safety
    ///
    /// Called by the networking core through the ops table built here, with the live
    /// objects the C prototype names, on a device (or NAPI context) of the driver.
    unsafe extern "C" fn get_rxfh_key_size(dev: *mut bindings::net_device) -> u32 {
        // SAFETY: As in `get_ringparam`.
        let dev = unsafe { NetDevice::from_raw(dev) };
        // SAFETY: As above.
        T::get_rxfh_key_size(unsafe { dev.data::<T>() }, dev)
    }

    /// # Safety
    ///
    /// Called by the networking core through the ops table built here, with the live
    /// objects the C prototype names, on a device (or NAPI context) of the driver.
    unsafe extern "C" fn get_rxfh_indir_size(dev: *mut bindings::net_device) -> u32 {
        // SAFETY: As in `get_ringparam`.
        let dev = unsafe { NetDevice::from_raw(dev) };
        // SAFETY: As above.
        T::get_rxfh_indir_size(unsafe { dev.data::<T>() }, dev)
    }

    /// # Safety
    ///
    /// Called by the networking core through the ops table built here, with the live
    /// objects the C prototype names, on a device (or NAPI context) of the driver.
    unsafe extern "C" fn get_rxfh(
        dev: *mut bindings::net_device,
        rxfh: *mut bindings::ethtool_rxfh_param,
    ) -> crate::ffi::c_int {
        // SAFETY: As in `get_ringparam`.
        let (dev, data) = unsafe {
            let dev = NetDevice::from_raw(dev);
            (dev, dev.data::<T>())
        };
        // On get, the core's buffers have the sizes the driver reports
        // (`get_rxfh_indir_size`, `get_rxfh_key_size`). Most callers say so in `indir_size`
        // and `key_size`; some leave them 0 (`ethtool_get_max_rxfh_channel`): fill those in
        // from the driver, as the C prototype asks it to, before the buffers are borrowed.
        // SAFETY: `rxfh` is the core's, valid and ours for the call.
        unsafe {
            if (*rxfh).indir_size == 0 && !(*rxfh).indir.is_null() && T::HAS_GET_RXFH_INDIR_SIZE {
                (*rxfh).indir_size = T::get_rxfh_indir_size(data, dev);
            }
            if (*rxfh).key_size == 0 && !(*rxfh).key.is_null() && T::HAS_GET_RXFH_KEY_SIZE {
                (*rxfh).key_size = T::get_rxfh_key_size(data, dev);
            }
        }
        // SAFETY: The table and the key the core passes (or null) have the sizes set now:
        // the core allocated them with the sizes the driver reports, which do not change
        // (the contract of `get_rxfh_indir_size` and `get_rxfh_key_size`).
        let rxfh = unsafe { RxfhParam::from_raw(rxfh) };
        match T::get_rxfh(data, dev, rxfh) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        }
    }

    /// # Safety
    ///
    /// Called by the networking core through the ops table built here, with the live
    /// objects the C prototype names, on a device (or NAPI context) of the driver.
    unsafe extern "C" fn set_rxfh(
        dev: *mut bindings::net_device,
        rxfh: *mut bindings::ethtool_rxfh_param,
        extack: *mut bindings::netlink_ext_ack,
    ) -> crate::ffi::c_int {
        // SAFETY: As in `get_rxfh`; `extack` is null or the request's.
        let (dev, rxfh, ack) = unsafe {
            (
                NetDevice::from_raw(dev),
                RxfhParam::from_raw(rxfh),
                ExtAck::from_raw(extack),
            )
        };
        // SAFETY: As above.
        match T::set_rxfh(unsafe { dev.data::<T>() }, dev, rxfh, ack) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        }
    }

    /// # Safety
    ///
    /// Called by the networking core through the ops table built here, with the live
    /// objects the C prototype names, on a device (or NAPI context) of the driver.
    unsafe extern "C" fn get_rxnfc(
        dev: *mut bindings::net_device,
        info: *mut bindings::ethtool_rxnfc,
        rule_locs: *mut u32,
    ) -> crate::ffi::c_int {
        // SAFETY: As in `get_ringparam`; `info` is the core's copy of the request.
        let (dev, info) = unsafe { (NetDevice::from_raw(dev), Rxnfc::from_raw(info)) };
        let locs = if info.cmd() == rxnfc_cmd::GRXCLSRLALL && !rule_locs.is_null() {
            // SAFETY: For `ETHTOOL_GRXCLSRLALL` the core passes an array of `rule_cnt`
            // entries (null when `rule_cnt` is 0), its own for the call.
            Some(unsafe { core::slice::from_raw_parts_mut(rule_locs, info.rule_cnt() as usize) })
        } else {
            None
        };
        // SAFETY: As above.
        match T::get_rxnfc(unsafe { dev.data::<T>() }, dev, info, locs) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        }
    }

    /// # Safety
    ///
    /// Called by the networking core through the ops table built here, with the live
    /// objects the C prototype names, on a device (or NAPI context) of the driver.
    unsafe extern "C" fn set_rxnfc(
        dev: *mut bindings::net_device,
        info: *mut bindings::ethtool_rxnfc,
    ) -> crate::ffi::c_int {
        // SAFETY: As in `get_rxnfc`.
        let (dev, info) = unsafe { (NetDevice::from_raw(dev), Rxnfc::from_raw(info)) };
        // SAFETY: As above.
        match T::set_rxnfc(unsafe { dev.data::<T>() }, dev, info) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        }
    }

    /// # Safety
    ///
    /// Called by the networking core through the ops table built here, with the live
    /// objects the C prototype names, on a device (or NAPI context) of the driver.
    unsafe extern "C" fn get_sset_count(
        dev: *mut bindings::net_device,
        sset: crate::ffi::c_int,
    ) -> crate::ffi::c_int {
        // SAFETY: As in `get_ringparam`.
        let dev = unsafe { NetDevice::from_raw(dev) };
        let Ok(sset) = u32::try_from(sset) else {
            return EOPNOTSUPP.to_errno();
        };
        // SAFETY: As above.
        match T::get_sset_count(unsafe { dev.data::<T>() }, dev, sset) {
            Ok(n) => crate::ffi::c_int::try_from(n).unwrap_or(EOVERFLOW.to_errno()),
            Err(e) => e.to_errno(),
        }
    }

    /// # Safety
    ///
    /// Called by the networking core through the ops table built here, with the live
    /// objects the C prototype names, on a device (or NAPI context) of the driver.
    unsafe extern "C" fn get_strings(dev: *mut bindings::net_device, sset: u32, data: *mut u8) {
        // SAFETY: As in `get_ringparam`.
        let dev = unsafe { NetDevice::from_raw(dev) };
        // SAFETY: As above.
        let d = unsafe { dev.data::<T>() };
        // The core allocated `data` for the count the driver reports (which it must not
        // change meanwhile, see `EthtoolOps::get_sset_count`).
        let Some(len) = T::get_sset_count(d, dev, sset)
            .ok()
            .and_then(|n| (n as usize).checked_mul(ETH_GSTRING_LEN))
        else {
            return;
        };
        if data.is_null() || len == 0 {
            return;
        }
        // SAFETY: `data` has room for `len` bytes, the core's buffer for the call.
        let buf = unsafe { core::slice::from_raw_parts_mut(data, len) };
        T::get_strings(d, dev, sset, &mut Strings::new(buf));
    }

    /// # Safety
    ///
    /// Called by the networking core through the ops table built here, with the live
    /// objects the C prototype names, on a device (or NAPI context) of the driver.
    unsafe extern "C" fn get_ethtool_stats(
        dev: *mut bindings::net_device,
        stats: *mut bindings::ethtool_stats,
        data: *mut u64,
    ) {
        // SAFETY: As in `get_ringparam`; `stats` is the core's header of the request.
        let (dev, n) = unsafe { (NetDevice::from_raw(dev), (*stats).n_stats as usize) };
        if data.is_null() || n == 0 {
            return;
        }
        // SAFETY: `data` has room for `n_stats` values, the core's buffer for the call.
        let vals = unsafe { core::slice::from_raw_parts_mut(data, n) };
        // SAFETY: As above.
        T::get_ethtool_stats(unsafe { dev.data::<T>() }, dev, vals);
    }
}
