// SPDX-License-Identifier: GPL-2.0-only
//! Remote files: a process of this node uses an open file of a process of
//! another node (fd `fd` of process `pid` on node `node`) as its own.
//!
//! Server: the `SERVICE_RFILE` RPC service (`rust/proto/src/rfile.rs`),
//! served on the core's worker thread. It finds the file as
//! `pidfd_getfd()` would, checks the caller's rights (root, or ptrace's
//! attach rules with the caller's ids) here, and reads, writes or seeks it
//! as the process itself would: its shared position, `O_APPEND`. A file
//! that is not regular and is not ready answers `EAGAIN` (the worker never
//! blocks on a terminal); the client waits and asks again.
//!
//! Client: a stream file (`rust/kernel_ext/stream.rs`) whose operations
//! are calls to the server; `EIO` while the node is out of the view, and
//! for a call made while it left. A node that comes back after a lost
//! link serves the file again; one that rebooted answers `ESTALE` (its
//! cookies are drawn anew at load).

use core::sync::atomic::{AtomicU64, Ordering};
use kernel::{
    alloc::{flags::GFP_KERNEL, KVec},
    bindings,
    prelude::*,
    uaccess::{UserSliceReader, UserSliceWriter},
};

use crate::kernel_ext::{
    cred, errno,
    file::FdFile,
    kthread,
    stream::{NewFile, StreamFops, StreamOps},
    task::TaskRef,
};
use crate::proto::rfile::{
    decode_pos, decode_u32, Info, Request, Target, CAP_PREAD, CAP_SEEK, MAX_IO, WRITE_HEAD,
};
use crate::ssi_api;

/// The ghost module's remote-file RPC service.
pub(crate) const SERVICE_RFILE: u16 = 0x140;
/// How long one call may take (the server never blocks: this is for a
/// busy worker or a lost node).
const CALL_TIMEOUT_MS: u32 = 5000;
/// Pause before asking again after `EAGAIN`.
const RETRY_MS: u32 = 20;
/// `EREMOTE`: the file is itself a remote file (served by its origin).
fn eremote() -> Error {
    Error::from_errno(-66)
}
/// `ESTALE`: the fd now holds another file than the one meant.
fn estale() -> Error {
    Error::from_errno(-116)
}

/// Per node, bumped when it leaves the view: a call made meanwhile fails
/// with `EIO` (whether it was served is unknown).
static DEPARTED: ssi_api::Departures = ssi_api::Departures::new(|_| {});
/// Requests refused as malformed, since the module was loaded.
static BAD_REQUESTS: AtomicU64 = AtomicU64::new(0);
/// Hides file addresses in cookies (set at load).
static SECRET: AtomicU64 = AtomicU64::new(0);

fn generation(node: u8) -> u32 {
    DEPARTED.generation(node)
}

/// The cookie of an open file: its identity, hidden, never 0.
fn cookie_of(f: &FdFile) -> u64 {
    let c = (f.identity() ^ SECRET.load(Ordering::Relaxed)).rotate_left(17);
    c.max(1)
}

/// The server.
struct Server;

impl ssi_api::Service for Server {
    fn handle(&self, src: u8, req: &[u8], resp: &mut [u8]) -> Result<usize> {
        let Some(r) = Request::decode(req) else {
            let n = BAD_REQUESTS.fetch_add(1, Ordering::Relaxed) + 1;
            if n <= 10 {
                pr_warn!(
                    "remote files: malformed request from node {} ({} bytes), refused ({} so far)\n",
                    src,
                    req.len(),
                    n
                );
            }
            return Err(EINVAL);
        };
        serve(&r, resp)
    }
}

fn serve(r: &Request<'_>, resp: &mut [u8]) -> Result<usize> {
    let t = r.target();
    let task = TaskRef::get(t.pid)?;
    if !task.may_attach(t.uid, t.gid, t.privileged) {
        return Err(EPERM);
    }
    let f = FdFile::of_task(&task, t.fd)?;
    if FOPS.data_of(&f).is_some() {
        return Err(eremote());
    }
    let cookie = cookie_of(&f);
    if t.cookie != 0 && t.cookie != cookie {
        return Err(estale());
    }
    match *r {
        Request::Info(_) => {
            let mut caps = 0;
            if f.can_pread() {
                caps |= CAP_PREAD;
            }
            if f.can_seek() {
                caps |= CAP_SEEK;
            }
            let i = Info {
                cookie,
                flags: f.flags(),
                mode: f.mode(),
                pos: f.pos().max(0),
                size: f.size().max(0),
                caps,
            };
            let out = resp.get_mut(..Info::LEN).ok_or(EINVAL)?;
            out.copy_from_slice(&i.encode());
            Ok(Info::LEN)
        }
        Request::Read { count, pos, .. } => {
            let buf = resp.get_mut(..count as usize).ok_or(EINVAL)?;
            let mut p = pos.unwrap_or(0);
            f.read_shared(buf, pos.is_some().then_some(&mut p), true)
        }
        Request::Write { pos, data, .. } => {
            let mut p = pos.unwrap_or(0);
            let n = f.write_shared(data, pos.is_some().then_some(&mut p), true)?;
            let out = resp.get_mut(..4).ok_or(EINVAL)?;
            out.copy_from_slice(&(n as u32).to_le_bytes());
            Ok(4)
        }
        Request::Seek { offset, whence, .. } => {
            let p = f.seek(offset, whence)?;
            let out = resp.get_mut(..8).ok_or(EINVAL)?;
            out.copy_from_slice(&p.to_le_bytes());
            Ok(8)
        }
    }
}

