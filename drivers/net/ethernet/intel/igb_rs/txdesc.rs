// SPDX-License-Identifier: GPL-2.0

//! Tx descriptors of the 82576 (advanced context and data descriptors) and the header
//! changes TCP segmentation asks for: pure functions, tested with KUnit.
//!
//! A packet with an offload is a context descriptor (the header lengths, the L4 type and
//! the MSS) followed by its data descriptors; the first data descriptor says which
//! offloads apply (olinfo_status) and, for segmentation, sets TSE. The driver uses context
//! slot 0 only (IDX 0). What QEMU's model reads: hw/net/igb_core.c (it takes the MSS and
//! the slot from the context and parses the headers itself; the 82576 datasheet's rules
//! are followed all the same).

use crate::regs::*;

/// The checksum field of TCP and of UDP, from the start of their header.
pub(crate) const TCP_CSUM_OFFSET: u32 = 16;
pub(crate) const UDP_CSUM_OFFSET: u32 = 6;

/// The most bytes a data descriptor carries here (DTALEN is 16 bits; as the C igb driver,
/// a power of two below it).
pub(crate) const MAX_PER_DESC: u32 = 1 << 15;

/// The L4 protocol of a checksum offload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum L4 {
    Tcp,
    Udp,
}

/// What a packet asks of the NIC, and the header lengths the context descriptor needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Offload {
    /// Sent as is: no context descriptor.
    None,
    /// The L4 checksum over the bytes from `maclen + iplen` to the end.
    Csum { maclen: u32, iplen: u32, l4: L4 },
    /// TCP segmentation into `mss`-byte segments, each with its checksums: `hdrlen =
    /// maclen + iplen + l4len` bytes of headers repeated.
    Tso {
        maclen: u32,
        iplen: u32,
        l4len: u32,
        mss: u32,
        ipv4: bool,
    },
}

impl Offload {
    /// The header bytes a TSO packet repeats in every segment (0 otherwise).
    pub(crate) fn tso_hdrlen(&self) -> u32 {
        match *self {
            Offload::Tso {
                maclen,
                iplen,
                l4len,
                ..
            } => maclen + iplen + l4len,
            _ => 0,
        }
    }
}

/// The checksum offload for a `CHECKSUM_PARTIAL` packet whose checksummed bytes start at
/// `start` (from the start of the frame), with its network header at `network` and the
/// checksum field at `start + csum_offset`; `None` when the NIC cannot do it (the caller
/// checksums in software).
pub(crate) fn csum_offload(network: u32, start: u32, csum_offset: u32) -> Option<Offload> {
    let l4 = match csum_offset {
        TCP_CSUM_OFFSET => L4::Tcp,
        UDP_CSUM_OFFSET => L4::Udp,
        _ => return None,
    };
    // MACLEN is 7 bits, IPLEN 9 bits.
    if network == 0 || network > 127 || start <= network || start - network > 511 {
        return None;
    }
    Some(Offload::Csum {
        maclen: network,
        iplen: start - network,
        l4,
    })
}

/// The segmentation offload for a TCP GSO packet: its network header at `network`, TCP
/// header at `transport` whose data offset byte (header byte 12) is `doff_byte`, the MSS
/// `mss`.
pub(crate) fn tso_offload(
    network: u32,
    transport: u32,
    doff_byte: u8,
    mss: u32,
    ipv4: bool,
) -> Option<Offload> {
    let l4len = u32::from(doff_byte >> 4) * 4;
    if l4len < 20 || mss == 0 || network == 0 || network > 127 || transport <= network {
        return None;
    }
    if transport - network > 511 {
        return None;
    }
    Some(Offload::Tso {
        maclen: network,
        iplen: transport - network,
        l4len,
        mss,
        ipv4,
    })
}

