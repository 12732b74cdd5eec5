// SPDX-License-Identifier: GPL-2.0-only
//! Which nodes left the view: the generation of each node in the
//! module's [`crate::DEPARTED`] (`ssi_api::Departures`), bumped when it
//! leaves. A proxy whose anchor's generation changed treats its pipe as
//! closed by the other side; the anchor drops the handles of such nodes.

use crate::ssi_api;

/// The generation of `node` now.
pub(crate) fn generation(node: u8) -> u32 {
    crate::DEPARTED.generation(node)
}

/// This node's id (0 while unset).
pub(crate) fn me() -> u8 {
    ssi_api::node_id().map_or(0, |n| n.get() as u8)
}
