// SPDX-License-Identifier: GPL-2.0

//! Receive-side scaling as the 82576 computes it: the Toeplitz hash of a packet's addresses
//! and ports, and the entry of the 128-entry redirection table (RETA) that picks its queue.
//!
//! What QEMU's model does (hw/net/igb_core.c, hw/net/net_rx_pkt.c): with MRQC selecting
//! RSS, a TCP packet over IPv4 (not a fragment) or IPv6 is hashed over its source address,
//! destination address, source port and destination port, in that order and in network
//! byte order, with the 40-byte key held in RSSRK0..9 (key byte 0 is bits 7:0 of RSSRK0).
//! The queue is RETA entry `hash & 0x7f`, whose low four bits are the queue index.
//!
//! Flow steering rules (`ethtool -N`) are built on the same table, since the model has
//! no 5-tuple filters: a rule points the entry its flow hashes to at its queue, over the
//! table set with `ethtool -X`. Every other flow hashing to that entry goes there too, and
//! an entry can only point at one queue.
//!
//! Pure logic, without registers: the KUnit suite `igb_rs_rss` checks it, the hash against
//! the published verification vectors of the Toeplitz hash.

use kernel::net::{
    ethtool::{
        FlowKind,
        HashFields, //
    },
    skbuff::HashOver,
};

/// The length of the hash key (RSSRK0..9).
pub(crate) const KEY_LEN: usize = 40;
/// The number of redirection table entries (RETA0..31, four one-byte entries each).
pub(crate) const RETA_LEN: usize = 128;

/// The Toeplitz hash of `input` under `key`: for every set bit of the input, counted from
/// the most significant bit of its first byte, the 32 key bits starting at the same bit
/// position are XORed into the result.
///
/// The input is at most `KEY_LEN - 4` bytes long (the key must cover the last window);
/// beyond that the window is filled with zero bits.
pub(crate) fn toeplitz(key: &[u8; KEY_LEN], input: &[u8]) -> u32 {
    let mut window = u32::from_be_bytes([key[0], key[1], key[2], key[3]]);
    let mut hash = 0u32;
    for (i, &byte) in input.iter().enumerate() {
        let next = key.get(i + 4).copied().unwrap_or(0);
        for bit in 0..8 {
            if byte & (0x80 >> bit) != 0 {
                hash ^= window;
            }
            window = (window << 1) | u32::from((next >> (7 - bit)) & 1);
        }
    }
    hash
}

/// The redirection table entry a hash selects.
pub(crate) fn reta_index(hash: u32) -> usize {
    (hash & (RETA_LEN as u32 - 1)) as usize
}

/// The addresses of a flow, in network byte order.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Addrs {
    /// IPv4 source and destination.
    V4 { src: [u8; 4], dst: [u8; 4] },
    /// IPv6 source and destination.
    V6 { src: [u8; 16], dst: [u8; 16] },
}

/// A TCP flow as the receiver sees it: the packets it receives come from `src:sport` and
/// go to `dst:dport`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct TcpFlow {
    pub(crate) addrs: Addrs,
    pub(crate) sport: u16,
    pub(crate) dport: u16,
}

impl TcpFlow {
    /// The hash of the flow's packets (RSS type TCP/IPv4 or TCP/IPv6).
    pub(crate) fn hash(&self, key: &[u8; KEY_LEN]) -> u32 {
        let mut input = [0u8; 36];
        let n = match &self.addrs {
            Addrs::V4 { src, dst } => {
                input[..4].copy_from_slice(src);
                input[4..8].copy_from_slice(dst);
                8
            }
            Addrs::V6 { src, dst } => {
                input[..16].copy_from_slice(src);
                input[16..32].copy_from_slice(dst);
                32
            }
        };
        input[n..n + 2].copy_from_slice(&self.sport.to_be_bytes());
        input[n + 2..n + 4].copy_from_slice(&self.dport.to_be_bytes());
        toeplitz(key, &input[..n + 4])
    }

