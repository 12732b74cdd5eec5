// SPDX-License-Identifier: GPL-2.0-only
//! The balancer thread: at the end of each period it asks memory relief
//! (if `mem_low_pct` is set), then the policy in force
//! (`rust/proto/src/sched.rs`), which processes of this node go where,
//! and moves them one after the other through the migration the ghost
//! module offers (`ssi_api::migrate`). It alone moves processes for the
//! scheduler on this node, so none is picked while it moves.

use core::sync::atomic::Ordering;
use kernel::{
    alloc::{flags::GFP_KERNEL, KVec},
    prelude::*,
    time::msecs_to_jiffies,
};

use crate::cluster::{me, now_ns, State, STALE_PERIODS};
use crate::kernel_ext::{hooks::PID_SHIFT, kthread, load::pages_kb};
use crate::proto::sched::{
    drain, fit_moves, may_leave, nowhere, ring, Balancer, Move, NodeLoad, Policy, Probe, Proc,
    RoundRobin, MAX_MOVES,
};
use crate::ssi_api;

/// How long a process whose migration failed is left alone.
const REFUSED_NS: u64 = 60_000_000_000;
/// The periods after which round robin places again a process whose
/// move failed.
const RETRY_PERIODS: u64 = 3;
/// Moves remembered in `/sys/kernel/ssi/sched/moves`.
const HISTORY: usize = 32;

/// A move the balancer made or tried.
#[derive(Clone, Copy, Default)]
pub(crate) struct Done {
    pub(crate) at_ms: u64,
    pub(crate) pid: u32,
    pub(crate) node: u8,
    pub(crate) policy: u8,
    /// 0, or the errno of a failure.
    pub(crate) errno: i32,
    /// Placed at `execve` (queued for its return to user mode).
    pub(crate) exec: bool,
    /// This node's load and the process's when it decided.
    pub(crate) local: u32,
    pub(crate) load: u32,
    /// This node's memory (available, total) and the process's resident
    /// memory when it decided, kB.
    pub(crate) avail_kb: u64,
    pub(crate) total_kb: u64,
    pub(crate) rss_kb: u64,
}

/// The latest moves, oldest first once full.
#[derive(Default)]
pub(crate) struct History {
    pub(crate) ring: [Done; HISTORY],
    pub(crate) next: usize,
    pub(crate) len: usize,
}

impl History {
    pub(crate) fn push(&mut self, d: Done) {
        self.ring[self.next] = d;
        self.next = (self.next + 1) % HISTORY;
        self.len = (self.len + 1).min(HISTORY);
    }

    /// The moves, oldest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Done> {
        let start = (self.next + HISTORY - self.len) % HISTORY;
        (0..self.len).map(move |k| &self.ring[(start + k) % HISTORY])
    }
}

/// What the policy needs, taken under the locks.
struct Snapshot {
    me: NodeLoad,
    others: KVec<NodeLoad>,
    members: KVec<u8>,
    procs: KVec<Proc>,
}

/// The other nodes' loads (the node being drained and those not heard
/// from lately left out), and the members round robin places among
/// (sorted, this node among them, those that refuse guests left out, those
/// not heard from lately kept: a late probe does not cost a node its turn).
pub(crate) fn loads(st: &State, period_ms: u32, drained: u8) -> Result<(KVec<NodeLoad>, KVec<u8>)> {
    let me_id = me();
    let now = now_ns();
    let members = ssi_api::members()?;
    let is_member = |n: u8| members[usize::from(n / 8)] & (1 << (n % 8)) != 0;
    let stale = u64::from(period_ms) * 1_000_000 * STALE_PERIODS;
    let mut others = KVec::new();
    let mut known = KVec::new();
    {
        let v = st.view.lock();
        for (k, p) in v.iter().enumerate() {
            let node = k as u8;
            if node == 0 || node == me_id || node == drained || !is_member(node) {
                continue;
            }
            if p.heard_ns == 0 {
                continue;
            }
            known.push(node_load(node, &p.probe), GFP_KERNEL)?;
            if now.saturating_sub(p.heard_ns) <= stale {
                others.push(node_load(node, &p.probe), GFP_KERNEL)?;
            }
        }
    }
    // Sorted, this node among them.
    let mut ring_ids = [0u8; 256];
    let k = ring(me_id, &known, &mut ring_ids);
    let mut ids = KVec::with_capacity(k, GFP_KERNEL)?;
    ids.extend_from_slice(&ring_ids[..k], GFP_KERNEL)?;
    Ok((others, ids))
}

/// Node `node` as its probe `p` shows it to the policies.
fn node_load(node: u8, p: &Probe) -> NodeLoad {
    NodeLoad {
        node,
        cpus: p.cpus.max(1),
        load: p.busy,
        recent: p.busy_recent,
        refuses_guests: p.refuses_guests,
        mem_total_kb: p.mem_total_kb,
        mem_avail_kb: p.mem_avail_kb,
        mem_movable_kb: p.mem_movable_kb,
        mem_sent_to: p.mem_sent_to,
        mem_sent_kb: p.mem_sent_kb,
    }
}

