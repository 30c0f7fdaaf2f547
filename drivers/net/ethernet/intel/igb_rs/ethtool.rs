// SPDX-License-Identifier: GPL-2.0

//! The ethtool callbacks: rings, channels, coalescing, RSS and flow rules, statistics.

use crate::regs::*;
use crate::{
    driver::MAX_QUEUES,
    flow::{
        describe_rule,
        parse_rule, //
    },
    hw::{
        eitr_of,
        MAX_RX_USECS, //
    },
    netdev::{
        Adapter,
        IgbOps, //
    },
    queue::{
        RING_MAX,
        RING_MIN,
        RING_STEP, //
    },
    rss::{
        FieldsError,
        Place,
        RuleError, //
    },
    stats::{
        RxStats,
        TxStats,
        DEV_STATS, //
    }, //
};
use core::sync::atomic::Ordering;
use kernel::{
    io::{
        register::Array,
        Io, //
    },
    net::{
        device::{
            LockedNetDevice,
            NetDevice,
            Operations, //
        },
        ethtool::{
            Channels,
            Coalesce,
            EthtoolOps,
            HashFunction,
            KernelRingParam,
            RingParam,
            RuleLocation,
            RxfhFields,
            RxfhParam,
            Rxnfc,
            RxnfcCommand,
            StringSet,
            Strings,
            TcpDataSplit,
            COALESCE_RX_USECS,
            COALESCE_USE_ADAPTIVE_RX,
            RING_USE_HDS_THRS,
            RING_USE_TCP_DATA_SPLIT,
            RXH_XFRM_NO_CHANGE, //
        },
        ext_ack::ExtAck, //
    },
    prelude::*, //
};

/// The layout of the register dump (`ethtool -d`).
const REGS_VERSION: u32 = 1;
/// Registers of the device in the dump: CTRL, STATUS, RCTL, TCTL, GPIE, EIMS, MRQC, RXCSUM.
const REGS_DEV: usize = 8;
/// Registers of each queue pair in the dump: EITR (its vector's), SRRCTL, RXDCTL, RDH, RDT,
/// TXDCTL, TDH, TDT.
const REGS_PER_PAIR: usize = 8;

#[vtable]
impl EthtoolOps for IgbOps {
    const SUPPORTED_RING_PARAMS: u32 = RING_USE_TCP_DATA_SPLIT | RING_USE_HDS_THRS;
    const SUPPORTED_COALESCE_PARAMS: u32 = COALESCE_RX_USECS | COALESCE_USE_ADAPTIVE_RX;

    fn get_coalesce(a: &Adapter, _dev: &NetDevice, ec: &mut Coalesce) -> Result {
        // One vector per queue pair: its interval covers tx completions too. Under
        // adaptive moderation `rx-usecs` is the interval to go back to without it; the
        // ones in effect are per queue.
        ec.rx_coalesce_usecs = a.rx_usecs.load(Ordering::Relaxed);
        ec.use_adaptive_rx_coalesce = u32::from(a.adaptive_rx.load(Ordering::Relaxed));
        Ok(())
    }

    /// The registers of the dump's version 1: the device's, then those of each of the
    /// `MAX_QUEUES` queue pairs, in use or not (igb-rs.rst).
    const REGS_LEN: usize = 4 * (REGS_DEV + REGS_PER_PAIR * MAX_QUEUES as usize);

    fn get_regs(a: &Adapter, _dev: &NetDevice, buf: &mut [u8]) -> u32 {
        let mut words = buf.chunks_exact_mut(4);
        let mut put = |v: u32| {
            if let Some(w) = words.next() {
                w.copy_from_slice(&v.to_ne_bytes());
            }
        };
        // None of these clears on read. A device that is gone dumps zeros.
        let _ = a.hw.try_io(|io| {
            put(io.read(CTRL).into_raw());
            put(io.read(STATUS).into_raw());
            put(io.read(RCTL).into_raw());
            put(io.read(TCTL).into_raw());
            put(io.read(GPIE).into_raw());
            put(io.read(EIMS).into_raw());
            put(io.read(MRQC).into_raw());
            put(io.read(RXCSUM).into_raw());
            for q in 0..MAX_QUEUES as usize {
                put(io.read(EITR::try_at(q).ok_or(EINVAL)?).into_raw());
                put(io.read(SRRCTL::try_at(q).ok_or(EINVAL)?).into_raw());
                put(io.read(RXDCTL::try_at(q).ok_or(EINVAL)?).into_raw());
                put(io.read(RDH::try_at(q).ok_or(EINVAL)?).into_raw());
                put(io.read(RDT::try_at(q).ok_or(EINVAL)?).into_raw());
                put(io.read(TXDCTL::try_at(q).ok_or(EINVAL)?).into_raw());
                put(io.read(TDH::try_at(q).ok_or(EINVAL)?).into_raw());
                put(io.read(TDT::try_at(q).ok_or(EINVAL)?).into_raw());
            }
            Ok(())
        });
        REGS_VERSION
    }

