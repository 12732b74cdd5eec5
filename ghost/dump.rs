// SPDX-License-Identifier: GPL-2.0-only
//! Checkpoint: refuse what cannot be carried, freeze the process at a safe
//! point in its own context, and write its ghost stream there.

use crate::kernel_ext::hmac::HmacSha256;
use crate::kernel_ext::{
    cred::Creds as TaskCreds,
    file::FdFile,
    fs,
    mm::{self, Mm},
    regset, remote, rlimit, signal,
    task::{self, Seen, TaskRef},
    task_work,
};
use crate::proto::ghost::{
    end_section, Caps, Creds, CredsHead, FsPaths, MmLayout, PageRun, Purpose, Regs, Rlimit,
    Rlimits, Section, SigAction, SigSets, Signals, StreamHeader, Tag, TaskInfo, ThreadState, Vma,
    HEADER_LEN, MAX_GROUPS, MAX_RUN_PAGES, PAGE, PATH_MAX, PROT_EXEC, PROT_READ, PROT_WRITE,
    RLIMITS, SECTION_LAZY, SECTION_LEN, SIGKILL_BIT, SIGNALS, VMA_FILE, VMA_GROWSDOWN, VMA_PAGES,
    VMA_SHARED, VMA_SYSV,
};
use crate::proto::ghost_ioctl::{DumpArg, Reason, DUMP_STOP};
use crate::stream::Chunks;
use kernel::{
    alloc::{flags::GFP_KERNEL, KVVec},
    prelude::*,
};

/// `EOPNOTSUPP`: what cannot be carried yet.
fn eopnotsupp() -> Error {
    Error::from_errno(-95)
}

/// Refuses, with `a.reason` and `a.detail` set, what this slice cannot
/// carry. Nothing is frozen yet.
fn refuse(a: &mut DumpArg, reason: Reason, detail: u64, e: Error) -> Result<u64> {
    a.reason = reason;
    a.detail = detail;
    Err(e)
}

/// Why the area `v` cannot be carried, if it cannot. A SysV attach is
/// judged by [`sysv_area`] first.
fn odd_area(v: &mm::VmaInfo) -> Option<Reason> {
    // Private mappings of tmpfs files (the initramfs) are files like any
    // other; shared ones of shmem are SysV shm, memfd or shared anonymous,
    // read-only ones too (`shmat(SHM_RDONLY)`: `VM_MAYSHARE` alone).
    if is_shared_shmem(v) {
        Some(Reason::SharedMemory)
    } else if v.vm_flags & (mm::VM_IO | mm::VM_PFNMAP) != 0 && v.kind & mm::KIND_SPECIAL == 0 {
        Some(Reason::DeviceMapping)
    } else if v.vm_flags & mm::VM_SHARED != 0 && v.vm_flags & mm::VM_MAYWRITE != 0 {
        Some(Reason::SharedMapping)
    } else {
        None
    }
}

fn is_shared_shmem(v: &mm::VmaInfo) -> bool {
    v.kind & mm::KIND_SHMEM != 0 && v.vm_flags & (mm::VM_SHARED | mm::VM_MAYSHARE) != 0
}

/// The segment of the cluster that the area `v` of `m` attaches, if it is
/// a SysV attach a migration carries: one of a segment shared across the
/// cluster, mapped whole as `shmat()` mapped it (read-write, or read-only
/// with `SHM_RDONLY`; not `SHM_EXEC`, no part unmapped or `mprotect()`ed).
/// Such an area is attached again where the process goes.
fn sysv_area(m: &Mm, v: &mm::VmaInfo) -> Option<i32> {
    if !is_shared_shmem(v) || v.kind & mm::KIND_ANON != 0 {
        return None;
    }
    let (id, size) = crate::kernel_ext::ipc::attach_of(m, v.start).ok()??;
    let len = (size as u64).div_ceil(PAGE as u64) * PAGE as u64;
    let write = v.vm_flags & mm::VM_WRITE != 0;
    let may_write = v.vm_flags & mm::VM_MAYWRITE != 0;
    let whole = v.pgoff == 0 && v.end - v.start == len;
    let plain = write == may_write && v.vm_flags & (mm::VM_EXEC | mm::VM_READ) == mm::VM_READ;
    (whole && plain).then_some(id)
}