/// This node's load as the policies see it: its latest probe, as the
/// others have it.
pub(crate) fn local_load(st: &State) -> NodeLoad {
    node_load(me(), &st.local.lock().probe)
}

/// The loads and members ([`loads`]) and this node's processes (those
/// born here left out of the movable ones if `keep_home`, or while
/// `retiring`).
fn snapshot(
    st: &State,
    period_ms: u32,
    since_ns: u64,
    drained: u8,
    retiring: bool,
) -> Result<Snapshot> {
    let me_id = me();
    let now = now_ns();
    let (others, ids) = loads(st, period_ms, drained)?;
    let keep_home = st.keep_home.load(Ordering::Relaxed);
    let l = st.local.lock();
    let me = node_load(me_id, &l.probe);
    let mut procs = KVec::with_capacity(l.tracks.len(), GFP_KERNEL)?;
    for t in l.tracks.iter() {
        let movable = !t.exiting
            && !t.away
            && !t.parent
            && t.may
            && t.threads == 1
            && t.pid >> PID_SHIFT != 0
            && t.refused_until <= now
            && may_leave(t.pid >> PID_SHIFT == u32::from(me_id), keep_home, retiring);
        procs.push(
            Proc {
                pid: t.pid,
                load: t.load,
                here_ms: now.saturating_sub(t.here_ns) / 1_000_000,
                movable,
                unplaced: !t.placed && !t.away && !t.guest(me_id) && t.seen_ns >= since_ns,
                rss_kb: pages_kb(t.rss_pages),
                moved: t.guest(me_id) || t.moves > 0 || t.placed,
            },
            GFP_KERNEL,
        )?;
    }
    Ok(Snapshot {
        me,
        others,
        members: ids,
        procs,
    })
}

/// Why a move was made.
#[derive(Clone, Copy)]
enum Cause {
    Policy(Policy),
    Drain,
    Memory,
}

/// In `Done::policy`: the policy's number, or these for a drain and for
/// memory relief.
pub(crate) const BY_DRAIN: u8 = 0xff;
pub(crate) const BY_MEMORY: u8 = 0xfe;

/// Moves `m` (decided by `by`), and records how it went; whether it did.
fn make(st: &State, m: &Move, by: Cause, snap: &Snapshot) -> bool {
    let (load, rss_kb) = snap
        .procs
        .iter()
        .find(|p| p.pid == m.pid)
        .map_or((0, 0), |p| (p.load, p.rss_kb));
    let ret = ssi_api::migrate(m.pid, m.node);
    let errno = match ret {
        Ok(()) => {
            st.counts.moves.fetch_add(1, Ordering::Relaxed);
            if matches!(by, Cause::Memory) {
                st.counts.moves_memory.fetch_add(1, Ordering::Relaxed);
            }
            0
        }
        Err(e) => {
            st.counts.moves_failed.fetch_add(1, Ordering::Relaxed);
            // Round robin places it again soon (its turn given back);
            // the others leave it alone a while.
            let placing = matches!(by, Cause::Policy(Policy::RoundRobin));
            let wait = match placing {
                true => u64::from(st.settings().s.period_ms) * 1_000_000 * RETRY_PERIODS,
                false => REFUSED_NS,
            };
            let until = now_ns() + wait;
            if let Some(t) = st.local.lock().tracks.iter_mut().find(|t| t.pid == m.pid) {
                t.refused_until = until;
                t.placed &= !placing;
            }
            e.to_errno()
        }
    };
    let done = errno == 0;
    st.history.lock().push(Done {
        at_ms: now_ns() / 1_000_000,
        pid: m.pid,
        node: m.node,
        policy: match by {
            Cause::Policy(p) => p as u8,
            Cause::Drain => BY_DRAIN,
            Cause::Memory => BY_MEMORY,
        },
        errno,
        exec: false,
        local: snap.me.load,
        load,
        avail_kb: snap.me.mem_avail_kb,
        total_kb: snap.me.mem_total_kb,
        rss_kb,
    });
    done
}

