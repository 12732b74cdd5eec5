// SPDX-License-Identifier: GPL-2.0-only
//! Request/response and one-way messages on top of the transport.

use core::fmt::Write;
use core::sync::atomic::Ordering;
use kernel::{
    alloc::{flags::GFP_KERNEL, KVec},
    prelude::*,
    sync::CondVarTimeoutResult,
    time::msecs_to_jiffies,
};

use crate::cluster::{
    now_ns, Core, Pending, SERVICE_DEV, SERVICE_HEARTBEAT, SERVICE_KILL, SERVICE_PIDS,
    SERVICE_PING, SERVICE_PROC_LOCAL, SERVICE_SINK, SERVICE_SINK_COUNT, SERVICE_TASK,
};
use crate::kernel_ext::{errno, sysfs::ShowBuf};
use crate::proto::wire::{self, Header, Kind};
use crate::stats::DropCause as Why;
use kernel::ffi::c_void;

/// TIPC's default importance of a message (`TIPC_LOW_IMPORTANCE`).
const IMPORTANCE_LOW: u32 = kernel::bindings::TIPC_LOW_IMPORTANCE;

/// Services below this are the core's own; modules register the others.
pub(crate) const FIRST_MODULE_SERVICE: u16 = 256;

/// Runs the handler another module registered for `h.service`, with
/// `scratch` as its response buffer. `None` if there is none.
fn call_registered(
    core: &Core,
    h: &Header,
    payload: &[u8],
    scratch: &mut [u8],
) -> Option<Result<usize>> {
    let services = core.services.lock();
    let e = services.iter().find(|e| e.service == h.service)?;
    // SAFETY: registered through `ssi_rpc_register`, whose contract keeps
    // `handler` and `ctx` valid until unregistered, which takes this lock;
    // the buffers are valid for their lengths during the call.
    let n = unsafe {
        (e.handler)(
            e.ctx as *mut c_void,
            h.src,
            payload.as_ptr(),
            payload.len(),
            scratch.as_mut_ptr(),
            scratch.len(),
        )
    };
    Some(if n < 0 {
        Err(Error::from_errno(n as i32))
    } else {
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= scratch.len())
            .ok_or(EINVAL)
    })
}

/// Whether another module registered `service` as deferred: its
/// requests and one-way messages go to the worker thread.
fn is_deferred(core: &Core, service: u16) -> bool {
    service >= FIRST_MODULE_SERVICE
        && core
            .services
            .lock()
            .iter()
            .any(|e| e.service == service && e.deferred)
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
    let (handler, ctx) = {
        let services = core.services.lock();
        let e = services
            .iter()
            .find(|e| e.service == h.service && e.deferred)?;
        (e.handler, e.ctx)
    };
    // SAFETY: `handler`/`ctx` stay valid until unregistered, which waits for
    // `deferred_run` (held since the lookup); the buffers are valid.
    let n = unsafe {
        handler(
            ctx as *mut c_void,
            h.src,
            payload.as_ptr(),
            payload.len(),
            scratch.as_mut_ptr(),
            scratch.len(),
        )
    };
    Some(if n < 0 {
        Err(Error::from_errno(n as i32))
    } else {
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= scratch.len())
            .ok_or(EINVAL)
    })
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

/// What the sink service counted from one sender since it last asked.
#[derive(Clone, Copy, Default)]
pub(crate) struct Sink {
    msgs: u64,
    bytes: u64,
    /// One-way messages whose number (their first 8 bytes) was not the
    /// one after the previous one's.
    disorder: u64,
    next: u64,
}

impl Sink {
    fn count(&mut self, payload: &[u8]) {
        self.msgs += 1;
        self.bytes += payload.len() as u64;
    }

