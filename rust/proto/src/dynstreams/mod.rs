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
//! | 2 `READ`   | `export: u64`, `handle: u64`, `seq: u64`, `count: u32` | `seq: u64`, `flags: u8` (1: ancillary data dropped), then 0 to `count` bytes (none: end of file) |
//! | 3 `WRITE`  | `export: u64`, `handle: u64`, `seq: u64`, data     | `done: u32`                     |
//! | 4 `DETACH` | `export: u64`, `handle: u64`                       | nothing                         |
//! | 5 `WATCH`  | `export: u64`, `handle: u64`, `proxy: u64`, `epoch: u64`, `want: u32` | none (one-way) |
//! | 6 `READY`  | `proxy: u64`, `epoch: u64`, `mask: u32`            | none (one-way, anchor to proxy) |
//! | 7 `NREAD`  | `export: u64`, `handle: u64`                       | `bytes: u32`                    |
//! | 8 `MOVE`   | `pid: u32`, `fd: u32`, `uid: u32`, `gid: u32`, `flags: u8` | [`moving::Moved`]        |
//! | 9 `TAKE`   | `move: u64`, `offset: u32`, `count: u32`           | 0 to `count` bytes              |
//! | 10 `PLACED` | `move: u64`, `n: u8`, `n` x (`export: u64`, `handle: u64`) | nothing                 |
//! | 11 `ABORT` | `move: u64`                                        | none (one-way)                  |
//! | 12 `WHERE` | `export: u64`, `handle: u64`                       | `node: u8`, `export: u64`, `handle: u64` |
//! | 13 `RELEASE` | `export: u64`, `handle: u64`, `node: u8`         | none (one-way, old anchor to new) |
//! | 14 `SHUTDOWN` | `export: u64`, `handle: u64`, `how: u8`         | nothing                         |
//!
//! Moving a pipe (`moving`): when a migration would leave both ends of a
//! pipe away from its anchor, the destination asks the anchor to `MOVE`
//! it (the migrating process, frozen there, is `pid`), `TAKE`s its bytes,
//! makes the pipe and the handles anew and says where (`PLACED`); the old
//! anchor answers `EXDEV` to the handles' requests from then on, and
//! `WHERE` tells a proxy its handle's new place.
//!
//! `count` and the data are 1 to [`MAX_IO`] bytes; `flags` bit 0: the
//! caller has `CAP_SYS_PTRACE`. Errors are the RPC's status: `EAGAIN`
//! (nothing to read, no room), `EPIPE` (no reader left), `ESTALE`
//! (unknown export or handle), `EINVAL` (malformed, or a sequence number
//! the handle's cursor refuses; counted). Decoding checks exact lengths.
//!
//! Readiness (`poll`): a proxy that does not know its end to be ready
//! sends `WATCH` once per `epoch` (its count of reads and writes); the
//! anchor answers with one `READY` as soon as the pipe is readable (a
//! read end) or writable (a write end), or closed, carrying the pipe's
//! poll mask ([`POLLIN`] ...) and the epoch it answers. `mask` holds only
//! [`READY_MASK`]'s bits.

use super::codec::{Reader, Writer};

pub mod cursor;
#[cfg(test)]
mod model;
pub mod moving;
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
/// Head of a `READ` answer, before its data: the sequence number it
/// answers and [`ReadFlags`].
pub const READ_HEAD: usize = 9;
/// In a `READ` answer's flags: the peer sent descriptors or credentials
/// with these bytes, and they were dropped (a migrated end cannot take
/// them): the proxy's `recvmsg` says `MSG_CTRUNC`.
pub const READ_CTRUNC: u8 = 1;
/// Longest encoded request: a `WRITE` of [`MAX_IO`] bytes.
pub const MAX_REQUEST: usize = WRITE_HEAD + MAX_IO;
/// Longest token.
pub const TOKEN_MAX: usize = 36;
/// Highest fd number a token names.
pub const MAX_FD: u32 = 1 << 20;
/// `flags` of `ATTACH`: the caller has `CAP_SYS_PTRACE`.
pub const PRIVILEGED: u8 = 1;

