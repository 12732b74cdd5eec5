// SPDX-License-Identifier: GPL-2.0-only
//! SysV message queues and semaphores across the cluster: the kernel's
//! hook (`include/linux/ssi_ipc.h`) and what a node runs for a queue or a
//! semaphore set it holds.

use kernel::{alloc::flags::GFP_KERNEL, bindings, prelude::*};

/// `IPC_NOWAIT`, `MSG_NOERROR`, `MSG_COPY` (include/uapi/linux/{ipc,msg}.h).
pub const IPC_NOWAIT: i32 = 0o4000;
pub const MSG_COPY: i32 = 0o40000;

/// `SEM_UNDO` (include/uapi/linux/sem.h).
pub const SEM_UNDO: i32 = 0x1000;

/// A queue's state for `IPC_STAT` and `IPC_SET` (`struct msqid64_ds`).
pub type MsqidDs = bindings::msqid64_ds;
/// A semaphore set's state for `IPC_STAT` and `IPC_SET` (`struct semid64_ds`).
pub type SemidDs = bindings::semid64_ds;
/// One semaphore operation (`struct sembuf`).
pub type Sembuf = bindings::sembuf;

/// What a module does with the semaphore sets of the initial IPC
/// namespace; as [`MsgQueues`].
pub trait SemSets {
    /// The indices `[lo, hi)` this node gives its sets. Must not sleep.
    fn range() -> (i32, i32);
    /// `semget()` of a key other than `IPC_PRIVATE`.
    fn semget(key: i32, nsems: i32, flags: i32) -> Option<isize>;
    /// `semtimedop()`: `sops` is the user address of `nsops` operations
    /// (1 to the node's `SEMOPM`), `timeout` the relative timeout as
    /// seconds and nanoseconds (not checked yet), if any.
    fn semop(id: i32, sops: usize, nsops: u32, timeout: Option<(i64, i64)>) -> Option<isize>;
    /// `semctl()`, any command but `IPC_INFO` and `SEM_INFO`: `val` is
    /// `SETVAL`'s value, `p` the user address of `GETALL`'s and
    /// `SETALL`'s array, `ds` `IPC_STAT`'s (to fill) and `IPC_SET`'s data.
    fn semctl(
        id: i32,
        semnum: i32,
        cmd: i32,
        val: i32,
        p: usize,
        ds: &mut SemidDs,
    ) -> Option<isize>;
}

/// What a module does with the message queues of the initial IPC
/// namespace. Each call returns `None` for what this node serves itself,
/// else the syscall's result (a negative errno on failure). Called in the
/// caller's process context; may sleep.
pub trait MsgQueues {
    /// The indices `[lo, hi)` this node gives its queues. Must not sleep.
    fn range() -> (i32, i32);
    /// `msgget()` of a key other than `IPC_PRIVATE`.
    fn msgget(key: i32, flags: i32) -> Option<isize>;
    /// `msgsnd()`: `text` is the user address of `size` bytes.
    fn msgsnd(id: i32, mtype: i64, text: usize, size: usize, flags: i32) -> Option<isize>;
    /// `msgrcv()`: `msgp` is the user's `struct msgbuf` of `size` bytes of text.
    fn msgrcv(id: i32, msgp: usize, size: usize, msgtyp: i64, flags: i32) -> Option<isize>;
    /// `msgctl()` with `IPC_STAT` (fills `ds`), `IPC_SET` or `IPC_RMID`.
    fn msgctl(id: i32, cmd: i32, ds: &mut MsqidDs) -> Option<isize>;
}

/// Stores `r` into `ret` if the call was taken.
///
/// # Safety
///
/// `ret` is writable.
unsafe fn taken(r: Option<isize>, ret: *mut kernel::ffi::c_long) -> bool {
    match r {
        Some(v) => {
            // SAFETY: the caller's promise.
            unsafe { *ret = v as kernel::ffi::c_long };
            true
        }
        None => false,
    }
}

/// `ssi_ipc_ops::msg_range`.
///
/// # Safety
///
/// Called by the kernel only, with writable `lo` and `hi`.
unsafe extern "C" fn range_tramp<Q: MsgQueues>(lo: *mut i32, hi: *mut i32) {
    let (l, h) = Q::range();
    // SAFETY: the kernel passes writable pointers.
    unsafe {
        *lo = l;
        *hi = h;
    }
}

/// `ssi_ipc_ops::msgget`.
///
/// # Safety
///
/// Called by the kernel only, in process context, with a writable `ret`.
unsafe extern "C" fn get_tramp<Q: MsgQueues>(
    key: i32,
    flags: i32,
    ret: *mut kernel::ffi::c_long,
) -> bool {
    // SAFETY: `ret` is writable (the kernel's promise).
    unsafe { taken(Q::msgget(key, flags), ret) }
}

