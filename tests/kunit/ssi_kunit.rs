// SPDX-License-Identifier: GPL-2.0-only
//! KUnit suites for the ssi-rs kernel-side pieces; they run when this
//! module loads (after `ssi.ko`).

use core::fmt::Write;
use kernel::{alloc::flags::GFP_KERNEL, c_str, prelude::*, sync::Arc};

#[path = "../../rust/kernel_ext/mod.rs"]
mod kernel_ext;
#[path = "../../rust/proto/kernel.rs"]
mod proto;
#[path = "../../rust/ssi_api.rs"]
mod ssi_api;

use kernel_ext::kunit::Test;
use kernel_ext::sysfs::{Attribute, ShowBuf, SysfsDir};
use proto::knob::{parse_node_id, KnobError};

module! {
    type: SsiKunit,
    name: "ssi_kunit",
    author: "ssi-rs",
    description: "KUnit suites for ssi-rs",
    license: "GPL",
}

struct SsiKunit;

impl kernel::Module for SsiKunit {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        Ok(SsiKunit)
    }
}

fn knob_accepts_node_ids(t: &Test) {
    kunit_expect!(t, parse_node_id(b"1").map(|i| i.get()) == Ok(1));
    kunit_expect!(t, parse_node_id(b"255\n").map(|i| i.get()) == Ok(255));
}

fn knob_rejects_bad_writes(t: &Test) {
    kunit_expect!(t, parse_node_id(b"0") == Err(KnobError::OutOfRange));
    kunit_expect!(t, parse_node_id(b"256") == Err(KnobError::OutOfRange));
    kunit_expect!(t, parse_node_id(b"") == Err(KnobError::Empty));
    kunit_expect!(t, parse_node_id(b"1 ") == Err(KnobError::NotDecimal));
    kunit_expect!(t, parse_node_id(b"4294967296") == Err(KnobError::OutOfRange));
}

kunit_suite!(name: "ssi_proto", cases: [knob_accepts_node_ids, knob_rejects_bad_writes]);

fn showbuf_bounds(t: &Test) {
    let mut page = [0u8; 8];
    let mut out = ShowBuf::new(&mut page);
    kunit_expect!(t, write!(out, "1234").is_ok());
    kunit_expect!(t, write!(out, "56789").is_err());
    kunit_expect!(t, out.as_bytes() == b"1234");
    kunit_expect!(t, write!(out, "5678").is_ok());
    kunit_expect!(t, out.as_bytes() == b"12345678");
}

struct Probe(u32);

fn show_probe(p: &Probe, out: &mut ShowBuf<'_>) -> Result {
    writeln!(out, "{}", p.0).map_err(|_| EINVAL)
}

static PROBE_ATTRS: [Attribute<Probe>; 1] = [Attribute::ro(c_str!("probe"), show_probe)];

fn sysfs_dir_create_and_remove(t: &Test) {
    let Ok(ctx) = Arc::new(Probe(7), GFP_KERNEL) else {
        return kunit_expect!(t, false);
    };
    let first = SysfsDir::new(c_str!("ssi_kunit_probe"), &PROBE_ATTRS, ctx.clone());
    kunit_expect!(t, first.is_ok());
    drop(first);
    // The name is free again only if drop removed the directory.
    let second = SysfsDir::new(c_str!("ssi_kunit_probe"), &PROBE_ATTRS, ctx.clone());
    kunit_expect!(t, second.is_ok());
    drop(second);
    // Only our reference remains: the directory released its own.
    kunit_expect!(t, ctx.into_unique_or_drop().is_some());
}

kunit_suite!(name: "ssi_kernel_ext", cases: [showbuf_bounds, sysfs_dir_create_and_remove]);

fn core_reports_node_id(t: &Test) {
    // The harness always loads ssi.ko with node_id=K.
    kunit_expect!(t, ssi_api::node_id().is_some());
}

kunit_suite!(name: "ssi_api", cases: [core_reports_node_id]);
