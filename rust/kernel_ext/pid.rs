// SPDX-License-Identifier: GPL-2.0-only
//! The processes of this node, by PID in the initial PID namespace.

use kernel::{
    alloc::{flags::GFP_KERNEL, KVec},
    bindings,
    prelude::*,
};

/// An RCU read-side critical section, ended on drop.
pub(crate) struct RcuGuard;

impl RcuGuard {
    pub(crate) fn new() -> Self {
        // SAFETY: starts a read-side section that `drop` ends.
        unsafe { bindings::rcu_read_lock() };
        RcuGuard
    }
}

impl Drop for RcuGuard {
    fn drop(&mut self) {
        // SAFETY: ends the section `new` started, on the same thread.
        unsafe { bindings::rcu_read_unlock() };
    }
}

/// The process (thread-group leader, not a kernel thread) whose PID is
/// `pid`, if any. The pointer is only valid under `_rcu`.
fn process(pid: *mut bindings::pid, _rcu: &RcuGuard) -> bool {
    // SAFETY: `pid` is non-null and RCU-protected by `_rcu`.
    let task = unsafe { bindings::pid_task(pid, bindings::pid_type_PIDTYPE_TGID) };
    if task.is_null() {
        return false;
    }
    // SAFETY: `task` is valid under `_rcu`; `flags` is a plain word.
    let flags = unsafe { (*task).flags };
    flags & bindings::PF_KTHREAD == 0
}

/// The initial PID namespace, a static of the kernel.
pub(crate) fn init_ns() -> *mut bindings::pid_namespace {
    core::ptr::addr_of_mut!(bindings::init_pid_ns)
}

/// Appends to `out`, in increasing order, up to `max` PIDs at and above
/// `from` of the processes this node runs (kernel threads left out).
pub fn processes_from(from: u32, max: usize, out: &mut KVec<u32>) -> Result {
    let mut nr = i32::try_from(from).map_err(|_| EINVAL)?;
    let mut found = 0;
    while found < max {
        let rcu = RcuGuard::new();
        // SAFETY: RCU is held as `find_ge_pid` requires; the namespace is
        // the initial one.
        let pid = unsafe { bindings::find_ge_pid(nr, init_ns()) };
        if pid.is_null() {
            break;
        }
        // SAFETY: `pid` is valid under `rcu`.
        let this = unsafe { bindings::pid_nr_ns(pid, init_ns()) };
        let is_process = process(pid, &rcu);
        drop(rcu);
        if this < nr {
            break;
        }
        if is_process {
            out.push(this as u32, GFP_KERNEL)?;
            found += 1;
        }
        nr = this.checked_add(1).ok_or(EINVAL)?;
    }
    Ok(())
}

/// Whether this node runs a process (not a kernel thread) with PID `nr`.
pub fn is_process(nr: u32) -> bool {
    let Ok(nr) = i32::try_from(nr) else {
        return false;
    };
    let rcu = RcuGuard::new();
    // SAFETY: RCU is held as `find_pid_ns` requires.
    let pid = unsafe { bindings::find_pid_ns(nr, init_ns()) };
    !pid.is_null() && process(pid, &rcu)
}

/// CPUs online on this node.
pub fn online_cpus() -> u32 {
    // SAFETY: reads a counter; no pointers.
    unsafe { bindings::num_online_cpus() }
}
