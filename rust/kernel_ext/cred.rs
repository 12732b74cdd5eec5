// SPDX-License-Identifier: GPL-2.0-only
//! Credentials of tasks (ids, groups, capabilities and the rest), and who
//! may restore a process.

use super::task::TaskRef;
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

    /// Gives the current task exactly these credentials, with the
    /// supplementary groups `groups` (`ngroups` of them), its
    /// `no_new_privs` if set, and this dumpable state. `EINVAL` for a state
    /// no task can be in or that cannot be restored, `EPERM` outside the
    /// initial user namespace; nothing changes then.
    pub fn set_current(&self, groups: &[u32]) -> Result {
        if groups.len() != self.ngroups as usize {
            return Err(EINVAL);
        }
        let c = self.raw();
        // SAFETY: `c` is readable and `groups` holds `c.ngroups` entries;
        // acts on the current task.
        let ret = unsafe { bindings::ssi_ghost_creds_set(&c, groups.as_ptr()) };
        if ret < 0 {
            Err(Error::from_errno(ret))
        } else {
            Ok(())
        }
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
