// expect: E0308 LockedNetDevice
// NAPI is added and enabled only under the device's instance lock.

impl Pair {
    fn poll(&self, _ctx: PollContext<'_>, _budget: i32) -> i32 {
        0
    }
}

fn case(parent: &Device, pair: &Arc<Pair>) -> Result {
    let reg = Registration::<A>::new(parent, 1, 1, Arc::new(0, GFP_KERNEL)?, ExtraOps::new())?;
    Napi::start(pair, reg.dev(), 0, None)?;
    Ok(())
}
