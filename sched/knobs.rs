// SPDX-License-Identifier: GPL-2.0-only
//! The files of `/sys/kernel/ssi/sched/` (see
//! Documentation/ABI/testing/sysfs-kernel-ssi): the settings every node
//! shares, this node's probe, what it knows of the others, its processes,
//! counters and the latest moves.

use core::fmt::Write;
use core::sync::atomic::Ordering;
use kernel::{c_str, prelude::*};

use crate::cluster::{me, now_ns, State};
use crate::kernel_ext::hooks::PID_SHIFT;
use crate::kernel_ext::sysfs::{Attribute, ShowBuf};
use crate::proto::knob;
use crate::proto::sched::{
    Policy, MAX_MARGIN_PCT, MAX_MEM_LOW_PCT, MAX_PERIOD_MS, MAX_RESIDENCE_MS,
};

pub(crate) static ATTRS: [Attribute<State>; 16] = [
    Attribute::rw(c_str!("policy"), show_policy, store_policy),
    Attribute::rw(c_str!("period_ms"), show_period, store_period),
    Attribute::rw(c_str!("margin_pct"), show_margin, store_margin),
    Attribute::rw(c_str!("residence_ms"), show_residence, store_residence),
    Attribute::rw(c_str!("drain"), show_drain, store_drain),
    Attribute::rw(c_str!("exec_placement"), show_exec, store_exec),
    Attribute::rw(c_str!("mem_low_pct"), show_mem_low, store_mem_low),
    Attribute::ro(c_str!("load"), show_load),
    Attribute::ro(c_str!("nodes"), show_nodes),
    Attribute::ro(c_str!("processes"), show_processes),
    Attribute::ro(c_str!("stats"), show_stats),
    Attribute::ro(c_str!("moves"), show_moves),
    Attribute::ro(c_str!("home"), show_home),
    Attribute::rw(c_str!("accept_guests"), show_accept, store_accept),
    Attribute::rw(c_str!("keep_home"), show_keep_home, store_keep_home),
    Attribute::ro(c_str!("remove_pending"), show_remove_pending),
];

fn show_accept(st: &State, out: &mut ShowBuf<'_>) -> Result {
    let on = st.accept_guests.load(Ordering::Relaxed);
    writeln!(out, "{}", u8::from(on)).map_err(fmt_err)
}

/// `0` or `1`: whether other nodes may send this node processes (this
/// node's alone; its probes tell the others).
fn store_accept(st: &State, buf: &[u8]) -> Result {
    let v = knob::parse_u32(buf, 1).map_err(|_| EINVAL)?;
    st.accept_guests.store(v == 1, Ordering::Relaxed);
    Ok(())
}

fn show_keep_home(st: &State, out: &mut ShowBuf<'_>) -> Result {
    let on = st.keep_home.load(Ordering::Relaxed);
    writeln!(out, "{}", u8::from(on)).map_err(fmt_err)
}

/// `0` or `1`: whether the processes born on this node stay here
/// (balance, round robin and drain move only its guests); this node's
/// alone.
fn store_keep_home(st: &State, buf: &[u8]) -> Result {
    let v = knob::parse_u32(buf, 1).map_err(|_| EINVAL)?;
    st.keep_home.store(v == 1, Ordering::Relaxed);
    Ok(())
}

/// The latest `remove` written on this node (`retire.rs`).
fn show_remove_pending(st: &State, out: &mut ShowBuf<'_>) -> Result {
    crate::retire::show(st, out).map_err(fmt_err)
}

fn fmt_err(_: core::fmt::Error) -> Error {
    EINVAL
}

fn show_policy(st: &State, out: &mut ShowBuf<'_>) -> Result {
    writeln!(out, "{}", st.policy().name()).map_err(fmt_err)
}

/// `none`, `balance` or `round-robin`: on every node.
fn store_policy(st: &State, buf: &[u8]) -> Result {
    let p = Policy::parse(buf).ok_or(EINVAL)?;
    st.write(|s| s.policy = p)
}

fn show_period(st: &State, out: &mut ShowBuf<'_>) -> Result {
    writeln!(out, "{}", st.settings().s.period_ms).map_err(fmt_err)
}

/// The probes' period, 100 to 60000 ms: on every node.
fn store_period(st: &State, buf: &[u8]) -> Result {
    let v = knob::parse_u32(buf, MAX_PERIOD_MS).map_err(|_| EINVAL)?;
    st.write(|s| s.period_ms = v)
}

fn show_margin(st: &State, out: &mut ShowBuf<'_>) -> Result {
    writeln!(out, "{}", st.settings().s.margin_pct).map_err(fmt_err)
}

/// The balancer's stability margin, 100 to 1000 (percent of the load of
/// the process moved): on every node.
fn store_margin(st: &State, buf: &[u8]) -> Result {
    let v = knob::parse_u32(buf, u32::from(MAX_MARGIN_PCT)).map_err(|_| EINVAL)?;
    let v = u16::try_from(v).map_err(|_| EINVAL)?;
    st.write(|s| s.margin_pct = v)
}

