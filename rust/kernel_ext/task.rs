// SPDX-License-Identifier: GPL-2.0-only
//! Processes by PID, for checkpoints: a counted reference, what may stop a
//! checkpoint (threads, kind of task, open files), and the current task.

use kernel::{bindings, error::Error, prelude::*};

/// A process (thread-group leader) the caller may checkpoint.
///
/// # Invariants
///
/// `ptr` is a task with a reference this struct owns (from
/// `ssi_ghost_get_task`), given back once by `drop`.
pub struct TaskRef {
    ptr: *mut bindings::task_struct,
}

// SAFETY: a task reference may be used and dropped from any thread.
unsafe impl Send for TaskRef {}
// SAFETY: `&TaskRef` only reads through the kernel's own helpers.
unsafe impl Sync for TaskRef {}

/// What may stop a checkpoint, read before freezing anything.
#[derive(Clone, Copy, Debug)]
pub struct Info {
    pub threads: u32,
    pub kthread: bool,
    pub exiting: bool,
    /// Stopped by a signal or traced: a task_work would wait for SIGCONT.
    pub stopped: bool,
    /// The caller's own process.
    pub is_current: bool,
}

/// `S_IFMT` types of open files.
pub const S_IFMT: u32 = 0o170000;
pub const S_IFIFO: u32 = 0o010000;
pub const S_IFSOCK: u32 = 0o140000;
pub const S_IFDIR: u32 = 0o040000;

fn err_ptr<P>(p: *mut P) -> Result<*mut P> {
    let v = p as isize;
    if (-4095..0).contains(&v) {
        Err(Error::from_errno(v as i32))
    } else if p.is_null() {
        Err(ESRCH)
    } else {
        Ok(p)
    }
}

impl TaskRef {
    /// The process `pid` of the initial PID namespace, if the caller may
    /// checkpoint it (ptrace attach rules: its owner, or root): `ESRCH`,
    /// `EPERM` otherwise.
    pub fn get(pid: u32) -> Result<Self> {
        let nr = i32::try_from(pid).map_err(|_| ESRCH)?;
        // SAFETY: a plain lookup; the result is a counted reference or an
        // error pointer.
        let ptr = err_ptr(unsafe { bindings::ssi_ghost_get_task(nr) })?;
        // INVARIANT: a counted reference from `ssi_ghost_get_task`.
        Ok(TaskRef { ptr })
    }

    pub(crate) fn as_ptr(&self) -> *mut bindings::task_struct {
        self.ptr
    }

    pub fn info(&self) -> Info {
        let mut i = bindings::ssi_ghost_info::default();
        // SAFETY: `ptr` is a live task (type invariant); `i` is writable.
        unsafe { bindings::ssi_ghost_task_info(self.ptr, &mut i) };
        Info {
            threads: i.threads,
            kthread: i.kthread != 0,
            exiting: i.exiting != 0,
            stopped: i.stopped != 0,
            is_current: i.is_current != 0,
        }
    }

    /// Whether the process may be migrated (see [`Self::set_may_migrate`]).
    pub fn may_migrate(&self) -> bool {
        // SAFETY: `ptr` is a live task; reads one bit of its flags.
        unsafe { bindings::ssi_ghost_may_migrate(self.ptr) }
    }

    /// Allows or forbids migrating the process and the processes it will
    /// fork; the caller checks who may change it.
    pub fn set_may_migrate(&self, may: bool) {
        // SAFETY: `ptr` is a live task; sets one bit of its atomic flags.
        unsafe { bindings::ssi_ghost_set_may_migrate(self.ptr, may) };
    }

    /// The first open file at or above `from` that is neither a regular
    /// file nor a character device: `(fd, S_IFMT type)`, type 0 for an
    /// anonymous inode (eventfd, epoll, ...).
    pub fn odd_fd(&self, from: u32) -> Option<(u32, u32)> {
        let mut fd = from;
        // SAFETY: `ptr` is a live task; `fd` is writable.
        let ret = unsafe { bindings::ssi_ghost_next_odd_fd(self.ptr, &mut fd) };
        if ret < 0 {
            None
        } else {
            Some((fd, ret as u32))
        }
    }
}