/// The context descriptor of `o` (two quadwords), `None` for [`Offload::None`].
pub(crate) fn context_desc(o: &Offload) -> Option<(u64, u64)> {
    let (maclen, iplen, tucmd, mss_l4len) = match *o {
        Offload::None => return None,
        Offload::Csum { maclen, iplen, l4 } => {
            let tucmd = if l4 == L4::Tcp {
                TXCTX_TUCMD_L4T_TCP
            } else {
                0
            };
            (maclen, iplen, tucmd, 0)
        }
        Offload::Tso {
            maclen,
            iplen,
            l4len,
            mss,
            ipv4,
        } => {
            let ip = if ipv4 { TXCTX_TUCMD_IPV4 } else { 0 };
            (
                maclen,
                iplen,
                TXCTX_TUCMD_L4T_TCP | ip,
                (mss << TXCTX_MSS_SHIFT) | (l4len << TXCTX_L4LEN_SHIFT),
            )
        }
    };
    // Quadword 0: vlan_macip_lens | seqnum_seed << 32; quadword 1: type_tucmd_mlhl |
    // mss_l4len_idx << 32 (IDX 0).
    let vlan_macip_lens = iplen | (maclen << TXCTX_MACLEN_SHIFT);
    let type_tucmd = TXD_CMD_DEXT | TXD_DTYP_CTXT | tucmd;
    Some((
        u64::from(vlan_macip_lens),
        u64::from(type_tucmd) | (u64::from(mss_l4len) << 32),
    ))
}

/// The second quadword of a data descriptor of `len` bytes (the first is the buffer's
/// address): `first` for the packet's first data descriptor, which carries the offloads of
/// `o` and the payload length of the packet of `total` bytes; `last` for its end (EOP,
/// and RS: the NIC writes DD back into it when the packet is sent).
pub(crate) fn data_desc(o: &Offload, len: u32, total: u32, first: bool, last: bool) -> u64 {
    let mut cmd = TXD_DTYP_DATA | TXD_CMD_DEXT | TXD_CMD_IFCS | (len & 0xFFFF);
    if last {
        cmd |= TXD_CMD_EOP | TXD_CMD_RS;
    }
    let mut olinfo = 0;
    if first {
        olinfo = (total - o.tso_hdrlen()) << TXD_PAYLEN_SHIFT;
        match *o {
            Offload::None => {}
            Offload::Csum { .. } => olinfo |= TXD_POPTS_TXSM,
            Offload::Tso { ipv4, .. } => {
                cmd |= TXD_CMD_TSE;
                olinfo |= TXD_POPTS_TXSM;
                if ipv4 {
                    olinfo |= TXD_POPTS_IXSM;
                }
            }
        }
    }
    u64::from(cmd) | (u64::from(olinfo) << 32)
}

/// Data descriptors for a buffer of `len` bytes.
pub(crate) fn descs_for(len: u32) -> u32 {
    len.div_ceil(MAX_PER_DESC)
}

/// Adds 16-bit ones'-complement `b` to `a`.
fn csum_add16(a: u16, b: u16) -> u16 {
    let s = u32::from(a) + u32::from(b);
    ((s & 0xFFFF) + (s >> 16)) as u16
}

