// SPDX-License-Identifier: GPL-2.0-only
//! ssi-rs core: node identity and `/sys/kernel/ssi/`.

use core::sync::atomic::{AtomicU32, Ordering};
use kernel::{c_str, prelude::*};

#[path = "../rust/kernel_ext/mod.rs"]
mod kernel_ext;
#[path = "../rust/proto/kernel.rs"]
mod proto;

mod knobs;

use kernel_ext::sysfs::SysfsDir;
use proto::node_id::NodeId;

module! {
    type: Ssi,
    name: "ssi",
    author: "ssi-rs",
    description: "ssi-rs core: node identity and cluster administration",
    license: "GPL",
}

/// This node's id; 0 while unset.
static NODE_ID: AtomicU32 = AtomicU32::new(0);

extern "C" {
    /// The `node_id` module parameter, declared in `exports.c`.
    fn ssi_param_node_id() -> u32;
}

/// This node's id (0 if unset), exported to the other modules by `exports.c`.
#[no_mangle]
pub extern "C" fn ssi_node_id() -> u32 {
    NODE_ID.load(Ordering::Relaxed)
}

pub(crate) fn node_id() -> Option<NodeId> {
    NodeId::new(NODE_ID.load(Ordering::Relaxed))
}

pub(crate) fn set_node_id(id: NodeId) {
    NODE_ID.store(id.get(), Ordering::Relaxed);
}

struct Ssi {
    _sysfs: SysfsDir,
}

impl kernel::Module for Ssi {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        // SAFETY: reads a module parameter that the loader set before init.
        let raw = unsafe { ssi_param_node_id() };
        match (raw, NodeId::new(raw)) {
            (0, _) => pr_info!("loaded, node id unset\n"),
            (_, Some(id)) => {
                set_node_id(id);
                pr_info!("loaded as node {}\n", id);
            }
            (_, None) => {
                pr_err!("node_id={} is outside 1..=255\n", raw);
                return Err(EINVAL);
            }
        }
        let sysfs = SysfsDir::new(c_str!("ssi"), &knobs::ATTRS)?;
        Ok(Ssi { _sysfs: sysfs })
    }
}

impl Drop for Ssi {
    fn drop(&mut self) {
        pr_info!("unloaded\n");
    }
}
