// SPDX-License-Identifier: GPL-2.0-only
//! Running code in another process's own context, at a safe point (a
//! task_work queued with TWA_SIGNAL; see `ssi_ghost_call()` in the kernel).

use super::task::TaskRef;
use kernel::{bindings, error::Error, ffi::c_void, prelude::*};

/// Runs the closure of `call_in` in the target task.
///
/// # Safety
///
/// `arg` must be the `&mut F` of a `call_in` that is still waiting for this
/// call to return.
unsafe extern "C" fn tramp<F: FnMut() -> Result>(arg: *mut c_void) -> i32 {
    // SAFETY: `arg` is the `&mut F` of `call_in`, which waits for this
    // call to return before it ends.
    let f = unsafe { &mut *arg.cast::<F>() };
    match f() {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// Runs `f` in `task`'s own context (`current` is `task` there) and waits
/// for it. The task does not run a user instruction in between; afterwards
/// it goes on, or, if `stop` and `f` succeeded, it is killed before it runs
/// another one. `f`'s error, `ESRCH` if the task exits first, or `EINTR`
/// if the caller is killed before `f` started.
pub fn call_in<F: FnMut() -> Result + Send>(task: &TaskRef, stop: bool, mut f: F) -> Result {
    let arg: *mut F = &mut f;
    let (t, cb) = (task.as_ptr(), Some(tramp::<F> as _));
    // SAFETY: `task` is live (a counted reference); `tramp::<F>` and `arg`
    // stay valid until `ssi_ghost_call` returns, which is after `f` ran or
    // was cancelled.
    let ret = unsafe { bindings::ssi_ghost_call(t, cb, arg.cast(), stop) };
    if ret < 0 {
        Err(Error::from_errno(ret))
    } else {
        Ok(())
    }
}
