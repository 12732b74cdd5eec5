// SPDX-License-Identifier: GPL-2.0-only
//! The C ABI through which the other ssi-rs modules use the core
//! (exported by `exports.c`; the consumer side is `rust/ssi_api.rs`).
//!
//! Every function may be called only while `ssi.ko` is live, which the
//! module loader guarantees to its dependents. Handlers and listeners run
//! on the core's receive and topology threads: they must not block, nor
//! call `ssi_rpc_call`, nor (un)register anything.

use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::{alloc::flags::GFP_KERNEL, bindings, ffi::c_void, prelude::*, sync::Arc};

use crate::cluster::{Core, Handler, Listener, ListenerEntry, ServiceEntry};
use crate::kernel_ext::vec;
use crate::proto::wire::MAX_PAYLOAD;
use crate::rpc::{self, FIRST_MODULE_SERVICE};

/// The running core, for the exported functions; null before init and
/// after exit.
static CORE: AtomicPtr<Core> = AtomicPtr::new(core::ptr::null_mut());

/// `/sys/kernel/ssi`, for the other modules' directories.
static SYSFS_DIR: AtomicPtr<bindings::kobject> = AtomicPtr::new(core::ptr::null_mut());

/// Publishes `/sys/kernel/ssi` (null: withdraws it).
pub(crate) fn publish_sysfs(kobj: *mut bindings::kobject) {
    SYSFS_DIR.store(kobj, Ordering::Release);
}

/// `/sys/kernel/ssi`'s kobject, or null before the core made it. It lives
/// while `ssi.ko` is loaded, which outlasts every module that calls this.
#[no_mangle]
pub extern "C" fn ssi_sysfs_dir() -> *mut bindings::kobject {
    SYSFS_DIR.load(Ordering::Acquire)
}

/// Tells the core that process `pid` of this node runs on `node` (0: here
/// again, or ended), so that other nodes see it described from there.
#[no_mangle]
pub extern "C" fn ssi_task_moved(pid: u32, node: u8) -> i32 {
    with_core(
        |core| match crate::tasks::set_moved(core, pid, node) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        },
        ENODEV.to_errno(),
    )
}

/// Publishes `core` to the exported functions.
pub(crate) fn publish(core: &Arc<Core>) {
    CORE.store(Arc::into_raw(core.clone()).cast_mut(), Ordering::Release);
}

/// Withdraws the published core (no dependent module is loaded any more).
pub(crate) fn withdraw() {
    let p = CORE.swap(core::ptr::null_mut(), Ordering::AcqRel);
    if !p.is_null() {
        // SAFETY: `p` came from `Arc::into_raw` in `publish`.
        drop(unsafe { Arc::from_raw(p) });
    }
}

pub(crate) fn with_core<R>(f: impl FnOnce(&Core) -> R, none: R) -> R {
    let p = CORE.load(Ordering::Acquire);
    if p.is_null() {
        return none;
    }
    // SAFETY: non-null means published and not withdrawn; `withdraw` runs
    // at module exit, after every dependent module (every caller) is gone.
    f(unsafe { &*p })
}

/// The `len` bytes at `p`; an empty slice when `len` is 0 (`p` may be null).
///
/// # Safety
///
/// If `len > 0`, `p` must be readable for `len` bytes during `'a`.
unsafe fn bytes<'a>(p: *const u8, len: usize) -> &'a [u8] {
    if len == 0 {
        return &[];
    }
    // SAFETY: guaranteed by the caller.
    unsafe { core::slice::from_raw_parts(p, len) }
}

fn errno(e: Error) -> isize {
    e.to_errno() as isize
}

/// Registers `handler` for requests and one-way messages of `service`
/// (>= 256). `handler` and `ctx` must stay valid until unregistered.
#[no_mangle]
pub extern "C" fn ssi_rpc_register(
    service: u16,
    handler: Option<Handler>,
    ctx: *mut c_void,
) -> i32 {
    register(service, handler, ctx, false, false)
}

/// As [`ssi_rpc_register`], but `handler` runs on the core's worker
/// thread, in arrival order with the core's own blocking services: it may
/// sleep and take locks (briefly: it delays them), not call
/// `ssi_rpc_call`.
#[no_mangle]
pub extern "C" fn ssi_rpc_register_deferred(
    service: u16,
    handler: Option<Handler>,
    ctx: *mut c_void,
) -> i32 {
    register(service, handler, ctx, true, false)
}

