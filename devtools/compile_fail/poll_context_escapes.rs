// expect: - ctx
// The poll's context cannot outlive the poll.

impl Pair {
    fn poll(&self, ctx: PollContext<'_>, _budget: i32) -> i32 {
        let _kept: PollContext<'static> = ctx;
        0
    }
}

fn case(_parent: &Device, _pair: &Arc<Pair>) -> Result {
    Ok(())
}