const ATTACH: u8 = 1;
const READ: u8 = 2;
const WRITE: u8 = 3;
const DETACH: u8 = 4;
const WATCH: u8 = 5;
const READY: u8 = 6;
const NREAD: u8 = 7;
const MOVE: u8 = 8;
const TAKE: u8 = 9;
const PLACED: u8 = 10;
const ABORT: u8 = 11;
const WHERE: u8 = 12;
const RELEASE: u8 = 13;
const SHUTDOWN: u8 = 14;

/// Poll bits a `READY` carries (the kernel's `EPOLL*` values).
pub const POLLIN: u32 = 0x001;
pub const POLLOUT: u32 = 0x004;
pub const POLLERR: u32 = 0x008;
pub const POLLHUP: u32 = 0x010;
pub const POLLRDNORM: u32 = 0x040;
pub const POLLWRNORM: u32 = 0x100;
pub const POLLRDHUP: u32 = 0x2000;
/// Every bit a `READY` may carry.
pub const READY_MASK: u32 =
    POLLIN | POLLOUT | POLLERR | POLLHUP | POLLRDNORM | POLLWRNORM | POLLRDHUP;
/// `SHUT_RD`, `SHUT_WR`, `SHUT_RDWR`: the highest `how` of `SHUTDOWN`.
pub const SHUT_RDWR: u8 = 2;

const TOKEN_VERSION: u8 = 1;
const BY_FD: u8 = 1;
const BY_HANDLE: u8 = 2;
const BY_MOVE: u8 = 3;

/// Which end of a pipe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum End {
    Read = 1,
    Write = 2,
    /// An end of a connected UNIX stream socket: reads and writes.
    Both = 3,
}