/// As [`ssi_rpc_register_deferred`], but `handler` runs on the core's
/// second worker thread (the lane), which serves only such services: their
/// requests never wait behind the core's `/proc`, device and other
/// deferred services (page faults wait for the ghost module's pages).
#[no_mangle]
pub extern "C" fn ssi_rpc_register_lane(
    service: u16,
    handler: Option<Handler>,
    ctx: *mut c_void,
) -> i32 {
    register(service, handler, ctx, true, true)
}

fn register(
    service: u16,
    handler: Option<Handler>,
    ctx: *mut c_void,
    deferred: bool,
    lane: bool,
) -> i32 {
    let Some(handler) = handler else {
        return EINVAL.to_errno();
    };
    if service < FIRST_MODULE_SERVICE {
        return EINVAL.to_errno();
    }
    with_core(
        |core| {
            let mut services = core.services.lock();
            if services.iter().any(|e| e.service == service) {
                return EEXIST.to_errno();
            }
            match services.push(
                ServiceEntry {
                    service,
                    handler,
                    ctx: ctx as usize,
                    deferred,
                    lane,
                },
                GFP_KERNEL,
            ) {
                Ok(()) => 0,
                Err(_) => ENOMEM.to_errno(),
            }
        },
        ENODEV.to_errno(),
    )
}

/// Unregisters `service`; returns once no handler call is running.
#[no_mangle]
pub extern "C" fn ssi_rpc_unregister(service: u16) {
    with_core(
        |core| {
            let mut services = core.services.lock();
            drop(vec::take_first(&mut services, |e| e.service == service));
            drop(services);
            // A deferred call that found the entry before it went ends
            // before these locks are free.
            drop(core.deferred_run.lock());
            drop(core.lane.run.lock());
        },
        (),
    )
}

/// Calls `service` on node `dst` with `req` and waits up to `timeout_ms`.
/// Returns the response length (copied into `resp`, at most `cap` bytes)
/// or a negative errno, the remote handler's included.
///
/// # Safety
///
/// `req` must be readable for `len` bytes and `resp` writable for `cap`.
#[no_mangle]
pub unsafe extern "C" fn ssi_rpc_call(
    dst: u8,
    service: u16,
    req: *const u8,
    len: usize,
    resp: *mut u8,
    cap: usize,
    timeout_ms: u32,
) -> isize {
    // SAFETY: the caller's contract is this function's.
    unsafe {
        call_woken(
            dst,
            service,
            req,
            len,
            resp,
            cap,
            timeout_ms,
            rpc::Wake::Signal,
        )
    }
}

/// [`ssi_rpc_call`] that only SIGKILL interrupts (from a page fault).
///
/// # Safety
///
/// As [`ssi_rpc_call`].
#[no_mangle]
pub unsafe extern "C" fn ssi_rpc_call_killable(
    dst: u8,
    service: u16,
    req: *const u8,
    len: usize,
    resp: *mut u8,
    cap: usize,
    timeout_ms: u32,
) -> isize {
    // SAFETY: the caller's contract is this function's.
    unsafe {
        call_woken(
            dst,
            service,
            req,
            len,
            resp,
            cap,
            timeout_ms,
            rpc::Wake::Kill,
        )
    }
}

/// # Safety
///
/// As [`ssi_rpc_call`].
#[allow(clippy::too_many_arguments)]
unsafe fn call_woken(
    dst: u8,
    service: u16,
    req: *const u8,
    len: usize,
    resp: *mut u8,
    cap: usize,
    timeout_ms: u32,
    wake: rpc::Wake,
) -> isize {
    if len > MAX_PAYLOAD || (len > 0 && req.is_null()) || (cap > 0 && resp.is_null()) {
        return errno(EINVAL);
    }
    // SAFETY: `req` is readable for `len` bytes (the caller's contract).
    let req = unsafe { bytes(req, len) };
    with_core(
        |core| match rpc::call_one(core, dst, service, req, timeout_ms, wake) {
            Ok((0, data)) if data.len() <= cap => {
                // SAFETY: guaranteed by the caller; `data.len() <= cap`.
                unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), resp, data.len()) };
                data.len() as isize
            }
            Ok((0, _)) => errno(EINVAL),
            Ok((status, _)) => -(status as isize),
            Err(e) => errno(e),
        },
        errno(ENODEV),
    )
}

