// SPDX-License-Identifier: GPL-2.0-only
//! Oopses on load: proves `make test` turns red on a kernel oops.

use kernel::prelude::*;

module! {
    type: InjectOops,
    name: "ssi_inject_oops",
    author: "ssi-rs",
    description: "Deliberate oops on load (test-harness self-check)",
    license: "GPL",
}

struct InjectOops;

impl kernel::Module for InjectOops {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let addr = core::hint::black_box(0x10usize) as *const u64;
        // SAFETY: none; this module exists to fault. The read hits the
        // unmapped first page and the kernel oopses, killing `insmod`.
        let value = unsafe { core::ptr::read_volatile(addr) };
        pr_err!("read {} from an unmapped address\n", value);
        Err(EINVAL)
    }
}
