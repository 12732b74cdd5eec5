// SPDX-License-Identifier: GPL-2.0-only
//! Restart ("restore self"): the caller, a fresh process with the PID of
//! the stream, becomes the process of the stream.
//!
//! The stream is read twice from its file. The first pass checks all of
//! it but the page contents, which it passes over (every rule of the format, the PID, that each mapped file opens
//! here, that the FPU image fits this CPU) and keeps the small sections;
//! a malformed stream is refused then, with nothing changed. The second
//! pass, after the point of no return (the caller's memory is unmapped),
//! maps the areas and writes the pages; an error from there on kills the
//! caller.
//!
//! A checkpoint file is untrusted: before either pass, its MAC is checked
//! over the whole file, which nothing may write until the restore is done
//! (`trust.rs`). Its files, mapped files and directories are opened with
//! the credentials of the process it restores, never the restorer's, and
//! both passes judge each area by the same function ([`admit_area`]).

use crate::kernel_ext::{
    cred,
    file::{self, FdFile, File},
    fs::{self, Dir},
    ipc,
    mm::{self, TASK_SIZE},
    regset, remote, rlimit, signal, task,
};
use crate::proto::ghost::{
    self, Item, MmLayout, Purpose, Reader, Regs, SigSets, TaskInfo, ThreadState, Vma, MAX_SECTION,
    PAGE, PROT_WRITE, REGS, VMA_FILE, VMA_GROWSDOWN, VMA_SHARED, VMA_SYSV,
};
use crate::proto::ghost_ioctl::{Reason, RestoreArg};
use crate::proto::pages::Run;
use crate::stream::{Stream, StreamSource};
use kernel::{
    alloc::{flags::GFP_KERNEL, KBox, KVVec, KVec},
    bindings,
    prelude::*,
    str::CStr,
};

/// What the first pass keeps.
struct State {
    task: Option<TaskInfo>,
    /// The process's credentials, not committed: a checkpoint's files are
    /// opened with them, and the second pass commits them last.
    creds: Option<cred::Prepared>,
    /// The limits, as `rlimit::set` takes them.
    rlimits: Option<[rlimit::Rlimit; rlimit::COUNT]>,
    /// The working and root directories, looked up here.
    dirs: Option<(Dir, Dir)>,
    signals: KBox<signal::Signals>,
    seen_signals: bool,
    /// The pending signals, raised again once everything else is set.
    pending: SigSets,
    mm: Option<MmLayout>,
    regs: Option<Regs>,
    fpu: KVVec<u8>,
    thread: Option<ThreadState>,
    areas: KVec<(u64, u64)>,
    files: crate::files::Files,
    /// Pages left on the node that wrote the stream.
    lazy: KVec<Run>,
}

fn bad(a: &mut RestoreArg, reason: Reason, detail: u64) -> Error {
    a.reason = reason;
    a.detail = detail;
    EINVAL
}

/// Opens `path` (no NUL inside, as `Vma::decode` checked) read-only.
fn open_path(path: &[u8]) -> Result<File> {
    let b = nul_terminated(path)?;
    let c = CStr::from_bytes_with_nul(&b).map_err(|_| EINVAL)?;
    File::open(c, bindings::O_RDONLY | bindings::O_LARGEFILE)
}

/// `path` and a NUL, for a `CStr`.
fn nul_terminated(path: &[u8]) -> Result<KVec<u8>> {
    let mut b = KVec::with_capacity(path.len() + 1, GFP_KERNEL)?;
    b.extend_from_slice(path, GFP_KERNEL)?;
    b.push(0, GFP_KERNEL)?;
    Ok(b)
}

/// Looks the directory `path` up (no NUL inside, as `FsPaths::decode`
/// checked).
fn lookup_dir(path: &[u8]) -> Result<Dir> {
    let b = nul_terminated(path)?;
    let c = CStr::from_bytes_with_nul(&b).map_err(|_| EINVAL)?;
    Dir::lookup(c)
}

