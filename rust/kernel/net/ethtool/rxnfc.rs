// SPDX-License-Identifier: GPL-2.0

//! Rx flow classification: steering rules (`ethtool -n/-N`).

use crate::bindings;

/// The kind of flow a steering rule matches (C `*_FLOW`, the low bits of its flow type).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowKind {
    /// TCP over IPv4.
    TcpV4,
    /// UDP over IPv4.
    UdpV4,
    /// SCTP over IPv4.
    SctpV4,
    /// TCP over IPv6.
    TcpV6,
    /// UDP over IPv6.
    UdpV6,
    /// SCTP over IPv6.
    SctpV6,
    /// A kind this enum does not name.
    Other(u32),
}

impl FlowKind {
    pub(super) fn from_raw(v: u32) -> Self {
        match v {
            bindings::TCP_V4_FLOW => Self::TcpV4,
            bindings::UDP_V4_FLOW => Self::UdpV4,
            bindings::SCTP_V4_FLOW => Self::SctpV4,
            bindings::TCP_V6_FLOW => Self::TcpV6,
            bindings::UDP_V6_FLOW => Self::UdpV6,
            bindings::SCTP_V6_FLOW => Self::SctpV6,
            v => Self::Other(v),
        }
    }

    fn to_raw(self) -> u32 {
        match self {
            Self::TcpV4 => bindings::TCP_V4_FLOW,
            Self::UdpV4 => bindings::UDP_V4_FLOW,
            Self::SctpV4 => bindings::SCTP_V4_FLOW,
            Self::TcpV6 => bindings::TCP_V6_FLOW,
            Self::UdpV6 => bindings::UDP_V6_FLOW,
            Self::SctpV6 => bindings::SCTP_V6_FLOW,
            Self::Other(v) => v,
        }
    }
}

/// What a steering rule's flow type asks for besides its kind (C `FLOW_EXT`,
/// `FLOW_MAC_EXT`, `FLOW_RSS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowFlags {
    /// The rule also matches the extension fields (VLAN, user-defined data).
    pub ext: bool,
    /// The rule also matches the destination MAC address.
    pub mac_ext: bool,
    /// The action is an RSS context.
    pub rss: bool,
}

/// An rx network flow classification command (C `ETHTOOL_*RX*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RxnfcCommand {
    /// Get the number of rx rings (`ETHTOOL_GRXRINGS`).
    GetRings,
    /// Get the number of rules and the size of the rule table (`ETHTOOL_GRXCLSRLCNT`).
    GetRuleCount,
    /// Get the rule at a location (`ETHTOOL_GRXCLSRULE`).
    GetRule,
    /// Get the locations of all rules (`ETHTOOL_GRXCLSRLALL`).
    GetAllRules,
    /// Delete the rule at a location (`ETHTOOL_SRXCLSRLDEL`).
    DeleteRule,
    /// Insert or replace a rule (`ETHTOOL_SRXCLSRLINS`).
    InsertRule,
    /// A command this enum does not name.
    Other(u32),
}

impl RxnfcCommand {
    fn from_raw(v: u32) -> Self {
        match v {
            bindings::ETHTOOL_GRXRINGS => Self::GetRings,
            bindings::ETHTOOL_GRXCLSRLCNT => Self::GetRuleCount,
            bindings::ETHTOOL_GRXCLSRULE => Self::GetRule,
            bindings::ETHTOOL_GRXCLSRLALL => Self::GetAllRules,
            bindings::ETHTOOL_SRXCLSRLDEL => Self::DeleteRule,
            bindings::ETHTOOL_SRXCLSRLINS => Self::InsertRule,
            v => Self::Other(v),
        }
    }
}

/// Where an inserted rule goes in the driver's table (C `fs.location`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleLocation {
    /// At this index.
    At(u32),
    /// Any free location, the driver's choice (`RX_CLS_LOC_ANY`).
    Any,
    /// The first free location (`RX_CLS_LOC_FIRST`).
    First,
    /// The last free location (`RX_CLS_LOC_LAST`).
    Last,
    /// Another special location, which this enum does not name.
    OtherSpecial(u32),
}

