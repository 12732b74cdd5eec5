// SPDX-License-Identifier: GPL-2.0-only
//! The probes of this node: its run queue sampled ten times a period and
//! averaged (rising slowly, falling at once), its CPUs and memory, and
//! each of its processes (load, CPU use, resident pages, age); published
//! to every member at the end of each period.

use kernel::{
    alloc::{flags::GFP_KERNEL, KVec},
    prelude::*,
};

use crate::cluster::{me, now_ns, State};
use crate::kernel_ext::{hooks::PID_SHIFT, kthread, load, pid, task::TaskRef};
use crate::proto::sched::{process_load, LoadAvg, Probe, TaskStat, MAX_LOAD, MIN_PROC_LOAD};
use crate::ssi_api;

/// Samples of the run queue per period.
pub(crate) const SAMPLES: u32 = 10;
/// Nanoseconds per clock tick of `/proc/<pid>/stat` (`USER_HZ` 100).
const TICK_NS: u64 = 10_000_000;

/// A process of this node, followed from sample to sample.
#[derive(Clone, Copy, Default)]
pub(crate) struct Track {
    pub(crate) pid: u32,
    /// Its start (`/proc/<pid>/stat`), clock ticks after boot.
    start_ticks: u64,
    /// When the probes first saw it (within a tenth of a period of its
    /// start or arrival, or the module's load).
    pub(crate) seen_ns: u64,
    /// When it was last seen arriving here: first seen, or back from
    /// another node.
    pub(crate) here_ns: u64,
    /// Samples of this period in which it was runnable, and taken.
    runnable: u32,
    samples: u32,
    /// Its load over the last period (0 to 1000).
    pub(crate) load: u32,
    /// CPU time, clock ticks, and its use over the last period (per
    /// mille of a CPU).
    cpu_ticks: u64,
    pub(crate) cpu_use: u32,
    pub(crate) rss_pages: u64,
    pub(crate) threads: u32,
    pub(crate) exiting: bool,
    ppid: u32,
    /// Another process of this node (or a stub here) is its child: it
    /// stays with it (a parent that moved could not wait for a child
    /// left behind).
    pub(crate) parent: bool,
    /// Its stub is here; it runs elsewhere.
    pub(crate) away: bool,
    /// Where it runs, if its stub is here (0: here), as of the last
    /// period; and how many times that changed while this node watched
    /// (its migrations, as its home sees them).
    pub(crate) at: u8,
    pub(crate) moves: u32,
    /// Its `CAN_MIGRATE` permission.
    pub(crate) may: bool,
    /// Placed by round robin (it stays where it was put).
    pub(crate) placed: bool,
    /// A migration of it failed: not tried again before then (ns).
    pub(crate) refused_until: u64,
    /// Seen in the latest sample.
    seen: bool,
}

impl Track {
    /// Born on another node (it came here).
    pub(crate) fn guest(&self, me: u8) -> bool {
        let home = self.pid >> PID_SHIFT;
        home != 0 && home != u32::from(me)
    }
}

/// This node's side: its probe, its processes.
pub(crate) struct Local {
    pub(crate) probe: Probe,
    avg: LoadAvg,
    busy: LoadAvg,
    runnable: u32,
    samples: u32,
    pub(crate) tracks: KVec<Track>,
}

impl Local {
    pub(crate) fn new() -> Result<Self> {
        Ok(Local {
            probe: Probe::default(),
            avg: LoadAvg::default(),
            busy: LoadAvg::default(),
            runnable: 0,
            samples: 0,
            tracks: KVec::new(),
        })
    }
}

impl Local {
    /// Program `pid` was just placed at `execve`: placed for good (round
    /// robin does not place it again) and here since now (no policy
    /// moves it before its residence time, nor while it leaves).
    pub(crate) fn placed_at_exec(&mut self, pid: u32, now: u64) -> Result {
        match self.tracks.iter_mut().find(|t| t.pid == pid) {
            Some(t) => {
                t.placed = true;
                t.here_ns = now;
            }
            None => self.tracks.push(
                Track {
                    pid,
                    seen_ns: now,
                    here_ns: now,
                    may: true,
                    placed: true,
                    seen: true,
                    ..Track::default()
                },
                GFP_KERNEL,
            )?,
        }
        Ok(())
    }
}

/// Takes one sample into `st.local`.
fn sample(st: &State, buf: &mut KVec<load::ProcSample>) -> Result {
    crate::kernel_ext::vec::retain(buf, |_| false);
    let runnable = load::sample(buf)?;
    let now = now_ns();
    let mut l = st.local.lock();
    l.runnable = l.runnable.saturating_add(runnable);
    l.samples += 1;
    for t in l.tracks.iter_mut() {
        t.seen = false;
    }
    for s in buf.iter() {
        let t = match l.tracks.iter_mut().find(|t| t.pid == s.pid) {
            Some(t) => t,
            None => {
                l.tracks.push(
                    Track {
                        pid: s.pid,
                        seen_ns: now,
                        here_ns: now,
                        may: true,
                        ..Track::default()
                    },
                    GFP_KERNEL,
                )?;
                let k = l.tracks.len() - 1;
                &mut l.tracks[k]
            }
        };
        t.seen = true;
        t.samples += 1;
        t.runnable += u32::from(s.runnable);
        t.threads = s.threads;
        t.exiting = s.exiting;
    }
    // The processes that ended (or became another with the same PID).
    crate::kernel_ext::vec::retain(&mut l.tracks, |t| t.seen);
    Ok(())
}