    fn get_per_queue_coalesce(
        a: &Adapter,
        _dev: &NetDevice,
        queue: u32,
        ec: &mut Coalesce,
    ) -> Result {
        let p = a.active().get(queue as usize).ok_or(EINVAL)?;
        ec.rx_coalesce_usecs = p.usecs.load(Ordering::Relaxed);
        ec.use_adaptive_rx_coalesce = u32::from(p.adaptive.load(Ordering::Relaxed));
        Ok(())
    }

    fn set_coalesce(
        a: &Adapter,
        _dev: &NetDevice,
        ec: &Coalesce,
        ack: Option<&mut ExtAck>,
    ) -> Result {
        if ec.rx_coalesce_usecs > MAX_RX_USECS {
            if let Some(ack) = ack {
                ack.set_msg(c"igb_rs: rx-usecs is at most 8191");
            }
            return Err(EINVAL);
        }
        let adaptive = ec.use_adaptive_rx_coalesce != 0;
        a.rx_usecs.store(ec.rx_coalesce_usecs, Ordering::Relaxed);
        a.adaptive_rx.store(adaptive, Ordering::Relaxed);
        // Called under the instance lock, as `open` and `stop` are; each pair's interval
        // changes under its rx lock, which its poll takes to move its DIM.
        let up = a.up.load(Ordering::Relaxed);
        let active = a.active().len();
        for p in a.pairs.iter() {
            let mut rx = p.rx.lock();
            let was = p.adaptive.swap(adaptive, Ordering::Relaxed);
            let usecs = match rx.dim.as_mut() {
                Some(dim) if adaptive => {
                    // Switched on: DIM starts over, its last window long gone.
                    if !was {
                        dim.as_mut().reset();
                    }
                    u32::from(dim.moderation().usecs)
                }
                _ => ec.rx_coalesce_usecs,
            };
            p.usecs.store(usecs, Ordering::Relaxed);
            if up && (p.index as usize) < active {
                a.hw.try_io(|io| {
                    io.write(
                        EITR::try_at(p.index as usize).ok_or(EINVAL)?,
                        eitr_of(usecs),
                    );
                    Ok(())
                })?;
            }
        }
        Ok(())
    }

    fn get_ringparam(a: &Adapter, _dev: &NetDevice, r: &mut RingParam, k: &mut KernelRingParam) {
        r.rx_max_pending = RING_MAX;
        r.tx_max_pending = RING_MAX;
        r.rx_pending = a.rx_ring.load(Ordering::Relaxed);
        r.tx_pending = a.tx_ring.load(Ordering::Relaxed);
        // Rx splits headers from payload unless told not to, or an XDP program runs.
        if k.tcp_data_split() == TcpDataSplit::Unknown {
            k.set_tcp_data_split(if a.rx_split() {
                TcpDataSplit::Enabled
            } else {
                TcpDataSplit::Disabled
            });
        }
        k.set_hds_thresh_max(0);
    }

    fn set_ringparam(
        a: &Adapter,
        dev: &LockedNetDevice,
        r: &RingParam,
        k: &KernelRingParam,
        ack: Option<&mut ExtAck>,
    ) -> Result {
        // The core refused more than the maxima; the mini and jumbo rings it refused too
        // (their maxima are 0).
        let valid = |n: u32| n >= RING_MIN && n % RING_STEP == 0;
        if !valid(r.rx_pending) || !valid(r.tx_pending) {
            if let Some(ack) = ack {
                ack.set_msg(c"igb_rs rings hold 64 to 4096 descriptors, a multiple of 8");
            }
            return Err(EINVAL);
        }
        let split = match k.tcp_data_split() {
            TcpDataSplit::Disabled => false,
            TcpDataSplit::Enabled => true,
            TcpDataSplit::Unknown => a.split(),
        };
        let requested = k.tcp_data_split() == TcpDataSplit::Enabled;
        // The core refused this under a single-buffer XDP program; a multi-buffer one
        // sees whole frames too (`xdp_setup`).
        if requested && a.xdp.lock().is_some() {
            if let Some(ack) = ack {
                ack.set_msg(c"igb_rs: XDP runs on whole frames: tcp-data-split stays off");
            }
            return Err(EINVAL);
        }
        a.split_requested.store(requested, Ordering::Relaxed);
        let rings = (r.rx_pending, r.tx_pending);
        let old = (
            a.rx_ring.load(Ordering::Relaxed),
            a.tx_ring.load(Ordering::Relaxed),
        );
        if split == a.split() && rings == old {
            return Ok(());
        }
        // The rings change (their size, or the descriptor type of every rx queue): a
        // running device is stopped and opened again with new rings (the core refused
        // turning split off while a memory provider is bound).
        let running = dev.is_running();
        if running {
            <IgbOps as Operations>::stop(a, dev)?;
        }
        a.split.store(split, Ordering::Relaxed);
        a.rx_ring.store(rings.0, Ordering::Relaxed);
        a.tx_ring.store(rings.1, Ordering::Relaxed);
        if running {
            <IgbOps as Operations>::open(a, dev)?;
        }
        Ok(())
    }

