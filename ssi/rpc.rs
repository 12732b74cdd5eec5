// SPDX-License-Identifier: GPL-2.0-only
//! Request/response and one-way messages on top of the transport.

use core::sync::atomic::Ordering;
use kernel::{
    alloc::{flags::GFP_KERNEL, KVec},
    prelude::*,
    sync::CondVarTimeoutResult,
    time::msecs_to_jiffies,
};

use crate::cluster::{now_ns, BuiltinReturned, Core, Pending, ServiceEntry, ServiceFn};
use crate::kernel_ext::{errno, vec};
use crate::proto::wire::{self, Header, Kind};
use crate::stats::DropCause as Why;

/// Services below this are the core's own; modules register the others.
pub(crate) const FIRST_MODULE_SERVICE: u16 = 256;

/// Where a registered service is served, and what it takes.
#[derive(Clone, Copy)]
pub(crate) struct Mode {
    /// On the worker thread (it may block), not the receive thread.
    pub(crate) deferred: bool,
    /// On the lane, the second worker thread (`deferred` too).
    pub(crate) lane: bool,
    /// It takes requests, one-way messages.
    pub(crate) requests: bool,
    pub(crate) oneway: bool,
    /// Told when one of its one-way messages without flow control (a
    /// core `send`, not `flow::send`) comes back refused.
    pub(crate) returned: Option<BuiltinReturned>,
}

impl Mode {
    /// Requests and one-way messages, on the receive thread.
    pub(crate) const RECEIVE: Mode = Mode {
        deferred: false,
        lane: false,
        requests: true,
        oneway: true,
        returned: None,
    };
    /// Requests and one-way messages, on the worker thread.
    pub(crate) const DEFERRED: Mode = Mode {
        deferred: true,
        ..Mode::RECEIVE
    };
    /// Requests and one-way messages, on the lane.
    pub(crate) const LANE: Mode = Mode {
        lane: true,
        ..Mode::DEFERRED
    };

    /// Only requests.
    pub(crate) const fn requests_only(self) -> Mode {
        Mode {
            oneway: false,
            ..self
        }
    }

    /// Calls `f` for each of its one-way messages that comes back refused.
    pub(crate) const fn on_returned(self, f: BuiltinReturned) -> Mode {
        Mode {
            returned: Some(f),
            ..self
        }
    }
}

/// Adds `service` to the table through which every service is found, the
/// core's own (`register_builtin`) and the other modules' (`entry.rs`).
/// `EEXIST` if it is taken.
pub(crate) fn register(core: &Core, service: u16, handler: ServiceFn, mode: Mode) -> Result {
    let mut services = core.services.lock();
    if services.iter().any(|e| e.service == service) {
        return Err(EEXIST);
    }
    let entry = ServiceEntry {
        service,
        handler,
        deferred: mode.deferred || mode.lane,
        lane: mode.lane,
        requests: mode.requests,
        oneway: mode.oneway,
        returned: mode.returned,
    };
    services.push(entry, GFP_KERNEL).map_err(|_| ENOMEM)
}

/// Registers a built-in service of `ssi.ko`.
pub(crate) fn register_builtin(
    core: &Core,
    service: u16,
    handler: crate::cluster::BuiltinHandler,
    mode: Mode,
) -> Result {
    register(core, service, ServiceFn::Builtin(handler), mode)
}

/// Removes `service` from the table; returns once no call of its handler
/// is running.
pub(crate) fn unregister(core: &Core, service: u16) {
    let mut services = core.services.lock();
    drop(vec::take_first(&mut services, |e| e.service == service));
    drop(services);
    // A deferred call that found the entry before it went ends before
    // these locks are free.
    drop(core.deferred_run.lock());
    drop(core.lane.run.lock());
}

/// Whether `e` takes messages of `kind`.
fn takes(e: &ServiceEntry, kind: Kind) -> bool {
    match kind {
        Kind::Request => e.requests,
        Kind::Oneway => e.oneway,
        _ => false,
    }
}

