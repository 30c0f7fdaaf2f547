// expect: E0599 gro_receive
// GRO is only reachable through the poll's context.

impl Pair {
    fn poll(&self, _ctx: PollContext<'_>, _budget: i32) -> i32 {
        0
    }
}

fn case(_parent: &Device, pair: &Arc<Pair>) -> Result {
    // SAFETY: none: this must not build.
    let skb = unsafe { SkBuff::from_raw(core::ptr::null_mut()) };
    pair.napi.gro_receive(skb);
    Ok(())
}
