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
