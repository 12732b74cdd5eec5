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

/// The wall clock: seconds since the epoch.
pub fn wall_seconds() -> u64 {
    // SAFETY: reads the timekeeper; no preconditions.
    let s = unsafe { bindings::ktime_get_real_seconds() };
    u64::try_from(s).unwrap_or(0)
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

/// A task's part in a migration, a bit of its `atomic_flags` (patches
/// 0033, 0034).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// Runs here for its home node, where its parent is: getppid() and
    /// `/proc` ask [`Guests::ppid`].
    Guest,
    /// Stands on the home node for its process, which runs elsewhere:
    /// `/proc` shows that process as the node that runs it does.
    Stub,
}

/// Marks or unmarks the current task as playing `part`.
pub fn set_part(part: Part, on: bool) {
    let bit = match part {
        Part::Guest => bindings::SSI_PFA_GUEST,
        Part::Stub => bindings::SSI_PFA_STUB,
    };
    // SAFETY: the current task is live; sets or clears one bit of its
    // atomic flags, one the function accepts.
    unsafe { bindings::ssi_ghost_set_part(bindings::get_current(), bit as i32, on) };
}

/// What a module knows of the guests it started.
pub trait Guests {
    /// The global PID of guest `pid`'s parent, if `pid` is one. May sleep.
    fn ppid(pid: u32) -> Option<u32>;
}

/// `ssi_guest_ops::ppid` of `G`.
///
/// # Safety
///
/// Called by the kernel only, in process context.
unsafe extern "C" fn ppid_tramp<G: Guests>(pid: i32) -> i32 {
    u32::try_from(pid)
        .ok()
        .and_then(G::ppid)
        .and_then(|p| i32::try_from(p).ok())
        .unwrap_or(0)
}

/// `G` registered with the kernel until drop.
///
/// # Invariants
///
/// `ops` is registered and neither moved nor freed until drop has
/// unregistered it (which waits for the callbacks in flight).
pub struct GuestRegistration<G: Guests> {
    ops: KBox<bindings::ssi_guest_ops>,
    _g: core::marker::PhantomData<G>,
}

// SAFETY: the ops table is read-only after registration.
unsafe impl<G: Guests> Send for GuestRegistration<G> {}
// SAFETY: as above.
unsafe impl<G: Guests> Sync for GuestRegistration<G> {}

impl<G: Guests> GuestRegistration<G> {
    /// Registers `G`; `EBUSY` if another module did.
    pub fn new(module: &'static kernel::ThisModule) -> Result<Self> {
        let ops = KBox::new(
            bindings::ssi_guest_ops {
                owner: module.as_ptr(),
                ppid: Some(ppid_tramp::<G>),
            },
            GFP_KERNEL,
        )?;
        // SAFETY: `ops` is a complete table that lives until drop.
        let ret = unsafe { bindings::ssi_guest_register(&*ops) };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        Ok(GuestRegistration {
            ops,
            _g: core::marker::PhantomData,
        })
    }
}

impl<G: Guests> Drop for GuestRegistration<G> {
    fn drop(&mut self) {
        // SAFETY: registered in `new`; returns once no callback runs.
        unsafe { bindings::ssi_guest_unregister(&*self.ops) };
    }
}
