// expect: E0599 tx_stop
// A tx queue is reached by a checked index (`NetDevice::tx_queue`) only.

impl Pair {
    fn poll(&self, ctx: PollContext<'_>, _budget: i32) -> i32 {
        ctx.dev().tx_stop(4096);
        0
    }
}

fn case(_parent: &Device, _pair: &Arc<Pair>) -> Result {
    Ok(())
}