/// The limits of `st` with `RLIMIT_NOFILE`'s soft limit at its hard one,
/// so that every fd of the stream can be installed (`replace_fd()`
/// refuses fds at or above the soft limit); the exact ones are set once
/// the files are.
fn rlimits_for_files(st: &State) -> Result<[rlimit::Rlimit; rlimit::COUNT]> {
    let mut r = st.rlimits.ok_or(EINVAL)?;
    r[rlimit::NOFILE].cur = r[rlimit::NOFILE].max;
    Ok(r)
}

/// Runs `f` with the rights of the process being restored: `creds` for a
/// checkpoint (its files are opened as the process, whatever the file
/// says), the restorer's own for a migration (a stream from a member
/// node's kernel over the cluster's transport).
fn as_process<R>(
    purpose: Purpose,
    creds: Option<&cred::Prepared>,
    f: impl FnOnce() -> R,
) -> Result<R> {
    match (purpose, creds) {
        (Purpose::Checkpoint, Some(c)) => Ok(c.act(f)),
        // Credentials come before any file: a stream without them is
        // malformed.
        (Purpose::Checkpoint, None) => Err(EINVAL),
        (Purpose::Migration, _) => Ok(f()),
    }
}

/// The rules of an area, for both passes: a shared mapping only of a file
/// and read-only, a file offset that fits, and a file's area opened (with
/// the process's rights) here. Returns the file, or why the area is
/// refused (the reason and its detail).
fn admit_area(
    v: &Vma<'_>,
    purpose: Purpose,
    creds: Option<&cred::Prepared>,
) -> core::result::Result<Option<File>, (Reason, u64)> {
    if v.flags & VMA_SYSV != 0 {
        // A segment of the cluster, named by a member's kernel: only a
        // migration's stream carries one (attached in `attach_sysv`).
        return match purpose {
            Purpose::Migration => Ok(None),
            Purpose::Checkpoint => Err((Reason::BadStream, 0)),
        };
    }
    let shared = v.flags & VMA_SHARED != 0;
    let file = v.flags & VMA_FILE != 0;
    let off_ok = v
        .pgoff
        .checked_mul(PAGE as u64)
        .is_some_and(|o| o <= i64::MAX as u64);
    if (shared && (!file || v.prot & PROT_WRITE != 0)) || !off_ok {
        return Err((Reason::BadStream, 0));
    }
    if !file {
        return Ok(None);
    }
    match as_process(purpose, creds, || open_path(v.path)) {
        Ok(Ok(f)) => Ok(Some(f)),
        Ok(Err(_)) => Err((Reason::MissingFile, v.start)),
        Err(_) => Err((Reason::BadStream, 0)),
    }
}

/// The credentials of a `Creds` section, prepared (not committed) in the
/// restorer's context.
fn prepared(c: &ghost::Creds<'_>) -> Result<cred::Prepared> {
    let h = &c.head;
    let mut groups = KVec::with_capacity(c.ngroups(), GFP_KERNEL)?;
    for g in c.groups() {
        groups.push(g, GFP_KERNEL)?;
    }
    let creds = cred::Creds {
        uid: h.uid,
        gid: h.gid,
        inheritable: h.caps.inheritable,
        permitted: h.caps.permitted,
        effective: h.caps.effective,
        bounding: h.caps.bounding,
        ambient: h.caps.ambient,
        securebits: h.securebits,
        ngroups: u32::try_from(c.ngroups()).map_err(|_| EINVAL)?,
        no_new_privs: h.no_new_privs,
        seccomp: 0,
        init_user_ns: true,
        dumpable: h.dumpable,
    };
    cred::Prepared::new(&creds, &groups)
}

/// Whether the anonymous area `v` is the brk heap of `l`.
fn is_brk(v: &Vma<'_>, l: &MmLayout) -> bool {
    v.flags & (VMA_FILE | VMA_GROWSDOWN | VMA_SHARED) == 0
        && v.prot == ghost::PROT_READ | PROT_WRITE
        && v.start <= l.brk
        && v.end >= l.start_brk
        && l.brk > l.start_brk
}

