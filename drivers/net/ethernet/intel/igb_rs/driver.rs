// SPDX-License-Identifier: GPL-2.0

//! Probe: the PCI function, its registers, vectors and queue pairs, and the net device.

use crate::regs::*;
use crate::{
    hw::Hw,
    netdev::{
        Adapter,
        IgbOps, //
    },
    queue::{
        OtherIrq,
        QueueIrq,
        QueuePair,
        RING_DEFAULT, //
    },
    rss::Rss, //
};
use core::sync::atomic::{
    AtomicBool,
    AtomicU32,
    AtomicU64, //
};
use kernel::{
    device::{
        self,
        Core, //
    },
    dma::{
        Device as _,
        DmaMask, //
    },
    irq,
    net::{
        device::{
            ExtraOps,
            Features,
            Registration, //
        },
        ethtool::rss_key_fill,
        xdp, //
    },
    pci,
    prelude::*,
    sync::Arc, //
};

/// Queue pairs (and vectors for them) the driver sets up; one more vector serves the
/// link. `ethtool -L` chooses how many of them are in use.
pub(crate) const MAX_QUEUES: u32 = 4;

/// Queue pairs in use after probe.
pub(crate) const DEFAULT_QUEUES: u32 = 2;

/// The rx queue the model gives every frame without an RSS hash; RSS hashes TCP only, so
/// it takes ARP, ICMP, UDP and IP fragments, and refuses a memory provider.
pub(crate) const DEFAULT_RX_QUEUE: u32 = 0;

/// The interrupt interval of a queue pair's vector after probe, in microseconds (about
/// 20000 interrupts a second at most).
pub(crate) const DEFAULT_RX_USECS: u32 = 50;

/// The offloads of the device (`ethtool -k`).
pub(crate) const FEATURES: Features = Features::SG
    .union(Features::IP_CSUM)
    .union(Features::IPV6_CSUM)
    .union(Features::TSO)
    .union(Features::TSO6)
    .union(Features::RXCSUM)
    .union(Features::RXHASH);

/// What a frame adds to the MTU: its Ethernet header and a VLAN tag.
pub(crate) const FRAME_OVERHEAD: u32 = 14 + 4;

/// The largest frame: 9000 bytes of MTU plus the Ethernet header and a VLAN tag.
pub(crate) const MAX_FRAME: u32 = 9000 + FRAME_OVERHEAD;

/// What the driver keeps for a bound device. Fields drop in order: the net device
/// (unregistered: `stop` quiesces the NIC), then the interrupt handlers, then the vectors.
pub(crate) struct IgbData<'bound> {
    pub(crate) _netdev: Registration<IgbOps>,
    pub(crate) _irqs: KVec<Pin<KBox<irq::Registration<'bound, QueueIrq>>>>,
    pub(crate) _other: Pin<KBox<irq::Registration<'bound, OtherIrq>>>,
    pub(crate) _vectors: Pin<KBox<pci::IrqVectorRegistration<'bound>>>,
}

pub(crate) struct IgbDriver;

kernel::pci_device_table!(
    PCI_TABLE,
    <IgbDriver as pci::Driver>::IdInfo,
    [(pci::DeviceId::from_id(pci::Vendor::INTEL, 0x10c9), ())]
);

impl pci::Driver for IgbDriver {
    type IdInfo = ();
    type Data<'bound> = IgbData<'bound>;

    const ID_TABLE: pci::IdTable<Self::IdInfo> = &PCI_TABLE;

