// SPDX-License-Identifier: GPL-2.0

//! Ring, channel and coalescing settings (`ethtool -g/-G`, `-l/-L`, `-c/-C`).

use crate::bindings;

/// Ring sizes (C `struct ethtool_ringparam`).
pub type RingParam = bindings::ethtool_ringparam;
/// Ring settings beyond sizes: tcp-data-split, hds-thresh (C
/// `struct kernel_ethtool_ringparam`).
#[repr(transparent)]
pub struct KernelRingParam(bindings::kernel_ethtool_ringparam);

impl KernelRingParam {
    /// Borrows the settings at `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` is valid and not accessed by anyone else for `'a`.
    pub(super) unsafe fn from_raw<'a>(
        ptr: *mut bindings::kernel_ethtool_ringparam,
    ) -> &'a mut Self {
        // SAFETY: Transparent wrapper; validity and exclusivity promised by the caller.
        unsafe { &mut *ptr.cast() }
    }

    /// Header split: on get, what the core has configured (`Unknown` when nothing was
    /// asked for); on set, what is asked for.
    pub fn tcp_data_split(&self) -> TcpDataSplit {
        TcpDataSplit::from_raw(self.0.tcp_data_split)
    }

    /// Reports the header split the device does.
    pub fn set_tcp_data_split(&mut self, split: TcpDataSplit) {
        self.0.tcp_data_split = split.to_raw();
    }

    /// The header-data split threshold in bytes.
    pub fn hds_thresh(&self) -> u32 {
        self.0.hds_thresh
    }

    /// Reports the largest header-data split threshold the device takes.
    pub fn set_hds_thresh_max(&mut self, max: u32) {
        self.0.hds_thresh_max = max;
    }
}
/// Channel counts (C `struct ethtool_channels`).
pub type Channels = bindings::ethtool_channels;

/// Interrupt coalescing settings (C `struct ethtool_coalesce`, `ethtool -c/-C`).
pub type Coalesce = bindings::ethtool_coalesce;

/// `EthtoolOps::SUPPORTED_COALESCE_PARAMS`: the rx interrupt interval in microseconds
/// (`rx-usecs`).
pub const COALESCE_RX_USECS: u32 = bindings::ETHTOOL_COALESCE_RX_USECS;

/// `EthtoolOps::SUPPORTED_COALESCE_PARAMS`: adaptive rx moderation (`adaptive-rx`), the
/// driver choosing the rx interval from the traffic.
pub const COALESCE_USE_ADAPTIVE_RX: u32 = bindings::ETHTOOL_COALESCE_USE_ADAPTIVE_RX;

/// Whether rx splits the TCP headers from the payload (C `enum ethtool_tcp_data_split`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpDataSplit {
    /// Not reported, or left to the driver.
    Unknown,
    /// Off.
    Disabled,
    /// On.
    Enabled,
}

impl TcpDataSplit {
    fn from_raw(v: u8) -> Self {
        match u32::from(v) {
            bindings::ethtool_tcp_data_split_ETHTOOL_TCP_DATA_SPLIT_DISABLED => Self::Disabled,
            bindings::ethtool_tcp_data_split_ETHTOOL_TCP_DATA_SPLIT_ENABLED => Self::Enabled,
            _ => Self::Unknown,
        }
    }

    fn to_raw(self) -> u8 {
        let v = match self {
            Self::Unknown => bindings::ethtool_tcp_data_split_ETHTOOL_TCP_DATA_SPLIT_UNKNOWN,
            Self::Disabled => bindings::ethtool_tcp_data_split_ETHTOOL_TCP_DATA_SPLIT_DISABLED,
            Self::Enabled => bindings::ethtool_tcp_data_split_ETHTOOL_TCP_DATA_SPLIT_ENABLED,
        };
        // CAST: the three values are 0, 1 and 2.
        v as u8
    }
}

/// `supported_ring_params`: the driver takes tcp-data-split.
pub const RING_USE_TCP_DATA_SPLIT: u32 =
    bindings::ethtool_supported_ring_param_ETHTOOL_RING_USE_TCP_DATA_SPLIT;
/// `supported_ring_params`: the driver takes hds-thresh.
pub const RING_USE_HDS_THRS: u32 = bindings::ethtool_supported_ring_param_ETHTOOL_RING_USE_HDS_THRS;