/// Runs the handler registered for `h.service` on the receive thread,
/// with `scratch` as its response buffer. `None` if there is none.
fn call_registered(
    core: &Core,
    h: &Header,
    payload: &[u8],
    scratch: &mut [u8],
) -> Option<Result<usize>> {
    let services = core.services.lock();
    let e = services
        .iter()
        .find(|e| e.service == h.service && takes(e, h.kind))?;
    // SAFETY: a module's handler and ctx stay valid until unregistered,
    // which takes this lock (held during the call).
    Some(unsafe { e.handler.call(core, h.src, payload, scratch) })
}

/// Whether `h.service` was registered as deferred and takes `h`: it goes
/// to the worker thread.
fn is_deferred(core: &Core, h: &Header) -> bool {
    core.services
        .lock()
        .iter()
        .any(|e| e.service == h.service && e.deferred && takes(e, h.kind))
}

/// Runs the deferred handler of `h.service` on a worker thread; `None`
/// if it is no longer registered. That worker's `run` mutex (not
/// `services`) is held during the call, so that the receive thread goes
/// on dispatching and unregistering still waits for the call.
fn call_deferred(
    core: &Core,
    h: &Header,
    payload: &[u8],
    scratch: &mut [u8],
    run: &kernel::sync::Mutex<()>,
) -> Option<Result<usize>> {
    let _running = run.lock();
    let handler = {
        let services = core.services.lock();
        let e = services
            .iter()
            .find(|e| e.service == h.service && e.deferred)?;
        e.handler
    };
    // SAFETY: a module's handler and ctx stay valid until unregistered,
    // which waits for `run` (held since the lookup).
    Some(unsafe { handler.call(core, h.src, payload, scratch) })
}

/// Answers request `h` with `scratch[..n]`, or with the error as status.
fn respond(core: &Core, h: &Header, r: Result<usize>, scratch: &[u8]) {
    let (status, len) = match r {
        Ok(n) => (0, n),
        Err(e) => (e.to_errno().unsigned_abs() as u16, 0),
    };
    let _ = core.send(
        Kind::Response,
        h.service,
        h.src,
        h.id,
        status,
        &scratch[..len],
    );
}

/// Answers request `h` with error `e` (a one-way message is dropped, and
/// counted).
pub(crate) fn refuse(core: &Core, h: &Header, e: Error) {
    if h.kind == Kind::Request {
        respond(core, h, Err(e), &[]);
    } else {
        core.stats.dropped(Why::Refused);
    }
}

/// Our request `h` came back refused by its receiver: its call fails now
/// with `e` rather than at its timeout.
pub(crate) fn refused(core: &Core, h: &Header, e: Error) {
    let answer = Header {
        kind: Kind::Response,
        status: e.to_errno().unsigned_abs() as u16,
        ..*h
    };
    complete(core, &answer, &[]);
}

/// Our one-way message `h`, sent without flow control, came back refused:
/// its service hears of it if it asked to ([`Mode::on_returned`]).
pub(crate) fn returned_oneway(core: &Core, h: &Header) {
    let f = core
        .services
        .lock()
        .iter()
        .find(|e| e.service == h.service)
        .and_then(|e| e.returned);
    if let Some(f) = f {
        f(core, h.dst);
    }
}

/// Serves a request that `dispatch` handed to the worker thread.
pub(crate) fn serve_deferred(core: &Core, h: &Header, payload: &[u8], scratch: &mut [u8]) {
    let r = call_deferred(core, h, payload, scratch, &core.deferred_run).unwrap_or_else(|| {
        core.stats.dropped(Why::UnknownService);
        Err(errno::enosys())
    });
    if h.kind == Kind::Request {
        respond(core, h, r, scratch);
    }
}

