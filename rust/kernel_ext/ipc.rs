// SPDX-License-Identifier: GPL-2.0-only
//! SysV message queues, semaphores and shared memory across the cluster:
//! the kernel's hook (`include/linux/ssi_ipc.h`), what a node runs for a
//! queue, a semaphore set or a segment it holds, and the pages of a
//! segment coherent across the cluster.

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
/// A segment's state for `IPC_STAT` and `IPC_SET` (`struct shmid64_ds`).
pub type ShmidDs = bindings::shmid64_ds;
/// Bytes of a page (x86_64).
pub const PAGE_SIZE: usize = 4096;

/// What a module does with the shared memory segments of the initial IPC
/// namespace; as [`MsgQueues`] for `shmget`, `shmat` and `shmctl`.
pub trait ShmSegs {
    /// The indices `[lo, hi)` this node gives its segments. Must not sleep.
    fn range() -> (i32, i32);
    /// `shmget()` of a key other than `IPC_PRIVATE`.
    fn shmget(key: i32, size: usize, flags: i32) -> Option<isize>;
    /// `shmat()`: for another node's segment, once that node has allowed
    /// it, the id of this node's segment to attach instead.
    fn shmat(id: i32, flags: i32) -> Option<isize>;
    /// `shmctl()` with `IPC_STAT` (fills `ds`), `IPC_SET` or `IPC_RMID`.
    fn shmctl(id: i32, cmd: i32, ds: &mut ShmidDs) -> Option<isize>;
    /// Whether this node's segment `id` is coherent across the cluster
    /// (called when it is mapped).
    fn coherent(id: i32) -> bool;
    /// Before an access to page `pgoff` of this node's segment `id` (no
    /// page lock held): make it readable, or writable, here.
    fn fetch(id: i32, pgoff: u64, write: bool) -> Result;
    /// With the page locked: whether the access may go on.
    fn valid(id: i32, pgoff: u64, write: bool) -> bool;
    /// The segment of the cluster that this node's segment `id` holds
    /// (its own id, or the one a shadow copies); an error if `id` is not
    /// shared across the cluster. May sleep.
    fn global(id: i32) -> Result<i32>;
}

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

/// `ssi_ipc_ops::shm_range`.
///
/// # Safety
///
/// As [`range_tramp`].
unsafe extern "C" fn shm_range_tramp<H: ShmSegs>(lo: *mut i32, hi: *mut i32) {
    let (l, h) = H::range();
    // SAFETY: the kernel passes writable pointers.
    unsafe {
        *lo = l;
        *hi = h;
    }
}

/// `ssi_ipc_ops::shmget`.
///
/// # Safety
///
/// As [`get_tramp`].
unsafe extern "C" fn shmget_tramp<H: ShmSegs>(
    key: i32,
    size: usize,
    flags: i32,
    ret: *mut kernel::ffi::c_long,
) -> bool {
    // SAFETY: `ret` is writable (the kernel's promise).
    unsafe { taken(H::shmget(key, size, flags), ret) }
}

/// `ssi_ipc_ops::shmat`.
///
/// # Safety
///
/// As [`get_tramp`].
unsafe extern "C" fn shmat_tramp<H: ShmSegs>(
    id: i32,
    flags: i32,
    ret: *mut kernel::ffi::c_long,
) -> bool {
    // SAFETY: `ret` is writable (the kernel's promise).
    unsafe { taken(H::shmat(id, flags), ret) }
}

/// `ssi_ipc_ops::shmctl`.
///
/// # Safety
///
/// As [`get_tramp`], with `ds` a live `struct shmid64_ds`.
unsafe extern "C" fn shmctl_tramp<H: ShmSegs>(
    id: i32,
    cmd: i32,
    ds: *mut ShmidDs,
    ret: *mut kernel::ffi::c_long,
) -> bool {
    // SAFETY: the kernel passes its own `shmid64_ds`, only used here.
    let ds = unsafe { &mut *ds };
    // SAFETY: `ret` is writable.
    unsafe { taken(H::shmctl(id, cmd, ds), ret) }
}

/// `ssi_ipc_ops::shm_coherent`.
///
/// # Safety
///
/// Called by the kernel only.
unsafe extern "C" fn shm_coherent_tramp<H: ShmSegs>(id: i32) -> bool {
    H::coherent(id)
}

