// SPDX-License-Identifier: GPL-2.0-only
//! Dynamic streams: a pipe whose ends run on different nodes, with no
//! relay through a node that runs neither (Documentation/ssi/dynstreams.rst).
//!
//! The pipe stays on its *anchor*, the node where an end of it still runs
//! as an ordinary pipe end. An end that migrated is a *proxy* file on the
//! node that runs it; its reads and writes are requests to the anchor's
//! service ([`SERVICE`]), sent straight from that node. At the anchor each
//! migrated end is a *handle*: it keeps its sequence numbers ([`cursor`])
//! when its process moves again, so that a request retried after a lost
//! answer, or a late copy of one, is neither lost nor done twice, and at
//! most [`MAX_IO`] bytes of a handle are in flight in each direction.
//!
//! | op         | request                                            | answer                          |
//! |------------|----------------------------------------------------|---------------------------------|
//! | 1 `ATTACH` | token ([`Token`]), `uid: u32`, `gid: u32`, `flags: u8` | `export: u64`, `handle: u64`, `end: u8`, `seq: u64` |
//! | 2 `READ`   | `export: u64`, `handle: u64`, `seq: u64`, `count: u32` | `seq: u64`, then 0 to `count` bytes (none: end of file) |
//! | 3 `WRITE`  | `export: u64`, `handle: u64`, `seq: u64`, data     | `done: u32`                     |
//! | 4 `DETACH` | `export: u64`, `handle: u64`                       | nothing                         |
//!
//! `count` and the data are 1 to [`MAX_IO`] bytes; `flags` bit 0: the
//! caller has `CAP_SYS_PTRACE`. Errors are the RPC's status: `EAGAIN`
//! (nothing to read, no room), `EPIPE` (no reader left), `ESTALE`
//! (unknown export or handle), `EINVAL` (malformed, or a sequence number
//! the handle's cursor refuses; counted). Decoding checks exact lengths.

use super::codec::{Reader, Writer};

pub mod cursor;
#[cfg(test)]
mod model;
#[cfg(test)]
mod tests;

/// The dynamic streams' RPC service.
pub const SERVICE: u16 = 302;
/// Most bytes one `READ` or `WRITE` carries: a handle's credit in each
/// direction (a pipe holds 64 KiB by default, 4 KiB at least).
pub const MAX_IO: usize = 16384;
/// `PIPE_BUF`: a write of at most this many bytes is atomic.
pub const PIPE_BUF: usize = 4096;
/// Head of a `WRITE` request, before its data.
pub const WRITE_HEAD: usize = 25;
/// Head of a `READ` answer, before its data.
pub const READ_HEAD: usize = 8;
/// Longest encoded request: a `WRITE` of [`MAX_IO`] bytes.
pub const MAX_REQUEST: usize = WRITE_HEAD + MAX_IO;
/// Longest token.
pub const TOKEN_MAX: usize = 28;
/// Highest fd number a token names.
pub const MAX_FD: u32 = 1 << 20;
/// `flags` of `ATTACH`: the caller has `CAP_SYS_PTRACE`.
pub const PRIVILEGED: u8 = 1;

const ATTACH: u8 = 1;
const READ: u8 = 2;
const WRITE: u8 = 3;
const DETACH: u8 = 4;

const TOKEN_VERSION: u8 = 1;
const BY_FD: u8 = 1;
const BY_HANDLE: u8 = 2;

/// Which end of a pipe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum End {
    Read = 1,
    Write = 2,
}

impl End {
    pub fn from_u8(v: u8) -> Option<Self> {
        match v {
            1 => Some(End::Read),
            2 => Some(End::Write),
            _ => None,
        }
    }
}

/// What a token names at the anchor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// An end that never left: fd `fd` of process `pid`, frozen at the
    /// anchor while the migration it is part of runs.
    Fd { pid: u32, fd: u32 },
    /// A migrated end: its handle, and the next sequence number of its
    /// direction as the proxy that carried it had it.
    Handle { export: u64, handle: u64, seq: u64 },
}

/// How a ghost stream carries an end of a pipe (the `File` section's
/// bytes of a `Stream` file, opaque to the ghost module).
///
/// Layout: `version: u8` (1), `end: u8`, `anchor: u8`, `by: u8` (1: fd,
/// 2: handle), then `pid: u32`, `fd: u32`, or `export: u64`, `handle:
/// u64`, `seq: u64`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    pub end: End,
    /// The node that holds the pipe (never 0).
    pub anchor: u8,
    pub source: Source,
}

impl Token {
    pub fn encode(&self, out: &mut [u8]) -> Option<usize> {
        let mut w = Writer::new(out);
        self.encode_into(&mut w)?;
        Some(w.len())
    }

    fn encode_into(&self, w: &mut Writer<'_>) -> Option<()> {
        w.u8(TOKEN_VERSION)?;
        w.u8(self.end as u8)?;
        w.u8(self.anchor)?;
        match self.source {
            Source::Fd { pid, fd } => {
                w.u8(BY_FD)?;
                w.u32(pid)?;
                w.u32(fd)
            }
            Source::Handle {
                export,
                handle,
                seq,
            } => {
                w.u8(BY_HANDLE)?;
                w.u64(export)?;
                w.u64(handle)?;
                w.u64(seq)
            }
        }
    }

    /// Decodes a whole token; `None` for anything malformed.
    pub fn decode(b: &[u8]) -> Option<Self> {
        let mut r = Reader::new(b);
        let t = Self::read(&mut r)?;
        r.end()?;
        Some(t)
    }