/// Serves a request of a lane service (`ssi_rpc_register_lane`) on the
/// second worker thread.
pub(crate) fn serve_lane(core: &Core, h: &Header, payload: &[u8], scratch: &mut [u8]) {
    let r = call_deferred(core, h, payload, scratch, &core.lane.run).unwrap_or_else(|| {
        core.stats.dropped(Why::UnknownService);
        Err(errno::enosys())
    });
    if h.kind == Kind::Request {
        respond(core, h, r, scratch);
    }
}

/// Handles a request, one-way or response from a member; `scratch` is a
/// response buffer of `wire::MAX_PAYLOAD` bytes.
pub(crate) fn dispatch(core: &Core, h: &Header, payload: &[u8], scratch: &mut [u8]) {
    match h.kind {
        Kind::Response => complete(core, h, payload),
        Kind::Request | Kind::Oneway if is_deferred(core, h) => {
            crate::worker::defer(core, h, payload)
        }
        Kind::Request => {
            let r = call_registered(core, h, payload, scratch).unwrap_or_else(|| {
                core.stats.dropped(Why::UnknownService);
                Err(errno::enosys())
            });
            respond(core, h, r, scratch);
        }
        Kind::Oneway => {
            if call_registered(core, h, payload, scratch).is_none() {
                core.stats.dropped(Why::UnknownService);
            }
        }
        _ => core.stats.dropped(Why::UnknownService),
    }
}

fn complete(core: &Core, h: &Header, payload: &[u8]) {
    let mut resp = KVec::new();
    let status = match resp.extend_from_slice(payload, GFP_KERNEL) {
        Ok(()) => h.status,
        Err(_) => ENOMEM.to_errno().unsigned_abs() as u16,
    };
    let mut s = core.state.lock();
    let slot = s.pending.iter_mut().flatten().find(|p| p.id == h.id);
    match slot {
        Some(p) if p.resp.is_none() => p.resp = Some((status, resp)),
        // Late (after a timeout), duplicated, or never requested.
        _ => {
            drop(s);
            return core.stats.dropped(Why::StaleResponse);
        }
    }
    drop(s);
    core.replies.notify_all();
}

/// Calls `service` on node `dst` and waits up to `timeout_ms` for the
/// answer, which is returned with its status (0 or a positive errno).
/// A signal cancels the wait (`EINTR`); a late answer is then dropped.
pub(crate) fn call(
    core: &Core,
    dst: u8,
    service: u16,
    req: &[u8],
    timeout_ms: u32,
) -> Result<(u16, KVec<u8>)> {
    call_one(core, dst, service, req, timeout_ms, Wake::Signal)
}

/// What ends a caller's wait before its answers or its timeout.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wake {
    /// Any signal (`EINTR`): calls made for system calls.
    Signal,
    /// SIGKILL only: calls a page fault makes, which must not fail
    /// because a signal arrived.
    Kill,
}

/// [`call`], woken as `wake` says.
pub(crate) fn call_one(
    core: &Core,
    dst: u8,
    service: u16,
    req: &[u8],
    timeout_ms: u32,
    wake: Wake,
) -> Result<(u16, KVec<u8>)> {
    call_many_woken(core, &[dst], service, req, timeout_ms, wake)?
        .into_iter()
        .next()
        .ok_or(EINVAL)?
}

/// One answer of [`call_many`]: status and payload, or why there is none.
pub(crate) type Answer = Result<(u16, KVec<u8>)>;

/// Calls `service` on every node of `dsts` at once and waits up to
/// `timeout_ms` for all answers, returned in the order of `dsts`; a node
/// that does not answer in time gives `ETIMEDOUT`, one that leaves the
/// view meanwhile `EHOSTDOWN` (at once). A signal cancels the
/// whole call (`EINTR`); late answers are then dropped.
pub(crate) fn call_many(
    core: &Core,
    dsts: &[u8],
    service: u16,
    req: &[u8],
    timeout_ms: u32,
) -> Result<KVec<Answer>> {
    call_many_woken(core, dsts, service, req, timeout_ms, Wake::Signal)
}

