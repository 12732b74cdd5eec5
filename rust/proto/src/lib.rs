// SPDX-License-Identifier: GPL-2.0-only
//! no_std logic shared by the ssi-rs kernel modules and host `cargo test`.
//!
//! Every file under `src/` depends on `core` only: kernel modules include
//! them with `#[path]`, the host builds them as this crate.

#![no_std]
#![forbid(unsafe_code)]

pub mod cmsg;
pub mod codec;
pub mod dev;
pub mod dsm;
pub mod dynstreams;
pub mod flow;
pub mod ghost;
pub mod ghost_ioctl;
pub mod ipc;
pub mod knob;
pub mod membership;
pub mod migrate;
pub mod node_id;
pub mod pages;
pub mod proc_ssi;
pub mod procfs;
pub mod rfile;
pub mod sched;
pub mod task;
pub mod wire;
