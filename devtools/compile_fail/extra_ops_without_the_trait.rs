// expect: E0599 EthtoolOps
// A type without ethtool ops has no ethtool table to install.

impl Pair {
    fn poll(&self, _ctx: PollContext<'_>, _budget: i32) -> i32 {
        0
    }
}

fn case(parent: &Device, _pair: &Arc<Pair>) -> Result {
    let extra = ExtraOps::<B>::new().ethtool();
    let _reg = Registration::<B>::new(parent, 1, 1, Arc::new(0, GFP_KERNEL)?, extra)?;
    Ok(())
}