fn call_many_woken(
    core: &Core,
    dsts: &[u8],
    service: u16,
    req: &[u8],
    timeout_ms: u32,
    wake: Wake,
) -> Result<KVec<Answer>> {
    // (pending slot, id) per destination; `None` once settled.
    let mut slots = KVec::with_capacity(dsts.len(), GFP_KERNEL)?;
    let mut out: KVec<Answer> = KVec::with_capacity(dsts.len(), GFP_KERNEL)?;
    {
        let mut s = core.state.lock();
        for _ in dsts {
            let id = core.next_id.fetch_add(1, Ordering::Relaxed);
            let Some(i) = s.pending.iter().position(|p| p.is_none()) else {
                for &(i, _) in slots.iter().flatten() {
                    s.pending[i] = None;
                }
                return Err(EBUSY);
            };
            s.pending[i] = Some(Pending { id, resp: None });
            slots.push(Some((i, id)), GFP_KERNEL)?;
            out.push(Err(errno::etimedout()), GFP_KERNEL)?;
        }
    }
    for (k, &dst) in dsts.iter().enumerate() {
        let Some((i, id)) = slots[k] else { continue };
        if let Err(e) = core.send(Kind::Request, service, dst, id, 0, req) {
            core.state.lock().pending[i] = None;
            slots[k] = None;
            out[k] = Err(e);
        }
    }
    let deadline = now_ns() + i64::from(timeout_ms) * 1_000_000;
    let mut s = core.state.lock();
    // A destination that was a member and left the view answers nothing
    // more: its call ends at once (`EHOSTDOWN`), not at the timeout (a
    // view change wakes `replies`).
    let members = s.membership.view().members;
    let result = loop {
        let now = s.membership.view().members;
        for (k, slot) in slots.iter_mut().enumerate() {
            let Some((i, _)) = *slot else { continue };
            if s.pending[i].as_ref().is_some_and(|p| p.resp.is_some()) {
                out[k] = s.pending[i].take().and_then(|p| p.resp).ok_or(EINVAL);
                *slot = None;
            } else if members.contains(dsts[k]) && !now.contains(dsts[k]) {
                s.pending[i] = None;
                out[k] = Err(errno::ehostdown());
                *slot = None;
            }
        }
        if slots.iter().all(Option::is_none) {
            break Ok(());
        }
        let left_ms = (deadline - now_ns()) / 1_000_000;
        if core.closing() {
            break Err(errno::eshutdown());
        }
        if left_ms <= 0 {
            break Ok(());
        }
        let wait = msecs_to_jiffies(left_ms as u32).max(1);
        if let CondVarTimeoutResult::Signal { .. } =
            core.replies.wait_interruptible_timeout(&mut s, wait)
        {
            if wake == Wake::Signal || crate::kernel_ext::migrate::killed() {
                break Err(EINTR);
            }
            // A signal that cannot end the wait: it would not sleep, so
            // look again every millisecond.
            drop(s);
            crate::kernel_ext::migrate::sleep_ms(1);
            s = core.state.lock();
        }
    };
    for &(i, _) in slots.iter().flatten() {
        s.pending[i] = None;
    }
    result.map(|()| out)
}

/// Most requests `call_window` keeps unanswered: 8 of up to 64 KB stay
/// well under the 2 MB that a TIPC socket queues of low-importance
/// messages before it refuses more (a refused request is lost).
pub(crate) const MAX_WINDOW: usize = 8;