/// Ends a period of `period_ms`: the loads, each process's figures, the
/// probe; then publishes it and wakes the balancer.
fn end_period(st: &State, period_ms: u32) -> Result {
    let me = me();
    let (total_kb, free_kb) = load::memory_kb();
    let avail_kb = load::available_kb();
    let (sent_to, sent_kb) =
        crate::cluster::unpack_claim(st.mem_claim.load(core::sync::atomic::Ordering::Relaxed));
    let sent_kb = if sent_to == 0 {
        0
    } else {
        sent_kb.min(total_kb)
    };
    let now = now_ns();
    // The figures that need calls (not under the lock): per process.
    let pids: KVec<u32> = {
        let l = st.local.lock();
        let mut v = KVec::with_capacity(l.tracks.len(), GFP_KERNEL)?;
        for t in l.tracks.iter() {
            v.push(t.pid, GFP_KERNEL)?;
        }
        v
    };
    let mut extra = KVec::with_capacity(pids.len(), GFP_KERNEL)?;
    let mut buf = [0u8; 512];
    for &p in pids.iter() {
        let st = load::stat(p, &mut buf)
            .ok()
            .and_then(|n| TaskStat::parse(&buf[..n]));
        let may = TaskRef::get(p).is_ok_and(|t| t.may_migrate());
        let at = ssi_api::task_at(p).unwrap_or(0);
        extra.push((p, st, may, at), GFP_KERNEL)?;
    }
    let probe = {
        let mut l = st.local.lock();
        let samples = l.samples.max(1);
        let recent = u64::from(l.runnable) * 1000 / u64::from(samples);
        let recent = u32::try_from(recent).unwrap_or(u32::MAX);
        let avg = l.avg.update(recent);
        let period_ns = u64::from(period_ms) * 1_000_000;
        let (mut procs, mut guests, mut busy) = (0u16, 0u16, 0u64);
        for t in l.tracks.iter_mut() {
            let mut used_ticks = 0;
            if let Some(&(_, st, may, at)) = extra.iter().find(|e| e.0 == t.pid) {
                let away = at != 0;
                if t.away && !away {
                    // Back from another node.
                    t.here_ns = now;
                }
                if let Some(st) = st {
                    if t.start_ticks != 0 && st.start_ticks != t.start_ticks {
                        // Another process with the same PID.
                        *t = Track {
                            pid: t.pid,
                            seen_ns: now,
                            here_ns: now,
                            ..Track::default()
                        };
                    } else {
                        used_ticks = st.cpu_ticks.saturating_sub(t.cpu_ticks);
                    }
                    t.start_ticks = st.start_ticks;
                    t.cpu_ticks = st.cpu_ticks;
                    t.rss_pages = st.rss_pages;
                    t.ppid = st.ppid;
                    t.threads = st.threads;
                }
                t.may = may;
                t.away = away;
                if t.at != at {
                    // Left, went on, or came back.
                    t.moves = t.moves.saturating_add(1);
                    t.at = at;
                }
            }
            t.load = process_load(t.runnable, t.samples);
            let used = used_ticks.saturating_mul(TICK_NS) * 1000 / period_ns.max(1);
            t.cpu_use = u32::try_from(used).unwrap_or(u32::MAX);
            t.runnable = 0;
            t.samples = 0;
            if !t.away {
                procs = procs.saturating_add(1);
                if t.guest(me) {
                    guests = guests.saturating_add(1);
                }
                if t.load >= MIN_PROC_LOAD {
                    busy += u64::from(t.load);
                }
            }
        }
        // Parents: a process with a child here, running or the stub of
        // one that runs elsewhere (its parent waits for it here too).
        let n = l.tracks.len();
        for k in 0..n {
            let pid = l.tracks[k].pid;
            let parent = l.tracks.iter().any(|c| c.ppid == pid);
            l.tracks[k].parent = parent;
        }
        let busy_recent = u32::try_from(busy).unwrap_or(u32::MAX).min(MAX_LOAD);
        let busy = l.busy.update(busy_recent);
        l.runnable = 0;
        l.samples = 0;
        let seq = l.probe.seq.wrapping_add(1).max(1);
        l.probe = Probe {
            seq,
            cpus: u16::try_from(pid::online_cpus()).unwrap_or(u16::MAX).max(1),
            load: avg.min(MAX_LOAD),
            recent: recent.min(MAX_LOAD),
            mem_total_kb: total_kb,
            mem_free_kb: free_kb.min(total_kb),
            mem_avail_kb: avail_kb.min(total_kb),
            mem_movable_kb: st
                .mem_movable_kb
                .load(core::sync::atomic::Ordering::Relaxed)
                .min(total_kb),
            mem_sent_to: if sent_kb == 0 { 0 } else { sent_to },
            mem_sent_kb: sent_kb,
            procs,
            guests,
            busy: busy.min(MAX_LOAD),
            busy_recent,
            refuses_guests: !st.accept_guests.load(core::sync::atomic::Ordering::Relaxed),
        };
        l.probe
    };
    st.tick.notify_all();
    if me != 0 {
        st.publish(&probe);
    }
    Ok(())
}

/// The prober thread's body: samples and ends periods until stopped.
pub(crate) fn run(st: &State) {
    let mut buf = KVec::new();
    let mut errors = 0u64;
    while !kthread::should_stop() {
        let period_ms = st.settings().s.period_ms;
        for _ in 0..SAMPLES {
            kthread::sleep_ms((period_ms / SAMPLES).max(1));
            if kthread::should_stop() {
                return;
            }
            if sample(st, &mut buf).is_err() {
                errors += 1;
            }
            // A new period takes effect at the next sample, not after a
            // long one.
            if st.settings().s.period_ms != period_ms {
                break;
            }
        }
        if end_period(st, period_ms).is_err() {
            errors += 1;
        }
        if errors == 1 {
            pr_warn!("a probe failed (out of memory)\n");
            errors += 1;
        }
    }
}