    fn get_channels(a: &Adapter, _dev: &NetDevice, ch: &mut Channels) {
        ch.max_combined = a.pairs.len() as u32;
        ch.combined_count = a.active().len() as u32;
        // The link vector, as the C igb driver reports it.
        ch.max_other = 1;
        ch.other_count = 1;
    }

    fn set_channels(a: &Adapter, dev: &LockedNetDevice, ch: &Channels) -> Result {
        // Combined channels only (an rx/tx queue pair per vector), and the link vector.
        let n = ch.combined_count;
        if ch.rx_count != 0 || ch.tx_count != 0 || ch.other_count != 1 {
            return Err(EINVAL);
        }
        if n == 0 || n > a.pairs.len() as u32 {
            return Err(EINVAL);
        }
        let old = a.active().len() as u32;
        if n == old {
            return Ok(());
        }
        // The rings, vectors and NAPI contexts are set up for the pairs in use at open:
        // a running device is stopped and opened again with the new count, as `ip link
        // set down; up` would (the core has checked that nothing bound to a queue that
        // goes away: memory providers, AF_XDP, rules, a user-set RSS table).
        let running = dev.is_running();
        if running {
            <IgbOps as Operations>::stop(a, dev)?;
        }
        let res = dev.set_real_num_queues(n, n);
        if res.is_ok() {
            a.active.store(n, Ordering::Relaxed);
            if !dev.rxfh_configured() {
                a.rss.lock().spread(n as u8);
            }
        }
        if running {
            <IgbOps as Operations>::open(a, dev)?;
        }
        res
    }

    fn get_sset_count(a: &Adapter, _dev: &NetDevice, sset: StringSet) -> Result<u32> {
        match sset {
            StringSet::Stats => Ok((DEV_STATS.len()
                + a.active().len() * (RxStats::NAMES.len() + TxStats::NAMES.len()))
                as u32),
            _ => Err(EOPNOTSUPP),
        }
    }

    fn get_strings(a: &Adapter, _dev: &NetDevice, sset: StringSet, out: &mut Strings<'_>) {
        if sset != StringSet::Stats {
            return;
        }
        // The device's counters, all rx queues, then all tx queues: rx_undersize, ...,
        // rx0_packets, ..., tx1_csum_sw.
        for name in DEV_STATS {
            out.push(fmt!("{}", name));
        }
        for p in a.active() {
            for name in RxStats::NAMES {
                out.push(fmt!("rx{}_{}", p.index, name));
            }
        }
        for p in a.active() {
            for name in TxStats::NAMES {
                out.push(fmt!("tx{}_{}", p.index, name));
            }
        }
    }

    fn get_ethtool_stats(a: &Adapter, _dev: &NetDevice, stats: &mut [u64]) {
        let (under, over) = a.length_errors();
        let rx = a.active().iter().flat_map(|p| p.stats().0.values());
        let tx = a.active().iter().flat_map(|p| p.stats().1.values());
        let all = Iterator::chain([under, over].into_iter(), Iterator::chain(rx, tx));
        for (d, v) in stats.iter_mut().zip(all) {
            *d = v;
        }
    }

    fn get_rx_ring_count(a: &Adapter, _dev: &NetDevice) -> u32 {
        a.active().len() as u32
    }

    fn get_rxfh_key_size(_a: &Adapter, _dev: &NetDevice) -> u32 {
        crate::rss::KEY_LEN as u32
    }

    fn get_rxfh_indir_size(_a: &Adapter, _dev: &NetDevice) -> u32 {
        crate::rss::RETA_LEN as u32
    }

