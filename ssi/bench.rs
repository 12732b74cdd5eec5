// SPDX-License-Identifier: GPL-2.0-only
//! The benchmark drivers behind the `ping` knob (request/response round
//! trips, a stream of one-way messages, a windowed bulk transfer) and the
//! services they talk to on the other node, registered as any other.

use core::fmt::Write;
use core::sync::atomic::{AtomicU64, Ordering};
use kernel::{
    alloc::{flags::GFP_KERNEL, KVec},
    prelude::*,
};

use crate::cluster::{now_ns, Core};
use crate::kernel_ext::sysfs::ShowBuf;
use crate::proto::codec;
use crate::proto::wire::{self, Kind};
use crate::rpc::{self, call, call_window, Mode, Wake, MAX_WINDOW};

/// Request: the payload comes back as the answer.
pub(crate) const SERVICE_PING: u16 = 1;
/// One-way messages (or requests) counted and discarded.
pub(crate) const SERVICE_SINK: u16 = 3;
/// Request: how many sink messages and bytes arrived from the caller, and
/// how many streamed ones out of order.
pub(crate) const SERVICE_SINK_COUNT: u16 = 4;

/// TIPC's default importance of a message (`TIPC_LOW_IMPORTANCE`).
const IMPORTANCE_LOW: u32 = kernel::bindings::TIPC_LOW_IMPORTANCE;

/// Registers the services the drivers of the other nodes talk to.
pub(crate) fn register(core: &Core) -> Result {
    rpc::register_builtin(
        core,
        SERVICE_PING,
        serve_ping,
        Mode::RECEIVE.requests_only(),
    )?;
    let sink = Mode::RECEIVE.on_returned(sink_returned);
    rpc::register_builtin(core, SERVICE_SINK, serve_sink, sink)?;
    rpc::register_builtin(
        core,
        SERVICE_SINK_COUNT,
        serve_sink_count,
        Mode::RECEIVE.requests_only(),
    )
}

/// Answers a ping with its payload.
fn serve_ping(_core: &Core, _src: u8, req: &[u8], resp: &mut [u8]) -> Result<usize> {
    resp.get_mut(..req.len())
        .ok_or(EINVAL)?
        .copy_from_slice(req);
    Ok(req.len())
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
    /// A message: counted.
    fn count(&mut self, payload: &[u8]) {
        self.msgs += 1;
        self.bytes += payload.len() as u64;
    }

    /// A streamed message: counted, and its number checked (a `bulk`
    /// chunk's too, which `bulk` ignores).
    fn stream(&mut self, payload: &[u8]) {
        self.count(payload);
        if let Some(seq) = codec::u64_at(payload, 0) {
            if seq != self.next {
                self.disorder += 1;
            }
            self.next = seq.wrapping_add(1);
        }
    }
}

/// Counts a sink message of `src`, and checks its number.
fn serve_sink(core: &Core, src: u8, req: &[u8], _resp: &mut [u8]) -> Result<usize> {
    core.state.lock().sink[usize::from(src)].stream(req);
    Ok(0)
}

/// One of this node's raw sink messages came back refused (`stream`
/// reports them).
fn sink_returned(core: &Core, _dst: u8) {
    core.state.lock().sink_returned += 1;
}

/// Answers the sink messages, bytes and messages out of order counted
/// from `src`, and resets them.
fn serve_sink_count(core: &Core, src: u8, _req: &[u8], resp: &mut [u8]) -> Result<usize> {
    let c = core::mem::take(&mut core.state.lock().sink[usize::from(src)]);
    let mut w = codec::Writer::new(resp);
    w.u64(c.msgs).ok_or(EINVAL)?;
    w.u64(c.bytes).ok_or(EINVAL)?;
    w.u64(c.disorder).ok_or(EINVAL)?;
    Ok(w.len())
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
/// up to `window` of them unanswered, and leaves a report for the `ping`
/// knob (with a window of 1, the round trips' percentiles).
pub(crate) fn ping(core: &Core, dst: u8, count: u32, size: u32, window: usize) -> Result {
    if window > 1 {
        return ping_window(core, dst, count, size, window);
    }
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

/// [`ping`] with up to `window` calls unanswered ([`call_window`]): each
/// answer must be its own request's bytes, in the order sent. A call left
/// unanswered (or any error) ends the run; the calls not answered by then
/// are reported lost.
fn ping_window(core: &Core, dst: u8, count: u32, size: u32, window: usize) -> Result {
    let size = (size as usize).clamp(8, wire::MAX_PAYLOAD);
    let stale_before = core.stats.stale();
    let (mut sent, mut next_answer, mut ok, mut bad) = (0u64, 0u64, 0u32, 0u32);
    let start = now_ns();
    let result = call_window(
        core,
        dst,
        SERVICE_PING,
        window,
        1000,
        &mut |buf| {
            if sent == u64::from(count) {
                return Ok(0);
            }
            let req = buf.get_mut(..size).ok_or(EINVAL)?;
            req.fill(0);
            req[..8].copy_from_slice(&sent.to_le_bytes());
            sent += 1;
            Ok(size)
        },
        &mut |resp| {
            let seq = next_answer.to_le_bytes();
            next_answer += 1;
            if resp.len() == size && resp[..8] == seq && resp[8..].iter().all(|&b| b == 0) {
                ok += 1;
            } else {
                bad += 1;
            }
            Ok(())
        },
    );
    if let Err(e) = result {
        if e == EINTR {
            return Err(e);
        }
    }
    let total_us = (now_ns() - start) / 1000;
    let lost = count - ok - bad;
    let dup = core.stats.stale() - stale_before;
    let mut report = [0u8; 200];
    let mut out = ShowBuf::new(&mut report);
    let _ = writeln!(
        out,
        "node {dst} count {count} size {size} ok {ok} lost {lost} mismatched {bad} dup {dup} total_us {total_us} window {window}"
    );
    let n = out.as_bytes().len();
    let mut s = core.state.lock();
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
/// that failed to send (the node's other messages go at low importance
/// meanwhile).
pub(crate) fn stream(core: &Core, dst: u8, count: u32, size: u32, flow: bool) -> Result {
    let mut payload = KVec::from_elem(0x5au8, size as usize, GFP_KERNEL)?;
    // Start from zero at the sink.
    sink_count(core, dst, 5000)?;
    let stat = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let waits = stat(&core.stats.oneway_waits);
    let returned = core.state.lock().sink_returned;
    let mut send_errors = 0u32;
    if !flow {
        // As before flow control: receivers queue 2 MB of it, not 16.
        core.sock.set_importance(IMPORTANCE_LOW)?;
    }
    let start = now_ns();
    for seq in 0..u64::from(count) {
        // Its number, when it has room for one.
        let _ = codec::Writer::new(&mut payload).u64(seq);
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
    if status != 0 {
        return Err(EIO);
    }
    let mut r = codec::Reader::new(&resp);
    let counts = (
        r.u64().ok_or(EIO)?,
        r.u64().ok_or(EIO)?,
        r.u64().ok_or(EIO)?,
    );
    r.end().ok_or(EIO)?;
    Ok(counts)
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
    let (sent, _) = call_window(
        core,
        dst,
        SERVICE_SINK,
        window,
        5000,
        &mut |buf| {
            if left == 0 {
                return Ok(0);
            }
            left -= 1;
            buf[..size].fill(0x5a);
            Ok(size)
        },
        &mut |_| Ok(()),
    )?;
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
