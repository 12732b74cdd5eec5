// SPDX-License-Identifier: GPL-2.0-only
//! Open files in the ghost stream: one `File` section per open fd at a
//! checkpoint, and their reopening at a restart (by path, or as remote
//! files to the node that holds them). A migration carries the ends of
//! pipes through the stream carrier (`rust/ssi_streams.rs`: dynstreams,
//! when it is loaded) as its opaque tokens.

use kernel::{alloc::flags::GFP_KERNEL, alloc::KVec, bindings, prelude::*, str::CStr};

use crate::kernel_ext::{
    file::{self, FdFile, File},
    stream::NewFile,
    task::TaskRef,
};
use crate::proto::ghost::{FileDesc, FileKind, PATH_MAX, STREAM_TOKEN_MAX};
use crate::proto::ghost_ioctl::Reason;
use crate::rfile;
use crate::ssi_streams;

/// `detail` of [`Reason::MissingFile`] for an open file: this bit and the
/// fd (a mapped file's detail is its area's address, which never has it).
pub(crate) use crate::proto::ghost_ioctl::FD_DETAIL;

/// The flags an open file is reopened with.
const REOPEN_FLAGS: u32 = bindings::O_ACCMODE
    | bindings::O_APPEND
    | bindings::O_NONBLOCK
    | bindings::O_LARGEFILE
    | bindings::O_SYNC
    | bindings::O_DSYNC
    | bindings::O_NOATIME;

/// `S_IFSOCK`: a socket (a connected UNIX stream socket's end the
/// carrier carries, or its proxy).
const S_IFSOCK: u32 = 0o140000;

/// Whether `f` (fd `fd` of process `pid`) may be a stream the carrier
/// knows: a pipe, a socket, or a file without an inode type of its own
/// (the carrier's proxies), remote files excepted.
fn maybe_stream(f: &FdFile) -> bool {
    (f.is_fifo() || f.mode() & file::S_IFMT == 0 || f.mode() & file::S_IFMT == S_IFSOCK)
        && rfile::origin_of(f).is_none()
}

/// The token of `f` if the carrier carries it: its length in `tok` and
/// the node that holds the stream.
fn stream_token(f: &FdFile, pid: u32, fd: u32, tok: &mut [u8]) -> Option<(usize, u8)> {
    if !maybe_stream(f) {
        return None;
    }
    ssi_streams::describe(f, pid, fd, tok).ok()
}

/// The first open file of process `pid` (`t`) that a ghost cannot carry:
/// `(fd, S_IFMT type)` as `TaskRef::odd_fd` says, remote files excepted
/// (they are carried as such), and, if `streams` (a migration), the pipes
/// that the stream carrier takes.
pub(crate) fn odd_fd(t: &TaskRef, pid: u32, streams: bool) -> Option<(u32, u32)> {
    let mut from = 0;
    let mut tok = [0u8; STREAM_TOKEN_MAX];
    while let Some((fd, kind)) = t.odd_fd(from) {
        let f = FdFile::of_task(t, fd).ok();
        let remote = kind == 0 && f.as_ref().is_some_and(|f| rfile::origin_of(f).is_some());
        let stream = streams
            && f.as_ref()
                .is_some_and(|f| stream_token(f, pid, fd, &mut tok).is_some());
        if !remote && !stream {
            return Some((fd, kind));
        }
        from = fd.checked_add(1)?;
    }
    None
}

/// Closes, in the current task (the process that just left, now its
/// stub), every fd that the stream carrier carried: the pipe ends are the
/// destination's now, and the stub must not keep them open.
pub(crate) fn drop_streams(pid: u32) {
    let Ok(t) = TaskRef::get(pid) else {
        return;
    };
    let mut tok = [0u8; STREAM_TOKEN_MAX];
    let mut from = 0;
    while let Some((fd, f)) = t.next_file(from) {
        if stream_token(&f, pid, fd, &mut tok).is_some() {
            drop(f);
            file::close_fd(fd as i32);
        }
        let Some(next) = fd.checked_add(1) else {
            return;
        };
        from = next;
    }
}