    fn get_rxfh(a: &Adapter, _dev: &NetDevice, rxfh: &mut RxfhParam) -> Result {
        rxfh.set_hfunc(HashFunction::Toeplitz);
        let cfg = a.rss.lock();
        if let Some(indir) = rxfh.indir_mut() {
            for (e, q) in indir.iter_mut().zip(cfg.reta()) {
                *e = u32::from(q);
            }
        }
        if let Some(key) = rxfh.key_mut() {
            for (d, s) in key.iter_mut().zip(cfg.key()) {
                *d = *s;
            }
        }
        Ok(())
    }

    fn set_rxfh(
        a: &Adapter,
        _dev: &NetDevice,
        rxfh: &RxfhParam,
        mut ack: Option<&mut ExtAck>,
    ) -> Result {
        let hfunc = rxfh.hfunc();
        if !matches!(hfunc, HashFunction::NoChange | HashFunction::Toeplitz) {
            return Err(refuse(
                &mut ack,
                c"igb_rs hashes with Toeplitz only",
                EOPNOTSUPP,
            ));
        }
        let xfrm = rxfh.input_xfrm();
        if xfrm != 0 && xfrm != RXH_XFRM_NO_CHANGE {
            return Err(refuse(
                &mut ack,
                c"igb_rs has no input transformation",
                EOPNOTSUPP,
            ));
        }
        if rxfh.rss_context() != 0 {
            return Err(refuse(&mut ack, c"igb_rs has no RSS contexts", EOPNOTSUPP));
        }
        // Check everything before changing anything.
        let queues = a.active().len();
        let indir = match rxfh.indir() {
            None => None,
            Some(t) if t.len() != crate::rss::RETA_LEN => {
                kernel::ext_ack_fmt!(
                    ack,
                    "igb_rs: {} table entries given, the table has {}",
                    t.len(),
                    crate::rss::RETA_LEN
                );
                return Err(EINVAL);
            }
            Some(t) => {
                let mut table = [0u8; crate::rss::RETA_LEN];
                for (i, (e, &q)) in table.iter_mut().zip(t).enumerate() {
                    if q as usize >= queues {
                        kernel::ext_ack_fmt!(
                            ack,
                            "igb_rs: entry {}: queue {} out of range ({} rx queues)",
                            i,
                            q,
                            queues
                        );
                        return Err(EINVAL);
                    }
                    *e = q as u8;
                }
                Some(table)
            }
        };
        let key = match rxfh.key() {
            None => None,
            Some(k) => match <[u8; crate::rss::KEY_LEN]>::try_from(k) {
                Ok(k) => Some(k),
                Err(_) => {
                    kernel::ext_ack_fmt!(
                        ack,
                        "igb_rs: {} key bytes given, the key has {}",
                        k.len(),
                        crate::rss::KEY_LEN
                    );
                    return Err(EINVAL);
                }
            },
        };
        let mut cfg = a.rss.lock();
        if let Some(key) = &key {
            if let Err(e) = cfg.set_key(key) {
                if let RuleError::Conflict { loc, other, entry } = e {
                    kernel::ext_ack_fmt!(
                        ack,
                        "igb_rs: with this key, flow rules {} and {} (other queues) share entry {}",
                        loc,
                        other,
                        entry
                    );
                }
                return Err(EBUSY);
            }
        }
        if let Some(table) = &indir {
            cfg.set_indir(table);
        }
        a.program_rss(&cfg)
    }

    fn get_rxfh_fields(a: &Adapter, _dev: &NetDevice, f: &mut RxfhFields) -> Result {
        let fields = a.rss.lock().fields(f.flow_kind());
        f.set_fields(fields);
        Ok(())
    }

    fn set_rxfh_fields(
        a: &Adapter,
        dev: &NetDevice,
        f: &RxfhFields,
        mut ack: Option<&mut ExtAck>,
    ) -> Result {
        // Fields of another RSS context than the default one never get here: the core
        // refuses them to a driver without `rxfh_per_ctx_fields`.
        let mut cfg = a.rss.lock();
        let mut new = cfg.clone();
        if let Err(e) = new.set_fields(f.flow_kind(), f.fields()) {
            let why = match e {
                FieldsError::TcpFixed => c"igb_rs hashes TCP over addresses and ports, and only so",
                FieldsError::UdpAllOrNothing => {
                    c"igb_rs hashes UDP over addresses and ports (sdfn) or not at all"
                }
                FieldsError::NotHashed => c"igb_rs hashes TCP and UDP, and no other traffic",
            };
            return Err(refuse_logged(a, &mut ack, why, EINVAL));
        }
        // Other traffic than TCP on a queue that a memory provider holds would put its
        // payload where only a devmem TCP socket can take it (or refuse it all: not split).
        if !new.tcp_only() {
            let bound = (0..a.active().len() as u32).find(|&q| dev.rx_queue_has_provider(q));
            if let Some(q) = bound {
                kernel::ext_ack_fmt!(
                    ack,
                    "igb_rs: rx queue {} has a memory provider: TCP alone is hashed while it does",
                    q
                );
                if ack.is_none() {
                    dev_info!(
                        a.dev,
                        "rx-flow-hash refused: rx queue {} has a memory provider: TCP alone is hashed while it does\n",
                        q
                    );
                }
                return Err(EBUSY);
            }
        }
        a.program_rss(&new)?;
        *cfg = new;
        Ok(())
    }