fn show_residence(st: &State, out: &mut ShowBuf<'_>) -> Result {
    writeln!(out, "{}", st.settings().s.residence_ms).map_err(fmt_err)
}

/// How long a process stays on a node before the balancer moves it, 0 to
/// 3600000 ms: on every node.
fn store_residence(st: &State, buf: &[u8]) -> Result {
    let v = knob::parse_u32(buf, MAX_RESIDENCE_MS).map_err(|_| EINVAL)?;
    st.write(|s| s.residence_ms = v)
}

fn show_drain(st: &State, out: &mut ShowBuf<'_>) -> Result {
    writeln!(out, "{}", st.settings().s.drain).map_err(fmt_err)
}

/// A member's id: that node sends every process it can away, whatever
/// the policy, and no node sends it one; `0`: none. On every node.
fn store_drain(st: &State, buf: &[u8]) -> Result {
    let v = knob::parse_u32(buf, 255).map_err(|_| EINVAL)?;
    let node = u8::try_from(v).map_err(|_| EINVAL)?;
    if node != 0 && !crate::ssi_api::is_member(node) {
        return Err(EINVAL);
    }
    st.write(|s| s.drain = node)
}

fn show_exec(st: &State, out: &mut ShowBuf<'_>) -> Result {
    writeln!(out, "{}", u8::from(st.settings().s.exec_placement)).map_err(fmt_err)
}

/// `0` or `1`: whether the policy in force also places each new program
/// at `execve` (`place.rs`). On every node.
fn store_exec(st: &State, buf: &[u8]) -> Result {
    let v = knob::parse_u32(buf, 1).map_err(|_| EINVAL)?;
    st.write(|s| s.exec_placement = v == 1)
}

fn show_mem_low(st: &State, out: &mut ShowBuf<'_>) -> Result {
    writeln!(out, "{}", st.settings().s.mem_low_pct).map_err(fmt_err)
}

/// Memory pressure relief, 0 (off) to 80: a node whose available memory
/// is below this share of its total (percent) sends its largest movable
/// processes to nodes with room (`Balancer::relieve`). On every node.
fn store_mem_low(st: &State, buf: &[u8]) -> Result {
    let v = knob::parse_u32(buf, u32::from(MAX_MEM_LOW_PCT)).map_err(|_| EINVAL)?;
    let v = u8::try_from(v).map_err(|_| EINVAL)?;
    st.write(|s| s.mem_low_pct = v)
}

/// This node's probe.
fn show_load(st: &State, out: &mut ShowBuf<'_>) -> Result {
    let p = st.local.lock().probe;
    let rows = [
        ("load", u64::from(p.load)),
        ("recent", u64::from(p.recent)),
        ("cpus", u64::from(p.cpus)),
        ("mem_total_kb", p.mem_total_kb),
        ("mem_free_kb", p.mem_free_kb),
        ("mem_avail_kb", p.mem_avail_kb),
        ("mem_movable_kb", p.mem_movable_kb),
        ("mem_sent_to", u64::from(p.mem_sent_to)),
        ("mem_sent_kb", p.mem_sent_kb),
        ("procs", u64::from(p.procs)),
        ("guests", u64::from(p.guests)),
        ("busy", u64::from(p.busy)),
        ("busy_recent", u64::from(p.busy_recent)),
        ("seq", u64::from(p.seq)),
    ];
    for (k, v) in rows {
        writeln!(out, "{k} {v}").map_err(fmt_err)?;
    }
    Ok(())
}

/// One line per node heard from (this one first): its probe, and how old.
fn show_nodes(st: &State, out: &mut ShowBuf<'_>) -> Result {
    writeln!(
        out,
        "node cpus load recent mem_total_kb mem_free_kb procs guests age_ms busy busy_recent \
         mem_avail_kb mem_movable_kb"
    )
    .map_err(fmt_err)?;
    let me = me();
    let p = st.local.lock().probe;
    writeln!(
        out,
        "{} {} {} {} {} {} {} {} 0 {} {} {} {}",
        me,
        p.cpus,
        p.load,
        p.recent,
        p.mem_total_kb,
        p.mem_free_kb,
        p.procs,
        p.guests,
        p.busy,
        p.busy_recent,
        p.mem_avail_kb,
        p.mem_movable_kb
    )
    .map_err(fmt_err)?;
    let now = now_ns();
    let v = st.view.lock();
    for (k, peer) in v.iter().enumerate() {
        if k == 0 || k == usize::from(me) || peer.heard_ns == 0 {
            continue;
        }
        let p = peer.probe;
        writeln!(
            out,
            "{} {} {} {} {} {} {} {} {} {} {} {} {}",
            k,
            p.cpus,
            p.load,
            p.recent,
            p.mem_total_kb,
            p.mem_free_kb,
            p.procs,
            p.guests,
            now.saturating_sub(peer.heard_ns) / 1_000_000,
            p.busy,
            p.busy_recent,
            p.mem_avail_kb,
            p.mem_movable_kb
        )
        .map_err(fmt_err)?;
    }
    Ok(())
}