/// The first pass: checks the whole stream; lazy runs only if `lazy`.
fn check(
    f: Stream<'_>,
    purpose: Purpose,
    lazy: bool,
    buf: &mut [u8],
    a: &mut RestoreArg,
) -> Result<State> {
    let mut st = State {
        task: None,
        creds: None,
        rlimits: None,
        dirs: None,
        signals: signal::new_signals()?,
        seen_signals: false,
        pending: SigSets::default(),
        mm: None,
        regs: None,
        fpu: KVVec::new(),
        thread: None,
        areas: KVec::new(),
        files: crate::files::Files::new(),
        lazy: KVec::new(),
    };
    let mut r = Reader::new(StreamSource::new(f)).map_err(|_| bad(a, Reason::BadStream, 0))?;
    // Page contents are any bytes: this pass checks where they go only.
    r.skip_pages();
    if r.header.purpose != purpose {
        return Err(bad(a, Reason::BadStream, 10));
    }
    // A migrated process's files stay with its stub on the node that
    // wrote the stream, and are reached from here as remote files.
    let policy = match purpose {
        Purpose::Checkpoint => crate::files::Policy::Checkpoint,
        Purpose::Migration => crate::files::Policy::Migration {
            node: r.header.node,
            pid: r.header.pid,
        },
    };
    if r.header.pid != task::current_pid() {
        let pid = u64::from(r.header.pid);
        pr_info!(
            "restore: stream of pid {}, caller is {}\n",
            pid,
            task::current_pid()
        );
        return Err(bad(a, Reason::OtherPid, pid));
    }
    loop {
        let at = r.source().pos as u64;
        let item = match r.next(buf) {
            Ok(i) => i,
            Err(_) => return Err(bad(a, Reason::BadStream, at)),
        };
        match item {
            Item::Task(t) => st.task = Some(t),
            Item::Creds(c) => {
                let c = prepared(&c).map_err(|_| bad(a, Reason::BadStream, at))?;
                st.creds = Some(c);
            }
            Item::Rlimits(l) => {
                let mut r = [rlimit::Rlimit::default(); rlimit::COUNT];
                for (d, s) in r.iter_mut().zip(l.0.iter()) {
                    (d.cur, d.max) = (s.cur, s.max);
                }
                // This node's rules (fs.nr_open, CAP_SYS_RESOURCE to raise a
                // hard limit) are checked now, with nothing changed.
                if let Err((_, res)) = rlimit::set(&r, true) {
                    return Err(bad(a, Reason::Rlimit, u64::from(res)));
                }
                st.rlimits = Some(r);
            }
            Item::Fs(f) => {
                // The root first: a chroot()ed process whose root is
                // missing is refused for it.
                let dirs = as_process(purpose, st.creds.as_ref(), || {
                    let root = lookup_dir(f.root).map_err(|_| 1u64)?;
                    let pwd = lookup_dir(f.cwd).map_err(|_| 0u64)?;
                    Ok::<_, u64>((pwd, root))
                })
                .map_err(|_| bad(a, Reason::BadStream, at))?;
                st.dirs = Some(dirs.map_err(|d| bad(a, Reason::MissingDir, d))?);
            }
            Item::Signals(s) => {
                for i in 0..ghost::SIGNALS {
                    let x = s.action(i);
                    let d = &mut st.signals.action[i];
                    (d.handler, d.flags, d.restorer, d.mask) =
                        (x.handler, x.flags, x.restorer, x.mask);
                }
                st.signals.blocked = s.blocked();
                st.pending = s.sets();
                st.seen_signals = true;
            }
            Item::Mm(m) => st.mm = Some(m),
            Item::Vma(v) => {
                admit_area(&v, purpose, st.creds.as_ref())
                    .map_err(|(r, d)| bad(a, r, if r == Reason::BadStream { at } else { d }))?;
                st.areas.push((v.start, v.end), GFP_KERNEL)?;
            }
            Item::Pages(..) => {}
            Item::Lazy(run) => {
                let r = Run::of(run.addr, run.count).ok_or(EINVAL);
                if !lazy || r.is_err() {
                    return Err(bad(a, Reason::BadStream, at));
                }
                st.lazy.push(r?, GFP_KERNEL)?;
            }
            Item::Regs(x) => st.regs = Some(x),
            Item::Fpu(b) => {
                if b.len() != regset::fpu_size() {
                    return Err(bad(a, Reason::Fpu, b.len() as u64));
                }
                st.fpu.extend_from_slice(b, GFP_KERNEL)?;
            }
            Item::Thread(t) => st.thread = Some(t),
            Item::File(f) => {
                // `replace_fd()` installs no fd at or above the soft limit,
                // which the restart keeps at the hard one until then.
                let Some(lim) = st.rlimits else {
                    return Err(bad(a, Reason::BadStream, at));
                };
                if u64::from(f.fd) >= lim[rlimit::NOFILE].max {
                    return Err(bad(a, Reason::Rlimit, rlimit::NOFILE as u64));
                }
                // A `Remote` entry is asked for with the process's ids and
                // capabilities too (no `CAP_SYS_PTRACE` of the restorer).
                let files = &mut st.files;
                as_process(purpose, st.creds.as_ref(), || files.prepare(&f, policy))
                    .map_err(|_| bad(a, Reason::BadStream, at))?
                    .map_err(|r| {
                        (a.reason, a.detail) = (r.reason, r.detail);
                        r.error
                    })?
            }
            Item::Unsupported(_) => return Err(bad(a, Reason::BadStream, at)),
            Item::End => break,
        }
    }
    let end = r.source().pos as u64;
    if st.task.is_none()
        || st.creds.is_none()
        || st.rlimits.is_none()
        || st.dirs.is_none()
        || !st.seen_signals
        || st.mm.is_none()
        || st.regs.is_none()
        || st.fpu.is_empty()
    {
        return Err(bad(a, Reason::BadStream, end));
    }
    let th = st.thread.ok_or_else(|| bad(a, Reason::BadStream, end))?;
    if th.vvar != 0
        && st
            .areas
            .iter()
            .any(|&(s, e)| s < th.vdso_end && e > th.vvar)
    {
        return Err(bad(a, Reason::BadStream, end));
    }
    Ok(st)
}

