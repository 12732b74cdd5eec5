// SPDX-License-Identifier: GPL-2.0-only
//! ssi-rs global scheduler: load probes, policies chosen at run time,
//! automatic migration (Documentation/ssi/sched.rst).
//!
//! Each node samples its run queue and its processes (`probe.rs`) and
//! multicasts its probe every period; every node keeps the others'
//! (`cluster.rs`), and its balancer thread (`balance.rs`) asks the policy
//! in force (`rust/proto/src/sched.rs`) which of its processes go where,
//! then moves them through the ghost module's migration. The settings,
//! in `/sys/kernel/ssi/sched/` (`knobs.rs`), are the same on every node;
//! a write to `/sys/kernel/ssi/remove` drains the node first (`retire.rs`).

// `State`'s `pin_init!` has more fields than the default limit expands.
#![recursion_limit = "256"]

use kernel::prelude::*;
use kernel::{alloc::flags::GFP_KERNEL, c_str, sync::Arc};

#[path = "../rust/kernel_ext/mod.rs"]
mod kernel_ext;
#[path = "../rust/proto/kernel.rs"]
mod proto;
#[path = "../rust/ssi_api.rs"]
mod ssi_api;

mod balance;
mod cluster;
mod knobs;
mod place;
mod probe;
mod retire;

use kernel_ext::kthread::KThread;
use kernel_ext::sysfs::{SysfsDir, SysfsParent};
use ssi_api::{
    DrainerRegistration, ListenerRegistration, MembershipListener, OwnedServiceRegistration,
};

module! {
    type: Sched,
    name: "ssi_sched",
    author: "ssi-rs",
    description: "ssi-rs global scheduler: load probes, policies, automatic migration",
    license: "GPL",
}

/// Logs membership changes (which `make test` checks after a crash).
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
    // Dropped first: no file is read or written once it is gone.
    _sysfs: SysfsDir<cluster::State>,
    // No program is placed at `execve` once it is gone.
    _placement: place::Placement,
    // Then the drain `remove` runs (withdrawing it waits for one running).
    _drainer: DrainerRegistration<cluster::State>,
    // The balancer before the prober, whose ticks it waits for.
    _balancer: KThread,
    _prober: KThread,
    _service: OwnedServiceRegistration<cluster::State>,
    _listener: ListenerRegistration,
}

impl kernel::Module for Sched {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let listener = ssi_api::register_listener(&LOG)?;
        let st = Arc::pin_init(cluster::State::new()?, GFP_KERNEL)?;
        let service = ssi_api::register_service_arc(cluster::SERVICE, st.clone())?;
        let s = st.clone();
        let prober = KThread::spawn(c_str!("ssi_sched_probe"), move || probe::run(&s))?;
        let s = st.clone();
        let balancer = KThread::spawn(c_str!("ssi_sched"), move || balance::run(&s))?;
        let drainer = ssi_api::register_drainer(st.clone())?;
        let parent = SysfsParent::ssi().ok_or(ENODEV)?;
        let sysfs = SysfsDir::new_in(parent, c_str!("sched"), &knobs::ATTRS, st.clone())?;
        let placement = place::Placement::start(module, &st)?;
        match ssi_api::node_id() {
            Some(id) => pr_info!("loaded on node {}, /sys/kernel/ssi/sched\n", id.get()),
            None => pr_info!("loaded, node id unset, /sys/kernel/ssi/sched\n"),
        }
        Ok(Sched {
            _sysfs: sysfs,
            _placement: placement,
            _drainer: drainer,
            _balancer: balancer,
            _prober: prober,
            _service: service,
            _listener: listener,
        })
    }
}