    /// The redirection table entry that steers the flow's packets.
    pub(crate) fn reta_index(&self, key: &[u8; KEY_LEN]) -> usize {
        reta_index(self.hash(key))
    }
}

/// What the NIC hashed a packet over, from the RSS type in bits 3:0 of its descriptor's
/// write-back, or `None` for a packet it did not hash (type 0: MRQC hashes nothing of its
/// kind, such as ARP).
pub(crate) fn hashed_over(pkt_info: u64) -> Option<HashOver> {
    match pkt_info & 0xF {
        // TCP over IPv4, TCP over IPv6 (with or without extension headers), UDP over IPv4,
        // UDP over IPv6 (with or without).
        1 | 3 | 6 | 7 | 8 | 9 => Some(HashOver::AddrsPorts),
        // IPv4, IPv6 with extension headers, IPv6.
        2 | 4 | 5 => Some(HashOver::Addrs),
        _ => None,
    }
}

/// The number of RSSRK registers.
pub(crate) const KEY_REGS: usize = KEY_LEN / 4;
/// The number of RETA registers.
pub(crate) const RETA_REGS: usize = RETA_LEN / 4;

/// The number of flow steering rules.
pub(crate) const MAX_RULES: usize = 16;

/// A flow steering rule: the flow's packets go to `queue`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rule {
    pub(crate) flow: TcpFlow,
    pub(crate) queue: u8,
}

/// Where a new rule goes in the rule table.
#[derive(Clone, Copy)]
pub(crate) enum Place {
    /// The first free location.
    First,
    /// The last free location.
    Last,
    /// This location, replacing the rule there.
    At(usize),
}

/// Why a rule table change is refused.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum RuleError {
    /// No free location.
    Full,
    /// A location beyond the table.
    BadLocation,
    /// No rule at the location.
    NotFound,
    /// The rules at `loc` and `other` hash to redirection table entry `entry` and steer to
    /// different queues.
    Conflict {
        loc: usize,
        other: usize,
        entry: usize,
    },
}

/// The RSS configuration the driver keeps and programs: the hash key, the redirection
/// table set with `ethtool -X` (queue indices), and the flow steering rules that override
/// entries of it.
#[derive(Clone)]
pub(crate) struct Rss {
    key: [u8; KEY_LEN],
    indir: [u8; RETA_LEN],
    rules: [Option<Rule>; MAX_RULES],
    udp: UdpHash,
}

/// Whether UDP over IPv4 and over IPv6 is hashed (`ethtool -N ... rx-flow-hash udp4|udp6
/// sdfn`), over addresses and ports like TCP; off by default. TCP is always hashed so, and
/// nothing else ever: the model sends a packet it does not hash to queue 0, never bound,
/// and so keeps everything but TCP off the queues a memory provider may hold (while UDP is
/// hashed, no queue can be bound: `tcp_only`).
///
/// The model hashes UDP over addresses alone only through its catch-all for IPv4 (or IPv6)
/// packets, which would take ICMP and fragments too: the fields `sd` are refused. So are
/// fields for any other kind.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub(crate) struct UdpHash {
    pub(crate) v4: bool,
    pub(crate) v6: bool,
}

/// Why hash fields are refused.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum FieldsError {
    /// TCP is hashed over addresses and ports, and only so.
    TcpFixed,
    /// UDP is hashed over addresses and ports, or not at all.
    UdpAllOrNothing,
    /// Packets of this kind are not hashed.
    NotHashed,
}

impl Rss {
    /// `key`, and a table spreading the entries over `queues` queues round robin (the
    /// kernel's default table).
    pub(crate) fn new(key: [u8; KEY_LEN], queues: u8) -> Self {
        let mut rss = Self {
            key,
            indir: [0u8; RETA_LEN],
            rules: [None; MAX_RULES],
            udp: UdpHash::default(),
        };
        rss.spread(queues);
        rss
    }

