// expect: E0061 flush
// Redirected frames are flushed by the poll that redirected them: only with its context.

impl Pair {
    fn poll(&self, _ctx: PollContext<'_>, _budget: i32) -> i32 {
        0
    }
}

fn case(_parent: &Device, _pair: &Arc<Pair>) -> Result {
    xdp::flush();
    Ok(())
}