static SERVER: Server = Server;

/// The service and the listener; dropping them stops serving.
pub(crate) struct Registration {
    _service: ssi_api::ServiceRegistration,
    _watch: ssi_api::ListenerRegistration,
}

/// Starts serving this node's processes' files to the other nodes.
pub(crate) fn start() -> Result<Registration> {
    SECRET.store(kthread::random_u64(), Ordering::Relaxed);
    let watch = ssi_api::register_listener(&DEPARTED)?;
    let service = ssi_api::register_deferred_service(SERVICE_RFILE, &SERVER)?;
    Ok(Registration {
        _service: service,
        _watch: watch,
    })
}

/// A remote file's state on the client node.
pub(crate) struct Remote {
    node: u8,
    /// Who asks (the ids of the task that made the file) and for what.
    target: Target,
    caps: u32,
}

/// Where a remote file leads: `(node, pid, fd)`.
pub(crate) type Origin = (u8, u32, u32);

impl Remote {
    /// One call; `EIO` if the node is away or left meanwhile.
    fn call(&self, req: &[u8], resp: &mut [u8]) -> Result<usize> {
        self.call_woken(req, resp, false)
    }

    /// [`Self::call`], which only SIGKILL interrupts if `killable`.
    fn call_woken(&self, req: &[u8], resp: &mut [u8], killable: bool) -> Result<usize> {
        let generation = generation(self.node);
        if !ssi_api::is_member(self.node) {
            return Err(EIO);
        }
        let r = if killable {
            ssi_api::call_killable(self.node, SERVICE_RFILE, req, resp, CALL_TIMEOUT_MS)
        } else {
            ssi_api::call(self.node, SERVICE_RFILE, req, resp, CALL_TIMEOUT_MS)
        };
        if generation != self::generation(self.node) {
            return Err(EIO);
        }
        match r {
            Err(e)
                if e == errno::etimedout()
                    || e == errno::eshutdown()
                    || e == errno::ehostdown()
                    || e == ENODEV =>
            {
                Err(EIO)
            }
            r => r,
        }
    }

    /// Calls until the answer is not `EAGAIN` (unless `nonblock`); a
    /// signal ends the wait.
    fn call_io(&self, req: &[u8], resp: &mut [u8], nonblock: bool) -> Result<usize> {
        loop {
            match self.call(req, resp) {
                Err(e) if e == EAGAIN && !nonblock => {
                    if kthread::signal_pending() {
                        return Err(EINTR);
                    }
                    kthread::sleep_ms(RETRY_MS);
                }
                r => return r,
            }
        }
    }

    pub(crate) fn origin(&self) -> Origin {
        (self.node, self.target.pid, self.target.fd)
    }
}

impl StreamOps for Remote {
    fn read(&self, out: &mut UserSliceWriter, pos: Option<i64>, nonblock: bool) -> Result<usize> {
        let count = out.len().min(MAX_IO);
        if count == 0 {
            return Ok(0);
        }
        if pos.is_some() && self.caps & CAP_PREAD == 0 {
            return Err(errno::espipe());
        }
        let mut req = [0u8; 64];
        let n = Request::Read {
            target: self.target,
            count: count as u32,
            pos,
        }
        .encode(&mut req)
        .ok_or(EINVAL)?;
        let mut data = KVec::from_elem(0u8, count, GFP_KERNEL)?;
        let got = self.call_io(&req[..n], &mut data, nonblock)?;
        let got = data.get(..got).ok_or(EIO)?;
        out.write_slice(got)?;
        Ok(got.len())
    }

    fn write(
        &self,
        input: &mut UserSliceReader,
        pos: Option<i64>,
        nonblock: bool,
    ) -> Result<usize> {
        let count = input.len().min(MAX_IO);
        if pos.is_some() && self.caps & CAP_PREAD == 0 {
            return Err(errno::espipe());
        }
        let mut req = KVec::from_elem(0u8, WRITE_HEAD + count, GFP_KERNEL)?;
        input.read_slice(req.get_mut(WRITE_HEAD..).ok_or(EINVAL)?)?;
        // The operands in front of the data just read.
        let mut head = [0u8; WRITE_HEAD];
        Request::Write {
            target: self.target,
            pos,
            data: &[],
        }
        .encode(&mut head)
        .ok_or(EINVAL)?;
        req[..WRITE_HEAD].copy_from_slice(&head);
        let mut answer = [0u8; 4];
        let n = self.call_io(&req, &mut answer, nonblock)?;
        let written = decode_u32(answer.get(..n).ok_or(EIO)?).ok_or(EIO)? as usize;
        if written > count {
            return Err(EIO);
        }
        Ok(written)
    }

