// SPDX-License-Identifier: GPL-2.0-only
//! What a node's load is made of, for the global scheduler: its runnable
//! tasks, its processes (CPU time, start, threads, resident pages) and its
//! memory.

use kernel::{
    alloc::{flags::GFP_KERNEL, KVec},
    bindings,
    prelude::*,
};

use crate::kernel_ext::pid::{init_ns, RcuGuard};

/// A process of this node at one instant.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcSample {
    pub pid: u32,
    /// Its main thread was running or waiting for a CPU.
    pub runnable: bool,
    /// When it started (or its task was made here), monotonic ns.
    pub start_ns: u64,
    /// CPU time of its main thread, ns.
    pub cpu_ns: u64,
    pub threads: u32,
    /// Ending (`PF_EXITING`, or a zombie).
    pub exiting: bool,
}

/// `TASK_RUNNING`.
const RUNNING: u32 = 0;

/// One pass over every task of this node: appends its processes (kernel
/// threads left out) to `out`, and returns how many tasks, threads and
/// kernel threads included, were runnable, the caller left out.
pub fn sample(out: &mut KVec<ProcSample>) -> Result<u32> {
    let mut nr = 1i32;
    let mut runnable = 0u32;
    // SAFETY: reads the current task pointer, never dereferenced here.
    let me = unsafe { bindings::get_current() };
    loop {
        let rcu = RcuGuard::new();
        // SAFETY: RCU is held as `find_ge_pid` requires; the namespace is
        // the initial one.
        let pid = unsafe { bindings::find_ge_pid(nr, init_ns()) };
        if pid.is_null() {
            break;
        }
        // SAFETY: `pid` is valid under `rcu`.
        let this = unsafe { bindings::pid_nr_ns(pid, init_ns()) };
        if this < nr {
            break;
        }
        // SAFETY: `pid` is valid under `rcu`; the tasks found through it
        // are freed only after an RCU grace period.
        let (thread, leader) = unsafe {
            (
                bindings::pid_task(pid, bindings::pid_type_PIDTYPE_PID),
                bindings::pid_task(pid, bindings::pid_type_PIDTYPE_TGID),
            )
        };
        let mut found = None;
        if !thread.is_null() && thread != me {
            // SAFETY: `thread` is valid under `rcu`; `__state` is a word
            // the scheduler writes with WRITE_ONCE.
            let state = unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*thread).__state)) };
            let is_runnable = state == RUNNING;
            runnable += u32::from(is_runnable);
            if !leader.is_null() {
                // SAFETY: `leader` is valid under `rcu`, and so is its
                // signal struct (freed with the task); plain words, read
                // racily as /proc does.
                let (flags, exit_state, start_ns, cpu_ns, threads) = unsafe {
                    let signal = (*leader).signal;
                    (
                        (*leader).flags,
                        (*leader).exit_state,
                        (*leader).start_time,
                        (*leader).se.sum_exec_runtime,
                        if signal.is_null() {
                            0
                        } else {
                            (*signal).nr_threads
                        },
                    )
                };
                if flags & bindings::PF_KTHREAD == 0 {
                    found = Some(ProcSample {
                        pid: this as u32,
                        runnable: is_runnable,
                        start_ns,
                        cpu_ns,
                        threads: u32::try_from(threads).unwrap_or(0),
                        exiting: flags & bindings::PF_EXITING != 0 || exit_state != 0,
                    });
                }
            }
        }
        drop(rcu);
        if let Some(p) = found {
            out.push(p, GFP_KERNEL)?;
        }
        nr = this.checked_add(1).ok_or(EINVAL)?;
    }
    Ok(runnable)
}

/// Resident pages of process `pid` (file, anonymous and shared memory);
/// `None` if it has no address space or is gone.
pub fn resident_pages(pid: u32) -> Option<u64> {
    let nr = i32::try_from(pid).ok()?;
    let task = {
        let _rcu = RcuGuard::new();
        // SAFETY: RCU is held as `find_pid_ns` and `pid_task` require.
        let t = unsafe {
            let p = bindings::find_pid_ns(nr, init_ns());
            if p.is_null() {
                return None;
            }
            bindings::pid_task(p, bindings::pid_type_PIDTYPE_TGID)
        };
        if t.is_null() {
            return None;
        }
        // SAFETY: `t` is valid under RCU; the reference keeps it after.
        unsafe { bindings::get_task_struct(t) };
        t
    };
    // SAFETY: `task` is a counted reference; `get_task_mm` takes the task
    // lock and returns a counted mm or null.
    let mm = unsafe { bindings::get_task_mm(task) };
    // SAFETY: gives back the reference taken above.
    unsafe { bindings::put_task_struct(task) };
    if mm.is_null() {
        return None;
    }
    // SAFETY: `mm` is a counted reference; the counters are plain words
    // read as `get_mm_counter()` does (their approximate value).
    let pages = unsafe {
        let c = &(*mm).__bindgen_anon_1.rss_stat;
        [
            bindings::MM_FILEPAGES,
            bindings::MM_ANONPAGES,
            bindings::MM_SHMEMPAGES,
        ]
        .iter()
        .map(|&i| c[i as usize].count.max(0) as u64)
        .sum()
    };
    // SAFETY: gives back the reference `get_task_mm` took.
    unsafe { bindings::mmput(mm) };
    Some(pages)
}

/// This node's memory: `(total, free)` in KiB.
pub fn memory_kb() -> (u64, u64) {
    let mut i = bindings::sysinfo::default();
    // SAFETY: `i` is writable; `si_meminfo` fills it.
    unsafe { bindings::si_meminfo(&mut i) };
    let unit = u64::from(i.mem_unit.max(1));
    let kb = |v: u64| v.saturating_mul(unit) / 1024;
    // `unsigned long`: 64 bits on the architectures ssi-rs builds for.
    let (total, free) = (i.totalram as u64, i.freeram as u64);
    (kb(total), kb(free))
}

/// Monotonic time, ns (the clock of [`ProcSample::start_ns`]).
pub fn now_ns() -> u64 {
    kernel::time::Ktime::ktime_get().to_ns().max(0) as u64
}
