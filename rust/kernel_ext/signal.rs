// SPDX-License-Identifier: GPL-2.0-only
//! Signal dispositions and the per-task state that points into user
//! memory (rseq, robust list, alternate stack), of the current task.

use kernel::bindings;

pub use bindings::ssi_ghost_signals as Signals;
pub use bindings::ssi_ghost_thread as Thread;

/// The current task's handlers and blocked mask (the one `sigsuspend()`
/// will restore, if it is in progress).
pub fn signals(s: &mut Signals) {
    // SAFETY: `s` is writable; reads the current task's signal state.
    unsafe { bindings::ssi_ghost_signals_get(s) };
}

/// Sets them on the current task (SIGKILL and SIGSTOP stay default and
/// unblocked). The current task must be single-threaded.
pub fn set_signals(s: &Signals) {
    // SAFETY: `s` is readable; acts on the current task.
    unsafe { bindings::ssi_ghost_signals_set(s) };
}

/// A zeroed `Signals`, on the heap (it is 2 KiB).
pub fn new_signals() -> kernel::error::Result<kernel::alloc::KBox<Signals>> {
    Ok(kernel::alloc::KBox::new(
        Signals::default(),
        kernel::alloc::flags::GFP_KERNEL,
    )?)
}

/// The current task's identity and user pointers.
pub fn thread() -> Thread {
    let mut t = Thread::default();
    // SAFETY: `t` is writable; reads the current task.
    unsafe { bindings::ssi_ghost_thread_get(&mut t) };
    t
}

/// Sets the user pointers, personality and name on the current task; the
/// values must have been checked (user addresses, rseq alignment).
pub fn set_thread(t: &Thread) {
    // SAFETY: `t` is readable; acts on the current task.
    unsafe { bindings::ssi_ghost_thread_set(t) };
}

/// The signals pending for the current task (its own set) and for its
/// process (the shared set), as bit `n - 1` for signal `n`; nothing is
/// dequeued.
pub fn pending() -> (u64, u64) {
    let (mut own, mut shared) = (0u64, 0u64);
    // SAFETY: both are writable; reads the current task's pending sets.
    unsafe { bindings::ssi_ghost_sigpending_get(&mut own, &mut shared) };
    (own, shared)
}

/// Sends the current task the signals of `own` (to itself) and of
/// `shared` (to its process), as sent by the kernel (`SI_KERNEL`): its
/// handlers, mask and ignored signals apply. `SIGKILL` is left out.
pub fn raise_pending(own: u64, shared: u64) {
    // SAFETY: plain values; acts on the current task.
    unsafe { bindings::ssi_ghost_sigpending_raise(own, shared) };
}

/// Takes the signals of `set` (but `SIGKILL`) out of the current task's
/// pending sets, as if delivered.
pub fn forget_pending(set: u64) {
    // SAFETY: a plain value; acts on the current task.
    unsafe { bindings::ssi_ghost_sigpending_forget(set) };
}

/// `SIGPIPE`.
pub const SIGPIPE: i32 = 13;

/// Sends `SIGPIPE` to the current task, as a write to a pipe without
/// readers does (`send_sig()`: an ignored or blocked signal stays so).
pub fn raise_sigpipe() {
    // SAFETY: the current task is live; plain values.
    unsafe { bindings::send_sig(SIGPIPE, bindings::get_current(), 0) };
}
