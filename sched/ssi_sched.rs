// SPDX-License-Identifier: GPL-2.0-only
//! ssi-rs global scheduler: load probes, policies, automatic migration.
//!
//! Skeleton: it loads after `ssi.ko` and reaches it through the C-ABI
//! mechanism of `Documentation/ssi/modules.rst`; the feature is not
//! implemented yet (see the README's feature table).

use kernel::prelude::*;

#[path = "../rust/ssi_api.rs"]
mod ssi_api;

module! {
    type: Skeleton,
    name: "ssi_sched",
    author: "ssi-rs",
    description: "ssi-rs global scheduler: load probes, policies, automatic migration (skeleton)",
    license: "GPL",
}

struct Skeleton;

impl kernel::Module for Skeleton {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        match ssi_api::node_id() {
            Some(id) => pr_info!("skeleton loaded on node {}\n", id),
            None => pr_info!("skeleton loaded, node id unset\n"),
        }
        Ok(Skeleton)
    }
}