/// Calls `emit` with the `File` section of every open fd of process
/// `pid` (`t`), in fd order; pipes as the stream carrier's tokens if
/// `streams` (a migration).
pub(crate) fn for_each(
    t: &TaskRef,
    pid: u32,
    streams: bool,
    mut emit: impl FnMut(&FileDesc<'_>) -> Result,
) -> Result {
    let mut path = KVec::from_elem(0u8, PATH_MAX + 1, GFP_KERNEL)?;
    let mut from = 0;
    while let Some((fd, f)) = t.next_file(from) {
        from = fd.checked_add(1).ok_or(EINVAL)?;
        let mode = f.mode() & file::S_IFMT;
        let mut d = FileDesc {
            fd,
            flags: f.flags(),
            pos: f.pos().max(0) as u64,
            kind: FileKind::Other,
            node: 0,
            remote_pid: 0,
            remote_fd: 0,
            path: &[],
        };
        let mut len = 0;
        let token = if streams {
            stream_token(&f, pid, fd, &mut path[..STREAM_TOKEN_MAX])
        } else {
            None
        };
        if let Some((n, node)) = token {
            (d.kind, d.node, d.pos) = (FileKind::Stream, node, 0);
            len = n;
        } else if let Some((node, pid, rfd)) = rfile::origin_of(&f) {
            (d.kind, d.node, d.remote_pid, d.remote_fd) = (FileKind::Remote, node, pid, rfd);
        } else if mode == file::S_IFREG || mode == file::S_IFCHR {
            d.kind = if mode == file::S_IFREG {
                FileKind::Regular
            } else {
                FileKind::Char
            };
            len = f.path(&mut path[..PATH_MAX])?;
        }
        d.path = path.get(..len).ok_or(EINVAL)?;
        emit(&d)?;
    }
    Ok(())
}

/// How a restart reopens files.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Policy {
    /// From a checkpoint file: regular files and devices by path (refused
    /// when the path is missing here); fds 0-2 that were devices are left
    /// as the restarting process has them (`ssi-restart`'s).
    Checkpoint,
    /// A migration from `node` (the stream's writer), where process `pid`
    /// (the stub) still holds every file of its own: each becomes a remote
    /// file to it (stdio included). Remote files stay remote to their
    /// origin, or are left in place when that is this node (a process back
    /// home is restored into its stub, which holds them).
    Migration { node: u8, pid: u32 },
}

/// Why a file cannot be reopened.
pub(crate) struct Refusal {
    pub(crate) reason: Reason,
    pub(crate) detail: u64,
    pub(crate) error: Error,
}

fn refuse(reason: Reason, fd: u32, error: Error) -> Refusal {
    Refusal {
        reason,
        detail: FD_DETAIL | u64::from(fd),
        error,
    }
}

enum Opened {
    Local(File),
    Remote(NewFile),
    /// An end of a pipe, from the stream carrier.
    Stream(FdFile),
}

/// Files opened before the point of no return, installed after it.
pub(crate) struct Files {
    list: KVec<(u32, Opened)>,
}

/// Opens `path` (no NUL inside, as `FileDesc::decode` checked).
fn open_path(path: &[u8], flags: u32) -> Result<File> {
    let mut b = KVec::with_capacity(path.len() + 1, GFP_KERNEL)?;
    b.extend_from_slice(path, GFP_KERNEL)?;
    b.push(0, GFP_KERNEL)?;
    let c = CStr::from_bytes_with_nul(&b).map_err(|_| EINVAL)?;
    File::open(c, flags)
}

impl Files {
    pub(crate) fn new() -> Self {
        Files { list: KVec::new() }
    }

    /// Opens the file of `d` as `policy` says, to be installed later.
    pub(crate) fn prepare(&mut self, d: &FileDesc<'_>, policy: Policy) -> Result<(), Refusal> {
        let nomem = |_| refuse(Reason::BadStream, d.fd, ENOMEM);
        let me = crate::ssi_api::node_id().map_or(0, |n| n.get() as u8);
        let opened = match (d.kind, policy) {
            // Back home: the stub it is restored into still holds it.
            (FileKind::Remote, Policy::Migration { .. }) if d.node == me => return Ok(()),
            (FileKind::Remote, _) => {
                let f = rfile::open_remote(d.node, d.remote_pid, d.remote_fd, d.flags, true)
                    .map_err(|e| refuse(Reason::MissingFile, d.fd, e))?;
                Opened::Remote(f)
            }
            (FileKind::Other, _) | (FileKind::Stream, Policy::Checkpoint) => {
                return Err(refuse(Reason::OtherFile, d.fd, EINVAL))
            }
            (FileKind::Stream, Policy::Migration { .. }) => {
                let f = ssi_streams::attach(d.path, d.flags)
                    .map_err(|e| refuse(Reason::MissingFile, d.fd, e))?;
                Opened::Stream(f)
            }
            (_, Policy::Migration { node, pid }) => {
                let f = rfile::open_remote(node, pid, d.fd, d.flags, true)
                    .map_err(|e| refuse(Reason::MissingFile, d.fd, e))?;
                Opened::Remote(f)
            }
            (FileKind::Char, Policy::Checkpoint) if d.fd <= 2 => return Ok(()),
            (kind, Policy::Checkpoint) => {
                let mut flags = d.flags & REOPEN_FLAGS;
                if kind == FileKind::Char {
                    flags |= bindings::O_NOCTTY;
                }
                let mut f =
                    open_path(d.path, flags).map_err(|e| refuse(Reason::MissingFile, d.fd, e))?;
                if kind == FileKind::Regular {
                    f.seek_to(d.pos as i64)
                        .map_err(|e| refuse(Reason::MissingFile, d.fd, e))?;
                }
                Opened::Local(f)
            }
        };
        self.list.push((d.fd, opened), GFP_KERNEL).map_err(nomem)
    }

    /// Installs every file at its fd in the current task, replacing what
    /// is there.
    pub(crate) fn install(self) -> Result {
        for (fd, f) in self.list {
            match f {
                Opened::Local(f) => f.install_at(fd)?,
                Opened::Remote(f) => f.install_at(fd, false)?,
                Opened::Stream(f) => f.install_at(fd, false)?,
            }
        }
        Ok(())
    }
}
