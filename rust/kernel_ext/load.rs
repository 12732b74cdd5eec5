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
    pub threads: u32,
    /// Ending (`PF_EXITING`).
    pub exiting: bool,
}

/// `TASK_RUNNING`.
const RUNNING: u32 = 0;
/// `SSI_TASK_STAT`: `/proc/<pid>/stat`.
const TASK_STAT: usize = 3;

/// One pass over every task of this node: appends its processes (kernel
/// threads left out) to `out`, and returns how many tasks, threads and
/// kernel threads included, were runnable, the caller left out.
///
/// Only `__state`, which follows `thread_info` at the start of
/// `task_struct`, is read from the structure itself; bindgen's layout of
/// the fields further on does not match the kernel's (it puts `signal`
/// 64 bytes off), so the rest comes from the kernel's own helpers.
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
            // the scheduler writes with WRITE_ONCE, right after
            // `thread_info` (where bindgen's layout is the kernel's).
            let state = unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*thread).__state)) };
            let is_runnable = state == RUNNING;
            runnable += u32::from(is_runnable);
            if !leader.is_null() {
                let mut i = bindings::ssi_ghost_info::default();
                // SAFETY: `leader` is valid under `rcu`, and so is its
                // signal struct (freed with the task); `i` is writable.
                unsafe { bindings::ssi_ghost_task_info(leader, &mut i) };
                if i.kthread == 0 {
                    found = Some(ProcSample {
                        pid: this as u32,
                        runnable: is_runnable,
                        threads: i.threads,
                        exiting: i.exiting != 0,
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

/// `/proc/<pid>/stat` of local process `pid`, as `/proc` shows it, into
/// `buf`: its length.
pub fn stat(pid: u32, buf: &mut [u8]) -> Result<usize> {
    crate::kernel_ext::hooks::task_read(pid, TASK_STAT, buf)
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

/// This node's available memory in KiB: free plus what the kernel can
/// reclaim (`MemAvailable` of `/proc/meminfo`).
pub fn available_kb() -> u64 {
    // SAFETY: no argument; it reads the zone and page counters.
    let pages = unsafe { bindings::si_mem_available() };
    u64::try_from(pages)
        .unwrap_or(0)
        .saturating_mul(kernel::page::PAGE_SIZE as u64)
        / 1024
}

/// Resident pages in KiB.
pub fn pages_kb(pages: u64) -> u64 {
    pages.saturating_mul(kernel::page::PAGE_SIZE as u64) / 1024
}

/// Monotonic time, ns (the clock of [`ProcSample::start_ns`]).
pub fn now_ns() -> u64 {
    kernel::time::Ktime::ktime_get().to_ns().max(0) as u64
}
