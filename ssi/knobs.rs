// SPDX-License-Identifier: GPL-2.0-only
//! The files of `/sys/kernel/ssi/`.

use crate::kernel_ext::sysfs::{Attribute, ShowBuf};
use crate::proto::knob;
use core::fmt::Write;
use kernel::{c_str, prelude::*};

pub(crate) static ATTRS: [Attribute; 1] =
    [Attribute::rw(c_str!("node_id"), show_node_id, store_node_id)];

/// `node_id`: this node's id, 0 while unset.
fn show_node_id(out: &mut ShowBuf<'_>) -> Result {
    let id = crate::node_id().map_or(0, |id| id.get());
    writeln!(out, "{id}").map_err(|_| EINVAL)
}

/// Accepts a decimal in 1..=255 (a trailing newline is allowed).
fn store_node_id(buf: &[u8]) -> Result {
    let id = knob::parse_node_id(buf).map_err(|_| EINVAL)?;
    crate::set_node_id(id);
    Ok(())
}