/// `ssi_ipc_ops::msgsnd`.
///
/// # Safety
///
/// As [`get_tramp`].
unsafe extern "C" fn snd_tramp<Q: MsgQueues>(
    id: i32,
    mtype: kernel::ffi::c_long,
    text: *const core::ffi::c_void,
    size: usize,
    flags: i32,
    ret: *mut kernel::ffi::c_long,
) -> bool {
    // SAFETY: as above.
    unsafe { taken(Q::msgsnd(id, mtype as i64, text as usize, size, flags), ret) }
}

/// `ssi_ipc_ops::msgrcv`.
///
/// # Safety
///
/// As [`get_tramp`].
unsafe extern "C" fn rcv_tramp<Q: MsgQueues>(
    id: i32,
    msgp: *mut core::ffi::c_void,
    size: usize,
    msgtyp: kernel::ffi::c_long,
    flags: i32,
    ret: *mut kernel::ffi::c_long,
) -> bool {
    // SAFETY: as above.
    unsafe {
        taken(
            Q::msgrcv(id, msgp as usize, size, msgtyp as i64, flags),
            ret,
        )
    }
}

/// `ssi_ipc_ops::msgctl`.
///
/// # Safety
///
/// As [`get_tramp`], with `ds` a live `struct msqid64_ds`.
unsafe extern "C" fn ctl_tramp<Q: MsgQueues>(
    id: i32,
    cmd: i32,
    ds: *mut MsqidDs,
    ret: *mut kernel::ffi::c_long,
) -> bool {
    // SAFETY: the kernel passes its own `msqid64_ds`, only used here.
    let ds = unsafe { &mut *ds };
    // SAFETY: as above.
    unsafe { taken(Q::msgctl(id, cmd, ds), ret) }
}

/// `ssi_ipc_ops::sem_range`.
///
/// # Safety
///
/// As [`range_tramp`].
unsafe extern "C" fn sem_range_tramp<S: SemSets>(lo: *mut i32, hi: *mut i32) {
    let (l, h) = S::range();
    // SAFETY: the kernel passes writable pointers.
    unsafe {
        *lo = l;
        *hi = h;
    }
}

/// `ssi_ipc_ops::semget`.
///
/// # Safety
///
/// As [`get_tramp`].
unsafe extern "C" fn semget_tramp<S: SemSets>(
    key: i32,
    nsems: i32,
    flags: i32,
    ret: *mut kernel::ffi::c_long,
) -> bool {
    // SAFETY: `ret` is writable (the kernel's promise).
    unsafe { taken(S::semget(key, nsems, flags), ret) }
}

/// `ssi_ipc_ops::semop`.
///
/// # Safety
///
/// As [`get_tramp`], with `timeout` NULL or a live `struct timespec64`.
unsafe extern "C" fn semop_tramp<S: SemSets>(
    id: i32,
    sops: *mut Sembuf,
    nsops: u32,
    timeout: *const bindings::timespec64,
    ret: *mut kernel::ffi::c_long,
) -> bool {
    // SAFETY: `timeout` is NULL or readable (the kernel's promise).
    let t = unsafe { timeout.as_ref() }.map(|t| (t.tv_sec, t.tv_nsec as i64));
    // SAFETY: `ret` is writable.
    unsafe { taken(S::semop(id, sops as usize, nsops, t), ret) }
}

/// `ssi_ipc_ops::semctl`.
///
/// # Safety
///
/// As [`get_tramp`], with `ds` a live `struct semid64_ds`.
unsafe extern "C" fn semctl_tramp<S: SemSets>(
    id: i32,
    semnum: i32,
    cmd: i32,
    val: i32,
    p: *mut core::ffi::c_void,
    ds: *mut SemidDs,
    ret: *mut kernel::ffi::c_long,
) -> bool {
    // SAFETY: the kernel passes its own `semid64_ds`, only used here.
    let ds = unsafe { &mut *ds };
    // SAFETY: `ret` is writable.
    unsafe { taken(S::semctl(id, semnum, cmd, val, p as usize, ds), ret) }
}

/// `Q` and `S` registered with the kernel until drop.
///
/// # Invariants
///
/// `ops` is registered and neither moved nor freed until drop has
/// unregistered it (which waits for the callbacks in flight).
pub struct Registration<Q: MsgQueues, S: SemSets> {
    ops: KBox<bindings::ssi_ipc_ops>,
    _q: core::marker::PhantomData<(Q, S)>,
}

// SAFETY: the ops table is read-only after registration.
unsafe impl<Q: MsgQueues, S: SemSets> Send for Registration<Q, S> {}
// SAFETY: as above.
unsafe impl<Q: MsgQueues, S: SemSets> Sync for Registration<Q, S> {}

