// SPDX-License-Identifier: GPL-2.0-only
//! What a migration needs of the kernel (kernel/ssi_migrate.c of patch
//! 0017): starting the arriving process with its PID from a kernel thread,
//! and the stub left behind: its signals, its end, work run in its context.

use kernel::{
    alloc::{flags::GFP_KERNEL, KBox},
    bindings,
    error::Error,
    ffi::c_void,
    prelude::*,
    str::CStr,
};

/// Starts, from the calling kernel thread, a user process with PID `pid`
/// that runs `path arg`; the thread must reap it with [`wait`]. `EEXIST`
/// if the PID is taken.
pub fn spawn(pid: u32, path: &CStr, arg: &CStr) -> Result<u32> {
    let nr = i32::try_from(pid).map_err(|_| EINVAL)?;
    // SAFETY: both strings are NUL-terminated and outlive the call (the
    // child has exec'ed or exited when it returns: CLONE_VFORK).
    let ret = unsafe { bindings::ssi_ghost_spawn(nr, path.as_char_ptr(), arg.as_char_ptr()) };
    if ret < 0 {
        Err(Error::from_errno(ret))
    } else {
        Ok(ret as u32)
    }
}

/// Waits for the calling kernel thread's child `pid` to end; returns its
/// wait status.
pub fn wait(pid: u32) -> Result<u32> {
    let nr = i32::try_from(pid).map_err(|_| EINVAL)?;
    let mut status = 0;
    // SAFETY: `status` is writable; waits for a child of the caller.
    let ret = unsafe { bindings::ssi_ghost_wait(nr, &mut status) };
    if ret < 0 {
        Err(Error::from_errno(ret))
    } else {
        Ok(status as u32)
    }
}

/// Ends the current process with wait status `status`.
pub fn exit(status: u32) -> ! {
    // SAFETY: ends the current task, as exit_group() does; never returns.
    unsafe { bindings::ssi_ghost_exit(status as i32) }
}

/// Takes the current task's next pending signal, blocked or not.
pub fn next_signal() -> Option<u32> {
    // SAFETY: acts on the current task's own queues under its lock.
    let sig = unsafe { bindings::ssi_ghost_next_signal() };
    (sig > 0).then_some(sig as u32)
}

/// Whether the current task has been killed.
pub fn killed() -> bool {
    // SAFETY: reads the current task's flags.
    unsafe { bindings::ssi_ghost_killed() }
}

/// Sends `sig` to process `pid` of this node with the kernel's rights.
pub fn signal(pid: u32, sig: u32) -> Result {
    let nr = i32::try_from(pid).map_err(|_| ESRCH)?;
    // SAFETY: `find_vpid` needs RCU, held until `kill_pid` took its own
    // reference; a null pid is refused by `kill_pid` with -ESRCH.
    let ret = unsafe {
        bindings::rcu_read_lock();
        let p = bindings::find_pid_ns(nr, core::ptr::addr_of_mut!(bindings::init_pid_ns));
        let r = if p.is_null() {
            -(bindings::ESRCH as i32)
        } else {
            bindings::kill_pid(p, sig as i32, 1)
        };
        bindings::rcu_read_unlock();
        r
    };
    if ret < 0 {
        Err(Error::from_errno(ret))
    } else {
        Ok(())
    }
}

/// Sleeps `ms` milliseconds, signals or not.
pub fn sleep_ms(ms: u32) {
    // SAFETY: sleeping in process context.
    unsafe { bindings::msleep(ms) };
}

/// Runs the closure [`later`] boxed.
///
/// # Safety
///
/// `arg` must be a `KBox<F>` leaked by `later`, passed to exactly one call.
unsafe extern "C" fn later_tramp<F: FnOnce()>(arg: *mut c_void) {
    // SAFETY: `arg` is the box `later` leaked for this call, run once.
    let f = unsafe { KBox::from_raw(arg.cast::<F>()) };
    KBox::into_inner(f)();
}

/// Runs `f` in the current task right after the task_work now running,
/// or as the task exits.
pub fn later<F: FnOnce() + Send + 'static>(f: F) -> Result {
    let arg = KBox::into_raw(KBox::new(f, GFP_KERNEL)?);
    // SAFETY: the trampoline matches `F` and owns `arg` once called; it is
    // called exactly once if the call succeeds.
    let ret = unsafe { bindings::ssi_ghost_later(Some(later_tramp::<F>), arg.cast()) };
    if ret < 0 {
        // SAFETY: not queued: `arg` is still ours.
        drop(unsafe { KBox::from_raw(arg) });
        return Err(Error::from_errno(ret));
    }
    Ok(())
}
