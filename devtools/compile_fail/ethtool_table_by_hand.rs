// expect: E0603 EthtoolTable
// The C tables are the registration's own: a driver cannot name one to install it.

impl Pair {
    fn poll(&self, _ctx: PollContext<'_>, _budget: i32) -> i32 {
        0
    }
}

fn case(_parent: &Device, _pair: &Arc<Pair>) -> Result {
    let _ops = kernel::net::ethtool::EthtoolTable::<A>::TABLE;
    Ok(())
}
