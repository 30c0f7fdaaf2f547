// expect: - ctx
// An XDP buff lives within its poll: running it, redirecting and recycling need the
// poll's context.

impl Pair {
    fn poll(&self, _ctx: PollContext<'_>, _budget: i32) -> i32 {
        0
    }
}

fn xdp_rx(
    ctx: PollContext<'_>,
    rxq: &'static XdpRxq,
    pool: &'static mut OwnedPagePool,
    buf: PoolNetmem,
) -> Option<XdpBuff<'static>> {
    XdpBuff::new(&ctx, rxq, pool, buf, 256, 60, 4096).ok()
}

fn case(_parent: &Device, _pair: &Arc<Pair>) -> Result {
    Ok(())
}