    /// A streamed message: counted, and its number checked.
    fn stream(&mut self, payload: &[u8]) {
        self.count(payload);
        if let Some(n) = payload.get(..8) {
            let mut w = [0u8; 8];
            w.copy_from_slice(n);
            let seq = u64::from_le_bytes(w);
            if seq != self.next {
                self.disorder += 1;
            }
            self.next = seq.wrapping_add(1);
        }
    }
}

/// Services that may block: the worker thread serves them (worker.rs).
fn may_block(h: &Header) -> bool {
    matches!(
        (h.kind, h.service),
        (Kind::Request, SERVICE_PROC_LOCAL)
            | (Kind::Request | Kind::Oneway, SERVICE_DEV)
            | (Kind::Request, SERVICE_PIDS | SERVICE_TASK | SERVICE_KILL)
    )
}

/// Serves a request that `dispatch` handed to the worker thread.
pub(crate) fn serve_deferred(core: &Core, h: &Header, payload: &[u8], scratch: &mut [u8]) {
    let r = match h.service {
        SERVICE_PROC_LOCAL => crate::globalproc::serve_local(payload, scratch),
        SERVICE_DEV => crate::devices::serve(core, h.src, payload, scratch),
        SERVICE_PIDS => crate::tasks::serve_pids(payload, scratch),
        SERVICE_TASK => crate::tasks::serve_task(core, payload, scratch),
        SERVICE_KILL => crate::tasks::serve_kill(payload),
        s if s >= FIRST_MODULE_SERVICE => {
            call_deferred(core, h, payload, scratch, &core.deferred_run).unwrap_or_else(|| {
                core.stats.dropped(Why::UnknownService);
                Err(errno::enosys())
            })
        }
        _ => Err(errno::enosys()),
    };
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
    if may_block(h)
        || (matches!(h.kind, Kind::Request | Kind::Oneway) && is_deferred(core, h.service))
    {
        return crate::worker::defer(core, h, payload);
    }
    match (h.kind, h.service) {
        (Kind::Response, _) => complete(core, h, payload),
        (Kind::Request, SERVICE_PING) => {
            let _ = core.send(Kind::Response, h.service, h.src, h.id, 0, payload);
        }
        (Kind::Oneway, SERVICE_HEARTBEAT) => {
            // Its CPU count (older nodes send nothing).
            if let [lo, hi] = *payload {
                core.state.lock().peers[usize::from(h.src)].cpus = u16::from_le_bytes([lo, hi]);
            }
        }
        (Kind::Request, SERVICE_SINK) => {
            core.state.lock().sink[h.src as usize].count(payload);
            let _ = core.send(Kind::Response, h.service, h.src, h.id, 0, &[]);
        }
        (Kind::Oneway, SERVICE_SINK) => core.state.lock().sink[h.src as usize].stream(payload),
        (Kind::Request, SERVICE_SINK_COUNT) => {
            let c = core::mem::take(&mut core.state.lock().sink[h.src as usize]);
            let mut out = [0u8; 24];
            out[..8].copy_from_slice(&c.msgs.to_le_bytes());
            out[8..16].copy_from_slice(&c.bytes.to_le_bytes());
            out[16..].copy_from_slice(&c.disorder.to_le_bytes());
            let _ = core.send(Kind::Response, h.service, h.src, h.id, 0, &out);
        }
        (Kind::Request, _) => {
            let r = call_registered(core, h, payload, scratch).unwrap_or_else(|| {
                core.stats.dropped(Why::UnknownService);
                Err(errno::enosys())
            });
            respond(core, h, r, scratch);
        }
        (Kind::Oneway, s) if s >= FIRST_MODULE_SERVICE => {
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
/// that does not answer in time gives `ETIMEDOUT`. A signal cancels the
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
    let result = loop {
        for (k, slot) in slots.iter_mut().enumerate() {
            let Some((i, _)) = *slot else { continue };
            if s.pending[i].as_ref().is_some_and(|p| p.resp.is_some()) {
                out[k] = s.pending[i].take().and_then(|p| p.resp).ok_or(EINVAL);
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
/// `timeout_ms` of the previous one. Returns the chunks and bytes sent.
pub(crate) fn call_window(
    core: &Core,
    dst: u8,
    service: u16,
    window: usize,
    timeout_ms: u32,
    next: &mut dyn FnMut(&mut [u8]) -> Result<usize>,
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
            let (status, _) = wait_answer(core, ring[head], dst, timeout_ms)?;
            head = (head + 1) % window;
            inflight -= 1;
            if status != 0 {
                return Err(Error::from_errno(-i32::from(status)));
            }
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
/// leaves the view (a crashed node answers nothing).
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
            return Err(EINTR);
        }
    }
}

const HIST_STEP_US: usize = 10;
const HIST_BUCKETS: usize = 4096;

/// The upper bound in µs of the bucket holding the `p`th percentile.
fn percentile(hist: &[u32], total: u64, p: u64) -> usize {
    let want = (total * p).div_ceil(100).max(1);
    let mut seen = 0u64;
    for (i, &n) in hist.iter().enumerate() {
        seen += u64::from(n);
        if seen >= want {
            return (i + 1) * HIST_STEP_US;
        }
    }
    hist.len() * HIST_STEP_US
}

/// Runs `count` ping calls of `size` bytes to `dst`, checking each answer,
/// and leaves a report for the `ping` knob.
pub(crate) fn ping(core: &Core, dst: u8, count: u32, size: u32) -> Result {
    let size = (size as usize).max(8);
    let mut req = KVec::from_elem(0u8, size, GFP_KERNEL)?;
    // Latency histogram: 10 µs buckets up to 40.95 ms, then one overflow.
    let mut hist = KVec::from_elem(0u32, HIST_BUCKETS + 1, GFP_KERNEL)?;
    let stale_before = core.stats.stale();
    let (mut ok, mut lost, mut bad) = (0u32, 0u32, 0u32);
    let start = now_ns();
    for seq in 0..u64::from(count) {
        req[..8].copy_from_slice(&seq.to_le_bytes());
        let t0 = now_ns();
        match call(core, dst, SERVICE_PING, &req, 1000) {
            Ok((0, resp)) if resp[..] == req[..] => ok += 1,
            Ok(_) => bad += 1,
            Err(e) if e == EINTR => return Err(e),
            Err(_) => lost += 1,
        }
        let us = ((now_ns() - t0) / 1000) as usize;
        hist[(us / HIST_STEP_US).min(HIST_BUCKETS)] += 1;
    }
    let total_us = (now_ns() - start) / 1000;
    let dup = core.stats.stale() - stale_before;
    let pct = |p: u64| percentile(&hist, u64::from(count), p);
    let mut s = core.state.lock();
    let mut report = [0u8; 200];
    let mut out = ShowBuf::new(&mut report);
    let _ = writeln!(
        out,
        "node {dst} count {count} size {size} ok {ok} lost {lost} mismatched {bad} dup {dup} total_us {total_us} p50_us {} p99_us {}",
        pct(50),
        pct(99)
    );
    let n = out.as_bytes().len();
    s.ping_report = report;
    s.ping_report_len = n;
    Ok(())
}

/// Sends `count` one-way messages of `size` bytes to `dst` back to back
/// (each starts with its number when it has 8 bytes), then asks how many
/// arrived and in what order (the answer follows them on the same link),
/// and leaves a report for the `ping` knob. Flow-controlled (`flow`), it
/// waits for room and an error ends it (`EHOSTDOWN` when `dst` leaves);
/// raw, it sends without a window and at TIPC's low importance, as before
/// flow control, and counts its messages TIPC gave back refused and those
/// that failed to send (the node's other messages go at low importance meanwhile).
pub(crate) fn stream(core: &Core, dst: u8, count: u32, size: u32, flow: bool) -> Result {
    let mut payload = KVec::from_elem(0x5au8, size as usize, GFP_KERNEL)?;
    // Start from zero at the sink.
    sink_count(core, dst, 5000)?;
    let stat = |c: &core::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
    let waits = stat(&core.stats.oneway_waits);
    let returned = core.state.lock().sink_returned;
    let mut send_errors = 0u32;
    if !flow {
        // As before flow control: receivers queue 2 MB of it, not 16.
        core.sock.set_importance(IMPORTANCE_LOW)?;
    }
    let start = now_ns();
    for seq in 0..u64::from(count) {
        if let Some(n) = payload.get_mut(..8) {
            n.copy_from_slice(&seq.to_le_bytes());
        }
        if flow {
            crate::flow::send(core, dst, SERVICE_SINK, &payload, Wake::Signal)?;
        } else if core
            .send(Kind::Oneway, SERVICE_SINK, dst, 0, 0, &payload)
            .is_err()
        {
            send_errors += 1;
        }
    }
    if !flow {
        core.sock.set_importance(crate::cluster::IMPORTANCE)?;
    }
    // The count answer follows the messages on the same link.
    let (msgs, bytes, disorder) = sink_count(core, dst, 30_000)?;
    let total_us = (now_ns() - start) / 1000;
    let waits = stat(&core.stats.oneway_waits) - waits;
    let returned = core.state.lock().sink_returned - returned;
    let mut report = [0u8; 200];
    let mut out = ShowBuf::new(&mut report);
    let _ = writeln!(
        out,
        "stream node {dst} count {count} size {size} received {msgs} bytes {bytes} out_of_order {disorder} waits {waits} returned {returned} send_errors {send_errors} total_us {total_us}"
    );
    let n = out.as_bytes().len();
    let mut s = core.state.lock();
    s.ping_report = report;
    s.ping_report_len = n;
    Ok(())
}

/// The sink messages, bytes and streamed messages out of order that
/// `dst` counted from this node since the last ask (which resets them).
fn sink_count(core: &Core, dst: u8, timeout_ms: u32) -> Result<(u64, u64, u64)> {
    let (status, resp) = call(core, dst, SERVICE_SINK_COUNT, &[], timeout_ms)?;
    if status != 0 || resp.len() != 24 {
        return Err(EIO);
    }
    let word = |i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&resp[i..i + 8]);
        u64::from_le_bytes(w)
    };
    Ok((word(0), word(8), word(16)))
}

/// Chunks in flight in a `bulk` transfer.
pub(crate) const BULK_WINDOW: usize = MAX_WINDOW;

/// Sends `count` chunks of `size` bytes to `dst` with [`call_window`]
/// (every chunk acknowledged, up to `window` unanswered), then asks how
/// many arrived, and leaves a report for the `ping` knob.
pub(crate) fn bulk(core: &Core, dst: u8, count: u32, size: u32, window: usize) -> Result {
    sink_count(core, dst, 5000)?;
    let size = (size as usize).clamp(1, wire::MAX_PAYLOAD);
    let mut left = count;
    let start = now_ns();
    let window = window.clamp(1, MAX_WINDOW);
    let (sent, _) = call_window(core, dst, SERVICE_SINK, window, 5000, &mut |buf| {
        if left == 0 {
            return Ok(0);
        }
        left -= 1;
        buf[..size].fill(0x5a);
        Ok(size)
    })?;
    let total_us = (now_ns() - start) / 1000;
    let (msgs, bytes, _) = sink_count(core, dst, 5000)?;
    let mut report = [0u8; 200];
    let mut out = ShowBuf::new(&mut report);
    let _ = writeln!(
        out,
        "bulk node {dst} count {count} size {size} window {window} sent {sent} received {msgs} bytes {bytes} total_us {total_us}"
    );
    let n = out.as_bytes().len();
    let mut s = core.state.lock();
    s.ping_report = report;
    s.ping_report_len = n;
    Ok(())
}