/// Rewrites the headers of a TSO packet (`hdr`: its first `hdrlen` bytes) the way the
/// NIC's segmentation expects them: the IP length field 0 (and the IPv4 header checksum
/// 0: IXSM inserts it per segment), and the TCP checksum field holding the pseudo-header
/// sum without the TCP length, which the stack included (`csum_replace_by_diff` of the C
/// drivers). `paylen` is that length: the packet's bytes from the TCP header on.
pub(crate) fn tso_fix_headers(hdr: &mut [u8], o: &Offload, paylen: u32) -> bool {
    let Offload::Tso {
        maclen,
        iplen,
        ipv4,
        ..
    } = *o
    else {
        return false;
    };
    let (ip, tcp) = (maclen as usize, (maclen + iplen) as usize);
    if hdr.len() < tcp + 20 {
        return false;
    }
    if ipv4 {
        // tot_len at 2, check at 10.
        hdr[ip + 2..ip + 4].copy_from_slice(&[0, 0]);
        hdr[ip + 10..ip + 12].copy_from_slice(&[0, 0]);
    } else {
        // payload_len at 4.
        hdr[ip + 4..ip + 6].copy_from_slice(&[0, 0]);
    }
    // The field holds the complement of the pseudo-header sum S + len (the stack's
    // ~tcp_v4_check(len, ...) / ~csum_ipv6_magic). Taking len out: ~(S + len) + len
    // in ones'-complement arithmetic, then the two 16-bit halves of the 32-bit length.
    let f = u16::from_be_bytes([hdr[tcp + 16], hdr[tcp + 17]]);
    let mut s = !f;
    s = csum_add16(s, !((paylen >> 16) as u16));
    s = csum_add16(s, !(paylen as u16));
    hdr[tcp + 16..tcp + 18].copy_from_slice(&(!s).to_be_bytes());
    true
}

#[kernel::macros::kunit_tests(igb_rs_txdesc)]
mod tests {
    use super::*;

    /// The 16-bit ones'-complement sum of `words`, folded.
    fn sum(words: &[u16]) -> u16 {
        words.iter().fold(0u16, |a, &w| csum_add16(a, w))
    }

    #[test]
    fn csum_offload_kinds() {
        // Ethernet (14) + IPv4 without options (20): TCP and UDP, else software.
        assert_eq!(
            csum_offload(14, 34, 16),
            Some(Offload::Csum {
                maclen: 14,
                iplen: 20,
                l4: L4::Tcp
            })
        );
        assert_eq!(
            csum_offload(14, 54, 6),
            Some(Offload::Csum {
                maclen: 14,
                iplen: 40,
                l4: L4::Udp
            })
        );
        // SCTP's CRC32c field is at 8; a checksum inside the IP header is no L4 offload.
        assert_eq!(csum_offload(14, 34, 8), None);
        assert_eq!(csum_offload(14, 14, 16), None);
        // IPLEN is 9 bits.
        assert_eq!(csum_offload(14, 14 + 512, 16), None);
    }

    #[test]
    fn context_descriptor_layout() {
        let c = csum_offload(14, 34, 16).unwrap();
        let (q0, q1) = context_desc(&c).unwrap();
        // IPLEN 20 in bits 8:0, MACLEN 14 in bits 15:9.
        assert_eq!(q0, 20 | (14 << 9));
        // DEXT, DTYP context (2), TUCMD L4T TCP; mss_l4len_idx 0.
        assert_eq!(q1, 0x2000_0000 | 0x0020_0000 | 0x800);
        let u = csum_offload(14, 34, 6).unwrap();
        assert_eq!(context_desc(&u).unwrap().1, 0x2020_0000);

        // TSO, IPv4, TCP header with options (32 bytes), MSS 1448.
        let t = tso_offload(14, 34, 8 << 4, 1448, true).unwrap();
        let (q0, q1) = context_desc(&t).unwrap();
        assert_eq!(q0, 20 | (14 << 9));
        assert_eq!(q1 & 0xFFFF_FFFF, 0x2020_0000 | 0x800 | 0x400);
        assert_eq!(q1 >> 32, (1448 << 16) | (32 << 8));
        // IPv6: no TUCMD.IPV4.
        let t6 = tso_offload(14, 54, 5 << 4, 1428, false).unwrap();
        assert_eq!(context_desc(&t6).unwrap().1 & 0x400, 0);
        assert_eq!(context_desc(&Offload::None), None);
    }

    #[test]
    fn tso_refused_for_bad_headers() {
        // Data offset below 5 words, MSS 0.
        assert_eq!(tso_offload(14, 34, 4 << 4, 1448, true), None);
        assert_eq!(tso_offload(14, 34, 5 << 4, 0, true), None);
    }

