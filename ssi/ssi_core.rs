// SPDX-License-Identifier: GPL-2.0-only
//! ssi-rs core: cluster membership and messaging over TIPC, administered
//! through `/sys/kernel/ssi/`.

// `Core`'s `pin_init!` expands past the default limit of 128.
#![recursion_limit = "256"]

use kernel::{c_str, prelude::*};

#[path = "../rust/ssi_abi.rs"]
mod abi;
#[path = "../rust/kernel_ext/mod.rs"]
mod kernel_ext;
#[path = "../rust/proto/kernel.rs"]
mod proto;

pub mod api;
mod cluster;
mod devices;
pub mod globalproc;
mod knobs;
mod rpc;
mod stats;
pub mod tasks;
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

extern "C" {
    /// The `node_id` module parameter, declared in `exports.c`.
    fn ssi_param_node_id() -> u32;
    /// Registers `ssi_rs_proc_show` with the kernel's /proc hook.
    fn ssi_glue_proc_register() -> i32;
    fn ssi_glue_proc_unregister();
}

/// This node's id, exported to the other modules by `exports.c`.
#[no_mangle]
pub extern "C" fn ssi_node_id() -> u32 {
    api::with_core(|core| u32::from(core.me()), 0)
}

/// The TIPC link tolerance for a failure timeout: TIPC declares a link lost
/// up to a quarter tolerance after the tolerance itself (its probe period),
/// so 4/5 of the timeout keeps detection within the timeout.
pub(crate) fn link_tolerance(failure_timeout_ms: u32) -> u32 {
    (failure_timeout_ms / 5 * 4).max(50)
}

struct Ssi {
    // Dropped in this order: the device nodes, the files, then the threads.
    _devices: devices::Devices,
    _sysfs: SysfsDir<Core>,
    _threads: transport::Threads,
}

impl kernel::Module for Ssi {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        // SAFETY: reads a module parameter that the loader set before init.
        let raw = unsafe { ssi_param_node_id() };
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
        // Global PIDs: new processes get PIDs from this node's range.
        hooks::set_pid_node(me.get())?;
        let threads = transport::Threads::start(&core).inspect_err(|_| {
            let _ = hooks::set_pid_node(0);
        })?;
        api::publish(&core);
        let devices = devices::Devices::start(&core).inspect_err(|_| {
            api::withdraw();
            let _ = hooks::set_pid_node(0);
        })?;
        // SAFETY: registers a static ops table of this module; undone in drop.
        let ret = unsafe { ssi_glue_proc_register() };
        if ret != 0 {
            api::withdraw();
            let _ = hooks::set_pid_node(0);
            return Err(Error::from_errno(ret));
        }
        let sysfs = SysfsDir::new(c_str!("ssi"), &knobs::ATTRS, core)?;
        api::publish_sysfs(sysfs.kobj());
        pr_info!("node {} started\n", me);
        Ok(Ssi {
            _devices: devices,
            _sysfs: sysfs,
            _threads: threads,
        })
    }
}

impl Drop for Ssi {
    fn drop(&mut self) {
        // SAFETY: undoes the registration of init; returns after running
        // calls are done.
        unsafe { ssi_glue_proc_unregister() };
        api::publish_sysfs(core::ptr::null_mut());
        api::withdraw();
        let _ = hooks::set_pid_node(0);
        pr_info!("stopped\n");
    }
}