/// Why credentials `c` cannot be carried, if they cannot: a seccomp mode,
/// a user namespace other than the initial one, too many groups.
fn odd_creds(c: &TaskCreds) -> Option<(Reason, u64)> {
    if c.seccomp != 0 {
        Some((Reason::Seccomp, u64::from(c.seccomp)))
    } else if !c.init_user_ns {
        Some((Reason::UserNamespace, 0))
    } else if c.ngroups as usize > MAX_GROUPS {
        Some((Reason::Groups, u64::from(c.ngroups)))
    } else {
        None
    }
}

/// Refuses what cannot be carried, before anything is frozen; a
/// migration (`streams`) carries the pipes the stream carrier takes.
pub(crate) fn check(t: &TaskRef, a: &mut DumpArg, path: &mut [u8], streams: bool) -> Result<u64> {
    let i = t.info();
    if i.is_current && a.flags & crate::proto::ghost_ioctl::DUMP_SELF == 0 {
        return refuse(a, Reason::OwnProcess, 0, EINVAL);
    }
    if i.kthread {
        return refuse(a, Reason::KernelThread, 0, EINVAL);
    }
    if i.exiting {
        return Err(ESRCH);
    }
    if i.stopped {
        return refuse(a, Reason::Stopped, 0, EAGAIN);
    }
    if i.threads != 1 {
        return refuse(a, Reason::Threads, u64::from(i.threads), eopnotsupp());
    }
    if let Some((r, detail)) = odd_creds(&TaskCreds::of(t, &mut [])) {
        return refuse(a, r, detail, eopnotsupp());
    }
    if let Some((fd, kind)) = crate::files::odd_fd(t, a.pid, streams) {
        let r = match kind {
            task::S_IFIFO => Reason::Pipe,
            task::S_IFSOCK => Reason::Socket,
            _ => Reason::OtherFile,
        };
        return refuse(a, r, u64::from(fd), eopnotsupp());
    }
    // Its exit here would apply its undo adjustments here (a migration
    // ends the task it leaves).
    if crate::kernel_ext::ipc::sem_undo_held(t) {
        return refuse(a, Reason::SemUndo, 0, eopnotsupp());
    }
    let m = Mm::of(t).ok_or(ESRCH)?;
    let mut addr = 0;
    while let Some(v) = m.vma_from(addr, path)? {
        // A migration attaches the same segment again where it goes.
        let carried = streams && sysv_area(&m, &v).is_some();
        if let (false, Some(r)) = (carried, odd_area(&v)) {
            return refuse(a, r, v.start, eopnotsupp());
        }
        addr = v.end;
    }
    Ok(0)
}

/// `DUMP`: checks the process, then writes its stream to `a.fd` from
/// within it; returns the stream's length.
pub(crate) fn dump(a: &mut DumpArg) -> Result<u64> {
    let t = TaskRef::get(a.pid)?;
    let seen = Seen::check(&t)?;
    let mut path = KVVec::from_elem(0u8, PATH_MAX + 1, GFP_KERNEL)?;
    check(&t, a, &mut path, false)?;
    let out = FdFile::get(a.fd)?;
    // Without a key nothing is frozen: a checkpoint must carry its MAC.
    let mac = crate::trust::mac().inspect_err(|_| {
        a.reason = Reason::Untrusted;
        a.detail = 2;
    })?;
    let mut w = Writer::new(Out::File(out), path)?;
    w.mac = Some(mac);
    let pid = a.pid;
    let t0 = kernel::time::Ktime::ktime_get();
    let ret = task_work::call_in(&t, a.flags & DUMP_STOP != 0, || {
        w.still_checked(&seen)?;
        w.stream(pid, Purpose::Checkpoint)
    });
    a.reason = w.reason;
    a.detail = w.detail;
    ret?;
    crate::trust::signed();
    pr_info!(
        "pid {} checkpointed: {} bytes in {} ms (freeze to end of stream)\n",
        pid,
        w.pos,
        (kernel::time::Ktime::ktime_get() - t0).to_ms()
    );
    Ok(w.pos as u64)
}

/// Where a [`Writer`] writes.
pub(crate) enum Out {
    File(FdFile),
    Mem(Chunks),
}

impl Out {
    /// Writes all of `b` at `*pos`, advancing it.
    fn write(&mut self, pos: &mut i64, b: &[u8]) -> Result {
        match self {
            Out::File(f) => f.write_all_at(pos, b),
            Out::Mem(c) => {
                c.append(b)?;
                *pos += b.len() as i64;
                Ok(())
            }
        }
    }
}

