// SPDX-License-Identifier: GPL-2.0-only
//! Open files.

use super::*;

/// What an open file is ([`FileDesc::kind`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum FileKind {
    /// A regular file, reopened by path.
    Regular = 1,
    /// A character device (a terminal, `/dev/null`), reopened by path.
    Char = 2,
    /// Anything else (not restorable; carried so that the reader can say
    /// which fd it was).
    Other = 3,
    /// A remote file: fd `remote_fd` of process `remote_pid` on node
    /// `node` (`Documentation/ssi/ghost.rst`, "Remote files").
    Remote = 4,
    /// An end of a pipe, carried by the module that registered for it
    /// (dynstreams): `node` is the node that holds the pipe and the path
    /// field holds that module's token (1 to [`STREAM_TOKEN_MAX`] bytes,
    /// opaque here).
    Stream = 5,
}

/// Longest token of a [`FileKind::Stream`].
pub const STREAM_TOKEN_MAX: usize = 64;

impl FileKind {
    pub fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => FileKind::Regular,
            2 => FileKind::Char,
            3 => FileKind::Other,
            4 => FileKind::Remote,
            5 => FileKind::Stream,
            _ => return None,
        })
    }
}

/// Highest fd number carried.
pub const MAX_FD: u32 = 1 << 20;

/// An open file: its fd, open flags, position and what it is.
///
/// Layout: `fd: u32`, `flags: u32`, `pos: u64`, `kind: u8`, `node: u8`,
/// two zero bytes, `remote_pid: u32`, `remote_fd: u32`, four zero bytes,
/// then the path (up to [`PATH_MAX`] bytes, no NUL).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileDesc<'a> {
    pub fd: u32,
    /// `O_*` flags of the open file (access mode, append, ...).
    pub flags: u32,
    pub pos: u64,
    pub kind: FileKind,
    /// For [`FileKind::Remote`]: the node, PID and fd that serve it; for
    /// [`FileKind::Stream`]: the node that holds the pipe (PID and fd 0);
    /// 0 otherwise.
    pub node: u8,
    pub remote_pid: u32,
    pub remote_fd: u32,
    /// Absolute path; required for regular files and devices, may be
    /// empty otherwise; a stream's token.
    pub path: &'a [u8],
}

impl<'a> FileDesc<'a> {
    pub const FIXED: usize = 32;

    pub fn encode(&self, out: &mut [u8]) -> Option<usize> {
        let mut w = Writer::new(out);
        w.u32(self.fd)?;
        w.u32(self.flags)?;
        w.u64(self.pos)?;
        w.u8(self.kind as u8)?;
        w.u8(self.node)?;
        w.u16(0)?;
        w.u32(self.remote_pid)?;
        w.u32(self.remote_fd)?;
        w.u32(0)?;
        w.put(self.path)?;
        Some(w.len())
    }

    pub fn decode(b: &'a [u8]) -> Result<Self> {
        if b.len() < Self::FIXED || b.len() > Self::FIXED + PATH_MAX {
            return Err(Error::BadLength);
        }
        let f = FileDesc {
            fd: u32_at(b, 0)?,
            flags: u32_at(b, 4)?,
            pos: u64_at(b, 8)?,
            kind: FileKind::from_u8(b[16]).ok_or(Error::BadValue)?,
            node: b[17],
            remote_pid: u32_at(b, 20)?,
            remote_fd: u32_at(b, 24)?,
            path: &b[Self::FIXED..],
        };
        let zero = b[18] == 0 && b[19] == 0 && u32_at(b, 28)? == 0;
        let path_ok = match (f.kind, f.path.first()) {
            (FileKind::Stream, _) => (1..=STREAM_TOKEN_MAX).contains(&f.path.len()),
            (kind, None) => !matches!(kind, FileKind::Regular | FileKind::Char),
            (_, Some(&c)) => c == b'/' && !f.path.contains(&0),
        };
        let remote_ok = if f.kind == FileKind::Stream {
            f.node != 0 && f.remote_pid == 0 && f.remote_fd == 0
        } else if f.kind == FileKind::Remote {
            f.node != 0
                && f.remote_pid != 0
                && f.remote_pid <= i32::MAX as u32
                && f.remote_fd < MAX_FD
        } else {
            f.node == 0 && f.remote_pid == 0 && f.remote_fd == 0
        };
        if f.fd >= MAX_FD || !zero || !path_ok || !remote_ok || f.pos > i64::MAX as u64 {
            return Err(Error::BadValue);
        }
        Ok(f)
    }
}
