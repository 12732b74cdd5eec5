// SPDX-License-Identifier: GPL-2.0-only
//! The drain a write to `/sys/kernel/ssi/remove` runs before the node it
//! names retires (`ssi_api::Drainer`, offered to `ssi.ko`): that node is
//! told to send its guests away (`RETIRE`, renewed each poll: its own
//! processes stay, their stub, parent and files are there) and every node
//! to send it nothing (`drain`); the write waits, bounded, until it runs
//! no guest that may leave, then a grace for the processes that keep it
//! to end. What is left is listed (kernel log, `remove_pending`) and the
//! node stays, unless the write said `force`.

use core::fmt::Write;
use core::sync::atomic::Ordering;
use kernel::prelude::*;

use crate::cluster::{me, now_ns, State, SERVICE};
use crate::kernel_ext::{errno, hooks::PID_SHIFT, kthread};
use crate::proto::sched::{Msg, Pending, Retiring, Why, MAX_MSG, MAX_RETIRING};
use crate::ssi_api;

/// Longest wait of a write to `remove` for the guests to leave.
const WAIT_MS: u64 = 60_000;
/// Once no guest is left to move: how long the processes that keep the
/// node have to end by themselves.
const GRACE_MS: u64 = 10_000;
/// Between two polls of the node.
const POLL_MS: u32 = 500;
/// A `RETIRE` keeps the node sending only its guests this long.
const RETIRING_NS: u64 = 5_000_000_000;
/// How long the node has to answer a poll.
const CALL_MS: u32 = 2000;

/// Where the latest `remove` written on this node is.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Stage {
    #[default]
    None,
    /// The write waits.
    Draining,
    /// Refused (`-EBUSY`): the processes listed keep it.
    Pending,
    /// Retired with the processes listed left behind (`force`).
    Forced,
    /// Retired, drained.
    Drained,
    /// The write ended on a signal or the bound: the node stays.
    Interrupted,
}

impl Stage {
    fn name(self) -> &'static str {
        match self {
            Stage::None => "none",
            Stage::Draining => "draining",
            Stage::Pending => "pending",
            Stage::Forced => "forced",
            Stage::Drained => "drained",
            Stage::Interrupted => "interrupted",
        }
    }
}

/// The latest `remove` written on this node (`remove_pending`).
#[derive(Default)]
pub(crate) struct Removal {
    node: u8,
    stage: Stage,
    status: Retiring,
}

/// This node's answer to `RETIRE`: it sends only its guests away for the
/// next few seconds; how many may still leave, and what keeps it.
pub(crate) fn status(st: &State) -> Retiring {
    let now = now_ns();
    st.retiring_until_ns
        .store(now + RETIRING_NS, Ordering::Relaxed);
    let me = me();
    let mut r = Retiring {
        nowhere: st.nowhere.load(Ordering::Relaxed),
        ..Retiring::default()
    };
    let l = st.local.lock();
    for t in l.tracks.iter() {
        let home = t.pid >> PID_SHIFT;
        // Node-local processes (init, the agent, the console) and those
        // on their way out keep nothing.
        if home == 0 || t.exiting || me == 0 {
            continue;
        }
        let why = if home == u32::from(me) {
            Why::Home
        } else if t.away {
            continue;
        } else if !t.may || t.threads != 1 || t.parent || t.refused_until > now {
            Why::Pinned
        } else if r.nowhere {
            Why::Nowhere
        } else {
            r.moving = r.moving.saturating_add(1);
            continue;
        };
        let at = if t.away && t.at != 0 { t.at } else { me };
        // The list says what fits; `moving` and the log the rest.
        let _ = r.push(Pending {
            pid: t.pid,
            at,
            why,
        });
    }
    r
}

/// Asks `node` (this one, or by `RETIRE`) how far its drain is.
fn ask(st: &State, node: u8) -> Result<Retiring> {
    if node == me() {
        return Ok(status(st));
    }
    let mut req = [0u8; MAX_MSG];
    let n = Msg::Retire.encode(&mut req);
    let mut resp = [0u8; MAX_RETIRING];
    let len = ssi_api::call(node, SERVICE, &req[..n], &mut resp, CALL_MS)?;
    Retiring::decode(&resp[..len]).ok_or(EINVAL)
}

/// What becomes of a process left behind by a forced removal of `node`.
fn fate(p: &Pending, node: u8) -> &'static str {
    match (p.why, p.at == node) {
        (Why::Home, true) => "runs on there, out of the cluster, with its parent and files",
        (Why::Home, false) => {
            "its stub there leaves: it runs on without its parent and files, its parent sees it killed"
        }
        _ => "runs on there, out of the cluster; its stub at home gives it up (killed)",
    }
}

