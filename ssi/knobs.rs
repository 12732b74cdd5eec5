// SPDX-License-Identifier: GPL-2.0-only
//! The files of `/sys/kernel/ssi/` (see Documentation/ABI/testing/sysfs-kernel-ssi).

use core::fmt::Write;
use kernel::{c_str, prelude::*};

use crate::bench;
use crate::cluster::{now_ns, Core};
use crate::kernel_ext::{sysfs::Attribute, sysfs::ShowBuf, tipc};
use crate::proto::knob;
use crate::proto::wire::Kind;
use crate::rpc::MAX_WINDOW;

pub(crate) static ATTRS: [Attribute<Core>; 8] = [
    Attribute::ro(c_str!("node_id"), show_node_id),
    Attribute::ro(c_str!("nodes"), show_nodes),
    Attribute::wo(c_str!("add"), store_add),
    Attribute::wo(c_str!("remove"), store_remove),
    Attribute::rw(c_str!("failure_timeout_ms"), show_timeout, store_timeout),
    Attribute::ro(c_str!("stats"), show_stats),
    Attribute::rw(c_str!("ping"), show_ping, store_ping),
    Attribute::rw(c_str!("global_proc"), show_global_proc, store_global_proc),
];

fn show_global_proc(core: &Core, out: &mut ShowBuf<'_>) -> Result {
    let on = core.global_proc.load(core::sync::atomic::Ordering::Relaxed);
    writeln!(out, "{}", u8::from(on)).map_err(fmt_err)
}

/// `0` or `1`: /proc system files show this node or the whole cluster.
fn store_global_proc(core: &Core, buf: &[u8]) -> Result {
    let v = knob::parse_u32(buf, 1).map_err(|_| EINVAL)?;
    core.global_proc
        .store(v == 1, core::sync::atomic::Ordering::Relaxed);
    Ok(())
}

fn fmt_err(_: core::fmt::Error) -> Error {
    EINVAL
}

fn show_node_id(core: &Core, out: &mut ShowBuf<'_>) -> Result {
    writeln!(out, "{}", core.me()).map_err(fmt_err)
}

/// One line per known node: `ID ADDR STATE AGE_MS`.
fn show_nodes(core: &Core, out: &mut ShowBuf<'_>) -> Result {
    let s = core.state.lock();
    let m = &s.membership;
    let now = now_ns();
    for id in 1..=255u8 {
        let p = &s.peers[id as usize];
        let me = id == core.me();
        let member = m.view().members.contains(id);
        let observed = m.observed().contains(id);
        let retired = m.retired().contains(id);
        if !(me || member || observed || retired || p.added || p.last_heard != 0) {
            continue;
        }
        let state = match (me && s.detached, retired, member, observed) {
            (true, ..) => "leaving",
            (_, true, _, true) => "leaving",
            (_, true, _, false) => "removed",
            (_, _, true, _) => "up",
            (_, _, false, true) => "joining",
            _ if p.added && p.last_heard == 0 => "joining",
            _ => "down",
        };
        let a = p.addr;
        if p.added {
            write!(out, "{} {}.{}.{}.{} {} ", id, a[0], a[1], a[2], a[3], state)
                .map_err(fmt_err)?;
        } else if me {
            write!(out, "{} self {} ", id, state).map_err(fmt_err)?;
        } else {
            write!(out, "{} tipc:{:08x} {} ", id, p.sock.node, state).map_err(fmt_err)?;
        }
        if me {
            writeln!(out, "0").map_err(fmt_err)?;
        } else if p.last_heard == 0 {
            writeln!(out, "-").map_err(fmt_err)?;
        } else {
            writeln!(out, "{}", (now - p.last_heard) / 1_000_000).map_err(fmt_err)?;
        }
    }
    Ok(())
}

/// `ID A.B.C.D`: admits node ID (again, after `remove`). `-EEXIST` if it
/// is already a member.
fn store_add(core: &Core, buf: &[u8]) -> Result {
    let (id, addr) = knob::parse_add(buf).map_err(|_| EINVAL)?;
    let id = id.get() as u8;
    if id == core.me() {
        let s = core.state.lock();
        if !s.detached {
            return Err(EEXIST);
        }
        drop(s);
        core.membership(|s| {
            s.detached = false;
            s.membership.rejoin()
        });
        return Ok(());
    }
    {
        let mut s = core.state.lock();
        if s.membership.view().members.contains(id) && !s.membership.retired().contains(id) {
            return Err(EEXIST);
        }
        let p = &mut s.peers[id as usize];
        p.added = true;
        p.addr = addr;
    }
    core.membership(|s| s.membership.admit(id));
    Ok(())
}