    /// The fields the hash of packets of `kind` is computed over.
    pub(crate) fn fields(&self, kind: FlowKind) -> HashFields {
        match kind {
            FlowKind::TcpV4 | FlowKind::TcpV6 => HashFields::ADDRS_PORTS,
            FlowKind::UdpV4 if self.udp.v4 => HashFields::ADDRS_PORTS,
            FlowKind::UdpV6 if self.udp.v6 => HashFields::ADDRS_PORTS,
            _ => HashFields::NONE,
        }
    }

    /// Hashes packets of `kind` over `fields` from now on, if the model can.
    pub(crate) fn set_fields(
        &mut self,
        kind: FlowKind,
        fields: HashFields,
    ) -> Result<(), FieldsError> {
        let on = fields == HashFields::ADDRS_PORTS;
        if !on && fields != HashFields::NONE {
            return Err(match kind {
                FlowKind::TcpV4 | FlowKind::TcpV6 => FieldsError::TcpFixed,
                FlowKind::UdpV4 | FlowKind::UdpV6 => FieldsError::UdpAllOrNothing,
                _ => FieldsError::NotHashed,
            });
        }
        match kind {
            FlowKind::TcpV4 | FlowKind::TcpV6 if on => {}
            FlowKind::TcpV4 | FlowKind::TcpV6 => return Err(FieldsError::TcpFixed),
            FlowKind::UdpV4 => self.udp.v4 = on,
            FlowKind::UdpV6 => self.udp.v6 = on,
            _ if on => return Err(FieldsError::NotHashed),
            _ => {}
        }
        Ok(())
    }

    /// Which UDP is hashed.
    pub(crate) fn udp(&self) -> UdpHash {
        self.udp
    }

    /// Whether TCP is the only traffic hashed, so that no other reaches a queue but 0:
    /// the condition for binding a queue to a memory provider.
    pub(crate) fn tcp_only(&self) -> bool {
        self.udp == UdpHash::default()
    }

    /// Spreads the table over `queues` queues round robin (the kernel's default table),
    /// keeping the rules.
    pub(crate) fn spread(&mut self, queues: u8) {
        for (i, e) in self.indir.iter_mut().enumerate() {
            *e = (i as u8).checked_rem(queues).unwrap_or(0);
        }
    }

    /// The hash key.
    pub(crate) fn key(&self) -> &[u8; KEY_LEN] {
        &self.key
    }

    /// The redirection table the NIC uses: the `ethtool -X` table with the entry of each
    /// rule's flow pointing at the rule's queue.
    pub(crate) fn reta(&self) -> [u8; RETA_LEN] {
        let mut reta = self.indir;
        for r in self.rules.iter().flatten() {
            reta[r.flow.reta_index(&self.key)] = r.queue;
        }
        reta
    }

    /// Replaces the table with `indir` (queue indices the caller checked).
    pub(crate) fn set_indir(&mut self, indir: &[u8; RETA_LEN]) {
        self.indir = *indir;
    }

    /// Replaces the key, unless two rules would then share an entry with different
    /// queues.
    pub(crate) fn set_key(&mut self, key: &[u8; KEY_LEN]) -> Result<(), RuleError> {
        for (loc, r) in self.rules.iter().enumerate() {
            if let Some(r) = r {
                if let Some(e) = self.conflict(key, r, loc) {
                    return Err(e);
                }
            }
        }
        self.key = *key;
        Ok(())
    }

    /// A rule other than the one at `loc` whose flow hashes, under `key`, to the entry of
    /// `rule`'s flow and that steers to another queue.
    fn conflict(&self, key: &[u8; KEY_LEN], rule: &Rule, loc: usize) -> Option<RuleError> {
        let entry = rule.flow.reta_index(key);
        for (other, r) in self.rules.iter().enumerate() {
            let Some(r) = r else { continue };
            if other != loc && r.queue != rule.queue && r.flow.reta_index(key) == entry {
                return Some(RuleError::Conflict { loc, other, entry });
            }
        }
        None
    }

