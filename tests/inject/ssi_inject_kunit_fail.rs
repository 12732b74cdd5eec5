// SPDX-License-Identifier: GPL-2.0-only
//! A KUnit suite with one failing case: proves `make test` turns red.

use kernel::prelude::*;

#[path = "../../rust/kernel_ext/mod.rs"]
mod kernel_ext;

use kernel_ext::kunit::Test;

module! {
    type: InjectKunitFail,
    name: "ssi_inject_kunit_fail",
    author: "ssi-rs",
    description: "Deliberately failing KUnit case (test-harness self-check)",
    license: "GPL",
}

struct InjectKunitFail;

impl kernel::Module for InjectKunitFail {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        Ok(InjectKunitFail)
    }
}

fn deliberately_fails(t: &Test) {
    let two = core::hint::black_box(2);
    kunit_expect!(t, two + 2 == 5);
}

kunit_suite!(name: "ssi_inject", cases: [deliberately_fails]);
