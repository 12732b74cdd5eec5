// SPDX-License-Identifier: GPL-2.0-only
//! Which nodes left the view: a generation per node, bumped when it
//! leaves. A proxy whose anchor's generation changed treats its pipe as
//! closed by the other side; the anchor drops the handles of such nodes.

use core::sync::atomic::{AtomicU32, Ordering};

use crate::ssi_api;

static GENERATION: [AtomicU32; 256] = [const { AtomicU32::new(0) }; 256];

/// The generation of `node` now.
pub(crate) fn generation(node: u8) -> u32 {
    GENERATION[usize::from(node)].load(Ordering::Acquire)
}

/// Bumps the generation of nodes that leave (never blocks).
struct Watch;

impl ssi_api::MembershipListener for Watch {
    fn changed(&self, node: u8, up: bool) {
        if !up {
            GENERATION[usize::from(node)].fetch_add(1, Ordering::AcqRel);
        }
    }
}

static WATCH: Watch = Watch;

/// Follows the view until dropped.
pub(crate) fn watch() -> kernel::prelude::Result<ssi_api::ListenerRegistration> {
    ssi_api::register_listener(&WATCH)
}

/// This node's id (0 while unset).
pub(crate) fn me() -> u8 {
    ssi_api::node_id().map_or(0, |n| n.get() as u8)
}
