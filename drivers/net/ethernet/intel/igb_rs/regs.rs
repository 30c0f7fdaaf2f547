// SPDX-License-Identifier: GPL-2.0

//! Registers and descriptor bits of the 82576 that the driver uses.
//!
//! Offsets are in bytes from BAR 0. The per-queue registers use the 82576 layout at
//! 0xC000 (rx) and 0xE000 (tx), 0x40 bytes apart, which covers all 16 queues.

use kernel::io::register;

/// The size of BAR 0 (MMIO).
pub(crate) const BAR_SIZE: usize = 0x20000;

register! {
    /// Device control.
    pub(crate) CTRL(u32) @ 0x0000 {
        /// Device reset; self-clearing.
        26:26 rst => bool;
    }

    /// Device status.
    pub(crate) STATUS(u32) @ 0x0008 {
        /// Link up.
        1:1 lu => bool;
    }

    /// MDI control: a read or write of a PHY register.
    pub(crate) MDIC(u32) @ 0x0020 {
        /// 1: write, 2: read.
        27:26 op;
        /// The PHY address.
        25:21 phy;
        /// The PHY register.
        20:16 reg;
        /// The value written or read.
        15:0 data;
    }

    /// Interrupt cause read; clears on read (GPIE.NSICR).
    pub(crate) ICR(u32) @ 0x00C0 {
        /// Link status change.
        2:2 lsc => bool;
    }

    /// Interrupt mask set.
    pub(crate) IMS(u32) @ 0x00D0 {
        /// Link status change.
        2:2 lsc => bool;
    }

    /// Interrupt mask clear.
    pub(crate) IMC(u32) @ 0x00D8 {
        31:0 causes;
    }

    /// Receive control.
    pub(crate) RCTL(u32) @ 0x0100 {
        /// Strip the Ethernet CRC.
        26:26 secrc => bool;
        /// Accept broadcast frames.
        15:15 bam => bool;
        /// Long packets (up to RLPML).
        5:5 lpe => bool;
        /// Accept every multicast frame.
        4:4 mpe => bool;
        /// Receiver enable.
        1:1 en => bool;
    }

    /// Transmit control.
    pub(crate) TCTL(u32) @ 0x0400 {
        /// Pad short packets.
        3:3 psp => bool;
        /// Transmitter enable.
        1:1 en => bool;
    }

    /// Receive undersize count; clears on read.
    pub(crate) RUC(u32) @ 0x40A4 {
        31:0 count;
    }

    /// Receive oversize count; clears on read.
    pub(crate) ROC(u32) @ 0x40AC {
        31:0 count;
    }

    /// General purpose interrupt enable.
    pub(crate) GPIE(u32) @ 0x1514 {
        /// MSI-X mode.
        4:4 msix_mode => bool;
        /// Non-selective interrupt clear on read of ICR.
        0:0 nsicr => bool;
    }

    /// Extended interrupt cause set: raises the causes written, one bit per MSI-X vector.
    pub(crate) EICS(u32) @ 0x1520 {
        24:0 vectors;
    }

    /// Extended interrupt mask set, one bit per MSI-X vector.
    pub(crate) EIMS(u32) @ 0x1524 {
        24:0 vectors;
    }

    /// Extended interrupt mask clear.
    pub(crate) EIMC(u32) @ 0x1528 {
        24:0 vectors;
    }

    /// Extended interrupt auto clear.
    pub(crate) EIAC(u32) @ 0x152C {
        24:0 vectors;
    }

    /// Extended interrupt throttle, per MSI-X vector.
    pub(crate) EITR(u32)[25] @ 0x1680 {
        /// Writing does not restart the running interval.
        31:31 cnt_ignr => bool;
        /// The least interval between interrupts, in microseconds.
        14:2 interval;
    }

    /// Interrupt vector allocation: the rx and tx causes of queues `n` and `n + 8`, a byte
    /// each (vector and valid bit).
    pub(crate) IVAR(u32)[8] @ 0x1700 {
        31:0 value;
    }

    /// The vector of the "other" causes (link).
    pub(crate) IVAR_MISC(u32) @ 0x1740 {
        15:15 valid => bool;
        12:8 vector;
    }

    /// Receive checksum control.
    pub(crate) RXCSUM(u32) @ 0x5000 {
        /// Packet checksum disable: the descriptor carries the RSS hash instead.
        13:13 pcsd => bool;
        /// TCP/UDP checksum offload.
        9:9 tuofld => bool;
        /// IP checksum offload.
        8:8 ipofld => bool;
    }

    /// Receive long packet maximum length.
    pub(crate) RLPML(u32) @ 0x5004 {
        13:0 len;
    }

    /// Multicast table.
    pub(crate) MTA(u32)[128] @ 0x5200 {
        31:0 value;
    }

    /// Receive address 0, low: the first four bytes of the MAC address.
    pub(crate) RAL0(u32) @ 0x5400 {
        31:0 value;
    }

    /// Receive address 0, high: its last two bytes.
    pub(crate) RAH0(u32) @ 0x5404 {
        15:0 value;
    }

    /// Multiple receive queues command.
    pub(crate) MRQC(u32) @ 0x5818 {
        /// Hash UDP over IPv6 (addresses and ports).
        23:23 hash_udp_ipv6 => bool;
        /// Hash UDP over IPv4 (addresses and ports).
        22:22 hash_udp_ipv4 => bool;
        /// Hash TCP over IPv6 with extension headers.
        18:18 hash_tcp_ipv6_ex => bool;
        /// Hash TCP over IPv4.
        16:16 hash_tcp_ipv4 => bool;
        /// 2: RSS.
        2:0 mode;
    }

    /// Redirection table: four 8-bit entries per register.
    pub(crate) RETA(u32)[32] @ 0x5C00 {
        31:0 value;
    }

    /// RSS random key.
    pub(crate) RSSRK(u32)[10] @ 0x5C80 {
        31:0 value;
    }

    /// Rx ring base address, low and high; length in bytes; head; tail.
    pub(crate) RDBAL(u32)[16, stride = 0x40] @ 0xC000 {
        31:0 value;
    }

    pub(crate) RDBAH(u32)[16, stride = 0x40] @ 0xC004 {
        31:0 value;
    }

    pub(crate) RDLEN(u32)[16, stride = 0x40] @ 0xC008 {
        31:0 value;
    }

    /// Split and replication receive control.
    pub(crate) SRRCTL(u32)[16, stride = 0x40] @ 0xC00C {
        /// Descriptor type: 1 advanced one buffer, 2 advanced header split, 5 header split
        /// always.
        27:25 desctype;
        /// Header buffer size in 64-byte units.
        11:8 bsizeheader;
        /// Packet buffer size in KiB.
        6:0 bsizepacket;
    }

    pub(crate) RDH(u32)[16, stride = 0x40] @ 0xC010 {
        31:0 value;
    }

    pub(crate) RDT(u32)[16, stride = 0x40] @ 0xC018 {
        31:0 value;
    }

    /// Rx descriptor control.
    pub(crate) RXDCTL(u32)[16, stride = 0x40] @ 0xC028 {
        25:25 enable => bool;
    }

    /// Tx ring base address, low and high; length in bytes; head; tail.
    pub(crate) TDBAL(u32)[16, stride = 0x40] @ 0xE000 {
        31:0 value;
    }

    pub(crate) TDBAH(u32)[16, stride = 0x40] @ 0xE004 {
        31:0 value;
    }

    pub(crate) TDLEN(u32)[16, stride = 0x40] @ 0xE008 {
        31:0 value;
    }

    pub(crate) TDH(u32)[16, stride = 0x40] @ 0xE010 {
        31:0 value;
    }

    pub(crate) TDT(u32)[16, stride = 0x40] @ 0xE018 {
        31:0 value;
    }

    /// Tx descriptor control.
    pub(crate) TXDCTL(u32)[16, stride = 0x40] @ 0xE028 {
        25:25 enable => bool;
    }
}

/// SRRCTL descriptor types: advanced one buffer (the whole frame in the packet buffer),
/// header split (TCP/UDP over IP; anything else whole in the packet buffer), header split
/// always.
pub(crate) const DESCTYPE_ONE_BUF: u32 = 1;
pub(crate) const DESCTYPE_HDR_SPLIT: u32 = 2;
pub(crate) const DESCTYPE_HDR_SPLIT_ALWAYS: u32 = 5;

/// IVAR: the valid bit of a cause's vector byte.
pub(crate) const IVAR_VALID: u32 = 0x80;

/// The MDIC write that restarts autonegotiation: PHY 1, register 0 (BMCR), AUTOEN and
/// ANRESTART. The model brings the link up only after it.
pub(crate) const MDIC_PHY_AUTONEG_RESTART: MDIC = MDIC::from_raw(0)
    .with_const_op::<1>()
    .with_const_phy::<1>()
    .with_const_reg::<0>()
    .with_const_data::<0x1200>();

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
