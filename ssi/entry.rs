// SPDX-License-Identifier: GPL-2.0-only
//! Every C entry point of `ssi.ko`: the C ABI through which the other
//! ssi-rs modules use the core (exported by `exports.c`; the consumer side
//! is `rust/ssi_api.rs`), and the operations of the kernel's `/proc` hooks
//! (`ssi_rs_*`, in the ops table of `exports.c`).
//!
//! Every function may be called only while `ssi.ko` is live, which the
//! module loader guarantees to its dependents. Handlers and listeners run
//! on the core's receive and topology threads: they must not block, nor
//! call `ssi_rpc_call`, nor (un)register anything.

use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::{alloc::flags::GFP_KERNEL, bindings, ffi::c_void, prelude::*, sync::Arc};

use crate::cluster::{Core, Handler, Listener, ListenerEntry, ListenerFn, ServiceFn};
use crate::header;
use crate::kernel_ext::vec;
use crate::proto::task::Kill;
use crate::proto::wire::MAX_PAYLOAD;
use crate::rpc::{self, Mode, FIRST_MODULE_SERVICE};
use crate::{globalproc, tasks};

/// The running core, for the exported functions; null before init and
/// after exit.
static CORE: AtomicPtr<Core> = AtomicPtr::new(core::ptr::null_mut());

/// `/sys/kernel/ssi`, for the other modules' directories.
static SYSFS_DIR: AtomicPtr<bindings::kobject> = AtomicPtr::new(core::ptr::null_mut());

/// Publishes `/sys/kernel/ssi` (null: withdraws it).
pub(crate) fn publish_sysfs(kobj: *mut bindings::kobject) {
    SYSFS_DIR.store(kobj, Ordering::Release);
}

/// This node's id.
#[no_mangle]
pub extern "C" fn ssi_node_id() -> u32 {
    with_core(|core| u32::from(core.me()), 0)
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
        |core| match tasks::set_moved(core, pid, node) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        },
        ENODEV.to_errno(),
    )
}

/// Where process `pid`, whose stub is on this node, runs; 0 if it is not
/// such a process (it runs here, or is not this node's).
#[no_mangle]
pub extern "C" fn ssi_task_at(pid: u32) -> u8 {
    with_core(
        |core| {
            core.moved
                .lock()
                .iter()
                .find(|m| m.0 == pid)
                .map_or(0, |m| m.1)
        },
        0,
    )
}

/// Offers `migrator` (the ghost module's) to the other modules through
/// [`ssi_migrate`]; `EBUSY` if one is offered. `migrator` and `ctx` must
/// stay valid until unregistered.
#[no_mangle]
pub extern "C" fn ssi_migrator_register(
    migrator: Option<crate::migrator::Migrator>,
    ctx: *mut c_void,
) -> i32 {
    let Some(m) = migrator else {
        return EINVAL.to_errno();
    };
    with_core(
        |core| match core.migrator.register(m, ctx) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        },
        ENODEV.to_errno(),
    )
}

/// Withdraws `migrator`; returns once no migration runs through it.
#[no_mangle]
pub extern "C" fn ssi_migrator_unregister(
    migrator: Option<crate::migrator::Migrator>,
    ctx: *mut c_void,
) {
    let Some(m) = migrator else { return };
    with_core(|core| core.migrator.unregister(m, ctx), ())
}

/// Migrates process `pid` of this node to `node` through the migrator
/// offered: 0 once it runs there, a negative errno if it goes on here
/// (`ENOSYS` while no migrator is offered); `pid` 0, the caller after
/// `execve()`: 0 once queued for its return to user mode. Sleeps; not
/// from a handler.
#[no_mangle]
pub extern "C" fn ssi_migrate(pid: u32, node: u8) -> i32 {
    with_core(|core| core.migrator.migrate(pid, node), ENODEV.to_errno())
}

/// Offers `drainer` (the scheduler's), run by a write to
/// `/sys/kernel/ssi/remove` before the node retires; `EBUSY` if one is
/// offered. `drainer` and `ctx` must stay valid until unregistered.
#[no_mangle]
pub extern "C" fn ssi_drainer_register(
    drainer: Option<crate::migrator::Drainer>,
    ctx: *mut c_void,
) -> i32 {
    let Some(d) = drainer else {
        return EINVAL.to_errno();
    };
    with_core(
        |core| match core.drainer.register(d, ctx) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        },
        ENODEV.to_errno(),
    )
}