    /// Adds `rule` at `place` (replacing the rule there); returns its location.
    pub(crate) fn insert(&mut self, place: Place, rule: Rule) -> Result<usize, RuleError> {
        let loc = match place {
            Place::At(loc) if loc < MAX_RULES => loc,
            Place::At(_) => return Err(RuleError::BadLocation),
            Place::First => self
                .rules
                .iter()
                .position(Option::is_none)
                .ok_or(RuleError::Full)?,
            Place::Last => self
                .rules
                .iter()
                .rposition(Option::is_none)
                .ok_or(RuleError::Full)?,
        };
        if let Some(e) = self.conflict(&self.key, &rule, loc) {
            return Err(e);
        }
        self.rules[loc] = Some(rule);
        Ok(loc)
    }

    /// Removes the rule at `loc`.
    pub(crate) fn remove(&mut self, loc: usize) -> Result<Rule, RuleError> {
        self.rules
            .get_mut(loc)
            .and_then(Option::take)
            .ok_or(RuleError::NotFound)
    }

    /// The rule at `loc`.
    pub(crate) fn rule(&self, loc: usize) -> Option<&Rule> {
        self.rules.get(loc).and_then(Option::as_ref)
    }

    /// The locations of the rules, in order.
    pub(crate) fn locations(&self) -> impl Iterator<Item = usize> + '_ {
        self.rules
            .iter()
            .enumerate()
            .filter_map(|(loc, r)| r.map(|_| loc))
    }

    /// The values of RSSRK0..9: key byte `4 * i + k` is byte `k` (little endian) of
    /// register `i`.
    pub(crate) fn key_regs(&self) -> [u32; KEY_REGS] {
        let mut regs = [0u32; KEY_REGS];
        for (r, b) in regs.iter_mut().zip(self.key.chunks_exact(4)) {
            *r = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        }
        regs
    }

    /// The values of RETA0..31: entry `4 * i + k` is byte `k` (little endian) of register
    /// `i`, the queue index in its low bits.
    pub(crate) fn reta_regs(&self) -> [u32; RETA_REGS] {
        let reta = self.reta();
        let mut regs = [0u32; RETA_REGS];
        for (r, b) in regs.iter_mut().zip(reta.chunks_exact(4)) {
            *r = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        }
        regs
    }
}

#[kernel::macros::kunit_tests(igb_rs_rss)]
mod tests {
    use super::*;

    /// The key of the published verification vectors (Microsoft's "Verifying the RSS Hash
    /// Calculation"), also the default key of several drivers.
    const KEY: [u8; KEY_LEN] = [
        0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f,
        0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
        0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
    ];

    /// A verification vector: a packet from `src:sport` to `dst:dport`, the hash over its
    /// addresses alone and the hash over its addresses and ports.
    struct Vector<const N: usize> {
        src: [u8; N],
        sport: u16,
        dst: [u8; N],
        dport: u16,
        ip_hash: u32,
        tcp_hash: u32,
    }

    const V4: [Vector<4>; 5] = [
        Vector {
            src: [66, 9, 149, 187],
            sport: 2794,
            dst: [161, 142, 100, 80],
            dport: 1766,
            ip_hash: 0x323e_8fc2,
            tcp_hash: 0x51cc_c178,
        },
        Vector {
            src: [199, 92, 111, 2],
            sport: 14230,
            dst: [65, 69, 140, 83],
            dport: 4739,
            ip_hash: 0xd718_262a,
            tcp_hash: 0xc626_b0ea,
        },
        Vector {
            src: [24, 19, 198, 95],
            sport: 12898,
            dst: [12, 22, 207, 184],
            dport: 38024,
            ip_hash: 0xd2d0_a5de,
            tcp_hash: 0x5c2b_394a,
        },
        Vector {
            src: [38, 27, 205, 30],
            sport: 48228,
            dst: [209, 142, 163, 6],
            dport: 2217,
            ip_hash: 0x8298_9176,
            tcp_hash: 0xafc7_327f,
        },
        Vector {
            src: [153, 39, 163, 191],
            sport: 44251,
            dst: [202, 188, 127, 2],
            dport: 1303,
            ip_hash: 0x5d18_09c5,
            tcp_hash: 0x10e8_28a2,
        },
    ];