impl End {
    pub fn from_u8(v: u8) -> Option<Self> {
        match v {
            1 => Some(End::Read),
            2 => Some(End::Write),
            3 => Some(End::Both),
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
    /// direction as the proxy that carried it had it (a socket's: of its
    /// reads, and `wseq` of its writes; 0 for a pipe's).
    Handle {
        export: u64,
        handle: u64,
        seq: u64,
        wseq: u64,
    },
    /// An end of a pipe that moves with the migrating process: fd `fd`
    /// of process `pid`, frozen at the anchor; `pipe` names the pipe
    /// there, and `uses` is how many of the process's fds are ends of it
    /// (the destination makes the pipe once for all of them).
    Move {
        pid: u32,
        fd: u32,
        pipe: u64,
        uses: u8,
    },
}

/// How a ghost stream carries an end of a pipe (the `File` section's
/// bytes of a `Stream` file, opaque to the ghost module).
///
/// Layout: `version: u8` (1), `end: u8`, `anchor: u8`, `by: u8` (1: fd,
/// 2: handle, 3: move), then `pid: u32`, `fd: u32`, or `export: u64`,
/// `handle: u64`, `seq: u64` (and `wseq: u64` for a socket's end), or `pid: u32`, `fd: u32`, `pipe: u64`,
/// `uses: u8`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    pub end: End,
    /// The node that holds the pipe (never 0).
    pub anchor: u8,
    pub source: Source,
}

impl Token {
    /// The handle a migrated end's token names.
    pub fn at(&self) -> Option<At> {
        match self.source {
            Source::Handle { export, handle, .. } => Some(At { export, handle }),
            _ => None,
        }
    }

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
                wseq,
            } => {
                w.u8(BY_HANDLE)?;
                w.u64(export)?;
                w.u64(handle)?;
                w.u64(seq)?;
                if self.end == End::Both {
                    w.u64(wseq)
                } else if wseq == 0 {
                    Some(())
                } else {
                    None
                }
            }
            Source::Move {
                pid,
                fd,
                pipe,
                uses,
            } => {
                w.u8(BY_MOVE)?;
                w.u32(pid)?;
                w.u32(fd)?;
                w.u64(pipe)?;
                w.u8(uses)
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
                let wseq = if end == End::Both { r.u64()? } else { 0 };
                if export == 0 || handle == 0 {
                    return None;
                }
                Source::Handle {
                    export,
                    handle,
                    seq,
                    wseq,
                }
            }
            BY_MOVE => {
                let pid = r.u32()?;
                let fd = r.u32()?;
                let pipe = r.u64()?;
                let uses = r.u8()?;
                if pid == 0 || pid > i32::MAX as u32 || fd >= MAX_FD || uses == 0 {
                    return None;
                }
                Source::Move {
                    pid,
                    fd,
                    pipe,
                    uses,
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
    /// Tell `proxy` (an id of the sender's) once its end is ready: one
    /// of the bits of `want` (a socket's end waits for reading or for
    /// writing; a pipe's end for its one direction).
    Watch {
        at: At,
        proxy: u64,
        epoch: u64,
        want: u32,
    },
    /// Proxy `proxy`'s end is ready as of its `epoch`: `mask`.
    Ready {
        proxy: u64,
        epoch: u64,
        mask: u32,
    },
    /// How many bytes the pipe holds.
    Nread {
        at: At,
    },
    /// Move the pipe whose end is fd `fd` of process `pid` (frozen here)
    /// to the sender.
    Move {
        pid: u32,
        fd: u32,
        uid: u32,
        gid: u32,
        privileged: bool,
    },
    /// Bytes `offset..offset + count` of a move's snapshot.
    Take {
        mv: u64,
        offset: u32,
        count: u32,
    },
    /// The handles of a move, made anew at the sender (in the order of
    /// [`moving::Moved`]'s).
    Placed {
        mv: u64,
        ats: moving::Ats,
    },
    /// The move failed at the sender: the pipe stays.
    Abort {
        mv: u64,
    },
    /// Where a handle that moved is now.
    Where {
        at: At,
    },
    /// Node `node` holds a moved handle no more (it told the old anchor).
    Release {
        at: At,
        node: u8,
    },
    /// `shutdown(2)` of a socket's end: `how` is `SHUT_RD` (0) to
    /// [`SHUT_RDWR`].
    Shutdown {
        at: At,
        how: u8,
    },
}

pub(crate) fn read_at(r: &mut Reader<'_>) -> Option<At> {
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
            WATCH => {
                let at = read_at(&mut r)?;
                let proxy = r.u64()?;
                let epoch = r.u64()?;
                let want = r.u32()?;
                if want == 0 || want & !READY_MASK != 0 {
                    return None;
                }
                Request::Watch {
                    at,
                    proxy,
                    epoch,
                    want,
                }
            }
            READY => {
                let proxy = r.u64()?;
                let epoch = r.u64()?;
                let mask = r.u32()?;
                if proxy == 0 || mask & !READY_MASK != 0 {
                    return None;
                }
                Request::Ready { proxy, epoch, mask }
            }
            NREAD => Request::Nread {
                at: read_at(&mut r)?,
            },
            MOVE => {
                let pid = r.u32()?;
                let fd = r.u32()?;
                let uid = r.u32()?;
                let gid = r.u32()?;
                let flags = r.u8()?;
                if pid == 0 || pid > i32::MAX as u32 || fd >= MAX_FD || flags & !PRIVILEGED != 0 {
                    return None;
                }
                Request::Move {
                    pid,
                    fd,
                    uid,
                    gid,
                    privileged: flags & PRIVILEGED != 0,
                }
            }
            TAKE => {
                let mv = r.u64()?;
                let offset = r.u32()?;
                let count = r.u32()?;
                if mv == 0 || count == 0 || count as usize > MAX_IO {
                    return None;
                }
                Request::Take { mv, offset, count }
            }
            PLACED => {
                let mv = r.u64()?;
                let ats = moving::Ats::read(&mut r)?;
                if mv == 0 {
                    return None;
                }
                Request::Placed { mv, ats }
            }
            ABORT => {
                let mv = r.u64()?;
                if mv == 0 {
                    return None;
                }
                Request::Abort { mv }
            }
            WHERE => Request::Where {
                at: read_at(&mut r)?,
            },
            RELEASE => {
                let at = read_at(&mut r)?;
                let node = r.u8()?;
                if node == 0 {
                    return None;
                }
                Request::Release { at, node }
            }
            SHUTDOWN => {
                let at = read_at(&mut r)?;
                let how = r.u8()?;
                if how > SHUT_RDWR {
                    return None;
                }
                Request::Shutdown { at, how }
            }
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
            Request::Watch {
                at,
                proxy,
                epoch,
                want,
            } => {
                w.u8(WATCH)?;
                w.u64(at.export)?;
                w.u64(at.handle)?;
                w.u64(proxy)?;
                w.u64(epoch)?;
                w.u32(want)?;
            }
            Request::Ready { proxy, epoch, mask } => {
                w.u8(READY)?;
                w.u64(proxy)?;
                w.u64(epoch)?;
                w.u32(mask)?;
            }
            Request::Nread { at } => {
                w.u8(NREAD)?;
                w.u64(at.export)?;
                w.u64(at.handle)?;
            }
            Request::Move {
                pid,
                fd,
                uid,
                gid,
                privileged,
            } => {
                w.u8(MOVE)?;
                w.u32(pid)?;
                w.u32(fd)?;
                w.u32(uid)?;
                w.u32(gid)?;
                w.u8(if privileged { PRIVILEGED } else { 0 })?;
            }
            Request::Take { mv, offset, count } => {
                w.u8(TAKE)?;
                w.u64(mv)?;
                w.u32(offset)?;
                w.u32(count)?;
            }
            Request::Placed { mv, ref ats } => {
                w.u8(PLACED)?;
                w.u64(mv)?;
                ats.write(&mut w)?;
            }
            Request::Abort { mv } => {
                w.u8(ABORT)?;
                w.u64(mv)?;
            }
            Request::Where { at } => {
                w.u8(WHERE)?;
                w.u64(at.export)?;
                w.u64(at.handle)?;
            }
            Request::Release { at, node } => {
                w.u8(RELEASE)?;
                w.u64(at.export)?;
                w.u64(at.handle)?;
                w.u8(node)?;
            }
            Request::Shutdown { at, how } => {
                w.u8(SHUTDOWN)?;
                w.u64(at.export)?;
                w.u64(at.handle)?;
                w.u8(how)?;
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

/// A `READ` answer's head: the sequence number it answers, and whether
/// ancillary data was dropped ([`READ_CTRUNC`]).
pub fn read_head(seq: u64, ctrunc: bool) -> [u8; READ_HEAD] {
    let mut h = [0u8; READ_HEAD];
    h[..8].copy_from_slice(&seq.to_le_bytes());
    h[8] = if ctrunc { READ_CTRUNC } else { 0 };
    h
}

/// A `READ` answer: the data after its head (at most `count` bytes) and
/// whether ancillary data was dropped; `None` if it does not answer
/// sequence number `seq` or is malformed.
pub fn decode_read_answer(b: &[u8], seq: u64, count: u32) -> Option<(&[u8], bool)> {
    let mut r = Reader::new(b);
    if r.u64()? != seq {
        return None;
    }
    let flags = r.u8()?;
    if flags & !READ_CTRUNC != 0 {
        return None;
    }
    let data = r.rest();
    (data.len() <= count as usize).then_some((data, flags & READ_CTRUNC != 0))
}

/// A `WRITE` answer: how many of the `len` bytes sent are in the pipe.
pub fn decode_written(b: &[u8], len: usize) -> Option<usize> {
    let done = super::codec::decode_u32(b)? as usize;
    (done <= len).then_some(done)
}
