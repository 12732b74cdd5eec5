// SPDX-License-Identifier: GPL-2.0-only
//! Safe abstractions over `kernel::bindings` used by the ssi-rs modules.
//!
//! Rust-for-Linux in 6.12 cannot export Rust items across modules, so each
//! module compiles this source in with
//! `#[path = "../rust/kernel_ext/mod.rs"] mod kernel_ext;`.
//! Every raw binding the modules need is wrapped here once.

#![allow(dead_code, unreachable_pub)]

pub mod chrdev;
pub mod cred;
pub mod errno;
pub mod exec;
pub mod file;
pub mod fs;
pub mod global;
pub mod hmac;
pub mod hooks;
pub mod ipc;
pub mod kthread;
pub mod kunit;
pub mod load;
pub mod migrate;
pub mod mm;
pub mod pid;
pub mod poll;
pub mod regset;
pub mod remote;
pub mod rlimit;
pub mod seq;
pub mod signal;
pub mod sock;
pub mod stream;
pub mod sysfs;
pub mod task;
pub mod task_work;
pub mod tipc;
pub mod vec;
