// expect: E0133 assume_locked
// Safe code cannot claim an instance lock: only an unsafe call, whose caller promises that
// the lock is held (as C does when it calls devmem-rs's boundary), makes a LockedNetDevice.

impl Pair {
    fn poll(&self, _ctx: PollContext<'_>, _budget: i32) -> i32 {
        0
    }
}

fn case(parent: &Device, pair: &Arc<Pair>) -> Result {
    let reg = Registration::<A>::new(parent, 1, 1, Arc::new(0, GFP_KERNEL)?, ExtraOps::new())?;
    let dev = LockedNetDevice::assume_locked(reg.dev());
    Napi::start(pair, dev, 0, None)?;
    Ok(())
}
