// SPDX-License-Identifier: GPL-2.0-only
//! User and group ids of the current task, and who may restore a process.

use kernel::{bindings, error::Error, prelude::*};

/// Real, effective, saved and file-system ids.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ids {
    pub uid: [u32; 4],
    pub gid: [u32; 4],
}

/// The current task's ids, in its user namespace.
pub fn ids() -> Ids {
    let mut i = bindings::ssi_ghost_ids::default();
    // SAFETY: `i` is writable; reads the current task's credentials.
    unsafe { bindings::ssi_ghost_ids_get(&mut i) };
    Ids {
        uid: [i.uid, i.euid, i.suid, i.fsuid],
        gid: [i.gid, i.egid, i.sgid, i.fsgid],
    }
}

/// The credentials of a process about to be restored: the current task's
/// with `ids`, as [`set_ids`] would give them, not committed. The files of
/// a checkpoint are opened with them ([`Prepared::act`]), so that a
/// restart by root opens nothing the process could not.
///
/// # Invariants
///
/// `ptr` is a `struct cred` from a successful `ssi_ghost_ids_prepare`,
/// never committed, whose reference this value owns and aborts on drop.
pub struct Prepared {
    ptr: *mut bindings::cred,
}

impl Prepared {
    pub fn new(ids: &Ids) -> Result<Self> {
        let i = raw(ids);
        // SAFETY: `i` is a readable value; builds new credentials from the
        // current task's.
        let ptr = kernel::error::from_err_ptr(unsafe { bindings::ssi_ghost_ids_prepare(&i) })?;
        // INVARIANT: a successful `ssi_ghost_ids_prepare`.
        Ok(Prepared { ptr })
    }

    /// Runs `f` with these credentials as the current task's subjective
    /// ones (`override_creds()`): permission checks, `capable()` and
    /// [`ids`] see them, and files opened in `f` keep them.
    pub fn act<R>(&self, f: impl FnOnce() -> R) -> R {
        // SAFETY: `ptr` is live (type invariant); `override_creds` takes
        // its own reference, which `revert_creds` gives back below, in the
        // same task.
        let old = unsafe { bindings::override_creds(self.ptr) };
        let r = f();
        // SAFETY: restores what `override_creds` returned, in this task.
        unsafe { bindings::revert_creds(old) };
        r
    }
}

impl Drop for Prepared {
    fn drop(&mut self) {
        // SAFETY: the reference of `new`, never committed (type invariant);
        // any override of `act` was reverted before it returned.
        unsafe { bindings::abort_creds(self.ptr) };
    }
}

fn raw(ids: &Ids) -> bindings::ssi_ghost_ids {
    bindings::ssi_ghost_ids {
        uid: ids.uid[0],
        euid: ids.uid[1],
        suid: ids.uid[2],
        fsuid: ids.uid[3],
        gid: ids.gid[0],
        egid: ids.gid[1],
        sgid: ids.gid[2],
        fsgid: ids.gid[3],
    }
}

/// Gives the current task `ids`, no supplementary groups, and the
/// capabilities `setresuid()` would leave it.
pub fn set_ids(ids: &Ids) -> Result {
    let i = raw(ids);
    // SAFETY: `i` is a readable value; acts on the current task.
    let ret = unsafe { bindings::ssi_ghost_ids_set(&i) };
    if ret < 0 {
        Err(Error::from_errno(ret))
    } else {
        Ok(())
    }
}

/// Whether the current task may turn itself into a checkpointed process
/// (`CAP_CHECKPOINT_RESTORE` or `CAP_SYS_ADMIN`, as `clone3()`'s `set_tid`).
pub fn may_restore() -> bool {
    // SAFETY: a capability check of the current task.
    unsafe { bindings::ssi_ghost_may_restore() }
}

/// `CAP_SYS_ADMIN` and `CAP_SYS_PTRACE` (include/uapi/linux/capability.h).
pub const CAP_SYS_PTRACE: i32 = 19;
pub const CAP_SYS_ADMIN: i32 = 21;

/// Whether the current task has capability `cap` (in the initial user
/// namespace).
pub fn capable(cap: i32) -> bool {
    // SAFETY: a capability check of the current task.
    unsafe { bindings::capable(cap) }
}