/// The flags of a rule's flow type; the rest is its kind.
const FLOW_FLAGS: u32 = bindings::FLOW_EXT | bindings::FLOW_MAC_EXT | bindings::FLOW_RSS;

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

    fn to_spec(self) -> bindings::ethtool_tcpip4_spec {
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

    fn to_spec(self) -> bindings::ethtool_tcpip6_spec {
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
    pub(super) unsafe fn from_raw<'a>(ptr: *mut bindings::ethtool_rxnfc) -> &'a mut Self {
        // SAFETY: Transparent wrapper; validity and exclusivity promised by the caller.
        unsafe { &mut *ptr.cast() }
    }

    /// The command.
    pub fn cmd(&self) -> RxnfcCommand {
        RxnfcCommand::from_raw(self.0.cmd)
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
        // SAFETY: Both members of the union are `u32`s, so any value is a valid
        // `rss_context`.
        unsafe { self.0.__bindgen_anon_1.rss_context }
    }

    /// The kind of flow the rule matches.
    pub fn flow_kind(&self) -> FlowKind {
        FlowKind::from_raw(self.0.fs.flow_type & !FLOW_FLAGS)
    }

    /// What the rule's flow type asks for besides its kind.
    pub fn flow_flags(&self) -> FlowFlags {
        let ft = self.0.fs.flow_type;
        FlowFlags {
            ext: ft & bindings::FLOW_EXT != 0,
            mac_ext: ft & bindings::FLOW_MAC_EXT != 0,
            rss: ft & bindings::FLOW_RSS != 0,
        }
    }

    /// The rule's location in the driver's table.
    pub fn location(&self) -> u32 {
        self.0.fs.location
    }

    /// Where an inserted rule goes.
    pub fn insert_location(&self) -> RuleLocation {
        match self.0.fs.location {
            bindings::RX_CLS_LOC_ANY => RuleLocation::Any,
            bindings::RX_CLS_LOC_FIRST => RuleLocation::First,
            bindings::RX_CLS_LOC_LAST => RuleLocation::Last,
            l if l & bindings::RX_CLS_LOC_SPECIAL != 0 => RuleLocation::OtherSpecial(l),
            l => RuleLocation::At(l),
        }
    }

    /// Reports the size of the rule table (`ETHTOOL_GRXCLSRLCNT`), and whether the driver
    /// picks the locations of inserted rules itself ([`RuleLocation::Any`] and the others).
    pub fn set_rule_table_size(&mut self, size: u32, picks_locations: bool) {
        let special = if picks_locations {
            bindings::RX_CLS_LOC_SPECIAL
        } else {
            0
        };
        self.0.data = u64::from(size | special);
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
        // SAFETY: Every member of the unions is made of integers and arrays of them, so
        // any bytes are a valid `ethtool_tcpip6_spec`.
        let (h, m) = unsafe { (&self.0.fs.h_u.tcp_ip6_spec, &self.0.fs.m_u.tcp_ip6_spec) };
        (Ip6L4::from_spec(h), Ip6L4::from_spec(m))
    }

    /// Describes a TCP, UDP or SCTP over IPv4 rule of `kind`; no extension fields.
    pub fn set_ip4_l4(&mut self, kind: FlowKind, value: &Ip4L4, mask: &Ip4L4) {
        self.clear_match(kind);
        self.0.fs.h_u.tcp_ip4_spec = value.to_spec();
        self.0.fs.m_u.tcp_ip4_spec = mask.to_spec();
    }

    /// Describes a TCP, UDP or SCTP over IPv6 rule of `kind`; no extension fields.
    pub fn set_ip6_l4(&mut self, kind: FlowKind, value: &Ip6L4, mask: &Ip6L4) {
        self.clear_match(kind);
        self.0.fs.h_u.tcp_ip6_spec = value.to_spec();
        self.0.fs.m_u.tcp_ip6_spec = mask.to_spec();
    }

    fn clear_match(&mut self, kind: FlowKind) {
        let fs = &mut self.0.fs;
        fs.flow_type = kind.to_raw();
        // The bindings' defaults are all zeroes.
        fs.h_u = Default::default();
        fs.m_u = Default::default();
        fs.h_ext = Default::default();
        fs.m_ext = Default::default();
    }
}
