// SPDX-License-Identifier: GPL-2.0-only
//! ssi-rs global scheduler: load probes, policies, automatic migration.
//!
//! Skeleton: it follows the cluster's membership through the core's
//! listener API (Documentation/ssi/modules.rst) and logs each change; the
//! scheduler itself is not implemented yet (see the README's feature table).

use kernel::prelude::*;

#[path = "../rust/ssi_api.rs"]
mod ssi_api;

use ssi_api::{ListenerRegistration, MembershipListener};

module! {
    type: Sched,
    name: "ssi_sched",
    author: "ssi-rs",
    description: "ssi-rs global scheduler (skeleton)",
    license: "GPL",
}

struct Log;

impl MembershipListener for Log {
    fn changed(&self, node: u8, up: bool) {
        pr_info!(
            "node {} {} the view\n",
            node,
            if up { "joined" } else { "left" }
        );
    }
}

static LOG: Log = Log;

struct Sched {
    _listener: ListenerRegistration,
}

impl kernel::Module for Sched {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let listener = ssi_api::register_listener(&LOG)?;
        match ssi_api::node_id() {
            Some(id) => pr_info!("skeleton loaded on node {}\n", id),
            None => pr_info!("skeleton loaded, node id unset\n"),
        }
        Ok(Sched {
            _listener: listener,
        })
    }
}
