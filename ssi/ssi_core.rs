// SPDX-License-Identifier: GPL-2.0-only
//! ssi-rs core: cluster membership and messaging over TIPC, administered
//! through `/sys/kernel/ssi/`.

// `Core`'s `pin_init!` expands past the default limit of 128.
#![recursion_limit = "256"]

use kernel::{c_str, prelude::*, sync::Arc};

/// `ssi_api.h`, every C entry point of `ssi.ko` (generated, `Kbuild`).
#[path = "../rust/ssi_api_generated.rs"]
mod header;
#[path = "../rust/kernel_ext/mod.rs"]
mod kernel_ext;
#[path = "../rust/proto/kernel.rs"]
mod proto;

mod bench;
mod cluster;
mod devices;
pub mod entry;
mod flow;
mod globalproc;
mod knobs;
mod layout;
mod migrator;
mod rpc;
mod stats;
mod tasks;
mod transport;
mod worker;

use cluster::Core;
use kernel_ext::{hooks, sysfs::SysfsDir, tipc};
use proto::node_id::NodeId;

module! {
    type: Ssi,
    name: "ssi",
    author: "ssi-rs",
    description: "ssi-rs core: cluster membership and messaging over TIPC",
    license: "GPL",
}

/// The TIPC link tolerance for a failure timeout: TIPC declares a link lost
/// up to a quarter tolerance after the tolerance itself (its probe period),
/// so 4/5 of the timeout keeps detection within the timeout.
pub(crate) fn link_tolerance(failure_timeout_ms: u32) -> u32 {
    (failure_timeout_ms / 5 * 4).max(50)
}

/// Fields drop in this order: the kernel's hooks first, then the device
/// nodes, the files, and the threads last.
struct Ssi {
    _proc: ProcHooks,
    _sysfs_published: SysfsPublished,
    _published: Published,
    _pid_node: PidNode,
    _devices: devices::Devices,
    _sysfs: SysfsDir<Core>,
    _threads: transport::Threads,
}

/// New processes take their PIDs from this node's range while it lives.
struct PidNode;

impl PidNode {
    fn new(me: NodeId) -> Result<Self> {
        hooks::set_pid_node(me.get())?;
        Ok(PidNode)
    }
}

impl Drop for PidNode {
    fn drop(&mut self) {
        let _ = hooks::set_pid_node(0);
    }
}

/// The core, published to the other modules' calls while it lives.
struct Published;

impl Published {
    fn new(core: &Arc<Core>) -> Self {
        entry::publish(core);
        Published
    }
}

impl Drop for Published {
    fn drop(&mut self) {
        entry::withdraw();
    }
}

/// `/sys/kernel/ssi`, published for the other modules' directories while
/// it lives.
struct SysfsPublished;

impl SysfsPublished {
    fn new(dir: &SysfsDir<Core>) -> Self {
        entry::publish_sysfs(dir.kobj());
        SysfsPublished
    }
}

impl Drop for SysfsPublished {
    fn drop(&mut self) {
        entry::publish_sysfs(core::ptr::null_mut());
    }
}

/// The kernel's /proc hooks, registered while it lives.
struct ProcHooks;

impl ProcHooks {
    fn register() -> Result<Self> {
        // SAFETY: registers a static ops table of this module; undone in
        // drop, before the module's text goes.
        let ret = unsafe { header::ssi_glue_proc_register() };
        if ret != 0 {
            return Err(Error::from_errno(ret));
        }
        Ok(ProcHooks)
    }
}

impl Drop for ProcHooks {
    fn drop(&mut self) {
        // SAFETY: undoes `register`; returns after running calls are done.
        unsafe { header::ssi_glue_proc_unregister() };
    }
}

impl kernel::Module for Ssi {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        // SAFETY: reads a module parameter that the loader set before init.
        let raw = unsafe { header::ssi_param_node_id() };
        let Some(me) = NodeId::new(raw) else {
            pr_err!("node_id={} must be given, in 1..=255\n", raw);
            return Err(EINVAL);
        };
        let core = Core::new(me).inspect_err(|e| {
            pr_err!(
                "TIPC is not usable (error {}): is a bearer enabled?\n",
                e.to_errno()
            );
        })?;
        if let Err(e) = tipc::set_link_tolerance(link_tolerance(1000)) {
            pr_warn!(
                "link tolerance not applied (error {}): no bearer yet\n",
                e.to_errno()
            );
        }
        // One-way flow control follows the view, before any module does.
        flow::register(&core)?;
        // The built-in services, in the table the modules' go to.
        bench::register(&core)?;
        globalproc::register(&core)?;
        tasks::register(&core)?;
        // Each step is undone by its guard if a later one fails.
        let pid_node = PidNode::new(me)?;
        let threads = transport::Threads::start(&core)?;
        let published = Published::new(&core);
        let devices = devices::Devices::start(&core)?;
        let proc = ProcHooks::register()?;
        let sysfs = SysfsDir::new(c_str!("ssi"), &knobs::ATTRS, core)?;
        let sysfs_published = SysfsPublished::new(&sysfs);
        pr_info!("node {} started\n", me);
        Ok(Ssi {
            _proc: proc,
            _sysfs_published: sysfs_published,
            _published: published,
            _pid_node: pid_node,
            _devices: devices,
            _sysfs: sysfs,
            _threads: threads,
        })
    }
}

impl Drop for Ssi {
    fn drop(&mut self) {
        pr_info!("stopping\n");
    }
}
