// SPDX-License-Identifier: GPL-2.0-only
//! ssi-rs containers: objects shared across the cluster.
//!
//! Done: SysV message queues, semaphores and shared memory that span the
//! cluster (`msg.rs`, `sem.rs`, `shm.rs`, Documentation/ssi/containers.rst);
//! the pages of a segment are kept coherent by the protocol of
//! `rust/proto/src/dsm/`. `/sys/kernel/ssi/containers/{msg,sem,shm}` count
//! the requests (and, for shm, the protocol's work).

use core::fmt::Write;
use kernel::{c_str, prelude::*, sync::Arc};

#[path = "../rust/kernel_ext/mod.rs"]
mod kernel_ext;
#[path = "../rust/proto/kernel.rs"]
mod proto;
#[path = "../rust/ssi_api.rs"]
mod ssi_api;

mod msg;
mod sem;
mod shm;

use kernel_ext::sysfs::{Attribute, ShowBuf, SysfsDir, SysfsParent};

module! {
    type: Containers,
    name: "ssi_containers",
    author: "ssi-rs",
    description: "ssi-rs containers: SysV message queues, semaphores and shared memory across the cluster",
    license: "GPL",
}

/// The sysfs directory's context (the counters are statics).
struct Ctx;

fn show(s: &msg::Stats, out: &mut ShowBuf<'_>) -> Result {
    writeln!(
        out,
        "sent {}\nserved {}\nmalformed {}\nrefused {}",
        msg::get(&s.sent),
        msg::get(&s.served),
        msg::get(&s.malformed),
        msg::get(&s.refused),
    )
    .map_err(|_| EINVAL)
}

fn show_msg(_: &Ctx, out: &mut ShowBuf<'_>) -> Result {
    show(&msg::STATS, out)
}

fn show_sem(_: &Ctx, out: &mut ShowBuf<'_>) -> Result {
    show(&sem::STATS, out)
}

fn show_shm(_: &Ctx, out: &mut ShowBuf<'_>) -> Result {
    show(&shm::STATS, out)?;
    let d = &shm::DSM;
    writeln!(
        out,
        "faults {}\npages_served {}\ninvalidations {}\nbytes {}\ndsm_malformed {}\ndsm_refused {}",
        msg::get(&d.faults),
        msg::get(&d.served),
        msg::get(&d.invalidations),
        msg::get(&d.bytes),
        msg::get(&d.malformed),
        msg::get(&d.refused),
    )
    .map_err(|_| EINVAL)
}

static ATTRS: [Attribute<Ctx>; 3] = [
    Attribute::ro(c_str!("msg"), show_msg),
    Attribute::ro(c_str!("sem"), show_sem),
    Attribute::ro(c_str!("shm"), show_shm),
];

static SERVICE: msg::Service = msg::Service;
static DSM_SERVICE: shm::DsmService = shm::DsmService;

/// Fields drop in order: the kernel's hook first, then the services, then
/// the segments' table they reach.
struct Containers {
    _hook: kernel_ext::ipc::Registration<msg::Queues, sem::Sets, shm::Segments>,
    _service: ssi_api::ServiceRegistration,
    _dsm: ssi_api::ServiceRegistration,
    _shm: shm::Started,
    _sysfs: SysfsDir<Ctx>,
}

impl kernel::Module for Containers {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let parent = SysfsParent::ssi().ok_or(ENODEV)?;
        let sysfs = SysfsDir::new_in(
            parent,
            c_str!("containers"),
            &ATTRS,
            Arc::new(Ctx, GFP_KERNEL)?,
        )?;
        let started = shm::start()?;
        let service = ssi_api::register_deferred_service(proto::ipc::SERVICE, &SERVICE)?;
        let dsm = ssi_api::register_lane_service(shm::DSM_SERVICE, &DSM_SERVICE)?;
        let hook = kernel_ext::ipc::Registration::new(module)?;
        pr_info!(
            "loaded on node {}: SysV message queues, semaphores and shared memory across the cluster\n",
            msg::me()
        );
        Ok(Containers {
            _hook: hook,
            _service: service,
            _dsm: dsm,
            _shm: started,
            _sysfs: sysfs,
        })
    }
}