/// Withdraws `drainer`; returns once no drain runs through it.
#[no_mangle]
pub extern "C" fn ssi_drainer_unregister(
    drainer: Option<crate::migrator::Drainer>,
    ctx: *mut c_void,
) {
    let Some(d) = drainer else { return };
    with_core(|core| core.drainer.unregister(d, ctx), ())
}

/// Offers `trail` (the ghost module's record of migrations), read for
/// `/proc/<pid>/ssi`; `EBUSY` if one is offered. `trail` and `ctx` must
/// stay valid until unregistered.
#[no_mangle]
pub extern "C" fn ssi_trail_register(
    trail: Option<crate::migrator::Trail>,
    ctx: *mut c_void,
) -> i32 {
    let Some(t) = trail else {
        return EINVAL.to_errno();
    };
    with_core(
        |core| match core.trails.register(t, ctx) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        },
        ENODEV.to_errno(),
    )
}

/// Withdraws `trail`; returns once no read runs through it.
#[no_mangle]
pub extern "C" fn ssi_trail_unregister(trail: Option<crate::migrator::Trail>, ctx: *mut c_void) {
    let Some(t) = trail else { return };
    with_core(|core| core.trails.unregister(t, ctx), ())
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
    register(service, handler, ctx, Mode::RECEIVE)
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
    register(service, handler, ctx, Mode::DEFERRED)
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
    register(service, handler, ctx, Mode::LANE)
}

fn register(service: u16, handler: Option<Handler>, ctx: *mut c_void, mode: Mode) -> i32 {
    let Some(handler) = handler else {
        return EINVAL.to_errno();
    };
    if service < FIRST_MODULE_SERVICE {
        return EINVAL.to_errno();
    }
    let handler = ServiceFn::Module {
        handler,
        ctx: ctx as usize,
    };
    with_core(
        |core| match rpc::register(core, service, handler, mode) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        },
        ENODEV.to_errno(),
    )
}

/// Unregisters `service`; returns once no handler call is running.
#[no_mangle]
pub extern "C" fn ssi_rpc_unregister(service: u16) {
    with_core(|core| rpc::unregister(core, service), ())
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

/// [`ssi_rpc_call`] that only SIGKILL interrupts (page faults, and a
/// migration in its frozen process, whose other signals go with it).
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
    next: header::ssi_chunk_fn_t,
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
            &mut |_| Ok(()),
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
        |core| match crate::flow::send(core, dst, service, data, rpc::Wake::Kill) {
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
                listener: ListenerFn::Module {
                    listener,
                    ctx: ctx as usize,
                },
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
            drop(vec::take_first(&mut ls, |l| match l.listener {
                ListenerFn::Module {
                    listener: f,
                    ctx: c,
                } => f as usize == listener as usize && c == ctx as usize,
                ListenerFn::Builtin(_) => false,
            }));
        },
        (),
    )
}

/// Registers the module that carries pipes across migrations (one at a
/// time: `EBUSY` otherwise).
#[no_mangle]
pub extern "C" fn ssi_streams_register(
    ops: *const header::ssi_stream_ops,
    ctx: *mut c_void,
) -> i32 {
    if ops.is_null() {
        return EINVAL.to_errno();
    }
    with_core(
        |core| {
            let mut s = core.streams.lock();
            if s.is_some() {
                return EBUSY.to_errno();
            }
            *s = Some((ops as usize, ctx as usize));
            0
        },
        ENODEV.to_errno(),
    )
}

/// Unregisters it; returns once none of its operations runs.
#[no_mangle]
pub extern "C" fn ssi_streams_unregister(ops: *const header::ssi_stream_ops) {
    with_core(
        |core| {
            let mut s = core.streams.lock();
            if s.is_some_and(|(o, _)| o == ops as usize) {
                *s = None;
            }
        },
        (),
    )
}