    const V6: [Vector<16>; 3] = [
        Vector {
            // 3ffe:2501:200:1fff::7
            src: [
                0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x1f, 0xff, 0, 0, 0, 0, 0, 0, 0, 0x07,
            ],
            sport: 2794,
            // 3ffe:2501:200:3::1
            dst: [
                0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x00, 0x03, 0, 0, 0, 0, 0, 0, 0, 0x01,
            ],
            dport: 1766,
            ip_hash: 0x2cc1_8cd5,
            tcp_hash: 0x4020_7d3d,
        },
        Vector {
            // 3ffe:501:8::260:97ff:fe40:efab
            src: [
                0x3f, 0xfe, 0x05, 0x01, 0x00, 0x08, 0x00, 0x00, 0x02, 0x60, 0x97, 0xff, 0xfe, 0x40,
                0xef, 0xab,
            ],
            sport: 14230,
            // ff02::1
            dst: [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01],
            dport: 4739,
            ip_hash: 0x0f0c_461c,
            tcp_hash: 0xdde5_1bbf,
        },
        Vector {
            // 3ffe:1900:4545:3:200:f8ff:fe21:67cf
            src: [
                0x3f, 0xfe, 0x19, 0x00, 0x45, 0x45, 0x00, 0x03, 0x02, 0x00, 0xf8, 0xff, 0xfe, 0x21,
                0x67, 0xcf,
            ],
            sport: 44251,
            // fe80::200:f8ff:fe21:67cf
            dst: [
                0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x02, 0x00, 0xf8, 0xff, 0xfe, 0x21, 0x67, 0xcf,
            ],
            dport: 38024,
            ip_hash: 0x4b61_e985,
            tcp_hash: 0x02d1_feef,
        },
    ];

    #[test]
    fn ipv4_addresses() {
        for v in &V4 {
            let mut input = [0u8; 8];
            input[..4].copy_from_slice(&v.src);
            input[4..].copy_from_slice(&v.dst);
            assert_eq!(toeplitz(&KEY, &input), v.ip_hash);
        }
    }

    #[test]
    fn ipv4_tcp() {
        for v in &V4 {
            let flow = TcpFlow {
                addrs: Addrs::V4 {
                    src: v.src,
                    dst: v.dst,
                },
                sport: v.sport,
                dport: v.dport,
            };
            assert_eq!(flow.hash(&KEY), v.tcp_hash);
            assert_eq!(flow.reta_index(&KEY), (v.tcp_hash & 0x7f) as usize);
        }
    }

    #[test]
    fn ipv6_addresses() {
        for v in &V6 {
            let mut input = [0u8; 32];
            input[..16].copy_from_slice(&v.src);
            input[16..].copy_from_slice(&v.dst);
            assert_eq!(toeplitz(&KEY, &input), v.ip_hash);
        }
    }

    #[test]
    fn ipv6_tcp() {
        for v in &V6 {
            let flow = TcpFlow {
                addrs: Addrs::V6 {
                    src: v.src,
                    dst: v.dst,
                },
                sport: v.sport,
                dport: v.dport,
            };
            assert_eq!(flow.hash(&KEY), v.tcp_hash);
            assert_eq!(flow.reta_index(&KEY), (v.tcp_hash & 0x7f) as usize);
        }
    }

    #[test]
    fn reta_index_is_the_low_seven_bits() {
        assert_eq!(reta_index(0), 0);
        assert_eq!(reta_index(0x7f), 127);
        assert_eq!(reta_index(0x80), 0);
        assert_eq!(reta_index(0x51cc_c178), 0x78);
        assert_eq!(reta_index(u32::MAX), 127);
    }

