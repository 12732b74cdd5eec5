// SPDX-License-Identifier: GPL-2.0-only
//! The benchmark drivers behind the `ping` knob (request/response round
//! trips, a stream of one-way messages, a windowed bulk transfer) and the
//! services they talk to on the other node, registered as any other.

use core::fmt::Write;
use kernel::{
    alloc::{flags::GFP_KERNEL, KVec},
    prelude::*,
};

use crate::cluster::{now_ns, Core};
use crate::kernel_ext::sysfs::ShowBuf;
use crate::proto::codec;
use crate::proto::wire::{self, Kind};
use crate::rpc::{self, call, call_window, Mode, MAX_WINDOW};

/// Request: the payload comes back as the answer.
pub(crate) const SERVICE_PING: u16 = 1;
/// One-way messages (or requests) counted and discarded.
pub(crate) const SERVICE_SINK: u16 = 3;
/// Request: how many sink messages and bytes arrived from the caller.
pub(crate) const SERVICE_SINK_COUNT: u16 = 4;

/// Registers the services the drivers of the other nodes talk to.
pub(crate) fn register(core: &Core) -> Result {
    rpc::register_builtin(
        core,
        SERVICE_PING,
        serve_ping,
        Mode::RECEIVE.requests_only(),
    )?;
    rpc::register_builtin(core, SERVICE_SINK, serve_sink, Mode::RECEIVE)?;
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

/// Counts a sink message of `src`.
fn serve_sink(core: &Core, src: u8, req: &[u8], _resp: &mut [u8]) -> Result<usize> {
    let mut s = core.state.lock();
    let c = &mut s.sink[usize::from(src)];
    *c = (c.0 + 1, c.1 + req.len() as u64);
    Ok(0)
}

/// Answers the sink messages and bytes counted from `src`, and resets them.
fn serve_sink_count(core: &Core, src: u8, _req: &[u8], resp: &mut [u8]) -> Result<usize> {
    let (msgs, bytes) = core::mem::take(&mut core.state.lock().sink[usize::from(src)]);
    let mut w = codec::Writer::new(resp);
    w.u64(msgs).ok_or(EINVAL)?;
    w.u64(bytes).ok_or(EINVAL)?;
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

/// Sends `count` one-way messages of `size` bytes to `dst` back to back,
/// then asks how many arrived (the answer follows them on the same link),
/// and leaves a report for the `ping` knob.
pub(crate) fn stream(core: &Core, dst: u8, count: u32, size: u32) -> Result {
    let payload = KVec::from_elem(0x5au8, size as usize, GFP_KERNEL)?;
    // Start from zero at the sink.
    sink_count(core, dst, 5000)?;
    let start = now_ns();
    let mut send_errors = 0u32;
    for _ in 0..count {
        if core
            .send(Kind::Oneway, SERVICE_SINK, dst, 0, 0, &payload)
            .is_err()
        {
            send_errors += 1;
        }
    }
    // The count answer follows the messages on the same link.
    let (msgs, bytes) = sink_count(core, dst, 30_000)?;
    let total_us = (now_ns() - start) / 1000;
    let mut report = [0u8; 200];
    let mut out = ShowBuf::new(&mut report);
    let _ = writeln!(
        out,
        "stream node {dst} count {count} size {size} received {msgs} bytes {bytes} send_errors {send_errors} total_us {total_us}"
    );
    let n = out.as_bytes().len();
    let mut s = core.state.lock();
    s.ping_report = report;
    s.ping_report_len = n;
    Ok(())
}

/// The sink messages and bytes `dst` counted from this node since the
/// last ask (which resets them).
fn sink_count(core: &Core, dst: u8, timeout_ms: u32) -> Result<(u64, u64)> {
    let (status, resp) = call(core, dst, SERVICE_SINK_COUNT, &[], timeout_ms)?;
    if status != 0 {
        return Err(EIO);
    }
    let mut r = codec::Reader::new(&resp);
    let counts = (r.u64().ok_or(EIO)?, r.u64().ok_or(EIO)?);
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
    let (sent, _) = call_window(core, dst, SERVICE_SINK, window, 5000, &mut |buf| {
        if left == 0 {
            return Ok(0);
        }
        left -= 1;
        buf[..size].fill(0x5a);
        Ok(size)
    })?;
    let total_us = (now_ns() - start) / 1000;
    let (msgs, bytes) = sink_count(core, dst, 5000)?;
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