/// `describe` of the registered module; `-ENOENT` without one.
///
/// # Safety
///
/// `f` must be an open file the caller holds a reference on, `node`
/// writable, `tok` writable for `cap` bytes.
#[no_mangle]
pub unsafe extern "C" fn ssi_stream_describe(
    f: *mut bindings::file,
    pid: u32,
    fd: u32,
    node: *mut u8,
    tok: *mut u8,
    cap: usize,
) -> isize {
    with_core(
        |core| {
            let s = core.streams.lock();
            let Some((ops, ctx)) = *s else {
                return ENOENT.to_errno() as isize;
            };
            // SAFETY: a registered table stays valid until unregistered,
            // which waits for this lock; the module's contract keeps
            // `ctx` valid as long; the caller's pointers are passed on.
            match unsafe { (*(ops as *const header::ssi_stream_ops)).describe } {
                // SAFETY: as above.
                Some(d) => unsafe { d(ctx as *mut c_void, f, pid, fd, node, tok, cap) as isize },
                None => ENOENT.to_errno() as isize,
            }
        },
        ENOENT.to_errno() as isize,
    )
}

/// `attach` of the registered module; `-ENOPROTOOPT` without one.
///
/// # Safety
///
/// `tok` must be readable for `len` bytes and `out` writable.
#[no_mangle]
pub unsafe extern "C" fn ssi_stream_attach(
    tok: *const u8,
    len: usize,
    flags: u32,
    out: *mut *mut bindings::file,
) -> i32 {
    const ENOPROTOOPT: i32 = -92;
    with_core(
        |core| {
            let s = core.streams.lock();
            let Some((ops, ctx)) = *s else {
                return ENOPROTOOPT;
            };
            // SAFETY: as in `ssi_stream_describe`.
            match unsafe { (*(ops as *const header::ssi_stream_ops)).attach } {
                // SAFETY: as above.
                Some(a) => unsafe { a(ctx as *mut c_void, tok, len, flags, out) },
                None => ENOPROTOOPT,
            }
        },
        ENOPROTOOPT,
    )
}

/// The show operation registered with the kernel's `/proc` hook by
/// `exports.c`: 0 if it filled `m`, `-ENOENT` for the local file.
#[no_mangle]
pub extern "C" fn ssi_rs_proc_show(file: u32, m: *mut bindings::seq_file) -> i32 {
    with_core(
        |core| match globalproc::show(core, file, m) {
            Ok(()) => 0,
            Err(_) => ENOENT.to_errno(),
        },
        ENOENT.to_errno(),
    )
}

