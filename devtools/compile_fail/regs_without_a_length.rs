// expect: E0080 REGS_LEN EthtoolTable::<B>::OPS
// A register dump needs its length: without `REGS_LEN` the ops table does not build.

#[vtable]
impl EthtoolOps for B {
    fn get_regs(_: &u64, _: &NetDevice, _buf: &mut [u8]) -> u32 {
        1
    }
}

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

// Constants are evaluated in the code generated from them: this makes `case` generated.
#[used]
static ROOT: fn(&Device, &Arc<Pair>) -> Result = case;
