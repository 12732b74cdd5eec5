// SPDX-License-Identifier: GPL-2.0-only
//! Calls into `ssi.ko` from the other ssi-rs modules.
//!
//! Rust-for-Linux in 6.12 cannot export Rust items across modules, so
//! `ssi.ko` exports a C ABI (`ssi/api.rs`, `ssi/exports.c`) and each
//! consumer includes this file with `#[path = "../rust/ssi_api.rs"] mod
//! ssi_api;`. modpost then records the dependency, so `ssi.ko` must be
//! loaded first and stays loaded while the consumer is.

#![allow(dead_code, unreachable_pub)]

use kernel::{error::Error, ffi::c_void, prelude::*};

#[path = "proto/src/node_id.rs"]
pub mod node_id;

#[path = "ssi_abi.rs"]
mod abi;

mod ffi {
    use kernel::ffi::c_void;

    pub use super::abi::{ChunkFn, Handler, Listener};

    extern "C" {
        pub fn ssi_node_id() -> u32;
        pub fn ssi_rpc_register(service: u16, handler: Option<Handler>, ctx: *mut c_void) -> i32;
        pub fn ssi_rpc_register_deferred(
            service: u16,
            handler: Option<Handler>,
            ctx: *mut c_void,
        ) -> i32;
        pub fn ssi_rpc_register_lane(
            service: u16,
            handler: Option<Handler>,
            ctx: *mut c_void,
        ) -> i32;
        pub fn ssi_rpc_unregister(service: u16);
        pub fn ssi_rpc_call(
            dst: u8,
            service: u16,
            req: *const u8,
            len: usize,
            resp: *mut u8,
            cap: usize,
            timeout_ms: u32,
        ) -> isize;
        pub fn ssi_rpc_call_killable(
            dst: u8,
            service: u16,
            req: *const u8,
            len: usize,
            resp: *mut u8,
            cap: usize,
            timeout_ms: u32,
        ) -> isize;
        pub fn ssi_send_oneway(dst: u8, service: u16, payload: *const u8, len: usize) -> i32;
        pub fn ssi_rpc_send_window(
            dst: u8,
            service: u16,
            next: Option<ChunkFn>,
            ctx: *mut c_void,
            window: u32,
            timeout_ms: u32,
        ) -> i64;
        pub fn ssi_members(out: *mut u8) -> i32;
        pub fn ssi_task_moved(pid: u32, node: u8) -> i32;
        pub fn ssi_membership_register(listener: Option<Listener>, ctx: *mut c_void) -> i32;
        pub fn ssi_membership_unregister(listener: Option<Listener>, ctx: *mut c_void);
    }
}

fn check(ret: i32) -> Result {
    if ret < 0 {
        Err(Error::from_errno(ret))
    } else {
        Ok(())
    }
}

/// This node's id, or `None` while it is unset.
pub fn node_id() -> Option<node_id::NodeId> {
    // SAFETY: `ssi_node_id` reads an atomic and has no preconditions; the
    // module loader guarantees `ssi.ko` is live while a dependent module is.
    node_id::NodeId::new(unsafe { ffi::ssi_node_id() })
}

/// Tells the core that process `pid` of this node runs on `node` (0: here
/// again, or ended): other nodes then see it described from there.
pub fn task_moved(pid: u32, node: u8) -> Result {
    // SAFETY: plain values; the core copies them.
    check(unsafe { ffi::ssi_task_moved(pid, node) })
}

/// The current members: bit N of byte N / 8 for node N.
pub fn members() -> Result<[u8; 32]> {
    let mut out = [0u8; 32];
    // SAFETY: `out` is writable for 32 bytes.
    check(unsafe { ffi::ssi_members(out.as_mut_ptr()) })?;
    Ok(out)
}

/// Calls `service` on node `dst`; the answer is copied into `resp`.
/// Returns its length. Must not be called from a handler or listener. A
/// signal ends the wait (`EINTR`).
pub fn call(dst: u8, service: u16, req: &[u8], resp: &mut [u8], timeout_ms: u32) -> Result<usize> {
    call_woken(dst, service, req, resp, timeout_ms, false)
}