/// Writes `b` to `out` at `*pos` and adds it to `mac`.
fn send(out: &mut Out, mac: &mut Option<HmacSha256>, pos: &mut i64, b: &[u8]) -> Result {
    if let Some(m) = mac {
        m.update(b)?;
    }
    out.write(pos, b)
}

/// Writes a stream from within the process.
pub(crate) struct Writer {
    out: Out,
    pos: i64,
    /// One section: header and payload.
    buf: KVVec<u8>,
    path: KVVec<u8>,
    pub(crate) reason: Reason,
    pub(crate) detail: u64,
    /// Anonymous pages stay here, listed as lazy runs (migration on
    /// demand).
    pub(crate) lazy: bool,
    /// The pending signals the stream carries (both sets), which a
    /// migration takes out of the task it leaves behind.
    pub(crate) carried_signals: u64,
    /// A signal it carries is not blocked: it ended a `semop()` wait.
    signal_waiting: bool,
    /// The MAC of every byte written so far: a checkpoint's, which ends
    /// it (`trust.rs`); none for a migration.
    pub(crate) mac: Option<HmacSha256>,
}

fn prot_of(vm_flags: u64) -> u32 {
    let mut p = 0;
    if vm_flags & mm::VM_READ != 0 {
        p |= PROT_READ;
    }
    if vm_flags & mm::VM_WRITE != 0 {
        p |= PROT_WRITE;
    }
    if vm_flags & mm::VM_EXEC != 0 {
        p |= PROT_EXEC;
    }
    p
}

impl Writer {
    /// A writer to `out`; `path` is a buffer of `PATH_MAX + 1` bytes.
    pub(crate) fn new(out: Out, path: KVVec<u8>) -> Result<Self> {
        Ok(Writer {
            out,
            pos: 0,
            buf: KVVec::from_elem(
                0u8,
                SECTION_LEN + 12 + MAX_RUN_PAGES as usize * PAGE,
                GFP_KERNEL,
            )?,
            path,
            reason: Reason::None,
            detail: 0,
            lazy: false,
            carried_signals: 0,
            signal_waiting: false,
            mac: None,
        })
    }

    /// The stream written in memory.
    pub(crate) fn chunks(&self) -> Option<&Chunks> {
        match &self.out {
            Out::Mem(c) => Some(c),
            Out::File(_) => None,
        }
    }

    fn put(&mut self, b: &[u8]) -> Result {
        send(&mut self.out, &mut self.mac, &mut self.pos, b)
    }

    /// Writes a section whose `len`-byte payload is already in
    /// `buf[SECTION_LEN..]`.
    fn emit(&mut self, tag: Tag, len: usize) -> Result {
        self.emit_flagged(tag, 0, len)
    }

    fn emit_flagged(&mut self, tag: Tag, flags: u16, len: usize) -> Result {
        let sec = Section {
            tag,
            flags,
            len: u32::try_from(len).map_err(|_| EINVAL)?,
        };
        self.buf[..SECTION_LEN].copy_from_slice(&sec.encode());
        let end = SECTION_LEN + len;
        send(
            &mut self.out,
            &mut self.mac,
            &mut self.pos,
            &self.buf[..end],
        )
    }

    /// `End`: for a checkpoint, with the MAC of every byte before it.
    fn end(&mut self, purpose: Purpose) -> Result {
        self.put(&end_section(purpose).encode())?;
        match purpose {
            Purpose::Migration => Ok(()),
            Purpose::Checkpoint => {
                let tag = self.mac.take().ok_or(EINVAL)?.finish()?;
                self.out.write(&mut self.pos, &tag)
            }
        }
    }

    fn section(&mut self, tag: Tag, payload: &[u8]) -> Result {
        self.buf[SECTION_LEN..SECTION_LEN + payload.len()].copy_from_slice(payload);
        self.emit(tag, payload.len())
    }

    /// In the process, at its safe point: refuses (`EPERM`,
    /// [`Reason::Changed`]) if it ran `execve()` or changed its credentials
    /// since `seen` was checked, before anything is written.
    pub(crate) fn still_checked(&mut self, seen: &Seen) -> Result {
        if seen.is_current() {
            return Ok(());
        }
        self.reason = Reason::Changed;
        Err(EPERM)
    }

