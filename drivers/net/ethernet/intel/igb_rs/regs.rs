// SPDX-License-Identifier: GPL-2.0

//! Registers and descriptor bits of the 82576 that the driver uses.
//!
//! Offsets are in bytes from BAR 0. The per-queue registers use the 82576 layout at
//! 0xC000 (rx) and 0xE000 (tx), 0x40 bytes apart, which covers all 16 queues.

/// The size of BAR 0 (MMIO).
pub(crate) const BAR_SIZE: usize = 0x20000;

pub(crate) const CTRL: usize = 0x0000;
pub(crate) const STATUS: usize = 0x0008;
pub(crate) const MDIC: usize = 0x0020;
pub(crate) const ICR: usize = 0x00C0;
pub(crate) const IMS: usize = 0x00D0;
pub(crate) const IMC: usize = 0x00D8;
pub(crate) const RCTL: usize = 0x0100;
pub(crate) const TCTL: usize = 0x0400;
pub(crate) const GPIE: usize = 0x1514;
pub(crate) const EIMS: usize = 0x1524;
pub(crate) const EIMC: usize = 0x1528;
pub(crate) const EIAC: usize = 0x152C;
pub(crate) const IVAR_MISC: usize = 0x1740;
pub(crate) const RXCSUM: usize = 0x5000;
pub(crate) const RLPML: usize = 0x5004;
/// Statistics, cleared on read: receive undersize and oversize count.
pub(crate) const RUC: usize = 0x40A4;
pub(crate) const ROC: usize = 0x40AC;
pub(crate) const MTA: usize = 0x5200;
pub(crate) const RAL0: usize = 0x5400;
pub(crate) const RAH0: usize = 0x5404;
pub(crate) const MRQC: usize = 0x5818;

/// EITR: the interval field (bits 14:2, in microseconds) and "counter ignore".
pub(crate) const EITR_INTERVAL: u32 = 0x7FFC;
pub(crate) const EITR_CNT_IGNR: u32 = 1 << 31;
pub(crate) const fn eitr(n: usize) -> usize {
    0x1680 + 4 * n
}
pub(crate) const fn ivar(n: usize) -> usize {
    0x1700 + 4 * n
}
pub(crate) const fn reta(n: usize) -> usize {
    0x5C00 + 4 * n
}
pub(crate) const fn rssrk(n: usize) -> usize {
    0x5C80 + 4 * n
}
pub(crate) const fn rdbal(q: usize) -> usize {
    0xC000 + 0x40 * q
}
pub(crate) const fn srrctl(q: usize) -> usize {
    0xC00C + 0x40 * q
}
pub(crate) const fn rdt(q: usize) -> usize {
    0xC018 + 0x40 * q
}
pub(crate) const fn rxdctl(q: usize) -> usize {
    0xC028 + 0x40 * q
}
pub(crate) const fn tdbal(q: usize) -> usize {
    0xE000 + 0x40 * q
}
pub(crate) const fn tdt(q: usize) -> usize {
    0xE018 + 0x40 * q
}
pub(crate) const fn txdctl(q: usize) -> usize {
    0xE028 + 0x40 * q
}

/// Offsets from a ring's base (RDBAL or TDBAL): rx and tx rings have the same layout.
pub(crate) const RING_BAL: usize = 0x00;
pub(crate) const RING_BAH: usize = 0x04;
pub(crate) const RING_LEN: usize = 0x08;
pub(crate) const RING_HEAD: usize = 0x10;
pub(crate) const RING_TAIL: usize = 0x18;
pub(crate) const RING_CTL: usize = 0x28;