/// One period: memory relief's decisions, else the policy's (or the
/// drain's, on the node being drained), then the moves.
fn period(st: &State, bal: &mut Balancer, rr: &mut RoundRobin) -> Result {
    let shared = st.settings();
    let s = shared.s;
    let me = me();
    // A `remove` of this node drains it too (its guests alone).
    let retiring = st.retiring_until_ns.load(Ordering::Relaxed) > now_ns();
    let draining = (s.drain != 0 && s.drain == me) || retiring;
    if (s.policy == Policy::None && !draining && s.mem_low_pct == 0) || me == 0 {
        st.nowhere.store(false, Ordering::Relaxed);
        st.mem_movable_kb.store(0, Ordering::Relaxed);
        st.mem_claim.store(0, Ordering::Relaxed);
        return Ok(());
    }
    let snap = snapshot(st, s.period_ms, shared.policy_since_ns, s.drain, retiring)?;
    bal.tick();
    let stuck = draining && snap.procs.iter().any(|p| p.movable) && nowhere(me, &snap.others);
    if stuck && !st.nowhere.load(Ordering::Relaxed) {
        pr_warn!("draining: no node accepts guests, every process stays\n");
    }
    st.nowhere.store(stuck, Ordering::Relaxed);
    let mut out = [Move::default(); MAX_MOVES];
    // Relief first; the policy decides when it moves nothing (from the
    // next period's probes otherwise).
    let relieved = match draining {
        true => 0,
        false => bal.relieve(&snap.me, &snap.others, &snap.procs, &s, &mut out),
    };
    let n = match s.policy {
        _ if relieved > 0 => relieved,
        _ if draining => drain(bal, me, &snap.others, &snap.procs, &mut out),
        Policy::None => 0,
        Policy::Balance => bal.decide(&snap.me, &snap.others, &snap.procs, &s, &mut out),
        Policy::RoundRobin => {
            let k = rr.place(snap.me.node, &snap.members, &snap.procs, &s, &mut out);
            fit_moves(bal, me, &snap.others, &snap.procs, &s, &mut out[..k]);
            k
        }
    };
    // What relief would move next (or keeps its receiver for): the next
    // probes say it, so that every node assigns receivers alike.
    let candidate = bal.candidate_kb(&snap.me, &snap.others, &snap.procs, &s);
    st.mem_movable_kb.store(candidate, Ordering::Relaxed);
    st.mem_claim
        .store(crate::cluster::pack_claim(bal.claim()), Ordering::Relaxed);
    let by = if relieved > 0 {
        Cause::Memory
    } else if draining {
        Cause::Drain
    } else {
        Cause::Policy(s.policy)
    };
    for m in &out[..n] {
        if s.policy == Policy::RoundRobin && !draining && relieved == 0 {
            if let Some(t) = st.local.lock().tracks.iter_mut().find(|t| t.pid == m.pid) {
                t.placed = true;
            }
        }
        if m.node == snap.me.node {
            continue;
        }
        // Switched meanwhile: the new settings decide from the next period.
        if st.settings().s.gen != s.gen || kthread::should_stop() {
            break;
        }
        if !make(st, m, by, &snap) && matches!(by, Cause::Policy(Policy::RoundRobin)) {
            rr.owe(m.node);
        }
    }
    Ok(())
}

/// The balancer thread's body: one decision per period until stopped.
pub(crate) fn run(st: &State) {
    let mut bal = Balancer::default();
    let mut rr = RoundRobin::default();
    let mut seen = 0u32;
    let mut out_drain = 0u64;
    while !kthread::should_stop() {
        {
            let mut l = st.local.lock();
            while l.probe.seq == seen && !kthread::should_stop() {
                let _ = st
                    .tick
                    .wait_interruptible_timeout(&mut l, msecs_to_jiffies(500));
            }
            seen = l.probe.seq;
        }
        if kthread::should_stop() {
            break;
        }
        let _ = period(st, &mut bal, &mut rr);
        out_drain = withdraw_drain(st, out_drain);
    }
}

/// A drain that names a node out of the view (retired by `remove`, or
/// gone) for [`STALE_PERIODS`] periods is withdrawn by the member with
/// the lowest id: otherwise the node would be drained again if it came
/// back. The node whose `remove` retired it withdraws it at once (it may
/// be back before those periods). Returns the periods counted.
fn withdraw_drain(st: &State, periods: u64) -> u64 {
    let drained = st.settings().s.drain;
    let retired = st.retired.swap(0, Ordering::Relaxed);
    if drained != 0 && retired == drained {
        let _ = st.write(|s| {
            if s.drain == drained {
                s.drain = 0;
            }
        });
        pr_info!("drain of node {} withdrawn: its remove is done\n", drained);
        return 0;
    }
    if drained == 0 || ssi_api::is_member(drained) {
        return 0;
    }
    if periods + 1 < STALE_PERIODS {
        return periods + 1;
    }
    let lowest = ssi_api::members()
        .ok()
        .and_then(|m| (1..=255u8).find(|&n| m[usize::from(n / 8)] & (1 << (n % 8)) != 0));
    if lowest == Some(me()) {
        let _ = st.write(|s| {
            if s.drain == drained {
                s.drain = 0;
            }
        });
        pr_info!("drain of node {} withdrawn: it left the view\n", drained);
    }
    0
}
