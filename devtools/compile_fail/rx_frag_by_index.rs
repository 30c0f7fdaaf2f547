// expect: E0599 add_rx_frag
// Frags are appended, bounded by MAX_SKB_FRAGS (`SkBuff::push_rx_frag`), never written at
// an index.

impl Pair {
    fn poll(&self, ctx: PollContext<'_>, _budget: i32) -> i32 {
        if let Some(mut skb) = ctx.alloc_skb(64) {
            skb.add_rx_frag(99, todo!(), 0, 0, 0);
        }
        0
    }
}

fn case(_parent: &Device, _pair: &Arc<Pair>) -> Result {
    Ok(())
}