/// Sends the chunks `next` produces to `service` on `dst` as requests,
/// up to `window` unanswered, each acknowledged (`rpc::call_window`).
/// Returns the bytes sent, or a negative errno. Must not be called from a
/// handler or listener.
///
/// # Safety
///
/// `next` must be safe to call with `ctx` and a buffer of the given
/// capacity until this returns.
#[no_mangle]
pub unsafe extern "C" fn ssi_rpc_send_window(
    dst: u8,
    service: u16,
    next: Option<crate::abi::ChunkFn>,
    ctx: *mut c_void,
    window: u32,
    timeout_ms: u32,
) -> i64 {
    let Some(next) = next else {
        return EINVAL.to_errno().into();
    };
    let mut produce = |buf: &mut [u8]| -> Result<usize> {
        // SAFETY: the caller's contract; `buf` is writable for its length.
        let n = unsafe { next(ctx, buf.as_mut_ptr(), buf.len()) };
        if n < 0 {
            return Err(Error::from_errno(n as i32));
        }
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= buf.len())
            .ok_or(EINVAL)
    };
    with_core(
        |core| match rpc::call_window(
            core,
            dst,
            service,
            window as usize,
            timeout_ms,
            &mut produce,
        ) {
            Ok((_, bytes)) => i64::try_from(bytes).unwrap_or(i64::MAX),
            Err(e) => e.to_errno().into(),
        },
        ENODEV.to_errno().into(),
    )
}

/// Sends a one-way message of `service` to `dst` (0: every other member),
/// flow-controlled: waits (killably, up to 10 s) for room in `dst`'s
/// window; `EHOSTDOWN` once `dst` is not a member, `ENOBUFS` once after a
/// message to `dst` came back refused.
///
/// # Safety
///
/// `payload` must be readable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn ssi_send_oneway(
    dst: u8,
    service: u16,
    payload: *const u8,
    len: usize,
) -> i32 {
    if len > MAX_PAYLOAD || (len > 0 && payload.is_null()) {
        return EINVAL.to_errno();
    }
    // SAFETY: `payload` is readable for `len` bytes (the caller's contract).
    let data = unsafe { bytes(payload, len) };
    with_core(
        |core| match crate::flow::send(core, dst, service, data, crate::rpc::Wake::Kill) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        },
        ENODEV.to_errno(),
    )
}

/// Copies the current member set (32 bytes, bit N = node N) to `out`.
///
/// # Safety
///
/// `out` must be writable for 32 bytes.
#[no_mangle]
pub unsafe extern "C" fn ssi_members(out: *mut u8) -> i32 {
    if out.is_null() {
        return EINVAL.to_errno();
    }
    with_core(
        |core| {
            let bytes = core.state.lock().membership.view().members.to_bytes();
            // SAFETY: guaranteed by the caller.
            unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), out, bytes.len()) };
            0
        },
        ENODEV.to_errno(),
    )
}

/// Registers `listener`, called for every node that joins or leaves the
/// view. `listener` and `ctx` must stay valid until unregistered.
#[no_mangle]
pub extern "C" fn ssi_membership_register(listener: Option<Listener>, ctx: *mut c_void) -> i32 {
    let Some(listener) = listener else {
        return EINVAL.to_errno();
    };
    with_core(
        |core| match core.listeners.lock().push(
            ListenerEntry {
                listener,
                ctx: ctx as usize,
            },
            GFP_KERNEL,
        ) {
            Ok(()) => 0,
            Err(_) => ENOMEM.to_errno(),
        },
        ENODEV.to_errno(),
    )
}

/// Unregisters a listener; returns once no call of it is running.
#[no_mangle]
pub extern "C" fn ssi_membership_unregister(listener: Option<Listener>, ctx: *mut c_void) {
    let Some(listener) = listener else { return };
    with_core(
        |core| {
            let mut ls = core.listeners.lock();
            drop(vec::take_first(&mut ls, |l| {
                l.listener as usize == listener as usize && l.ctx == ctx as usize
            }));
        },
        (),
    )
}