fn status(r: Result) -> i32 {
    match r {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// `ops->pids`: up to `max` PIDs of other nodes' processes from `from` on.
///
/// # Safety
///
/// `out` must be valid for writing `max` PIDs.
#[no_mangle]
pub unsafe extern "C" fn ssi_rs_pids(from: i32, out: *mut i32, max: u32) -> i32 {
    let Ok(from) = u32::try_from(from) else {
        return EINVAL.to_errno();
    };
    let max = (max as usize).min(u16::MAX as usize);
    // SAFETY: guaranteed by the caller.
    let out = unsafe { core::slice::from_raw_parts_mut(out, max) };
    with_core(
        |core| match tasks::pids(core, from, out) {
            Ok(n) => n as i32,
            Err(e) => e.to_errno(),
        },
        0,
    )
}

/// `ops->task`: describes process `nr` of another node.
///
/// # Safety
///
/// `info` must be valid for writing and `data` for writing `cap` bytes.
#[no_mangle]
pub unsafe extern "C" fn ssi_rs_task(
    nr: i32,
    info: *mut bindings::ssi_task_info,
    data: *mut u8,
    cap: usize,
) -> i32 {
    let Ok(nr) = u32::try_from(nr) else {
        return ENOENT.to_errno();
    };
    // SAFETY: guaranteed by the caller.
    let data = unsafe { core::slice::from_raw_parts_mut(data, cap) };
    with_core(
        |core| match tasks::describe(core, nr, data) {
            Ok(h) => {
                let raw = bindings::ssi_task_info {
                    uid: h.uid,
                    gid: h.gid,
                    len: h.len,
                };
                // SAFETY: guaranteed by the caller.
                unsafe { info.write(raw) };
                0
            }
            Err(e) => e.to_errno(),
        },
        ENOENT.to_errno(),
    )
}

/// `ops->kill`: delivers a kill(2) on the other nodes.
///
/// # Safety
///
/// `k` must point to a valid `struct ssi_kill`.
#[no_mangle]
pub unsafe extern "C" fn ssi_rs_kill(k: *const bindings::ssi_kill) -> i32 {
    // SAFETY: guaranteed by the caller.
    let k = unsafe { &*k };
    let k = Kill {
        sig: k.sig,
        pid: k.pid,
        sender: k.sender,
        uid: k.uid,
        euid: k.euid,
        cap_kill: k.cap_kill,
    };
    with_core(|core| status(tasks::kill(core, &k)), ESRCH.to_errno())
}

/// `ops->cpus`: the cluster's CPUs, or 0 for the node's own view.
#[no_mangle]
pub extern "C" fn ssi_rs_cpus() -> u32 {
    with_core(tasks::cpus, 0)
}

/// `ops->sysinfo`: replaces the node's values in `*info` with the
/// cluster's (memory in kB), or leaves them (`ENOENT`).
///
/// # Safety
///
/// `info` must point to a valid `struct sysinfo`, writable for the call.
#[no_mangle]
pub unsafe extern "C" fn ssi_rs_sysinfo(info: *mut bindings::sysinfo) -> i32 {
    with_core(
        |core| match globalproc::sysinfo(core) {
            Ok(s) => {
                // SAFETY: guaranteed by the caller.
                let info = unsafe { &mut *info };
                let ul = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
                info.uptime = isize::try_from(s.uptime).unwrap_or(isize::MAX);
                info.loads = s.loads.map(ul);
                info.totalram = ul(s.totalram);
                info.freeram = ul(s.freeram);
                info.sharedram = ul(s.sharedram);
                info.bufferram = ul(s.bufferram);
                info.totalswap = ul(s.totalswap);
                info.freeswap = ul(s.freeswap);
                info.totalhigh = ul(s.totalhigh);
                info.freehigh = ul(s.freehigh);
                info.procs = s.procs;
                info.mem_unit = 1024;
                0
            }
            Err(e) => e.to_errno(),
        },
        ENOENT.to_errno(),
    )
}

/// `ops->task_ssi`: `/proc/<pid>/ssi` of local process `pid` into `m`.
#[no_mangle]
pub extern "C" fn ssi_rs_task_ssi(pid: i32, m: *mut bindings::seq_file) -> i32 {
    let Ok(pid) = u32::try_from(pid) else {
        return ENOENT.to_errno();
    };
    with_core(
        |core| match tasks::proc_ssi(core, pid) {
            Ok(p) => {
                // SAFETY: `m` is the seq_file of the running show call
                // (the hook's contract), and `seq` does not outlive it.
                let mut seq = unsafe { crate::kernel_ext::seq::SeqFile::from_raw(m) };
                // A seq_file that overflows is shown again, larger.
                let _ = p.write(&mut seq);
                0
            }
            Err(e) => e.to_errno(),
        },
        ENOENT.to_errno(),
    )
}

/// Checks that each function named has the type its declaration in
/// `ssi_api.h` has (as bindgen wrote it): a definition that differs from
/// the header fails the build. `_` stands for each parameter.
macro_rules! check_signatures {
    ($($f:ident($($p:tt),*);)*) => {$(
        const _: () = {
            let _ = [
                header::$f as unsafe extern "C" fn($($p),*) -> _,
                $f as unsafe extern "C" fn($($p),*) -> _,
            ];
        };
    )*};
}

check_signatures! {
    ssi_node_id();
    ssi_rpc_register(_, _, _);
    ssi_rpc_register_deferred(_, _, _);
    ssi_rpc_register_lane(_, _, _);
    ssi_rpc_unregister(_);
    ssi_rpc_call(_, _, _, _, _, _, _);
    ssi_rpc_call_killable(_, _, _, _, _, _, _);
    ssi_rpc_send_window(_, _, _, _, _, _);
    ssi_send_oneway(_, _, _, _);
    ssi_task_moved(_, _);
    ssi_task_at(_);
    ssi_migrator_register(_, _);
    ssi_migrator_unregister(_, _);
    ssi_migrate(_, _);
    ssi_drainer_register(_, _);
    ssi_drainer_unregister(_, _);
    ssi_trail_register(_, _);
    ssi_trail_unregister(_, _);
    ssi_sysfs_dir();
    ssi_members(_);
    ssi_membership_register(_, _);
    ssi_membership_unregister(_, _);
    ssi_streams_register(_, _);
    ssi_streams_unregister(_);
    ssi_stream_describe(_, _, _, _, _, _);
    ssi_stream_attach(_, _, _, _);
    ssi_rs_proc_show(_, _);
    ssi_rs_pids(_, _, _);
    ssi_rs_task(_, _, _, _);
    ssi_rs_kill(_);
    ssi_rs_cpus();
    ssi_rs_sysinfo(_);
    ssi_rs_task_ssi(_, _);
}