    fn probe<'bound>(
        pdev: &'bound pci::Device<Core<'_>>,
        _info: Option<&'bound Self::IdInfo>,
    ) -> impl PinInit<Self::Data<'bound>, Error> + 'bound {
        pdev.enable_device_mem()?;
        pdev.set_master();
        // SAFETY: No DMA is in flight: the device was just enabled and is reset below.
        unsafe { pdev.dma_set_mask_and_coherent(DmaMask::new::<64>())? };
        let bar = pdev
            .iomap_region_sized::<BAR_SIZE>(0, c"igb_rs")?
            .into_devres()?;
        let hw = Arc::new(
            Hw {
                bar,
                link_event: AtomicBool::new(false),
            },
            GFP_KERNEL,
        )?;
        Adapter::reset(&hw)?;
        let mac = Adapter::mac(&hw)?;

        let vectors = KBox::pin(
            pdev.alloc_irq_vectors(
                MAX_QUEUES + 1,
                MAX_QUEUES + 1,
                pci::IrqTypes::default().with(pci::IrqType::MsiX),
            )?,
            GFP_KERNEL,
        )?;
        // SAFETY: The registration is pinned on the heap and dropped after the handlers
        // that borrow it (field order of `IgbData`), so the borrow does not outlive it.
        let vref: &'bound pci::IrqVectorRegistration<'bound> =
            unsafe { &*core::ptr::from_ref(&*vectors) };

        let mut pairs = KVec::new();
        for q in 0..MAX_QUEUES {
            let irq = irq::IrqRequest::from(vref.index(q as usize)?).irq();
            let init = QueuePair::new(pdev.as_ref(), q, irq, hw.clone(), DEFAULT_RX_USECS)?;
            pairs.push(Arc::pin_init(init, GFP_KERNEL)?, GFP_KERNEL)?;
        }
        let mut irqs = KVec::new();
        for p in pairs.iter() {
            let req = vref.index(p.index as usize)?;
            let pair = p.clone();
            // SAFETY: The registration is kept in `IgbData` and dropped, never forgotten.
            let reg = unsafe {
                irq::Registration::new(
                    req.into(),
                    irq::Flags::TRIGGER_NONE,
                    c"igb_rs-queue",
                    try_pin_init!(QueueIrq { pair }? Error),
                )
            };
            irqs.push(KBox::pin_init(reg, GFP_KERNEL)?, GFP_KERNEL)?;
        }
        let req = vref.index(MAX_QUEUES as usize)?;
        let pair0 = pairs[0].clone();
        // SAFETY: As above.
        let other = KBox::pin_init(
            unsafe {
                irq::Registration::new(
                    req.into(),
                    irq::Flags::TRIGGER_NONE,
                    c"igb_rs-link",
                    try_pin_init!(OtherIrq { pair0 }? Error),
                )
            },
            GFP_KERNEL,
        )?;

        let ddev: &device::Device = pdev.as_ref();
        // The system's random RSS key, the table spread over the queue pairs.
        let mut key = [0u8; crate::rss::KEY_LEN];
        rss_key_fill(&mut key);
        let adapter = Arc::pin_init(
            pin_init!(Adapter {
                hw,
                dev: ddev.into(),
                pairs,
                active: AtomicU32::new(DEFAULT_QUEUES),
                up: AtomicBool::new(false),
                split: AtomicBool::new(true),
                rx_ring: AtomicU32::new(RING_DEFAULT),
                tx_ring: AtomicU32::new(RING_DEFAULT),
                rx_usecs: AtomicU32::new(DEFAULT_RX_USECS),
                adaptive_rx: AtomicBool::new(false),
                rss <- kernel::new_mutex!(Rss::new(key, DEFAULT_QUEUES as u8)),
                rx_undersize: AtomicU64::new(0),
                rx_oversize: AtomicU64::new(0),
                split_requested: AtomicBool::new(false),
                xdp <- kernel::new_mutex!(None),
            }),
            GFP_KERNEL,
        )?;
        let mut netdev = Registration::<IgbOps>::new(
            ddev,
            MAX_QUEUES,
            MAX_QUEUES,
            adapter,
            ExtraOps::new()
                .ethtool()
                .queue_mgmt()
                .queue_stats()
                .features(FEATURES)
                .netmem_tx()
                .irq_affinity_auto()
                .xdp(
                    xdp::Features::BASIC
                        | xdp::Features::REDIRECT
                        | xdp::Features::NDO_XMIT
                        | xdp::Features::RX_SG
                        | xdp::Features::NDO_XMIT_SG,
                ),
        )?;
        netdev
            .dev()
            .set_real_num_queues(DEFAULT_QUEUES, DEFAULT_QUEUES)?;
        netdev.dev().set_mac(&mac);
        netdev.dev().set_mtu_range(68, MAX_FRAME - FRAME_OVERHEAD);
        netdev.register()?;
        dev_info!(
            pdev,
            "igb_rs: {} of {} queue pairs in use, MAC {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}\n",
            DEFAULT_QUEUES,
            MAX_QUEUES,
            mac[0],
            mac[1],
            mac[2],
            mac[3],
            mac[4],
            mac[5]
        );
        Ok(IgbData {
            _netdev: netdev,
            _irqs: irqs,
            _other: other,
            _vectors: vectors,
        })
    }
}