    #[test]
    fn default_table_is_round_robin() {
        let rss = Rss::new(KEY, 2);
        let reta = rss.reta();
        for (i, &q) in reta.iter().enumerate() {
            assert_eq!(q as usize, i % 2);
        }
        let regs = rss.reta_regs();
        assert_eq!(regs[0], 0x0100_0100);
        assert_eq!(regs[RETA_REGS - 1], 0x0100_0100);
        let one = Rss::new(KEY, 1);
        assert!(one.reta().iter().all(|&q| q == 0));
        // No queue at all: everything to queue 0 rather than a division by zero.
        let none = Rss::new(KEY, 0);
        assert!(none.reta().iter().all(|&q| q == 0));
    }

    #[test]
    fn registers_are_little_endian() {
        let mut rss = Rss::new(KEY, 2);
        let regs = rss.key_regs();
        // Key byte 0 is bits 7:0 of RSSRK0.
        assert_eq!(regs[0], 0xda56_5a6d);
        assert_eq!(regs[KEY_REGS - 1], 0xfa01_acbe);

        let mut indir = [0u8; RETA_LEN];
        for (i, e) in indir.iter_mut().enumerate() {
            *e = (i % 16) as u8;
        }
        rss.set_indir(&indir);
        let regs = rss.reta_regs();
        assert_eq!(regs[0], 0x0302_0100);
        assert_eq!(regs[1], 0x0706_0504);
        assert_eq!(regs[3], 0x0f0e_0d0c);
        assert_eq!(regs[4], 0x0302_0100);

        let key = [0xa5u8; KEY_LEN];
        assert_eq!(rss.set_key(&key), Ok(()));
        assert!(rss.key_regs().iter().all(|&r| r == 0xa5a5_a5a5));
        assert_eq!(rss.key(), &key);
    }

    fn flow4(v: &Vector<4>) -> TcpFlow {
        TcpFlow {
            addrs: Addrs::V4 {
                src: v.src,
                dst: v.dst,
            },
            sport: v.sport,
            dport: v.dport,
        }
    }

    /// A flow other than `flow` whose packets hash to the same entry under `key`.
    fn same_entry(key: &[u8; KEY_LEN], flow: &TcpFlow) -> TcpFlow {
        let entry = flow.reta_index(key);
        let mut other = *flow;
        for sport in 1..=u16::MAX {
            other.sport = sport;
            if sport != flow.sport && other.reta_index(key) == entry {
                break;
            }
        }
        other
    }

    #[test]
    fn a_rule_points_its_entry_at_its_queue() {
        let mut rss = Rss::new(KEY, 2);
        let flow = flow4(&V4[0]);
        let entry = flow.reta_index(&KEY);
        assert_eq!(entry, 0x78);
        // The default table sends entry 0x78 to queue 0: steer the flow to queue 1.
        assert_eq!(rss.reta()[entry], 0);
        assert_eq!(rss.insert(Place::First, Rule { flow, queue: 1 }), Ok(0));
        let reta = rss.reta();
        assert_eq!(reta[entry], 1);
        // Only that entry changed.
        let base = Rss::new(KEY, 2).reta();
        assert_eq!(
            reta.iter().zip(base.iter()).filter(|(a, b)| a != b).count(),
            1
        );
        // The RETA register holding the entry has the queue in the entry's byte.
        assert_eq!((rss.reta_regs()[entry / 4] >> (8 * (entry % 4))) & 0xff, 1);
        assert_eq!(rss.rule(0), Some(&Rule { flow, queue: 1 }));
        // Removing it gives the entry back to the table.
        assert!(rss.remove(0).is_ok());
        assert_eq!(rss.reta(), base);
        assert_eq!(rss.remove(0), Err(RuleError::NotFound));
        assert_eq!(rss.remove(MAX_RULES), Err(RuleError::NotFound));
    }

    #[test]
    fn rules_stay_over_a_new_table() {
        let mut rss = Rss::new(KEY, 2);
        let flow = flow4(&V4[1]);
        let entry = flow.reta_index(&KEY);
        assert!(rss.insert(Place::At(3), Rule { flow, queue: 1 }).is_ok());
        rss.set_indir(&[0; RETA_LEN]);
        let reta = rss.reta();
        assert_eq!(reta[entry], 1);
        assert_eq!(reta.iter().filter(|&&q| q == 1).count(), 1);
    }