/// The second pass, after the point of no return: the areas the first
/// pass admitted, in the same order, admitted again by the same rules.
fn apply(f: Stream<'_>, purpose: Purpose, buf: &mut [u8], st: &mut State) -> Result {
    let (Some(t), Some(l), Some(regs), Some(th)) = (st.task, st.mm, st.regs, st.thread) else {
        return Err(EINVAL);
    };
    mm::unmap(0, TASK_SIZE)?;
    if th.vvar != 0 && regset::map_vdso(th.vvar)? != th.vdso {
        return Err(EFAULT);
    }
    let mut r = Reader::new(StreamSource::new(f)).map_err(|_| EINVAL)?;
    let mut areas = st.areas.iter();
    let mut writable = false;
    // The last area, and whether it is marked as holding remote pages.
    let mut area = (0, 0, false);
    // SysV attaches, made last: `(start, length, segment, read-only)`.
    let mut sysv = KVec::new();
    loop {
        match r.next(buf).map_err(|_| EINVAL)? {
            Item::Vma(v) => {
                if areas.next() != Some(&(v.start, v.end)) {
                    return Err(EINVAL);
                }
                let file = admit_area(&v, purpose, st.creds.as_ref()).map_err(|_| EINVAL)?;
                area = (v.start, v.end, false);
                let len = v.end - v.start;
                writable = v.prot & PROT_WRITE != 0;
                let shared = v.flags & VMA_SHARED != 0;
                if let Some(id) = v.sysv_id() {
                    sysv.push((v.start, len, id, !writable), GFP_KERNEL)?;
                } else if let Some(file) = file {
                    let how = if shared {
                        bindings::MAP_SHARED
                    } else {
                        bindings::MAP_PRIVATE
                    };
                    let off = v.pgoff.checked_mul(PAGE as u64).ok_or(EINVAL)?;
                    mm::map(Some(&file), v.start, len, v.prot, how, off)?;
                } else if is_brk(&v, &l) {
                    mm::map_brk(v.start, len)?;
                } else {
                    let mut how = bindings::MAP_PRIVATE | bindings::MAP_ANONYMOUS;
                    if v.flags & VMA_GROWSDOWN != 0 {
                        how |= bindings::MAP_GROWSDOWN;
                    }
                    mm::map(None, v.start, len, v.prot, how, 0)?;
                }
            }
            Item::Pages(run, data) => mm::write_pages(run.addr, data, writable)?,
            // Only where the first pass admitted lazy runs.
            Item::Lazy(_) if st.lazy.is_empty() => return Err(EINVAL),
            Item::Lazy(_) if !area.2 => {
                remote::mark(area.0, area.1)?;
                area.2 = true;
            }
            Item::End => break,
            _ => {}
        }
    }
    mm::set_layout(&mm::Layout::from(&l));
    let mut ts = signal::Thread {
        rseq: th.rseq,
        rseq_len: th.rseq_len,
        rseq_sig: th.rseq_sig,
        clear_child_tid: th.clear_child_tid,
        robust_list: th.robust_list,
        sas_ss_sp: th.sas_ss_sp,
        sas_ss_size: th.sas_ss_size,
        sas_ss_flags: th.sas_ss_flags,
        personality: th.personality,
        ..Default::default()
    };
    for (d, s) in ts.comm.iter_mut().zip(t.comm.iter()) {
        *d = *s as _;
    }
    ts.comm[15] = 0;
    signal::set_thread(&ts);
    signal::set_signals(&st.signals);
    let (pwd, root) = st.dirs.as_ref().ok_or(EINVAL)?;
    fs::set(pwd, root)?;
    // Before the credentials change: raising a hard limit takes
    // CAP_SYS_RESOURCE.
    rlimit::set(&rlimits_for_files(st)?, false).map_err(|(e, _)| e)?;
    let words: [u64; REGS] = regs.0;
    regset::set_regs(&words)?;
    // Last: exactly the credentials the process had, its dumpable state
    // included (which `commit_creds()` from the restorer's would lower).
    st.creds.take().ok_or(EINVAL)?.commit();
    // Then as the process itself (another node's segment is asked for in
    // the task's own credentials): a segment it may no longer attach
    // fails the restore, and the process goes on where it was.
    for &(start, len, id, read_only) in sysv.iter() {
        attach_sysv(start, len, id, read_only)?;
    }
    Ok(())
}

