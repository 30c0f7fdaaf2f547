// expect: E0308 ExtraOps
// A device of `B` cannot get the ethtool table of `A`, whose callbacks would read `B`'s
// data as `A`'s.

impl Pair {
    fn poll(&self, _ctx: PollContext<'_>, _budget: i32) -> i32 {
        0
    }
}

fn case(parent: &Device, _pair: &Arc<Pair>) -> Result {
    let extra = ExtraOps::<A>::new().ethtool();
    let _reg = Registration::<B>::new(parent, 1, 1, Arc::new(0, GFP_KERNEL)?, extra)?;
    Ok(())
}
