// expect: ok
// The right uses of every API the other cases misuse build: the harness can pass.

impl Pair {
    fn poll(&self, ctx: PollContext<'_>, budget: i32) -> i32 {
        let dev = ctx.dev();
        if let Some(txq) = dev.tx_queue(0) {
            if txq.is_stopped() {
                txq.wake();
            }
        }
        if let Some(skb) = ctx.alloc_skb(64) {
            ctx.gro_receive(skb);
        }
        if ctx.complete_done(0) {
            return 0;
        }
        budget
    }
}

fn case(parent: &Device, pair: &Arc<Pair>) -> Result {
    let extra = ExtraOps::new().ethtool();
    let reg = Registration::<A>::new(parent, 1, 1, Arc::new(0, GFP_KERNEL)?, extra)?;
    let dev = reg.dev().lock();
    Napi::start(pair, &dev, 0, None)?;
    Napi::stop(pair, &dev)?;
    pair.napi.schedule();
    Ok(())
}

// An XDP frame from a ring's pool: run, then to the stack, out, or back to the pool; the
// pool allocates again once the buff is gone.
fn xdp_rx(
    ctx: &PollContext<'_>,
    rxq: &XdpRxq,
    pool: &mut OwnedPagePool,
    buf: PoolNetmem,
    prog: &BpfProg,
) {
    let dev = ctx.dev();
    if let Ok(buff) = XdpBuff::new(ctx, rxq, pool, buf, 256, 60, 4096) {
        match buff.run(prog, dev) {
            Verdict::Pass(b) => {
                if let Some(skb) = b.build_skb() {
                    ctx.gro_receive(skb);
                }
            }
            Verdict::Redirect(b) => {
                let _ = b.redirect(dev, prog);
                xdp::flush(ctx);
            }
            Verdict::Tx(b) => drop(b.into_frame()),
            Verdict::Drop | Verdict::Aborted => {}
        }
    }
    let _ = pool.alloc_netmem(GFP_ATOMIC);
}