/// `shmat()` of segment `id` of the cluster at `start` by the current
/// task, checked to map `len` bytes of that segment there.
fn attach_sysv(start: u64, len: u64, id: i32, read_only: bool) -> Result {
    let flags = if read_only { ipc::SHM_RDONLY } else { 0 };
    if ipc::shmat_current(id, start, flags)? != start {
        return Err(EINVAL);
    }
    let m = mm::Mm::current().ok_or(ESRCH)?;
    match ipc::attach_of(&m, start)? {
        Some((g, size)) if g == id && (size as u64).div_ceil(PAGE as u64) * PAGE as u64 == len => {
            Ok(())
        }
        _ => Err(EINVAL),
    }
}

/// Turns the current task into the process of stream `s` (of `purpose`):
/// checks all of it, then, past the point of no return, rebuilds the
/// process. An error before that point changes nothing (`a` says why); an
/// error after it kills the current task. `lazy_from`: the node and
/// migration of a stream whose pages may stay there (on demand). Returns
/// the global PID of the process's parent, as the stream has it.
pub(crate) fn restore(
    s: Stream<'_>,
    purpose: Purpose,
    lazy_from: Option<(u8, u64)>,
    a: &mut RestoreArg,
) -> Result<u32> {
    if !mm::current_alone() {
        return Err(EBUSY);
    }
    let t0 = kernel::time::Ktime::ktime_get();
    let mut buf = KVVec::from_elem(0u8, MAX_SECTION, GFP_KERNEL)?;
    let mut st = check(s, purpose, lazy_from.is_some(), &mut buf, a)?;
    let ppid = st.task.as_ref().map_or(0, |t| t.ppid);
    if regset::set_fpu(&st.fpu).is_err() {
        return Err(bad(a, Reason::Fpu, 0));
    }
    // Point of no return: the caller's memory goes.
    if let Err(e) = apply(s, purpose, &mut buf, &mut st) {
        pr_err!(
            "restore of pid {} failed after the point of no return: {:?}\n",
            task::current_pid(),
            e
        );
        task::kill_current();
        return Err(e);
    }
    // The caller's own fds go before the files are installed at their
    // numbers (which may be the same); -1 tells the callers they are gone.
    if matches!(s, Stream::File(_)) {
        file::close_fd(a.fd);
        a.fd = -1;
    }
    file::close_fd(a.dev_fd);
    a.dev_fd = -1;
    let State {
        files,
        rlimits,
        pending,
        ..
    } = st;
    // The files, then the exact limits (this only lowers RLIMIT_NOFILE's
    // soft limit), then the pending signals, last: a fatal one would end
    // the restore, the others are delivered (or stay pending if blocked)
    // on the way back to user mode.
    let rest = files.install().and_then(|()| match rlimits {
        Some(r) => rlimit::set(&r, false).map_err(|(e, _)| e),
        None => Err(EINVAL),
    });
    if let Err(e) = rest {
        pr_err!(
            "restore of pid {}: open files and limits: {:?}\n",
            task::current_pid(),
            e
        );
        task::kill_current();
        return Err(e);
    }
    if let (Some((origin, mig)), false) = (lazy_from, st.lazy.is_empty()) {
        // Before the process touches a marked area.
        if let Err(e) = crate::lazy::adopt(origin, mig, core::mem::take(&mut st.lazy)) {
            task::kill_current();
            return Err(e);
        }
    }
    signal::raise_pending(pending.pending, pending.shared_pending);
    pr_info!(
        "pid {} restored in {} ms (both passes over the stream)\n",
        task::current_pid(),
        (kernel::time::Ktime::ktime_get() - t0).to_ms()
    );
    Ok(ppid)
}

