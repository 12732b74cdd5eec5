// SPDX-License-Identifier: GPL-2.0-only
//! Credentials: the ids of the current task, the whole credential state a
//! ghost stream carries, and who may restore a process.

use super::task::TaskRef;
use kernel::{bindings, prelude::*};

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

/// The whole credential state of a task (`ssi_ghost_creds_get()`): ids as
/// the initial user namespace sees them (real, effective, saved, file
/// system), capability sets, securebits, `no_new_privs`, the seccomp mode,
/// whether its user namespace is the initial one, its dumpable state, and
/// how many supplementary groups it has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Creds {
    pub uid: [u32; 4],
    pub gid: [u32; 4],
    pub inheritable: u64,
    pub permitted: u64,
    pub effective: u64,
    pub bounding: u64,
    pub ambient: u64,
    pub securebits: u32,
    pub ngroups: u32,
    pub no_new_privs: bool,
    /// `SECCOMP_MODE_*`: 0 none, 1 strict, 2 filter.
    pub seccomp: u8,
    pub init_user_ns: bool,
    /// `SUID_DUMP_*`.
    pub dumpable: u8,
}

impl Creds {
    fn of_raw(c: &bindings::ssi_ghost_creds) -> Self {
        Creds {
            uid: c.uid,
            gid: c.gid,
            inheritable: c.cap_inheritable,
            permitted: c.cap_permitted,
            effective: c.cap_effective,
            bounding: c.cap_bset,
            ambient: c.cap_ambient,
            securebits: c.securebits,
            ngroups: c.ngroups,
            no_new_privs: c.no_new_privs != 0,
            seccomp: c.seccomp,
            init_user_ns: c.init_user_ns != 0,
            dumpable: c.dumpable,
        }
    }

    fn raw(&self) -> bindings::ssi_ghost_creds {
        bindings::ssi_ghost_creds {
            uid: self.uid,
            gid: self.gid,
            cap_inheritable: self.inheritable,
            cap_permitted: self.permitted,
            cap_effective: self.effective,
            cap_bset: self.bounding,
            cap_ambient: self.ambient,
            securebits: self.securebits,
            ngroups: self.ngroups,
            no_new_privs: u8::from(self.no_new_privs),
            seccomp: self.seccomp,
            init_user_ns: u8::from(self.init_user_ns),
            dumpable: self.dumpable,
        }
    }

    /// The credentials of `t`; its first `groups.len()` groups in
    /// `groups` (`ngroups` says how many it has).
    pub fn of(t: &TaskRef, groups: &mut [u32]) -> Self {
        Self::read(t.as_ptr(), groups)
    }

    /// The current task's credentials, as [`Self::of`].
    pub fn current(groups: &mut [u32]) -> Self {
        // SAFETY: the current task is live while it runs this.
        Self::read(unsafe { bindings::get_current() }, groups)
    }

    fn read(task: *mut bindings::task_struct, groups: &mut [u32]) -> Self {
        let mut c = bindings::ssi_ghost_creds::default();
        let max = u32::try_from(groups.len()).unwrap_or(u32::MAX);
        // SAFETY: `task` is live (a counted reference or current); `c` is
        // writable and `groups` holds `max` writable entries.
        unsafe { bindings::ssi_ghost_creds_get(task, &mut c, groups.as_mut_ptr(), max) };
        Self::of_raw(&c)
    }
}

/// The credentials of a process about to be restored, built exactly from
/// its [`Creds`] and not committed. A checkpoint's files are opened with
/// them ([`Prepared::act`]), so that a restart by root opens nothing the
/// process could not; [`Prepared::commit`] makes them the current task's.
///
/// # Invariants
///
/// `ptr` is a `struct cred` from a successful `ssi_ghost_creds_prepare`,
/// never committed, whose reference this value owns and aborts on drop.
pub struct Prepared {
    ptr: *mut bindings::cred,
    no_new_privs: bool,
    dumpable: u8,
}

impl Prepared {
    /// `c` with the supplementary groups `groups` (`c.ngroups` of them).
    /// `EINVAL` for a state no task can be in or that cannot be restored
    /// (seccomp, another user namespace), `EPERM` outside the initial user
    /// namespace.
    pub fn new(c: &Creds, groups: &[u32]) -> Result<Self> {
        if groups.len() != c.ngroups as usize {
            return Err(EINVAL);
        }
        let raw = c.raw();
        // SAFETY: `raw` is readable and `groups` holds `raw.ngroups`
        // entries; builds new credentials from the current task's.
        let ptr = kernel::error::from_err_ptr(unsafe {
            bindings::ssi_ghost_creds_prepare(&raw, groups.as_ptr())
        })?;
        // INVARIANT: a successful `ssi_ghost_creds_prepare`.
        Ok(Prepared {
            ptr,
            no_new_privs: c.no_new_privs,
            dumpable: c.dumpable,
        })
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

    /// Makes these the current task's credentials, with its
    /// `no_new_privs` and dumpable state as they were.
    pub fn commit(self) {
        let this = core::mem::ManuallyDrop::new(self);
        // SAFETY: `ptr` is never committed and owned (type invariant); no
        // override of `act` is in place; `commit_creds` takes the
        // reference, so `drop` does not run.
        unsafe {
            bindings::ssi_ghost_creds_commit(this.ptr, this.no_new_privs, i32::from(this.dumpable))
        };
    }
}

impl Drop for Prepared {
    fn drop(&mut self) {
        // SAFETY: the reference of `new`, never committed (type invariant);
        // any override of `act` was reverted before it returned.
        unsafe { bindings::abort_creds(self.ptr) };
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