fn log(node: u8, r: &Retiring, force: bool) {
    for p in r.list() {
        if force {
            pr_warn!(
                "remove {} forced: pid {} ({}, on node {}) stays behind: {}\n",
                node,
                p.pid,
                p.why.name(),
                p.at,
                fate(p, node)
            );
        } else {
            pr_warn!(
                "remove {}: pid {} ({}, on node {}) keeps it; write '{} force' to /sys/kernel/ssi/remove to retire it anyway\n",
                node,
                p.pid,
                p.why.name(),
                p.at,
                node
            );
        }
    }
    if r.moving != 0 {
        pr_warn!("remove {}: {} guests still leaving\n", node, r.moving);
    }
    if r.nowhere {
        pr_warn!("remove {}: no node accepts guests\n", node);
    }
}

/// The drain of `node` before a write to `remove` retires it: `Ok` to
/// retire it; `EBUSY` (the processes listed keep it), `ETIMEDOUT` (guests
/// still leaving at the bound), `EINTR` (a signal): it stays, drained.
pub(crate) fn drain(st: &State, node: u8, force: bool) -> Result {
    if me() == 0 {
        return Err(ENODEV);
    }
    let set = |stage: Stage, status: Retiring| {
        let mut m = st.removal.lock();
        *m = Removal {
            node,
            stage,
            status,
        };
    };
    set(Stage::Draining, Retiring::default());
    pr_info!("remove {}: draining its guests\n", node);
    // First the node keeps its own processes, then it is drained.
    let first = match ask(st, node) {
        Ok(r) => r,
        // Gone or without a scheduler: retired as without one.
        Err(e) if force || !ssi_api::is_member(node) => {
            pr_warn!("remove {}: no drain ({:?})\n", node, e);
            set(Stage::Forced, Retiring::default());
            return Ok(());
        }
        Err(e) => {
            pr_warn!("remove {}: the node does not answer ({:?})\n", node, e);
            set(Stage::Interrupted, Retiring::default());
            return Err(e);
        }
    };
    if st.settings().s.drain != node {
        st.write(|s| s.drain = node)?;
    }
    let start = now_ns();
    let mut r = first;
    let mut settled: Option<u64> = None;
    let outcome = loop {
        let now = now_ns();
        if r.done() {
            break Ok(());
        }
        if r.moving == 0 || r.nowhere {
            let since = *settled.get_or_insert(now);
            if force || now - since >= GRACE_MS * 1_000_000 {
                break Err(EBUSY);
            }
        } else {
            settled = None;
        }
        if now - start >= WAIT_MS * 1_000_000 {
            break Err(errno::etimedout());
        }
        set(Stage::Draining, r);
        kthread::sleep_ms(POLL_MS);
        if kthread::signal_pending() {
            break Err(EINTR);
        }
        match ask(st, node) {
            Ok(next) => r = next,
            Err(_) if !ssi_api::is_member(node) => break Ok(()),
            Err(_) => {}
        }
    };
    match outcome {
        Ok(()) => {
            pr_info!("remove {}: drained\n", node);
            set(Stage::Drained, r);
            st.retired.store(node, Ordering::Relaxed);
            Ok(())
        }
        Err(_) if force => {
            log(node, &r, true);
            set(Stage::Forced, r);
            st.retired.store(node, Ordering::Relaxed);
            Ok(())
        }
        Err(e) => {
            log(node, &r, false);
            let stage = if e == EBUSY {
                Stage::Pending
            } else {
                Stage::Interrupted
            };
            set(stage, r);
            Err(e)
        }
    }
}

impl ssi_api::Drainer for State {
    fn drain(&self, node: u8, force: bool) -> Result {
        drain(self, node, force)
    }
}

/// `remove_pending`: `node N STAGE`, `moving M`, then `PID NODE WHY` for
/// each process that keeps it (or was left behind).
pub(crate) fn show(st: &State, out: &mut impl Write) -> core::fmt::Result {
    let m = st.removal.lock();
    if m.stage == Stage::None {
        return Ok(());
    }
    writeln!(out, "node {} {}", m.node, m.stage.name())?;
    writeln!(
        out,
        "moving {}{}",
        m.status.moving,
        if m.status.nowhere { " nowhere" } else { "" }
    )?;
    for p in m.status.list() {
        writeln!(out, "{} {} {}", p.pid, p.at, p.why.name())?;
    }
    Ok(())
}
