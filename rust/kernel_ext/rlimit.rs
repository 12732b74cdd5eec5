// SPDX-License-Identifier: GPL-2.0-only
//! Resource limits of the current process.

use kernel::{bindings, error::Error};

pub use bindings::ssi_ghost_rlimit as Rlimit;

/// Resource limits (`RLIM_NLIMITS`).
pub const COUNT: usize = bindings::SSI_GHOST_RLIMITS as usize;
/// `RLIMIT_NOFILE`.
pub const NOFILE: usize = 7;

/// The current process's limits, in `RLIMIT_*` order.
pub fn get() -> [Rlimit; COUNT] {
    let mut r = [Rlimit::default(); COUNT];
    // SAFETY: `r` is writable for `COUNT` limits; reads the current task.
    unsafe { bindings::ssi_ghost_rlimits_get(r.as_mut_ptr()) };
    r
}

/// Gives the current (single-threaded) process the limits `r`, all or
/// none, under `setrlimit()`'s rules (raising a hard limit takes
/// `CAP_SYS_RESOURCE`); with `dry_run`, only checks that it may. On
/// refusal: the error and the first refused resource.
pub fn set(r: &[Rlimit; COUNT], dry_run: bool) -> core::result::Result<(), (Error, u32)> {
    let mut bad = 0u32;
    // SAFETY: `r` is readable for `COUNT` limits and `bad` writable; acts
    // on the current task.
    let ret = unsafe { bindings::ssi_ghost_rlimits_set(r.as_ptr(), dry_run, &mut bad) };
    if ret < 0 {
        return Err((Error::from_errno(ret), bad));
    }
    Ok(())
}