/// `ssi_ipc_ops::shm_fetch`.
///
/// # Safety
///
/// Called by the kernel only, in a fault, with no page lock held.
unsafe extern "C" fn shm_fetch_tramp<H: ShmSegs>(
    id: i32,
    pgoff: kernel::ffi::c_ulong,
    write: bool,
) -> i32 {
    match H::fetch(id, pgoff as u64, write) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// `ssi_ipc_ops::shm_valid`.
///
/// # Safety
///
/// Called by the kernel only, with the page locked.
unsafe extern "C" fn shm_valid_tramp<H: ShmSegs>(
    id: i32,
    pgoff: kernel::ffi::c_ulong,
    write: bool,
) -> bool {
    H::valid(id, pgoff as u64, write)
}

/// `ssi_ipc_ops::shm_global`.
///
/// # Safety
///
/// Called by the kernel only, in process context.
unsafe extern "C" fn shm_global_tramp<H: ShmSegs>(id: i32) -> i32 {
    match H::global(id) {
        Ok(g) => g,
        Err(e) => e.to_errno(),
    }
}

/// `Q`, `S` and `H` registered with the kernel until drop.
///
/// # Invariants
///
/// `ops` is registered and neither moved nor freed until drop has
/// unregistered it (which waits for the callbacks in flight).
pub struct Registration<Q: MsgQueues, S: SemSets, H: ShmSegs> {
    ops: KBox<bindings::ssi_ipc_ops>,
    _q: core::marker::PhantomData<(Q, S, H)>,
}

// SAFETY: the ops table is read-only after registration.
unsafe impl<Q: MsgQueues, S: SemSets, H: ShmSegs> Send for Registration<Q, S, H> {}
// SAFETY: as above.
unsafe impl<Q: MsgQueues, S: SemSets, H: ShmSegs> Sync for Registration<Q, S, H> {}

impl<Q: MsgQueues, S: SemSets, H: ShmSegs> Registration<Q, S, H> {
    /// Registers `Q`, `S` and `H`; `EBUSY` if another module did.
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
                shm_range: Some(shm_range_tramp::<H>),
                shmget: Some(shmget_tramp::<H>),
                shmat: Some(shmat_tramp::<H>),
                shmctl: Some(shmctl_tramp::<H>),
                shm_coherent: Some(shm_coherent_tramp::<H>),
                shm_fetch: Some(shm_fetch_tramp::<H>),
                shm_valid: Some(shm_valid_tramp::<H>),
                shm_global: Some(shm_global_tramp::<H>),
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

impl<Q: MsgQueues, S: SemSets, H: ShmSegs> Drop for Registration<Q, S, H> {
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

/// `shmget()` here, as the current task; the id.
pub fn shmget_here(key: i32, size: usize, flags: i32) -> Result<i32> {
    // SAFETY: no preconditions; runs in the current task's namespace.
    let r = result(unsafe { bindings::ssi_shmget_kernel(key, size, flags) })?;
    i32::try_from(r).map_err(|_| EINVAL)
}

/// The checks of `shmat()` of segment `id` here, as the current task: its
/// size if it may be attached with `flags`.
pub fn shmat_check_here(id: i32, flags: i32) -> Result<usize> {
    let mut size = 0usize;
    // SAFETY: `size` is writable.
    result(unsafe { bindings::ssi_shmat_check_kernel(id, flags, &mut size) })?;
    Ok(size)
}

/// `shmctl()` of segment `id` here (`IPC_STAT`, `IPC_SET`, `IPC_RMID`).
pub fn shmctl_here(id: i32, cmd: i32, ds: &mut ShmidDs) -> Result {
    // SAFETY: `ds` is a live, writable `shmid64_ds`.
    result(unsafe { bindings::ssi_shmctl_kernel(id, cmd, ds) }).map(|_| ())
}

/// A new segment of `size` bytes owned by root, mode 0600, to hold this
/// node's copy of another node's segment; its id.
pub fn shadow_new(size: usize) -> Result<i32> {
    // SAFETY: no preconditions.
    let r = result(unsafe { bindings::ssi_shm_shadow_kernel(size) })?;
    i32::try_from(r).map_err(|_| EINVAL)
}

/// The segment of the cluster that the SysV attach at `addr` of `mm` maps
/// (as the module that spans SysV IPC names it) and the size of this
/// node's segment; `None` if `addr` is not in a SysV attach; an error if
/// it is one that is not shared across the cluster.
pub fn attach_of(mm: &crate::kernel_ext::mm::Mm, addr: u64) -> Result<Option<(i32, usize)>> {
    let mut size = 0usize;
    // SAFETY: the `Mm` holds a reference on the address space; `size` is
    // writable.
    let r = unsafe { bindings::ssi_shm_attach_of(mm.as_ptr(), addr as _, &mut size) };
    match r {
        r if r >= 0 => Ok(Some((i32::try_from(r).map_err(|_| EINVAL)?, size))),
        r if r == ENOENT.to_errno() as kernel::ffi::c_long => Ok(None),
        r => Err(Error::from_errno(r as i32)),
    }
}

/// `shmat()`'s flag for a read-only attach (uapi `linux/shm.h`).
pub const SHM_RDONLY: i32 = 0o10000;

/// `shmat()` of segment `id` at `addr` by the current task, in its
/// credentials (permission checks included): the address.
pub fn shmat_current(id: i32, addr: u64, flags: i32) -> Result<u64> {
    // SAFETY: runs in the current task's context, as `shmat()` would.
    let r = result(unsafe { bindings::ssi_shmat_kernel(id, addr as _, flags) })?;
    Ok(r as u64)
}

/// Whether `task` has a SysV semaphore undo list (it may hold
/// `SEM_UNDO` adjustments, which its exit applies where it exits).
pub fn sem_undo_held(task: &crate::kernel_ext::task::TaskRef) -> bool {
    // SAFETY: `task` is a counted reference; only the pointer is read.
    unsafe { bindings::ssi_sem_undo_held(task.as_ptr()) }
}

/// The memory of one of this node's segments (its shmem file).
///
/// # Invariants
///
/// `ptr` holds a reference to the file, dropped on drop.
pub struct ShmFile {
    ptr: *mut bindings::file,
}

impl ShmFile {
    /// The file of segment `id` of the initial namespace and the
    /// segment's size; `EINVAL` or `EIDRM` if there is no such segment.
    pub fn of(id: i32) -> Result<(Self, usize)> {
        let mut size = 0usize;
        // SAFETY: `size` is writable.
        let ptr = unsafe { bindings::ssi_shm_file(id, &mut size) };
        let v = ptr as isize;
        if (-4095..0).contains(&v) {
            return Err(Error::from_errno(v as i32));
        }
        // INVARIANT: `ssi_shm_file` returned a referenced file.
        Ok((ShmFile { ptr }, size))
    }

    /// Page `index`, locked (made, zeroed, if it was not there): nobody
    /// maps it here anew until it is unlocked.
    pub fn lock_page(&self, index: u64) -> Result<LockedPage<'_>> {
        // SAFETY: `ptr` is a referenced shmem file (the invariant).
        let folio = unsafe { bindings::ssi_shm_lock_page(self.ptr, index as _) };
        let v = folio as isize;
        if (-4095..0).contains(&v) {
            return Err(Error::from_errno(v as i32));
        }
        // INVARIANT: a locked, referenced folio of one page.
        Ok(LockedPage {
            folio,
            _file: core::marker::PhantomData,
        })
    }

    /// Unmaps page `index` from every process of this node.
    pub fn zap(&self, index: u64) {
        // SAFETY: `ptr` is a referenced file (the invariant).
        unsafe { bindings::ssi_shm_zap(self.ptr, index as _) };
    }
}

impl Drop for ShmFile {
    fn drop(&mut self) {
        // SAFETY: the reference the invariant holds, dropped once.
        unsafe { bindings::fput(self.ptr) };
    }
}

// SAFETY: a file reference may be used and dropped from any thread.
unsafe impl Send for ShmFile {}
// SAFETY: its operations take their own locks.
unsafe impl Sync for ShmFile {}

/// A page of a segment, locked, unlocked on drop.
///
/// # Invariants
///
/// `folio` is a locked, referenced folio of one page, unlocked and
/// released on drop.
pub struct LockedPage<'a> {
    folio: *mut bindings::folio,
    _file: core::marker::PhantomData<&'a ShmFile>,
}

impl LockedPage<'_> {
    /// Copies the page into `buf`.
    pub fn read(&self, buf: &mut [u8; PAGE_SIZE]) {
        // SAFETY: the folio is locked (the invariant) and one page long;
        // `buf` is writable for a page.
        unsafe { bindings::ssi_shm_page_copy(self.folio, buf.as_mut_ptr().cast(), false) };
    }

    /// Copies `buf` into the page.
    pub fn write(&self, buf: &[u8; PAGE_SIZE]) {
        // SAFETY: as above; the kernel only reads `buf`.
        unsafe { bindings::ssi_shm_page_copy(self.folio, buf.as_ptr().cast_mut().cast(), true) };
    }
}

impl Drop for LockedPage<'_> {
    fn drop(&mut self) {
        // SAFETY: locked and referenced (the invariant), released once.
        unsafe { bindings::ssi_shm_unlock_page(self.folio) };
    }
}