    /// The `Creds` section of the current process; refuses what
    /// [`odd_creds`] refuses (it may have changed since the check).
    fn creds(&mut self) -> Result {
        let mut groups = KVVec::from_elem(0u32, MAX_GROUPS, GFP_KERNEL)?;
        let c = TaskCreds::current(&mut groups);
        if let Some((r, detail)) = odd_creds(&c) {
            self.reason = r;
            self.detail = detail;
            return Err(eopnotsupp());
        }
        let head = CredsHead {
            uid: c.uid,
            gid: c.gid,
            caps: Caps {
                inheritable: c.inheritable,
                permitted: c.permitted,
                effective: c.effective,
                bounding: c.bounding,
                ambient: c.ambient,
            },
            securebits: c.securebits,
            no_new_privs: c.no_new_privs,
            dumpable: c.dumpable,
        };
        let groups = groups.get(..c.ngroups as usize).ok_or(EINVAL)?;
        let n = Creds::encode(&head, groups, &mut self.buf[SECTION_LEN..]).ok_or(EINVAL)?;
        self.emit(Tag::Creds, n)
    }

    /// The stream of the current process (which is the one to dump).
    pub(crate) fn stream(&mut self, pid: u32, purpose: Purpose) -> Result {
        // Pages still on the node it came from come first.
        crate::lazy::pull_all()?;
        // Threads may have appeared since the check.
        let me = TaskRef::get(pid)?;
        let i = me.info();
        if i.threads != 1 {
            self.reason = Reason::Threads;
            self.detail = u64::from(i.threads);
            return Err(eopnotsupp());
        }
        if crate::kernel_ext::ipc::sem_undo_held(&me) {
            self.reason = Reason::SemUndo;
            return Err(eopnotsupp());
        }
        let node = crate::ssi_api::node_id().map_or(0, |n| n.get()) as u8;
        let h = StreamHeader { purpose, node, pid };
        let hb: [u8; HEADER_LEN] = h.encode();
        self.put(&hb)?;

        let th = signal::thread();
        let comm: [u8; 16] = th.comm.map(|c| c as u8);
        let task = TaskInfo {
            pid,
            // A guest's local parent is the thread that started it.
            ppid: crate::migrate::guest_ppid(pid).unwrap_or(th.ppid),
            pgid: th.pgid,
            sid: th.sid,
            exit_signal: th.exit_signal,
            comm,
        };
        self.section(Tag::Task, &task.encode())?;
        self.creds()?;
        self.limits_and_dirs()?;
        let mut s = signal::new_signals()?;
        signal::signals(&mut s);
        let mut acts = [SigAction::default(); SIGNALS];
        for (i, a) in acts.iter_mut().enumerate() {
            let x = &s.action[i];
            *a = SigAction {
                handler: x.handler,
                flags: x.flags,
                restorer: x.restorer,
                mask: x.mask,
            };
        }
        // Read, not dequeued: the process keeps them if it goes on. A
        // pending SIGKILL is not carried (the process is dying).
        let (own, shared) = signal::pending();
        let sets = SigSets {
            blocked: s.blocked,
            pending: own & !SIGKILL_BIT,
            shared_pending: shared & !SIGKILL_BIT,
        };
        Signals::encode(&acts, &sets, &mut self.buf[SECTION_LEN..]).ok_or(EINVAL)?;
        self.emit(Tag::Signals, Signals::LEN)?;
        self.carried_signals = sets.pending | sets.shared_pending;
        self.signal_waiting = self.carried_signals & !sets.blocked != 0;

        let m = Mm::current().ok_or(ESRCH)?;
        let l = m.layout();
        let layout = MmLayout::from(&l);
        self.section(Tag::Mm, &layout.encode())?;

        let (mut vvar, mut vdso, mut vdso_end) = (0, 0, 0);
        let mut addr = 0;
        loop {
            let Some(v) = m.vma_from(addr, &mut self.path)? else {
                break;
            };
            addr = v.end;
            if v.kind & mm::KIND_VVAR != 0 {
                vvar = v.start;
                continue;
            }
            if v.kind & mm::KIND_VDSO != 0 {
                (vdso, vdso_end) = (v.start, v.end);
                continue;
            }
            if v.kind & mm::KIND_SPECIAL != 0 {
                continue;
            }
            if purpose == Purpose::Migration {
                if let Some(id) = sysv_area(&m, &v) {
                    self.sysv(&v, id)?;
                    continue;
                }
            }
            if let Some(r) = odd_area(&v) {
                self.reason = r;
                self.detail = v.start;
                return Err(eopnotsupp());
            }
            self.area(&v)?;
        }

        crate::files::for_each(&me, pid, purpose == Purpose::Migration, |d| {
            let n = d
                .encode(&mut self.buf[SECTION_LEN..])
                .ok_or_else(|| Error::from_errno(-36))?;
            self.emit(Tag::File, n)
        })?;

        let mut regs = Regs(regset::regs());
        regs.fix_syscall_restart(self.signal_waiting);
        // The signals that would end a wait here go with the process.
        regs.restart_sem_wait(self.signal_waiting);
        self.section(Tag::Regs, &regs.encode())?;
        let n = regset::fpu_size();
        if n > Tag::Fpu.max_len() {
            return Err(eopnotsupp());
        }
        regset::fpu(&mut self.buf[SECTION_LEN..SECTION_LEN + n])?;
        self.emit(Tag::Fpu, n)?;
        let ts = ThreadState {
            rseq: th.rseq,
            rseq_len: th.rseq_len,
            rseq_sig: th.rseq_sig,
            clear_child_tid: th.clear_child_tid,
            robust_list: th.robust_list,
            sas_ss_sp: th.sas_ss_sp,
            sas_ss_size: th.sas_ss_size,
            sas_ss_flags: th.sas_ss_flags,
            personality: th.personality,
            vvar: if vdso != 0 { vvar } else { 0 },
            vdso: if vvar != 0 { vdso } else { 0 },
            vdso_end: if vvar != 0 { vdso_end } else { 0 },
        };
        self.section(Tag::Thread, &ts.encode())?;
        self.end(purpose)
    }

