// expect: E0499 pool
// An XDP buff holds its pool's allocating context: buffers it gives back go straight
// into the pool's cache, so the pool allocates nothing while the buff lives.

impl Pair {
    fn poll(&self, _ctx: PollContext<'_>, _budget: i32) -> i32 {
        0
    }
}

fn xdp_rx(ctx: &PollContext<'_>, rxq: &XdpRxq, pool: &mut OwnedPagePool, buf: PoolNetmem) {
    let buff = XdpBuff::new(ctx, rxq, pool, buf, 256, 60, 4096);
    let _ = pool.alloc_netmem(GFP_ATOMIC);
    drop(buff);
}

fn case(_parent: &Device, _pair: &Arc<Pair>) -> Result {
    Ok(())
}
