// SPDX-License-Identifier: GPL-2.0-only
//! Types of the C ABI between `ssi.ko` and the other modules, shared by
//! both sides (`ssi/api.rs` and `rust/ssi_api.rs`).

#![allow(dead_code, unreachable_pub)]

use kernel::ffi::c_void;

/// A module's RPC handler: fills `resp` (capacity `cap`) and returns its
/// length, or a negative errno sent back as the response status.
pub type Handler = unsafe extern "C" fn(
    ctx: *mut c_void,
    src: u8,
    req: *const u8,
    len: usize,
    resp: *mut u8,
    cap: usize,
) -> isize;

/// A module's membership listener: `node` joined (`up`) or left the view.
pub type Listener = unsafe extern "C" fn(ctx: *mut c_void, node: u8, up: bool);

/// A module's chunk source for `ssi_rpc_send_window`: writes the next chunk
/// into `buf` (capacity `cap`) and returns its length, 0 at the end, or a
/// negative errno that aborts the transfer.
pub type ChunkFn = unsafe extern "C" fn(ctx: *mut c_void, buf: *mut u8, cap: usize) -> isize;