    /// The `Rlimits` and `Fs` sections of the current process. A working
    /// or root directory without a path (removed) is refused
    /// ([`Reason::MissingDir`], detail 0 or 1).
    fn limits_and_dirs(&mut self) -> Result {
        let mut lim = Rlimits::default();
        for (d, s) in lim.0.iter_mut().zip(rlimit::get().iter()) {
            *d = Rlimit {
                cur: s.cur,
                max: s.max,
            };
        }
        const _: () = assert!(rlimit::COUNT == RLIMITS);
        self.section(Tag::Rlimits, &lim.encode())?;

        // The working directory's path in `path`, the root's past the
        // section's largest payload in `buf`.
        let (head, scratch) = self.buf.split_at_mut(SECTION_LEN + Tag::Fs.max_len());
        let cwd = fs::path(fs::Which::Pwd, &mut self.path[..]);
        let root = fs::path(
            fs::Which::Root,
            scratch.get_mut(..PATH_MAX + 1).ok_or(EINVAL)?,
        );
        let (cwd, root) = match (cwd, root) {
            (Ok(c), Ok(r)) => (c, r),
            (Err(e), _) | (_, Err(e)) => {
                self.reason = Reason::MissingDir;
                self.detail = u64::from(cwd.is_ok());
                return Err(e);
            }
        };
        let f = FsPaths {
            cwd: self.path.get(..cwd).ok_or(EINVAL)?,
            root: scratch.get(..root).ok_or(EINVAL)?,
        };
        let n = f
            .encode(&mut head[SECTION_LEN..])
            .ok_or_else(|| Error::from_errno(-36))?;
        self.emit(Tag::Fs, n)
    }

    /// A SysV attach of segment `id`: its area, which names the segment
    /// (its pages stay with the segment).
    fn sysv(&mut self, v: &mm::VmaInfo, id: i32) -> Result {
        let bytes = id.to_le_bytes();
        let area = Vma {
            start: v.start,
            end: v.end,
            prot: prot_of(v.vm_flags),
            flags: VMA_SHARED | VMA_SYSV,
            pgoff: 0,
            path: &bytes,
        };
        let n = area
            .encode(&mut self.buf[SECTION_LEN..])
            .ok_or_else(|| Error::from_errno(-36))?;
        self.emit(Tag::Vma, n)
    }