    fn seek(&self, offset: i64, whence: u32) -> Result<i64> {
        if self.caps & CAP_SEEK == 0 {
            return Err(errno::espipe());
        }
        let mut req = [0u8; 64];
        let n = Request::Seek {
            target: self.target,
            offset,
            whence,
        }
        .encode(&mut req)
        .ok_or(EINVAL)?;
        let mut answer = [0u8; 8];
        let got = self.call(&req[..n], &mut answer)?;
        decode_pos(answer.get(..got).ok_or(EIO)?).ok_or(EIO)
    }
}

static FOPS: StreamFops<Remote> = StreamFops::new(&crate::THIS_MODULE);

/// Where `f` leads if it is a remote file.
pub(crate) fn origin_of(f: &FdFile) -> Option<Origin> {
    FOPS.data_of(f).map(Remote::origin)
}

/// A new remote file for fd `fd` of process `pid` on node `node`, open
/// with the access mode (`O_ACCMODE`: the file's own) and `O_NONBLOCK` of
/// `flags`, for the current task
/// (its ids and `CAP_SYS_PTRACE` are what the serving node checks).
/// `ESRCH`, `EBADF`, `EPERM` from the serving node; `EHOSTDOWN` if `node`
/// is not a member; `EREMOTE` if that fd is itself a remote file. Only
/// SIGKILL interrupts the call if `restoring` (a restore must not fail
/// because a signal arrived: it is delivered afterwards).
pub(crate) fn open_remote(
    node: u8,
    pid: u32,
    fd: u32,
    flags: u32,
    restoring: bool,
) -> Result<NewFile> {
    if node == 0 {
        return Err(EINVAL);
    }
    let members = ssi_api::members()?;
    if members[usize::from(node / 8)] & (1 << (node % 8)) == 0 {
        return Err(errno::ehostdown());
    }
    let ids = cred::ids();
    let mut target = Target {
        uid: ids.uid[0],
        gid: ids.gid[0],
        privileged: cred::capable(cred::CAP_SYS_PTRACE),
        pid,
        fd,
        cookie: 0,
    };
    let mut remote = Remote {
        node,
        target,
        caps: 0,
    };
    let mut req = [0u8; 64];
    let n = Request::Info(target).encode(&mut req).ok_or(EINVAL)?;
    let mut answer = [0u8; Info::LEN];
    let got = remote.call_woken(&req[..n], &mut answer, restoring)?;
    let info = Info::decode(answer.get(..got).ok_or(EIO)?).ok_or(EIO)?;
    // The access the file allows, at most (`O_ACCMODE`: the file's own).
    let has = info.flags & bindings::O_ACCMODE;
    let acc = match flags & bindings::O_ACCMODE {
        bindings::O_ACCMODE => has,
        a if a == has || has == bindings::O_RDWR => a,
        _ => return Err(EACCES),
    };
    target.cookie = info.cookie;
    remote.target = target;
    remote.caps = info.caps;
    NewFile::new(&FOPS, remote, acc | (flags & bindings::O_NONBLOCK))
}

/// Makes fd `fd_number` of the current task a remote file for fd
/// `remote_fd` of process `pid` on node `node` (replacing what was there),
/// with the access mode, `O_NONBLOCK` and `O_CLOEXEC` of `open_flags`.
/// Errors as [`open_remote`]'s; nothing changes on error.
#[allow(dead_code)] // For the migration's restore.
pub(crate) fn install_remote(
    fd_number: u32,
    node: u8,
    pid: u32,
    remote_fd: u32,
    open_flags: u32,
) -> Result {
    let f = open_remote(node, pid, remote_fd, open_flags, true)?;
    f.install_at(fd_number, open_flags & bindings::O_CLOEXEC != 0)
}

/// Arguments of `GETFD` (shared with the user tools).
pub(crate) use crate::proto::ghost_ioctl::GetFdArg;

/// `GETFD`: a new fd of the caller (root only here; root or ptrace rights
/// on the target, checked on its node) that is fd `a.fd` of process
/// `a.pid` on node `a.node`.
pub(crate) fn getfd(a: &mut GetFdArg) -> Result<u32> {
    if !cred::capable(cred::CAP_SYS_ADMIN) {
        return Err(EPERM);
    }
    let known = bindings::O_CLOEXEC | bindings::O_ACCMODE | bindings::O_NONBLOCK;
    if a.flags & !known != 0 {
        return Err(EINVAL);
    }
    let node = u8::try_from(a.node).map_err(|_| EINVAL)?;
    let fd = u32::try_from(a.fd).map_err(|_| EBADF)?;
    if a.pid == 0 || a.pid > i32::MAX as u32 || fd >= crate::proto::rfile::MAX_FD {
        return Err(EINVAL);
    }
    let f = open_remote(node, a.pid, fd, a.flags, false)?;
    let new_fd = f.install(a.flags & bindings::O_CLOEXEC != 0)?;
    a.new_fd = new_fd as i32;
    Ok(new_fd)
}
