// SPDX-License-Identifier: GPL-2.0-only
//! Calls into `ssi.ko` from the other ssi-rs modules.
//!
//! Rust-for-Linux in 6.12 cannot export Rust items across modules, so
//! `ssi.ko` exports a C ABI (`ssi/exports.c`) and each consumer includes
//! this file with `#[path = "../rust/ssi_api.rs"] mod ssi_api;`. modpost
//! then records the dependency, so `ssi.ko` must be loaded first.

#![allow(dead_code, unreachable_pub)]

#[path = "proto/src/node_id.rs"]
pub mod node_id;

mod ffi {
    extern "C" {
        pub fn ssi_node_id() -> u32;
    }
}

/// This node's id, or `None` while it is unset.
pub fn node_id() -> Option<node_id::NodeId> {
    // SAFETY: `ssi_node_id` reads an atomic and has no preconditions; the
    // module loader guarantees `ssi.ko` is live while a dependent module is.
    node_id::NodeId::new(unsafe { ffi::ssi_node_id() })
}