    #[test]
    fn data_descriptor_layout() {
        let t = tso_offload(14, 34, 5 << 4, 1448, true).unwrap();
        // First of several: TSE, TXSM and IXSM, PAYLEN = total - headers; no EOP/RS.
        let d = data_desc(&t, 54, 65_000, true, false);
        let cmd = d as u32;
        let olinfo = (d >> 32) as u32;
        assert_eq!(
            cmd,
            0x8000_0000 | 0x2000_0000 | 0x0200_0000 | 0x0030_0000 | 54
        );
        assert_eq!(olinfo, ((65_000 - 54) << 14) | 0x200 | 0x100);
        // Later ones carry no offload bits; the last has EOP and RS.
        let l = data_desc(&t, 4096, 65_000, false, true);
        assert_eq!(
            l as u32,
            0x2000_0000 | 0x0200_0000 | 0x0030_0000 | 0x0100_0000 | 0x0800_0000 | 4096
        );
        assert_eq!(l >> 32, 0);
        // A plain packet in one descriptor: PAYLEN is its length; bit 0 (DD) stays clear.
        let p = data_desc(&Offload::None, 60, 60, true, true);
        assert_eq!((p >> 32) as u32, 60 << 14);
        let c = csum_offload(14, 34, 16).unwrap();
        assert_eq!(
            (data_desc(&c, 100, 100, true, true) >> 32) as u32,
            (100 << 14) | 0x200
        );
        assert_eq!(descs_for(1), 1);
        assert_eq!(descs_for(32768), 1);
        assert_eq!(descs_for(32769), 2);
    }

    #[test]
    fn tso_headers_lose_the_length() {
        // Ethernet + IPv4 + TCP; pseudo-header words of 10.0.0.1 -> 10.0.0.2, TCP.
        let mut h = [0u8; 54];
        h[14] = 0x45;
        h[16..18].copy_from_slice(&60_040u16.to_be_bytes());
        h[24..26].copy_from_slice(&0x1234u16.to_be_bytes());
        let pseudo = [0x0a00, 0x0001, 0x0a00, 0x0002, 6];
        let paylen = 60_020u32;
        // What the stack leaves: ~(pseudo + len).
        let with_len = !csum_add16(sum(&pseudo), paylen as u16);
        h[34 + 16..34 + 18].copy_from_slice(&with_len.to_be_bytes());
        h[34 + 12] = 5 << 4;
        let t = tso_offload(14, 34, h[34 + 12], 1448, true).unwrap();
        assert!(tso_fix_headers(&mut h, &t, paylen));
        assert_eq!(&h[16..18], &[0, 0]);
        assert_eq!(&h[24..26], &[0, 0]);
        let want = !sum(&pseudo);
        assert_eq!(u16::from_be_bytes([h[50], h[51]]), want);

        // IPv6: payload_len cleared; a length above 16 bits.
        let mut h6 = [0u8; 74];
        h6[14] = 0x60;
        h6[18..20].copy_from_slice(&1000u16.to_be_bytes());
        let p6 = [0xfe80, 0, 0, 0, 0, 0, 0, 1, 0xfe80, 0, 0, 0, 0, 0, 0, 2, 6];
        let len6 = 0x1_0010u32;
        let s = csum_add16(csum_add16(sum(&p6), (len6 >> 16) as u16), len6 as u16);
        h6[54 + 16..54 + 18].copy_from_slice(&(!s).to_be_bytes());
        let t6 = tso_offload(14, 54, 5 << 4, 1428, false).unwrap();
        assert!(tso_fix_headers(&mut h6, &t6, len6));
        assert_eq!(&h6[18..20], &[0, 0]);
        assert_eq!(u16::from_be_bytes([h6[70], h6[71]]), !sum(&p6));

        // Too short a header, or no TSO: untouched.
        let mut short = [0u8; 40];
        assert!(!tso_fix_headers(&mut short, &t, paylen));
        assert!(!tso_fix_headers(&mut h, &Offload::None, paylen));
    }
}