    /// One area and, if it has private pages, its pages: every page of a
    /// file's area, the non-zero pages of an anonymous one.
    fn area(&mut self, v: &mm::VmaInfo) -> Result {
        let file = v.kind & mm::KIND_FILE != 0;
        let pages = v.kind & mm::KIND_ANON != 0;
        let mut flags = 0;
        if file {
            flags |= VMA_FILE;
        }
        if pages {
            flags |= VMA_PAGES;
        }
        if v.vm_flags & mm::VM_GROWSDOWN != 0 {
            flags |= VMA_GROWSDOWN;
        }
        if v.vm_flags & mm::VM_SHARED != 0 {
            flags |= VMA_SHARED;
        }
        let plen = if file { v.path_len as usize } else { 0 };
        let area = Vma {
            start: v.start,
            end: v.end,
            prot: prot_of(v.vm_flags),
            flags,
            pgoff: v.pgoff,
            path: self.path.get(..plen).ok_or(EINVAL)?,
        };
        let n = area
            .encode(&mut self.buf[SECTION_LEN..])
            .ok_or_else(|| Error::from_errno(-36))?;
        self.emit(Tag::Vma, n)?;
        if !pages {
            return Ok(());
        }
        if file {
            // Every page: a private copy and the file's own look alike.
            let chunk = MAX_RUN_PAGES as u64 * PAGE as u64;
            let mut at = v.start;
            while at < v.end {
                let len = (v.end - at).min(chunk) as usize;
                let data = SECTION_LEN + PageRun::LEN;
                mm::read_pages(at, &mut self.buf[data..data + len])?;
                self.run(at, 0, len / PAGE)?;
                at += len as u64;
            }
            return Ok(());
        }
        // Anonymous: the pages that hold data, found in the page tables
        // (an untouched page is not read), 64 at a time.
        let m = Mm::current().ok_or(ESRCH)?;
        let mut at = v.start;
        while at < v.end {
            let n = ((v.end - at) / PAGE as u64).min(u64::from(MAX_RUN_PAGES)) as usize;
            let mut bits = remote::present(&m, at)?;
            if n < 64 {
                bits &= (1u64 << n) - 1;
            }
            let mut i = 0;
            while i < n {
                if bits & (1 << i) == 0 {
                    i += 1;
                    continue;
                }
                let mut j = i + 1;
                while j < n && bits & (1 << j) != 0 {
                    j += 1;
                }
                let base = at + (i * PAGE) as u64;
                if self.lazy {
                    self.lazy_run(base, j - i)?;
                } else {
                    self.nonzero_runs(base, j - i)?;
                }
                i = j;
            }
            at += (n * PAGE) as u64;
        }
        Ok(())
    }

    /// Reads `count` pages at `base` and writes the runs of those that are
    /// not zero (a new anonymous page is zero).
    fn nonzero_runs(&mut self, base: u64, count: usize) -> Result {
        let data = SECTION_LEN + PageRun::LEN;
        mm::read_pages(base, &mut self.buf[data..data + count * PAGE])?;
        let mut i = 0;
        while i < count {
            let zero = |k: usize| {
                self.buf[data + k * PAGE..data + (k + 1) * PAGE]
                    .iter()
                    .all(|&b| b == 0)
            };
            if zero(i) {
                i += 1;
                continue;
            }
            let mut j = i + 1;
            while j < count && !zero(j) {
                j += 1;
            }
            self.run(base, i, j - i)?;
            i = j;
        }
        Ok(())
    }

    /// Lists `count` pages at `addr` as left here.
    fn lazy_run(&mut self, addr: u64, count: usize) -> Result {
        let r = PageRun {
            addr,
            count: count as u32,
        };
        self.buf[SECTION_LEN..SECTION_LEN + PageRun::LEN].copy_from_slice(&r.encode());
        self.emit_flagged(Tag::Pages, SECTION_LAZY, PageRun::LEN)
    }

    /// Writes pages `first..first + count` of the chunk read at `base`.
    fn run(&mut self, base: u64, first: usize, count: usize) -> Result {
        let data = SECTION_LEN + PageRun::LEN;
        if first != 0 {
            self.buf
                .copy_within(data + first * PAGE..data + (first + count) * PAGE, data);
        }
        let r = PageRun {
            addr: base + (first * PAGE) as u64,
            count: count as u32,
        };
        self.buf[SECTION_LEN..data].copy_from_slice(&r.encode());
        // Only pages before `first + count` moved: the ones after it, still
        // to be looked at, are in place.
        self.emit(Tag::Pages, PageRun::LEN + count * PAGE)
    }
}
