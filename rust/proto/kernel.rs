// SPDX-License-Identifier: GPL-2.0-only
//! The `ssi-proto` sources, for kernel modules:
//! `#[path = "../rust/proto/kernel.rs"] mod proto;`

#![allow(dead_code, unreachable_pub, unused_imports)]
#![forbid(unsafe_code)]

#[path = "src/cmsg.rs"]
pub mod cmsg;
#[path = "src/codec.rs"]
pub mod codec;
#[path = "src/dev.rs"]
pub mod dev;
#[path = "src/dsm/mod.rs"]
pub mod dsm;
#[path = "src/dynstreams/mod.rs"]
pub mod dynstreams;
#[path = "src/flow.rs"]
pub mod flow;
#[path = "src/ghost/mod.rs"]
pub mod ghost;
#[path = "src/ghost_ioctl.rs"]
pub mod ghost_ioctl;
#[path = "src/ipc.rs"]
pub mod ipc;
#[path = "src/knob.rs"]
pub mod knob;
#[path = "src/membership.rs"]
pub mod membership;
#[path = "src/migrate.rs"]
pub mod migrate;
#[path = "src/node_id.rs"]
pub mod node_id;
#[path = "src/pages.rs"]
pub mod pages;
#[path = "src/proc_ssi.rs"]
pub mod proc_ssi;
#[path = "src/procfs.rs"]
pub mod procfs;
#[path = "src/rfile.rs"]
pub mod rfile;
#[path = "src/sched.rs"]
pub mod sched;
#[path = "src/task.rs"]
pub mod task;
#[path = "src/wire.rs"]
pub mod wire;