pub(crate) const CTRL_RST: u32 = 1 << 26;
pub(crate) const STATUS_LU: u32 = 1 << 1;
/// MDIC write of PHY 1 register 0 (BMCR) with AUTOEN | ANRESTART: the model brings the
/// link up only after an autonegotiation restart.
pub(crate) const MDIC_PHY_AUTONEG_RESTART: u32 = 0x0420_1200;
pub(crate) const ICR_LSC: u32 = 1 << 2;
pub(crate) const RCTL_EN: u32 = 1 << 1;
pub(crate) const RCTL_LPE: u32 = 1 << 5;
pub(crate) const RCTL_BAM: u32 = 1 << 15;
pub(crate) const RCTL_SECRC: u32 = 1 << 26;
pub(crate) const TCTL_EN: u32 = 1 << 1;
pub(crate) const TCTL_PSP: u32 = 1 << 3;
pub(crate) const GPIE_NSICR: u32 = 1 << 0;
pub(crate) const GPIE_MSIX_MODE: u32 = 1 << 4;
pub(crate) const IVAR_VALID: u32 = 0x80;
pub(crate) const RXCSUM_PCSD: u32 = 1 << 13;
pub(crate) const RXCSUM_IPOFLD: u32 = 1 << 8;
pub(crate) const RXCSUM_TUOFLD: u32 = 1 << 9;
pub(crate) const XDCTL_ENABLE: u32 = 1 << 25;
/// SRRCTL descriptor type: advanced, header split (TCP/UDP over IP; anything else whole in
/// the packet buffer).
pub(crate) const SRRCTL_DESCTYPE_HDR_SPLIT: u32 = 0x0400_0000;
/// SRRCTL descriptor type: advanced, one buffer (the whole frame in the packet buffer).
pub(crate) const SRRCTL_DESCTYPE_ONE_BUF: u32 = 0x0200_0000;
/// SRRCTL descriptor type: advanced, header split always.
pub(crate) const SRRCTL_DESCTYPE_HDR_SPLIT_ALWAYS: u32 = 0x0A00_0000;
/// MRQC: RSS on, hashing TCP/IPv4, IPv4, TCP/IPv6, IPv6.
pub(crate) const MRQC_RSS: u32 = 0x2 | 0x1_0000 | 0x2_0000 | 0x4_0000 | 0x10_0000;

/// Rx write-back status bits (advanced descriptor, dword 2).
pub(crate) const RXD_STAT_DD: u32 = 1 << 0;
pub(crate) const RXD_STAT_EOP: u32 = 1 << 1;
pub(crate) const RXD_STAT_TCPCS: u32 = 1 << 5;
pub(crate) const RXD_STAT_IPCS: u32 = 1 << 6;
pub(crate) const RXD_STAT_HBO: u32 = 1 << 23;
pub(crate) const RXD_ERR_TCPE: u32 = 1 << 29;
pub(crate) const RXD_ERR_IPE: u32 = 1 << 30;
/// Rx write-back hdr_info: header length in bits 14:5 of the upper half of dword 0.
pub(crate) const RXD_HDR_LEN_SHIFT: u32 = 21;
pub(crate) const RXD_HDR_LEN_MASK: u32 = 0x3FF;
/// Rx write-back hdr_info: the header was split into the header buffer.
pub(crate) const RXD_SPH: u32 = 1 << 31;

/// Tx advanced data descriptor command bits (cmd_type_len).
pub(crate) const TXD_DTYP_DATA: u32 = 0x0030_0000;
pub(crate) const TXD_CMD_EOP: u32 = 1 << 24;
pub(crate) const TXD_CMD_IFCS: u32 = 1 << 25;
pub(crate) const TXD_CMD_RS: u32 = 1 << 27;
pub(crate) const TXD_CMD_DEXT: u32 = 1 << 29;
pub(crate) const TXD_STAT_DD: u32 = 1 << 0;
/// Tx advanced data descriptor: TCP segmentation (first descriptor of a packet).
pub(crate) const TXD_CMD_TSE: u32 = 1 << 31;
/// Tx advanced context descriptor type (type_tucmd_mlhl).
pub(crate) const TXD_DTYP_CTXT: u32 = 0x0020_0000;
/// Tx olinfo_status: insert the IPv4 header checksum, the L4 checksum; payload length.
pub(crate) const TXD_POPTS_IXSM: u32 = 1 << 8;
pub(crate) const TXD_POPTS_TXSM: u32 = 1 << 9;
pub(crate) const TXD_PAYLEN_SHIFT: u32 = 14;
/// Tx context descriptor fields: type_tucmd_mlhl (TUCMD), vlan_macip_lens, mss_l4len_idx.
pub(crate) const TXCTX_TUCMD_IPV4: u32 = 1 << 10;
pub(crate) const TXCTX_TUCMD_L4T_TCP: u32 = 1 << 11;
pub(crate) const TXCTX_MACLEN_SHIFT: u32 = 9;
pub(crate) const TXCTX_L4LEN_SHIFT: u32 = 8;
pub(crate) const TXCTX_MSS_SHIFT: u32 = 16;