    #[test]
    fn rules_on_one_entry_must_agree() {
        let mut rss = Rss::new(KEY, 2);
        let flow = flow4(&V4[2]);
        let other = same_entry(&KEY, &flow);
        assert!(other != flow);
        assert_eq!(other.reta_index(&KEY), flow.reta_index(&KEY));
        let entry = flow.reta_index(&KEY);

        assert_eq!(rss.insert(Place::First, Rule { flow, queue: 1 }), Ok(0));
        // The same entry to another queue: refused, nothing changed.
        let before = rss.reta();
        assert_eq!(
            rss.insert(
                Place::First,
                Rule {
                    flow: other,
                    queue: 0
                }
            ),
            Err(RuleError::Conflict {
                loc: 1,
                other: 0,
                entry
            })
        );
        assert_eq!(rss.reta(), before);
        assert_eq!(rss.rule(1), None);
        // To the same queue: fine.
        assert_eq!(
            rss.insert(
                Place::First,
                Rule {
                    flow: other,
                    queue: 1
                }
            ),
            Ok(1)
        );
        // Replacing a rule by one to another queue at the same location only conflicts
        // with the others.
        assert!(rss.remove(1).is_ok());
        assert_eq!(rss.insert(Place::At(0), Rule { flow, queue: 0 }), Ok(0));
        assert_eq!(rss.reta()[entry], 0);
    }

    #[test]
    fn a_key_that_makes_rules_collide_is_refused() {
        let mut rss = Rss::new(KEY, 2);
        let a = flow4(&V4[3]);
        let b = flow4(&V4[4]);
        // Different entries under the test key.
        assert!(a.reta_index(&KEY) != b.reta_index(&KEY));
        assert!(rss.insert(Place::First, Rule { flow: a, queue: 0 }).is_ok());
        assert!(rss.insert(Place::First, Rule { flow: b, queue: 1 }).is_ok());
        // An all-zero key hashes everything to entry 0.
        let zero = [0u8; KEY_LEN];
        assert!(matches!(
            rss.set_key(&zero),
            Err(RuleError::Conflict { entry: 0, .. })
        ));
        assert_eq!(rss.key(), &KEY);
        // With both rules on one queue the same key is fine.
        assert!(rss.remove(1).is_ok());
        assert!(rss.insert(Place::First, Rule { flow: b, queue: 0 }).is_ok());
        assert_eq!(rss.set_key(&zero), Ok(()));
        assert_eq!(rss.reta()[0], 0);
    }

    #[test]
    fn locations() {
        let mut rss = Rss::new(KEY, 2);
        let flow = flow4(&V4[0]);
        let rule = Rule { flow, queue: 0 };
        assert_eq!(rss.insert(Place::Last, rule), Ok(MAX_RULES - 1));
        assert_eq!(rss.insert(Place::At(5), rule), Ok(5));
        assert_eq!(
            rss.insert(Place::At(MAX_RULES), rule),
            Err(RuleError::BadLocation)
        );
        assert_eq!(rss.insert(Place::First, rule), Ok(0));
        let mut locs = [usize::MAX; 4];
        for (d, loc) in locs.iter_mut().zip(rss.locations()) {
            *d = loc;
        }
        assert_eq!(locs, [0, 5, MAX_RULES - 1, usize::MAX]);
        for _ in 3..MAX_RULES {
            assert!(rss.insert(Place::First, rule).is_ok());
        }
        assert_eq!(rss.insert(Place::First, rule), Err(RuleError::Full));
        assert_eq!(rss.insert(Place::Last, rule), Err(RuleError::Full));
        // A full table still takes a replacement.
        assert_eq!(rss.insert(Place::At(2), rule), Ok(2));
    }