impl<Q: MsgQueues, S: SemSets> Registration<Q, S> {
    /// Registers `Q` and `S`; `EBUSY` if another module did.
    pub fn new(module: &'static kernel::ThisModule) -> Result<Self> {
        let ops = KBox::new(
            bindings::ssi_ipc_ops {
                owner: module.as_ptr(),
                msg_range: Some(range_tramp::<Q>),
                msgget: Some(get_tramp::<Q>),
                msgsnd: Some(snd_tramp::<Q>),
                msgrcv: Some(rcv_tramp::<Q>),
                msgctl: Some(ctl_tramp::<Q>),
                sem_range: Some(sem_range_tramp::<S>),
                semget: Some(semget_tramp::<S>),
                semop: Some(semop_tramp::<S>),
                semctl: Some(semctl_tramp::<S>),
            },
            GFP_KERNEL,
        )?;
        // SAFETY: `ops` is a complete table that lives until drop.
        let ret = unsafe { bindings::ssi_ipc_register(&*ops) };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        // INVARIANT: registered just above.
        Ok(Registration {
            ops,
            _q: core::marker::PhantomData,
        })
    }
}

impl<Q: MsgQueues, S: SemSets> Drop for Registration<Q, S> {
    fn drop(&mut self) {
        // SAFETY: registered in `new`; returns once no callback runs.
        unsafe { bindings::ssi_ipc_unregister(&*self.ops) };
    }
}

fn result(r: kernel::ffi::c_long) -> Result<isize> {
    if r < 0 {
        Err(Error::from_errno(r as i32))
    } else {
        Ok(r as isize)
    }
}

/// `msgget()` here, as the current task (in its credentials); the id.
pub fn msgget_here(key: i32, flags: i32) -> Result<i32> {
    // SAFETY: no preconditions; runs in the current task's namespace.
    let r = result(unsafe { bindings::ssi_msgget_kernel(key, flags) })?;
    i32::try_from(r).map_err(|_| EINVAL)
}

/// `msgsnd()` of `text` to queue `id` here, never waiting.
pub fn msgsnd_here(id: i32, mtype: i64, text: &[u8], flags: i32) -> Result {
    // SAFETY: `text` is readable for its length during the call.
    result(unsafe {
        bindings::ssi_msgsnd_kernel(id, mtype as _, text.as_ptr().cast(), text.len(), flags)
    })
    .map(|_| ())
}

/// `msgrcv()` from queue `id` here into `buf`, never waiting: the type
/// and length of the message taken.
pub fn msgrcv_here(id: i32, buf: &mut [u8], msgtyp: i64, flags: i32) -> Result<(i64, usize)> {
    let mut mtype: kernel::ffi::c_long = 0;
    // SAFETY: `buf` is writable for its length and `mtype` is writable.
    let n = result(unsafe {
        bindings::ssi_msgrcv_kernel(
            id,
            &mut mtype,
            buf.as_mut_ptr().cast(),
            buf.len(),
            msgtyp as _,
            flags,
        )
    })?;
    Ok((mtype as i64, n as usize))
}

/// `msgctl()` of queue `id` here (`IPC_STAT`, `IPC_SET`, `IPC_RMID`).
pub fn msgctl_here(id: i32, cmd: i32, ds: &mut MsqidDs) -> Result {
    // SAFETY: `ds` is a live, writable `msqid64_ds`.
    result(unsafe { bindings::ssi_msgctl_kernel(id, cmd, ds) }).map(|_| ())
}

/// `semget()` here, as the current task; the id.
pub fn semget_here(key: i32, nsems: i32, flags: i32) -> Result<i32> {
    // SAFETY: no preconditions; runs in the current task's namespace.
    let r = result(unsafe { bindings::ssi_semget_kernel(key, nsems, flags) })?;
    i32::try_from(r).map_err(|_| EINVAL)
}

/// `semop()` of `sops` on set `id` here, never waiting (`SEM_UNDO` is
/// refused): `false` if done, `true` if it would have to wait.
pub fn semop_here(id: i32, sops: &mut [Sembuf]) -> Result<bool> {
    let n = u32::try_from(sops.len()).map_err(|_| E2BIG)?;
    // SAFETY: `sops` is writable for its length during the call.
    let r = result(unsafe { bindings::ssi_semop_kernel(id, sops.as_mut_ptr(), n) })?;
    Ok(r == 1)
}

/// `semctl()` of set `id` here; `array` is `GETALL`'s and `SETALL`'s,
/// as many values as the set has. The command's result.
pub fn semctl_here(
    id: i32,
    semnum: i32,
    cmd: i32,
    val: i32,
    array: Option<&mut [u16]>,
    ds: &mut SemidDs,
) -> Result<isize> {
    let (p, n) = match array {
        Some(a) => (a.as_mut_ptr(), i32::try_from(a.len()).map_err(|_| E2BIG)?),
        None => (core::ptr::null_mut(), 0),
    };
    // SAFETY: `p` is NULL or writable for `n` values, `ds` a live,
    // writable `semid64_ds`, both during the call.
    result(unsafe { bindings::ssi_semctl_kernel(id, semnum, cmd, val, p, n, ds) })
}
