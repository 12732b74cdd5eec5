// SPDX-License-Identifier: GPL-2.0-only
//! ssi-rs containers: objects shared across the cluster.
//!
//! Done: SysV message queues and semaphores that span the cluster
//! (`msg.rs`, `sem.rs`, Documentation/ssi/containers.rst). Not done yet:
//! the coherent distributed shared memory (its protocol is model-checked
//! in `rust/proto/src/dsm/`), SysV shared memory.
//! `/sys/kernel/ssi/containers/{msg,sem}` count the requests.

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

use kernel_ext::sysfs::{Attribute, ShowBuf, SysfsDir, SysfsParent};

module! {
    type: Containers,
    name: "ssi_containers",
    author: "ssi-rs",
    description: "ssi-rs containers: SysV message queues and semaphores across the cluster",
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

static ATTRS: [Attribute<Ctx>; 2] = [
    Attribute::ro(c_str!("msg"), show_msg),
    Attribute::ro(c_str!("sem"), show_sem),
];

static SERVICE: msg::Service = msg::Service;

/// Fields drop in order: the kernel's hook first, then the service.
struct Containers {
    _hook: kernel_ext::ipc::Registration<msg::Queues, sem::Sets>,
    _service: ssi_api::ServiceRegistration,
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
        let service = ssi_api::register_deferred_service(proto::ipc::SERVICE, &SERVICE)?;
        let hook = kernel_ext::ipc::Registration::new(module)?;
        pr_info!(
            "loaded on node {}: SysV message queues and semaphores across the cluster\n",
            msg::me()
        );
        Ok(Containers {
            _hook: hook,
            _service: service,
            _sysfs: sysfs,
        })
    }
}