/// `ID` or `ID force`: retires node ID gracefully on every node (itself
/// included), once the scheduler, if loaded, drained it (which may take
/// a while and refuse: `force` confirms that what cannot leave stays).
fn store_remove(core: &Core, buf: &[u8]) -> Result {
    let (id, force) = knob::parse_remove(buf).map_err(|_| EINVAL)?;
    let id = id.get() as u8;
    let known = |core: &Core| {
        let s = core.state.lock();
        let m = &s.membership;
        let known = id == core.me() || m.view().members.contains(id) || m.observed().contains(id);
        known && !m.retired().contains(id)
    };
    if !known(core) {
        return Err(ENOENT);
    }
    let ret = core.drainer.drain(id, force);
    if ret < 0 {
        return Err(Error::from_errno(ret));
    }
    // Retired meanwhile (by a write on another node).
    if !known(core) {
        return Err(ENOENT);
    }
    core.send(Kind::Retire, 0, 0, 0, 0, &[id])?;
    if id == core.me() {
        core.detach();
    } else {
        core.membership(|s| s.membership.retire(id));
    }
    Ok(())
}

fn show_timeout(core: &Core, out: &mut ShowBuf<'_>) -> Result {
    writeln!(out, "{}", core.state.lock().failure_timeout_ms).map_err(fmt_err)
}

/// Applies the timeout to TIPC's link tolerance first: nothing changes if
/// TIPC refuses it.
fn store_timeout(core: &Core, buf: &[u8]) -> Result {
    let ms = knob::parse_failure_timeout(buf).map_err(|_| EINVAL)?;
    tipc::set_link_tolerance(crate::link_tolerance(ms))?;
    core.state.lock().failure_timeout_ms = ms;
    Ok(())
}

fn show_stats(core: &Core, out: &mut ShowBuf<'_>) -> Result {
    core.stats.show(out).map_err(fmt_err)?;
    let pending = core.state.lock().pending.iter().flatten().count();
    writeln!(out, "calls_pending {pending}").map_err(fmt_err)?;
    let oneway = core.flows.in_flight();
    writeln!(out, "oneway_in_flight {oneway}").map_err(fmt_err)
}

fn show_ping(core: &Core, out: &mut ShowBuf<'_>) -> Result {
    let s = core.state.lock();
    let text = &s.ping_report[..s.ping_report_len];
    out.write_str(core::str::from_utf8(text).unwrap_or(""))
        .map_err(fmt_err)
}

/// `ID COUNT [SIZE [MODE [WINDOW]]]`: COUNT checked request/response round
/// trips to ID (MODE 0, the default; one at a time unless WINDOW is given),
/// COUNT one-way messages streamed to it (MODE 1; MODE 3: without flow
/// control), or COUNT acknowledged chunks sent with a window (MODE 2).
fn store_ping(core: &Core, buf: &[u8]) -> Result {
    let mut f = [0u32, 0, 8, 0, bench::BULK_WINDOW as u32];
    let n = knob::parse_fields(buf, &mut f).map_err(|_| EINVAL)?;
    let size_max = crate::proto::wire::MAX_PAYLOAD as u32;
    if n < 2
        || f[0] == 0
        || f[0] > 255
        || f[1] == 0
        || f[1] > 10_000_000
        || f[2] > size_max
        || f[3] > 3
        || f[4] == 0
        || f[4] > MAX_WINDOW as u32
    {
        return Err(EINVAL);
    }
    let dst = f[0] as u8;
    if dst == core.me() || !core.is_member(dst) {
        return Err(ENOENT);
    }
    match f[3] {
        1 => bench::stream(core, dst, f[1], f[2], true),
        3 => bench::stream(core, dst, f[1], f[2], false),
        2 => bench::bulk(core, dst, f[1], f[2], f[4] as usize),
        // Calls one at a time unless a window is given.
        _ => bench::ping(core, dst, f[1], f[2], if n < 5 { 1 } else { f[4] as usize }),
    }
}