    #[test]
    fn tcp_alone_is_hashed_by_default() {
        let rss = Rss::new(KEY, 2);
        assert_eq!(rss.fields(FlowKind::TcpV4), HashFields::ADDRS_PORTS);
        assert_eq!(rss.fields(FlowKind::TcpV6), HashFields::ADDRS_PORTS);
        assert_eq!(rss.fields(FlowKind::UdpV4), HashFields::NONE);
        assert_eq!(rss.fields(FlowKind::UdpV6), HashFields::NONE);
        assert_eq!(rss.fields(FlowKind::SctpV4), HashFields::NONE);
        assert_eq!(rss.fields(FlowKind::Other(0x10)), HashFields::NONE);
        assert!(rss.tcp_only());
    }

    #[test]
    fn udp_is_hashed_over_addresses_and_ports_or_not_at_all() {
        let mut rss = Rss::new(KEY, 2);
        assert_eq!(
            rss.set_fields(FlowKind::UdpV4, HashFields::ADDRS_PORTS),
            Ok(())
        );
        assert_eq!(rss.fields(FlowKind::UdpV4), HashFields::ADDRS_PORTS);
        assert_eq!(rss.fields(FlowKind::UdpV6), HashFields::NONE);
        assert_eq!(
            rss.udp(),
            UdpHash {
                v4: true,
                v6: false
            }
        );
        assert!(!rss.tcp_only());
        let sd = HashFields::IP_SRC | HashFields::IP_DST;
        assert_eq!(
            rss.set_fields(FlowKind::UdpV6, sd),
            Err(FieldsError::UdpAllOrNothing)
        );
        assert_eq!(rss.fields(FlowKind::UdpV6), HashFields::NONE);
        assert_eq!(
            rss.set_fields(FlowKind::UdpV6, HashFields::ADDRS_PORTS),
            Ok(())
        );
        assert_eq!(rss.set_fields(FlowKind::UdpV4, HashFields::NONE), Ok(()));
        assert_eq!(
            rss.udp(),
            UdpHash {
                v4: false,
                v6: true
            }
        );
        assert_eq!(rss.set_fields(FlowKind::UdpV6, HashFields::NONE), Ok(()));
        assert!(rss.tcp_only());
    }

    #[test]
    fn tcp_fields_are_fixed_and_other_kinds_unhashed() {
        let mut rss = Rss::new(KEY, 2);
        let sd = HashFields::IP_SRC | HashFields::IP_DST;
        assert_eq!(
            rss.set_fields(FlowKind::TcpV4, sd),
            Err(FieldsError::TcpFixed)
        );
        assert_eq!(
            rss.set_fields(FlowKind::TcpV6, HashFields::NONE),
            Err(FieldsError::TcpFixed)
        );
        assert_eq!(
            rss.set_fields(FlowKind::TcpV4, HashFields::ADDRS_PORTS),
            Ok(())
        );
        assert_eq!(
            rss.set_fields(FlowKind::SctpV4, HashFields::ADDRS_PORTS),
            Err(FieldsError::NotHashed)
        );
        assert_eq!(
            rss.set_fields(FlowKind::Other(0x10), sd),
            Err(FieldsError::NotHashed)
        );
        assert_eq!(rss.set_fields(FlowKind::SctpV6, HashFields::NONE), Ok(()));
        assert_eq!(rss.fields(FlowKind::TcpV4), HashFields::ADDRS_PORTS);
        assert!(rss.tcp_only());
    }

    #[test]
    fn rss_types_of_the_descriptor() {
        assert_eq!(hashed_over(0x0), None);
        for t in [1, 3, 6, 7, 8, 9] {
            assert_eq!(hashed_over(0x1230 | t), Some(HashOver::AddrsPorts));
        }
        for t in [2, 4, 5] {
            assert_eq!(hashed_over(t), Some(HashOver::Addrs));
        }
        assert_eq!(hashed_over(0xF), None);
    }

    #[test]
    fn empty_input_hashes_to_zero() {
        assert_eq!(toeplitz(&KEY, &[]), 0);
        assert_eq!(toeplitz(&KEY, &[0; 36]), 0);
    }
}