/// `RESTORE_SELF` from a checkpoint file (the dispatch sends the
/// process on to another node, if asked).
pub(crate) fn restore_self(a: &mut RestoreArg) -> Result {
    if !cred::may_restore() {
        return Err(EPERM);
    }
    let f = FdFile::get(a.fd)?;
    if !f.is_regular() {
        return Err(bad(a, Reason::BadStream, 0));
    }
    {
        // Nothing writes the file from its MAC's check to the end of the
        // second pass: the bytes checked are the bytes restored.
        let _frozen = f.deny_write().map_err(|e| {
            crate::trust::count_refused();
            pr_warn!("restart refused: the checkpoint file is open for writing\n");
            a.reason = Reason::Untrusted;
            a.detail = 1;
            e
        })?;
        let mut buf = KVVec::from_elem(0u8, MAX_SECTION, GFP_KERNEL)?;
        if let Err(u) = crate::trust::verify(&f, &mut buf) {
            a.reason = Reason::Untrusted;
            return Err(match u {
                crate::trust::Untrusted::NoKey => {
                    pr_warn!("restart refused: no ghost key on this node\n");
                    a.detail = 2;
                    crate::kernel_ext::errno::enokey()
                }
                crate::trust::Untrusted::Refused(e) => {
                    pr_warn!(
                        "restart refused: the checkpoint's MAC is wrong (edited, or another cluster's key)\n"
                    );
                    a.detail = 0;
                    e
                }
            });
        }
        drop(buf);
        // `restore` closed `a.fd` and `a.dev_fd` on success.
        restore(Stream::File(&f), Purpose::Checkpoint, None, a)?;
    }
    Ok(())
}