    fn read(r: &mut Reader<'_>) -> Option<Self> {
        if r.u8()? != TOKEN_VERSION {
            return None;
        }
        let end = End::from_u8(r.u8()?)?;
        let anchor = r.u8()?;
        let source = match r.u8()? {
            BY_FD => {
                let pid = r.u32()?;
                let fd = r.u32()?;
                if pid == 0 || pid > i32::MAX as u32 || fd >= MAX_FD {
                    return None;
                }
                Source::Fd { pid, fd }
            }
            BY_HANDLE => {
                let export = r.u64()?;
                let handle = r.u64()?;
                let seq = r.u64()?;
                if export == 0 || handle == 0 {
                    return None;
                }
                Source::Handle {
                    export,
                    handle,
                    seq,
                }
            }
            _ => return None,
        };
        if anchor == 0 {
            return None;
        }
        Some(Token {
            end,
            anchor,
            source,
        })
    }
}

/// A handle at the anchor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct At {
    pub export: u64,
    pub handle: u64,
}

/// A request to the anchor's service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request<'a> {
    Attach {
        token: Token,
        uid: u32,
        gid: u32,
        privileged: bool,
    },
    Read {
        at: At,
        seq: u64,
        count: u32,
    },
    Write {
        at: At,
        seq: u64,
        data: &'a [u8],
    },
    Detach {
        at: At,
    },
}

fn read_at(r: &mut Reader<'_>) -> Option<At> {
    let export = r.u64()?;
    let handle = r.u64()?;
    (export != 0 && handle != 0).then_some(At { export, handle })
}

impl<'a> Request<'a> {
    /// Decodes a request; `None` for anything malformed.
    pub fn decode(b: &'a [u8]) -> Option<Self> {
        let mut r = Reader::new(b);
        let req = match r.u8()? {
            ATTACH => {
                let token = Token::read(&mut r)?;
                let uid = r.u32()?;
                let gid = r.u32()?;
                let flags = r.u8()?;
                if flags & !PRIVILEGED != 0 {
                    return None;
                }
                Request::Attach {
                    token,
                    uid,
                    gid,
                    privileged: flags & PRIVILEGED != 0,
                }
            }
            READ => {
                let at = read_at(&mut r)?;
                let seq = r.u64()?;
                let count = r.u32()?;
                if count == 0 || count as usize > MAX_IO {
                    return None;
                }
                Request::Read { at, seq, count }
            }
            WRITE => {
                let at = read_at(&mut r)?;
                let seq = r.u64()?;
                let data = r.rest();
                if data.is_empty() || data.len() > MAX_IO {
                    return None;
                }
                Request::Write { at, seq, data }
            }
            DETACH => Request::Detach {
                at: read_at(&mut r)?,
            },
            _ => return None,
        };
        r.end()?;
        Some(req)
    }

    /// Encodes the request into `out`; returns its length. A `WRITE`'s
    /// head is [`WRITE_HEAD`] bytes, its data follows.
    pub fn encode(&self, out: &mut [u8]) -> Option<usize> {
        let mut w = Writer::new(out);
        match *self {
            Request::Attach {
                token,
                uid,
                gid,
                privileged,
            } => {
                w.u8(ATTACH)?;
                token.encode_into(&mut w)?;
                w.u32(uid)?;
                w.u32(gid)?;
                w.u8(if privileged { PRIVILEGED } else { 0 })?;
            }
            Request::Read { at, seq, count } => {
                w.u8(READ)?;
                w.u64(at.export)?;
                w.u64(at.handle)?;
                w.u64(seq)?;
                w.u32(count)?;
            }
            Request::Write { at, seq, data } => {
                w.u8(WRITE)?;
                w.u64(at.export)?;
                w.u64(at.handle)?;
                w.u64(seq)?;
                w.put(data)?;
            }
            Request::Detach { at } => {
                w.u8(DETACH)?;
                w.u64(at.export)?;
                w.u64(at.handle)?;
            }
        }
        Some(w.len())
    }
}

/// The answer to `ATTACH`: the handle, its end, and the sequence number
/// its proxy starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attached {
    pub at: At,
    pub end: End,
    pub seq: u64,
}

impl Attached {
    pub const LEN: usize = 25;

    pub fn encode(&self) -> [u8; Self::LEN] {
        super::codec::fill(|w| {
            w.u64(self.at.export)?;
            w.u64(self.at.handle)?;
            w.u8(self.end as u8)?;
            w.u64(self.seq)
        })
    }

    pub fn decode(b: &[u8]) -> Option<Self> {
        let mut r = Reader::new(b);
        let at = read_at(&mut r)?;
        let end = End::from_u8(r.u8()?)?;
        let seq = r.u64()?;
        r.end()?;
        Some(Attached { at, end, seq })
    }
}

/// A `READ` answer: the sequence number it answers and the data after it
/// (at most `count` bytes; `None` if it does not match the request).
pub fn decode_read_answer(b: &[u8], seq: u64, count: u32) -> Option<&[u8]> {
    let mut r = Reader::new(b);
    if r.u64()? != seq {
        return None;
    }
    let data = r.rest();
    (data.len() <= count as usize).then_some(data)
}

/// A `WRITE` answer: how many of the `len` bytes sent are in the pipe.
pub fn decode_written(b: &[u8], len: usize) -> Option<usize> {
    let done = super::codec::decode_u32(b)? as usize;
    (done <= len).then_some(done)
}