/// [`call`] that only SIGKILL interrupts: for a page fault, which must
/// not fail because a signal arrived.
pub fn call_killable(
    dst: u8,
    service: u16,
    req: &[u8],
    resp: &mut [u8],
    timeout_ms: u32,
) -> Result<usize> {
    call_woken(dst, service, req, resp, timeout_ms, true)
}

fn call_woken(
    dst: u8,
    service: u16,
    req: &[u8],
    resp: &mut [u8],
    timeout_ms: u32,
    killable: bool,
) -> Result<usize> {
    let f = if killable {
        ffi::ssi_rpc_call_killable
    } else {
        ffi::ssi_rpc_call
    };
    // SAFETY: both buffers are valid for their lengths during the call.
    let n = unsafe {
        f(
            dst,
            service,
            req.as_ptr(),
            req.len(),
            resp.as_mut_ptr(),
            resp.len(),
            timeout_ms,
        )
    };
    if n < 0 {
        Err(Error::from_errno(n as i32))
    } else {
        Ok(n as usize)
    }
}

/// Calls `next` for a chunk until it returns 0.
///
/// # Safety
///
/// `ctx` must be the `&mut F` that `send_window` passed; `buf` writable
/// for `cap` bytes.
unsafe extern "C" fn chunk_trampoline<F: FnMut(&mut [u8]) -> Result<usize>>(
    ctx: *mut c_void,
    buf: *mut u8,
    cap: usize,
) -> isize {
    // SAFETY: guaranteed by the caller.
    let (next, buf) = unsafe {
        (
            &mut *ctx.cast::<F>(),
            core::slice::from_raw_parts_mut(buf, cap),
        )
    };
    match next(buf) {
        Ok(n) => n as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// Sends the chunks `next` writes (0: no more) to `service` on `dst` as
/// requests, up to `window` (at most 8) unanswered, each acknowledged: a
/// bulk transfer. Returns the bytes sent. Must not be called from a
/// handler or listener.
pub fn send_window<F: FnMut(&mut [u8]) -> Result<usize>>(
    dst: u8,
    service: u16,
    window: u32,
    timeout_ms: u32,
    mut next: F,
) -> Result<u64> {
    let ctx = (&mut next as *mut F).cast::<c_void>();
    // SAFETY: `ctx` is `&mut next`, alive and not otherwise used until the
    // call returns; the trampoline matches `F`.
    let n = unsafe {
        ffi::ssi_rpc_send_window(
            dst,
            service,
            Some(chunk_trampoline::<F>),
            ctx,
            window,
            timeout_ms,
        )
    };
    u64::try_from(n).map_err(|_| Error::from_errno(n as i32))
}

/// Sends a one-way message of `service` to `dst` (0: every other member),
/// flow-controlled end to end: waits (killably, up to 10 s) while `dst`
/// has not consumed enough of the earlier ones; `EHOSTDOWN` once `dst` is
/// not a member, `ENOBUFS` once after a message to `dst` came back
/// refused. On the core's receive thread it never waits.
pub fn send_oneway(dst: u8, service: u16, payload: &[u8]) -> Result {
    // SAFETY: `payload` is valid for its length during the call.
    check(unsafe { ffi::ssi_send_oneway(dst, service, payload.as_ptr(), payload.len()) })
}

/// An RPC service a module offers (ids from 256 up). Registered with
/// [`register_service`] it runs on the core's receive thread: must not
/// block or call [`call`]. Registered with [`register_deferred_service`]
/// it runs on the core's worker thread: may sleep briefly (it delays the
/// core's own blocking services), must not call [`call`].
pub trait Service: Sync + 'static {
    /// Answers a request from node `src` into `resp`; returns its length.
    fn handle(&self, src: u8, req: &[u8], resp: &mut [u8]) -> Result<usize>;
}

/// The C handler `register` gives ssi.ko for `S`.
///
/// # Safety
///
/// Called by ssi.ko only, with the `ctx` given to `ssi_rpc_register` (a
/// live `&S`), `len` readable bytes at `req` and `cap` writable at `resp`.
unsafe extern "C" fn service_trampoline<S: Service>(
    ctx: *mut c_void,
    src: u8,
    req: *const u8,
    len: usize,
    resp: *mut u8,
    cap: usize,
) -> isize {
    // SAFETY: `ctx` is the `&'static S` given to `register_service`; the
    // core passes buffers valid for their lengths.
    let (s, req, resp) = unsafe {
        (
            &*ctx.cast::<S>(),
            core::slice::from_raw_parts(req, len),
            core::slice::from_raw_parts_mut(resp, cap),
        )
    };
    match s.handle(src, req, resp) {
        Ok(n) => n as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// A registered service; unregistered on drop.
pub struct ServiceRegistration {
    service: u16,
}

/// Offers `s` as `service` until the registration is dropped.
pub fn register_service<S: Service>(service: u16, s: &'static S) -> Result<ServiceRegistration> {
    let ctx = (s as *const S).cast_mut().cast::<c_void>();
    // SAFETY: `s` lives forever and the trampoline matches its type.
    check(unsafe { ffi::ssi_rpc_register(service, Some(service_trampoline::<S>), ctx) })?;
    Ok(ServiceRegistration { service })
}

/// Offers `s` as `service`, served on the core's worker thread (see
/// [`Service`]), until the registration is dropped.
pub fn register_deferred_service<S: Service>(
    service: u16,
    s: &'static S,
) -> Result<ServiceRegistration> {
    let ctx = (s as *const S).cast_mut().cast::<c_void>();
    // SAFETY: `s` lives forever and the trampoline matches its type.
    check(unsafe { ffi::ssi_rpc_register_deferred(service, Some(service_trampoline::<S>), ctx) })?;
    Ok(ServiceRegistration { service })
}

/// Offers `s` as `service`, served on the core's second worker thread
/// (the lane), apart from the core's own blocking services and the other
/// deferred ones: for requests that a page fault waits on. The same rules
/// as [`register_deferred_service`].
pub fn register_lane_service<S: Service>(
    service: u16,
    s: &'static S,
) -> Result<ServiceRegistration> {
    let ctx = (s as *const S).cast_mut().cast::<c_void>();
    // SAFETY: `s` lives forever and the trampoline matches its type.
    check(unsafe { ffi::ssi_rpc_register_lane(service, Some(service_trampoline::<S>), ctx) })?;
    Ok(ServiceRegistration { service })
}

impl Drop for ServiceRegistration {
    fn drop(&mut self) {
        // SAFETY: returns once no call of the handler runs.
        unsafe { ffi::ssi_rpc_unregister(self.service) };
    }
}

/// Hears of nodes joining (`up`) and leaving the view. Runs on the core's
/// threads: must not block or call [`call`].
pub trait MembershipListener: Sync + 'static {
    /// `node` joined or left the view.
    fn changed(&self, node: u8, up: bool);
}

/// The C listener `register_listener` gives ssi.ko for `L`.
///
/// # Safety
///
/// Called by ssi.ko only, with the `ctx` given to `register_listener` (a
/// `&'static L`).
unsafe extern "C" fn listener_trampoline<L: MembershipListener>(
    ctx: *mut c_void,
    node: u8,
    up: bool,
) {
    // SAFETY: `ctx` is the `&'static L` given to `register_listener`.
    unsafe { &*ctx.cast::<L>() }.changed(node, up);
}

/// A registered listener; unregistered on drop.
pub struct ListenerRegistration {
    listener: ffi::Listener,
    ctx: *mut c_void,
}

// SAFETY: the context is a `&'static L` with `L: Sync`.
unsafe impl Send for ListenerRegistration {}
// SAFETY: as above.
unsafe impl Sync for ListenerRegistration {}

/// Registers `l` until the registration is dropped.
pub fn register_listener<L: MembershipListener>(l: &'static L) -> Result<ListenerRegistration> {
    let ctx = (l as *const L).cast_mut().cast::<c_void>();
    let listener: ffi::Listener = listener_trampoline::<L>;
    // SAFETY: `l` lives forever and the trampoline matches its type.
    check(unsafe { ffi::ssi_membership_register(Some(listener), ctx) })?;
    Ok(ListenerRegistration { listener, ctx })
}

impl Drop for ListenerRegistration {
    fn drop(&mut self) {
        // SAFETY: returns once no call of the listener runs.
        unsafe { ffi::ssi_membership_unregister(Some(self.listener), self.ctx) };
    }
}
