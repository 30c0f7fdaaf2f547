// expect: E0624 assume_locked
// A driver cannot claim the instance lock it does not hold.

impl Pair {
    fn poll(&self, _ctx: PollContext<'_>, _budget: i32) -> i32 {
        0
    }
}

fn case(parent: &Device, pair: &Arc<Pair>) -> Result {
    let reg = Registration::<A>::new(parent, 1, 1, Arc::new(0, GFP_KERNEL)?, ExtraOps::new())?;
    // SAFETY: none: this must not build.
    let dev = unsafe { LockedNetDevice::assume_locked(reg.dev()) };
    Napi::start(pair, dev, 0)?;
    Ok(())
}