impl TaskRef {
    /// Whether a caller of another node with `uid` and `gid` (and
    /// `CAP_SYS_PTRACE` there if `privileged`) may use this process's
    /// files: ptrace's attach rules, checked here.
    pub fn may_attach(&self, uid: u32, gid: u32, privileged: bool) -> bool {
        // SAFETY: `ptr` is a live task; plain values.
        unsafe { bindings::ssi_ghost_may_attach(self.ptr, uid, gid, privileged) }
    }

    /// The first open file at or above `from`: its fd and the file.
    pub fn next_file(&self, from: u32) -> Option<(u32, crate::kernel_ext::file::FdFile)> {
        let mut fd = from;
        // SAFETY: the lookup runs under the RCU read lock it requires;
        // `ptr` is a live task; `fd` is writable.
        let f = unsafe {
            bindings::rcu_read_lock();
            let f = bindings::task_lookup_next_fdget_rcu(self.ptr, &mut fd);
            bindings::rcu_read_unlock();
            f
        };
        if f.is_null() {
            return None;
        }
        // SAFETY: `task_lookup_next_fdget_rcu` returned a counted reference.
        Some((fd, unsafe { crate::kernel_ext::file::FdFile::from_raw(f) }))
    }
}

impl Drop for TaskRef {
    fn drop(&mut self) {
        // SAFETY: gives back the reference of the type invariant, once.
        unsafe { bindings::ssi_ghost_put_task(self.ptr) };
    }
}

/// What the permission check of a process relied on: its exec id and its
/// credentials, recorded before the check was made again
/// ([`Seen::check`]). A process that ran `execve()` or changed its
/// credentials since is no longer the one checked ([`Seen::is_current`]).
///
/// # Invariants
///
/// `s.cred` is a counted reference taken by `ssi_ghost_seen_get`, given
/// back once by `drop`.
pub struct Seen {
    s: bindings::ssi_ghost_seen,
}

// SAFETY: a reference to credentials may be held and dropped on any thread.
unsafe impl Send for Seen {}
// SAFETY: `&Seen` only compares values.
unsafe impl Sync for Seen {}

impl Seen {
    /// Records what `t` is now, then checks again that the caller may
    /// checkpoint it (ptrace attach rules): `EPERM` if not.
    pub fn check(t: &TaskRef) -> Result<Self> {
        let mut s = bindings::ssi_ghost_seen::default();
        // SAFETY: `t` is a live task (a counted reference); `s` is
        // writable and holds a reference only on success.
        let ret = unsafe { bindings::ssi_ghost_seen_get(t.as_ptr(), &mut s) };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        // INVARIANT: `ssi_ghost_seen_get` succeeded: `s.cred` is counted.
        Ok(Seen { s })
    }

    /// In the checked process's own context: whether it still has the exec
    /// id and the credentials it had when it was checked.
    pub fn is_current(&self) -> bool {
        // SAFETY: `s` is a recorded state (type invariant); compares it
        // with the current task's.
        unsafe { bindings::ssi_ghost_seen_same(&self.s) }
    }
}

impl Drop for Seen {
    fn drop(&mut self) {
        // SAFETY: gives back the reference of the type invariant, once.
        unsafe { bindings::ssi_ghost_seen_put(&mut self.s) };
    }
}

/// An identity of the current task, to compare with another's (its
/// address: valid while the task lives).
pub fn current_id() -> usize {
    // SAFETY: reads the current task pointer, never dereferenced here.
    unsafe { bindings::get_current() as usize }
}

/// The current process's PID in the initial namespace (its global PID).
pub fn current_pid() -> u32 {
    // SAFETY: the current task is live; the initial namespace is static.
    let nr = unsafe {
        bindings::__task_pid_nr_ns(
            bindings::get_current(),
            bindings::pid_type_PIDTYPE_TGID,
            core::ptr::addr_of_mut!(bindings::init_pid_ns),
        )
    };
    nr as u32
}

/// Sends SIGKILL to the current process: what a restart does when it
/// fails after the point of no return.
pub fn kill_current() {
    // SAFETY: the current task is live; a plain signal send.
    unsafe { bindings::send_sig(9, bindings::get_current(), 1) };
}