    fn get_rxnfc(
        a: &Adapter,
        _dev: &NetDevice,
        info: &mut Rxnfc,
        rule_locs: Option<&mut [u32]>,
    ) -> Result {
        match info.cmd() {
            RxnfcCommand::GetRings => info.set_data(a.active().len() as u64),
            RxnfcCommand::GetRuleCount => {
                let cfg = a.rss.lock();
                info.set_rule_cnt(cfg.locations().count() as u32);
                // A rule inserted without a location gets one from the driver.
                info.set_rule_table_size(crate::rss::MAX_RULES as u32, true);
            }
            RxnfcCommand::GetRule => {
                let cfg = a.rss.lock();
                let rule = cfg.rule(info.location() as usize).ok_or(ENOENT)?;
                describe_rule(info, rule);
            }
            RxnfcCommand::GetAllRules => {
                let cfg = a.rss.lock();
                let locs = rule_locs.unwrap_or_default();
                let mut n = 0;
                for loc in cfg.locations() {
                    *locs.get_mut(n).ok_or(EMSGSIZE)? = loc as u32;
                    n += 1;
                }
                info.set_rule_cnt(n as u32);
                info.set_data(crate::rss::MAX_RULES as u64);
            }
            _ => return Err(EOPNOTSUPP),
        }
        Ok(())
    }

    fn set_rxnfc(a: &Adapter, _dev: &NetDevice, info: &mut Rxnfc) -> Result {
        match info.cmd() {
            RxnfcCommand::InsertRule => {
                let rule = parse_rule(info, a.active().len()).map_err(|(e, why)| {
                    // The ioctl has no extended acknowledgement: say why in the log.
                    dev_info!(a.dev, "flow rule refused: {}\n", why);
                    e
                })?;
                let place = match info.insert_location() {
                    RuleLocation::Any | RuleLocation::First => Place::First,
                    RuleLocation::Last => Place::Last,
                    RuleLocation::OtherSpecial(_) => return Err(EINVAL),
                    RuleLocation::At(loc) => Place::At(loc as usize),
                };
                let mut cfg = a.rss.lock();
                match cfg.insert(place, rule) {
                    Ok(loc) => info.set_location(loc as u32),
                    Err(RuleError::Conflict { other, entry, .. }) => {
                        dev_info!(
                            a.dev,
                            "flow rule refused: rule {} hashes to the same table entry ({}) and steers to another queue\n",
                            other,
                            entry
                        );
                        return Err(EBUSY);
                    }
                    Err(RuleError::Full) => return Err(ENOSPC),
                    Err(_) => {
                        dev_info!(
                            a.dev,
                            "flow rule refused: locations go up to {}\n",
                            crate::rss::MAX_RULES - 1
                        );
                        return Err(EINVAL);
                    }
                }
                a.program_rss(&cfg)?;
            }
            RxnfcCommand::DeleteRule => {
                let mut cfg = a.rss.lock();
                cfg.remove(info.location() as usize).map_err(|_| ENOENT)?;
                a.program_rss(&cfg)?;
            }
            _ => return Err(EOPNOTSUPP),
        }
        Ok(())
    }
}

/// Leaves `msg` in the request's extended acknowledgement, if it has one; returns `err`.
pub(crate) fn refuse(ack: &mut Option<&mut ExtAck>, msg: &'static CStr, err: Error) -> Error {
    if let Some(ack) = ack.as_deref_mut() {
        ack.set_msg(msg);
    }
    err
}

/// As [`refuse`], and a request without an extended acknowledgement (the ioctl) has `msg`
/// in the log instead.
fn refuse_logged(
    a: &Adapter,
    ack: &mut Option<&mut ExtAck>,
    msg: &'static CStr,
    err: Error,
) -> Error {
    if ack.is_none() {
        dev_info!(a.dev, "{}\n", msg.to_str().unwrap_or("refused"));
    }
    refuse(ack, msg, err)
}