/// The processes born on this node (its global PIDs) that it runs or
/// whose stub is here: where each runs, and how often it moved since the
/// probes first saw it.
fn show_home(st: &State, out: &mut ShowBuf<'_>) -> Result {
    writeln!(out, "pid node moves").map_err(fmt_err)?;
    let me = me();
    let l = st.local.lock();
    for t in l.tracks.iter() {
        if t.pid >> PID_SHIFT != u32::from(me) || me == 0 {
            continue;
        }
        let node = if t.at != 0 { t.at } else { me };
        // A page holds what it holds.
        if writeln!(out, "{} {} {}", t.pid, node, t.moves).is_err() {
            break;
        }
    }
    Ok(())
}

/// The processes this node runs (not those whose stub only is here).
fn show_processes(st: &State, out: &mut ShowBuf<'_>) -> Result {
    writeln!(
        out,
        "pid load cpu_permille rss_pages age_ms here_ms threads flags"
    )
    .map_err(fmt_err)?;
    let me = me();
    let now = now_ns();
    let l = st.local.lock();
    for t in l.tracks.iter().filter(|t| !t.away) {
        let flags = [
            (t.guest(me), 'g'),
            (!t.may, 'n'),
            (t.exiting, 'x'),
            (t.placed, 'p'),
            (t.refused_until > now, 'r'),
            (t.parent, 'c'),
        ];
        let mut f = [b'-'; 6];
        for (k, (on, c)) in flags.iter().enumerate() {
            if *on {
                f[k] = *c as u8;
            }
        }
        let r = writeln!(
            out,
            "{} {} {} {} {} {} {} {}",
            t.pid,
            t.load,
            t.cpu_use,
            t.rss_pages,
            now.saturating_sub(t.seen_ns) / 1_000_000,
            now.saturating_sub(t.here_ns) / 1_000_000,
            t.threads,
            core::str::from_utf8(&f).unwrap_or("?")
        );
        // A page holds what it holds.
        if r.is_err() {
            break;
        }
    }
    Ok(())
}

fn show_stats(st: &State, out: &mut ShowBuf<'_>) -> Result {
    let c = &st.counts;
    let rows = [
        ("probes_sent", &c.probes_sent),
        ("probes_lost", &c.probes_lost),
        ("probes_received", &c.probes_received),
        ("malformed", &c.malformed),
        ("settings_received", &c.settings_received),
        ("settings_adopted", &c.settings_adopted),
        ("settings_unsent", &c.settings_unsent),
        ("moves", &c.moves),
        ("moves_failed", &c.moves_failed),
        ("moves_memory", &c.moves_memory),
        ("exec_placed", &c.exec_placed),
        ("exec_failed", &c.exec_failed),
    ];
    for (k, v) in rows {
        writeln!(out, "{k} {}", v.load(Ordering::Relaxed)).map_err(fmt_err)?;
    }
    writeln!(out, "generation {:#x}", st.settings().s.gen).map_err(fmt_err)
}

/// The latest moves, oldest first: when (ms since boot), which process
/// to which node, why (the policy, a drain, memory relief), how it ended,
/// and the loads then (memory, for relief).
fn show_moves(st: &State, out: &mut ShowBuf<'_>) -> Result {
    let h = st.history.lock();
    for d in h.iter() {
        let policy = match d.policy {
            crate::balance::BY_DRAIN => "drain",
            crate::balance::BY_MEMORY => "memory",
            p => Policy::from_u8(p).map_or("?", |p| p.name()),
        };
        write!(
            out,
            "{} pid {} to node {} by {}{}: {} ",
            d.at_ms,
            d.pid,
            d.node,
            policy,
            if d.exec { " at exec" } else { "" },
            match (d.errno, d.exec) {
                (0, false) => "ok",
                // The migration runs on its return to user mode.
                (0, true) => "queued",
                _ => "failed",
            },
        )
        .map_err(fmt_err)?;
        if d.policy == crate::balance::BY_MEMORY {
            writeln!(
                out,
                "(available {} of {} kB, process rss {} kB)",
                d.avail_kb, d.total_kb, d.rss_kb
            )
        } else {
            writeln!(out, "(local load {}, process load {})", d.local, d.load)
        }
        .map_err(fmt_err)?;
        if d.errno != 0 {
            // The errno of a failure, on a line of its own for scripts.
            writeln!(out, "  errno {}", -d.errno).map_err(fmt_err)?;
        }
    }
    Ok(())
}
