// expect: E0382 ctx
// Completing the poll ends what it may do with the context.

impl Pair {
    fn poll(&self, ctx: PollContext<'_>, _budget: i32) -> i32 {
        let skb = ctx.alloc_skb(64);
        ctx.complete_done(0);
        if let Some(skb) = skb {
            ctx.gro_receive(skb);
        }
        0
    }
}

fn case(_parent: &Device, _pair: &Arc<Pair>) -> Result {
    Ok(())
}