/// Sends the chunks that `next` writes (into a buffer of
/// `wire::MAX_PAYLOAD` bytes; 0: no more) to `service` on `dst` as
/// requests, keeping up to `window` of them unanswered: a bulk transfer on
/// the request/response layer. TIPC keeps a link's order, so the oldest
/// request is answered first; every answer must have status 0, each within
/// `timeout_ms` of the previous one, and is given to `answered` in the
/// order of the requests. Returns the chunks and bytes sent.
pub(crate) fn call_window(
    core: &Core,
    dst: u8,
    service: u16,
    window: usize,
    timeout_ms: u32,
    next: &mut dyn FnMut(&mut [u8]) -> Result<usize>,
    answered: &mut dyn FnMut(&[u8]) -> Result,
) -> Result<(u64, u64)> {
    let window = window.clamp(1, MAX_WINDOW);
    let mut buf = KVec::from_elem(0u8, wire::MAX_PAYLOAD, GFP_KERNEL)?;
    // Pending slots of the requests in flight, oldest first.
    let mut ring = KVec::from_elem(0usize, window, GFP_KERNEL)?;
    let (mut head, mut inflight) = (0usize, 0usize);
    let result = (|| -> Result<(u64, u64)> {
        let (mut chunks, mut bytes, mut done) = (0u64, 0u64, false);
        loop {
            while !done && inflight < window {
                let n = next(&mut buf)?;
                if n == 0 {
                    done = true;
                    break;
                }
                let chunk = buf.get(..n).ok_or(EINVAL)?;
                let id = core.next_id.fetch_add(1, Ordering::Relaxed);
                let slot = {
                    let mut s = core.state.lock();
                    let i = s.pending.iter().position(|p| p.is_none()).ok_or(EBUSY)?;
                    s.pending[i] = Some(Pending { id, resp: None });
                    i
                };
                ring[(head + inflight) % window] = slot;
                inflight += 1;
                core.send(Kind::Request, service, dst, id, 0, chunk)?;
                chunks += 1;
                bytes += n as u64;
            }
            if inflight == 0 {
                return Ok((chunks, bytes));
            }
            let (status, payload) = wait_answer(core, ring[head], dst, timeout_ms)?;
            head = (head + 1) % window;
            inflight -= 1;
            if status != 0 {
                return Err(Error::from_errno(-i32::from(status)));
            }
            answered(&payload)?;
        }
    })();
    // Calls still in flight after an error: their late answers are dropped.
    let mut s = core.state.lock();
    for k in 0..inflight {
        s.pending[ring[(head + k) % window]] = None;
    }
    result
}

/// Waits up to `timeout_ms` for the answer of `dst` in pending slot
/// `slot`, then frees the slot. Fails with `EHOSTDOWN` as soon as `dst`
/// leaves the view (a crashed node answers nothing). Only SIGKILL ends the
/// wait (`EINTR`): a bulk transfer runs in a frozen process that is being
/// migrated, whose other pending signals go with it.
fn wait_answer(core: &Core, slot: usize, dst: u8, timeout_ms: u32) -> Answer {
    let deadline = now_ns() + i64::from(timeout_ms) * 1_000_000;
    let mut s = core.state.lock();
    loop {
        if s.pending[slot].as_ref().is_some_and(|p| p.resp.is_some()) {
            return s.pending[slot].take().and_then(|p| p.resp).ok_or(EINVAL);
        }
        let left_ms = (deadline - now_ns()) / 1_000_000;
        if core.closing() {
            return Err(errno::eshutdown());
        }
        if s.detached || !s.membership.view().members.contains(dst) {
            return Err(errno::ehostdown());
        }
        if left_ms <= 0 {
            return Err(errno::etimedout());
        }
        let wait = msecs_to_jiffies(left_ms as u32).max(1);
        if let CondVarTimeoutResult::Signal { .. } =
            core.replies.wait_interruptible_timeout(&mut s, wait)
        {
            if crate::kernel_ext::migrate::killed() {
                return Err(EINTR);
            }
            // A signal that cannot end the wait: it would not sleep.
            drop(s);
            crate::kernel_ext::migrate::sleep_ms(1);
            s = core.state.lock();
        }
    }
}
