// SPDX-License-Identifier: GPL-2.0

//! Flow steering rules (`ethtool -N`) as the redirection table holds them, beside RSS.

use crate::rss::{
    Addrs,
    Rule,
    TcpFlow, //
};
use kernel::{
    net::ethtool::{
        FlowKind,
        Ip4L4,
        Ip6L4,
        Rxnfc,
        RX_CLS_FLOW_DISC,
        RX_CLS_FLOW_WAKE, //
    },
    prelude::*, //
};

/// A full mask of IPv4 addresses and ports.
pub(crate) const IP4_FULL: Ip4L4 = Ip4L4 {
    src: [0xff; 4],
    dst: [0xff; 4],
    sport: 0xffff,
    dport: 0xffff,
    tos: 0,
};

/// A full mask of IPv6 addresses and ports.
pub(crate) const IP6_FULL: Ip6L4 = Ip6L4 {
    src: [0xff; 16],
    dst: [0xff; 16],
    sport: 0xffff,
    dport: 0xffff,
    tclass: 0,
};

/// The rule `info` asks for, or the error and why: the rules live in the redirection
/// table, so they can only steer a whole TCP 4-tuple to one queue.
pub(crate) fn parse_rule(
    info: &Rxnfc,
    queues: usize,
) -> core::result::Result<Rule, (Error, &'static str)> {
    let flags = info.flow_flags();
    if flags.rss {
        return Err((EOPNOTSUPP, "no RSS contexts"));
    }
    if flags.ext || flags.mac_ext {
        return Err((
            EOPNOTSUPP,
            "only the TCP 4-tuple can be matched (no VLAN, user-def or dst-mac)",
        ));
    }
    let cookie = info.ring_cookie();
    if cookie == RX_CLS_FLOW_DISC || cookie == RX_CLS_FLOW_WAKE {
        return Err((EOPNOTSUPP, "the action must be a queue (no drop)"));
    }
    if cookie >= queues as u64 {
        return Err((EINVAL, "the action is not one of the rx queues"));
    }
    pub(crate) const PARTIAL: &str =
        "src-ip, dst-ip, src-port and dst-port must all be given, without masks";
    let flow = match info.flow_kind() {
        FlowKind::TcpV4 => {
            let (v, m) = info.ip4_l4();
            if m.tos != 0 {
                return Err((EOPNOTSUPP, "tos cannot be matched"));
            }
            if m != IP4_FULL {
                return Err((EOPNOTSUPP, PARTIAL));
            }
            TcpFlow {
                addrs: Addrs::V4 {
                    src: v.src,
                    dst: v.dst,
                },
                sport: v.sport,
                dport: v.dport,
            }
        }
        FlowKind::TcpV6 => {
            let (v, m) = info.ip6_l4();
            if m.tclass != 0 {
                return Err((EOPNOTSUPP, "tclass cannot be matched"));
            }
            if m != IP6_FULL {
                return Err((EOPNOTSUPP, PARTIAL));
            }
            TcpFlow {
                addrs: Addrs::V6 {
                    src: v.src,
                    dst: v.dst,
                },
                sport: v.sport,
                dport: v.dport,
            }
        }
        _ => return Err((EOPNOTSUPP, "only tcp4 and tcp6 flows can be steered")),
    };
    Ok(Rule {
        flow,
        queue: cookie as u8,
    })
}

/// Describes `rule` in `info` (`ETHTOOL_GRXCLSRULE`).
pub(crate) fn describe_rule(info: &mut Rxnfc, rule: &Rule) {
    let f = &rule.flow;
    match f.addrs {
        Addrs::V4 { src, dst } => {
            let v = Ip4L4 {
                src,
                dst,
                sport: f.sport,
                dport: f.dport,
                tos: 0,
            };
            info.set_ip4_l4(FlowKind::TcpV4, &v, &IP4_FULL);
        }
        Addrs::V6 { src, dst } => {
            let v = Ip6L4 {
                src,
                dst,
                sport: f.sport,
                dport: f.dport,
                tclass: 0,
            };
            info.set_ip6_l4(FlowKind::TcpV6, &v, &IP6_FULL);
        }
    }
    info.set_ring_cookie(u64::from(rule.queue));
}
