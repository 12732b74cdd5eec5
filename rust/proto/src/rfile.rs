// SPDX-License-Identifier: GPL-2.0-only
//! Remote files: the requests of the ghost module's `SERVICE_RFILE` RPC
//! service, through which a node uses an open file of a process of another
//! node (fd `fd` of process `pid` there) as if it were its own.
//!
//! Every request starts with the same 28 bytes, little endian: `op: u8`,
//! `cred: u8` (bit 0: the caller has `CAP_SYS_PTRACE`), two zero bytes,
//! the caller's `uid: u32` and `gid: u32`, `pid: u32`, `fd: u32` and the
//! `cookie: u64` of the file the caller means (0: whatever file `fd` is;
//! the answer to `INFO` gives it). Then, by op:
//!
//! | op       | operands                                  | answer              |
//! |----------|-------------------------------------------|---------------------|
//! | 1 `INFO` | none                                      | [`Info`], 40 bytes  |
//! | 2 `READ` | `count: u32`, `at: u32` (1: `pos` used), `pos: i64` | up to `count` bytes |
//! | 3 `WRITE`| `at: u32`, `pos: i64`, data               | `written: u32`      |
//! | 4 `SEEK` | `offset: i64`, `whence: u32`              | `pos: i64`          |
//!
//! `count` and the data are at most [`MAX_IO`] bytes; without `at` the
//! file's own (shared) position is used and moved. Decoding checks the
//! exact length and every value; anything else is refused.

use super::codec::{self, fill, Reader, Writer};

/// Largest read or write carried by one request (fits in one message).
pub const MAX_IO: usize = 60_000;
/// The common part of every request.
pub const HEAD: usize = 28;
/// Longest encoded request (a `WRITE` of [`MAX_IO`] bytes).
pub const MAX_REQUEST: usize = HEAD + 12 + MAX_IO;
/// `cred` bit: the caller has `CAP_SYS_PTRACE` on its node.
pub const CRED_PRIVILEGED: u8 = 1;
/// Highest fd number accepted (as the ghost stream's).
pub const MAX_FD: u32 = 1 << 20;

const INFO: u8 = 1;
const READ: u8 = 2;
const WRITE: u8 = 3;
const SEEK: u8 = 4;

/// `lseek` whence values carried (`SEEK_SET`, `SEEK_CUR`, `SEEK_END`).
pub const SEEK_END: u32 = 2;

/// Who asks, and for which file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    /// Caller's uid and gid (on its node).
    pub uid: u32,
    pub gid: u32,
    /// The caller has `CAP_SYS_PTRACE`.
    pub privileged: bool,
    /// Process (global PID) on the serving node.
    pub pid: u32,
    /// Its fd.
    pub fd: u32,
    /// The file meant (from [`Info::cookie`]); 0: any.
    pub cookie: u64,
}

/// A decoded request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request<'a> {
    /// What the file is.
    Info(Target),
    /// Reads up to `count` bytes (at `pos`, or at the file's position).
    Read {
        target: Target,
        count: u32,
        pos: Option<i64>,
    },
    /// Writes `data` (at `pos`, or at the file's position; `O_APPEND`
    /// as the file says).
    Write {
        target: Target,
        pos: Option<i64>,
        data: &'a [u8],
    },
    /// `lseek(fd, offset, whence)`.
    Seek {
        target: Target,
        offset: i64,
        whence: u32,
    },
}

/// What `INFO` answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Info {
    /// Identifies the open file (not the fd) on its node; never 0.
    pub cookie: u64,
    /// `O_*` flags of the open file.
    pub flags: u32,
    /// `S_IFMT` type and permissions of its inode.
    pub mode: u32,
    /// Its position.
    pub pos: i64,
    /// Its inode's size.
    pub size: i64,
    /// `FMODE_*`-like abilities: bit 0 positional reads and writes, bit 1
    /// seeking.
    pub caps: u32,
}

/// [`Info::caps`] bits.
pub const CAP_PREAD: u32 = 1;
pub const CAP_SEEK: u32 = 2;

impl Info {
    pub const LEN: usize = 40;

    pub fn encode(&self) -> [u8; Self::LEN] {
        fill(|w| {
            w.u64(self.cookie)?;
            w.u32(self.flags)?;
            w.u32(self.mode)?;
            w.i64(self.pos)?;
            w.i64(self.size)?;
            w.u32(self.caps)?;
            w.u32(0)
        })
    }

    pub fn decode(b: &[u8]) -> Option<Self> {
        let mut r = Reader::new(b);
        let i = Info {
            cookie: r.u64()?,
            flags: r.u32()?,
            mode: r.u32()?,
            pos: r.i64()?,
            size: r.i64()?,
            caps: r.u32()?,
        };
        if r.u32()? != 0 {
            return None;
        }
        r.end()?;
        if i.cookie == 0 || i.pos < 0 || i.size < 0 || i.caps & !3 != 0 {
            return None;
        }
        Some(i)
    }
}

/// A position operand: `at` must be 0 or 1, a used position not negative.
fn pos_of(at: u32, pos: i64) -> Option<Option<i64>> {
    match at {
        0 if pos == 0 => Some(None),
        1 if pos >= 0 => Some(Some(pos)),
        _ => None,
    }
}

impl<'a> Request<'a> {
    /// The caller and file of any request.
    pub fn target(&self) -> &Target {
        match self {
            Request::Info(t) => t,
            Request::Read { target, .. }
            | Request::Write { target, .. }
            | Request::Seek { target, .. } => target,
        }
    }

    /// Decodes a request; `None` if it is not exactly a valid one.
    pub fn decode(b: &'a [u8]) -> Option<Self> {
        let mut r = Reader::new(b);
        let [op, cred, z0, z1] = r.array()?;
        if cred & !CRED_PRIVILEGED != 0 || z0 != 0 || z1 != 0 {
            return None;
        }
        let t = Target {
            uid: r.u32()?,
            gid: r.u32()?,
            privileged: cred & CRED_PRIVILEGED != 0,
            pid: r.u32()?,
            fd: r.u32()?,
            cookie: r.u64()?,
        };
        if t.pid == 0 || t.pid > i32::MAX as u32 || t.fd >= MAX_FD {
            return None;
        }
        let req = match op {
            INFO => Request::Info(t),
            READ => {
                let count = r.u32()?;
                if count as usize > MAX_IO {
                    return None;
                }
                Request::Read {
                    target: t,
                    count,
                    pos: pos_of(r.u32()?, r.i64()?)?,
                }
            }
            WRITE => {
                let pos = pos_of(r.u32()?, r.i64()?)?;
                let data = r.rest();
                if data.len() > MAX_IO {
                    return None;
                }
                Request::Write {
                    target: t,
                    pos,
                    data,
                }
            }
            SEEK => {
                let offset = r.i64()?;
                let whence = r.u32()?;
                if whence > SEEK_END {
                    return None;
                }
                Request::Seek {
                    target: t,
                    offset,
                    whence,
                }
            }
            _ => return None,
        };
        r.end()?;
        Some(req)
    }

    /// Encodes into `out`; returns the length, `None` if `out` is too small
    /// or the request is not valid.
    pub fn encode(&self, out: &mut [u8]) -> Option<usize> {
        let t = self.target();
        if t.pid == 0 || t.pid > i32::MAX as u32 || t.fd >= MAX_FD {
            return None;
        }
        let op = match self {
            Request::Info(_) => INFO,
            Request::Read { .. } => READ,
            Request::Write { .. } => WRITE,
            Request::Seek { .. } => SEEK,
        };
        let mut w = Writer::new(out);
        let cred = if t.privileged { CRED_PRIVILEGED } else { 0 };
        w.put(&[op, cred, 0, 0])?;
        w.put(&t.uid.to_le_bytes())?;
        w.put(&t.gid.to_le_bytes())?;
        w.put(&t.pid.to_le_bytes())?;
        w.put(&t.fd.to_le_bytes())?;
        w.put(&t.cookie.to_le_bytes())?;
        let pos = |p: Option<i64>| -> Option<(u32, i64)> {
            match p {
                None => Some((0, 0)),
                Some(p) if p >= 0 => Some((1, p)),
                Some(_) => None,
            }
        };
        match *self {
            Request::Info(_) => {}
            Request::Read { count, pos: p, .. } => {
                if count as usize > MAX_IO {
                    return None;
                }
                let (at, p) = pos(p)?;
                w.put(&count.to_le_bytes())?;
                w.put(&at.to_le_bytes())?;
                w.put(&p.to_le_bytes())?;
            }
            Request::Write { pos: p, data, .. } => {
                if data.len() > MAX_IO {
                    return None;
                }
                let (at, p) = pos(p)?;
                w.put(&at.to_le_bytes())?;
                w.put(&p.to_le_bytes())?;
                w.put(data)?;
            }
            Request::Seek { offset, whence, .. } => {
                if whence > SEEK_END {
                    return None;
                }
                w.put(&offset.to_le_bytes())?;
                w.put(&whence.to_le_bytes())?;
            }
        }
        Some(w.len())
    }
}

/// Length of a `WRITE` request's operands before its data: encode the
/// request with empty data into the first [`WRITE_HEAD`] bytes of a buffer
/// whose rest already holds the data.
pub const WRITE_HEAD: usize = HEAD + 12;

/// A `u32` answer (bytes written).
pub fn decode_u32(b: &[u8]) -> Option<u32> {
    super::codec::decode_u32(b)
}

/// An `i64` answer (a position, never negative).
pub fn decode_pos(b: &[u8]) -> Option<i64> {
    let p = codec::decode_u64(b)? as i64;
    (p >= 0).then_some(p)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    fn t() -> Target {
        Target {
            uid: 1000,
            gid: 100,
            privileged: false,
            pid: 16390,
            fd: 1,
            cookie: 0xdead_beef,
        }
    }

    fn roundtrip(r: Request<'_>) {
        let mut b = [0u8; 128];
        let n = r.encode(&mut b).unwrap();
        assert_eq!(Request::decode(&b[..n]), Some(r));
        // Any shorter or longer request is refused (a write's data may be
        // any length).
        let fixed = if matches!(r, Request::Write { .. }) {
            WRITE_HEAD
        } else {
            n
        };
        for k in 0..fixed {
            assert_eq!(Request::decode(&b[..k]), None, "{r:?} cut at {k}");
        }
        if !matches!(r, Request::Write { .. }) {
            assert_eq!(Request::decode(&b[..n + 1]), None);
        }
    }

    #[test]
    fn requests_roundtrip() {
        let p = Target {
            privileged: true,
            cookie: 0,
            ..t()
        };
        roundtrip(Request::Info(t()));
        roundtrip(Request::Info(p));
        roundtrip(Request::Read {
            target: t(),
            count: 4096,
            pos: None,
        });
        roundtrip(Request::Read {
            target: t(),
            count: MAX_IO as u32,
            pos: Some(12),
        });
        roundtrip(Request::Write {
            target: p,
            pos: None,
            data: b"hello",
        });
        roundtrip(Request::Write {
            target: t(),
            pos: Some(0),
            data: b"",
        });
        roundtrip(Request::Seek {
            target: t(),
            offset: -3,
            whence: 2,
        });
    }

    #[test]
    fn refuses_bad_requests() {
        let mut b = [0u8; 128];
        let n = Request::Read {
            target: t(),
            count: 10,
            pos: None,
        }
        .encode(&mut b)
        .unwrap();
        let ok = b;
        let bad = |f: &dyn Fn(&mut [u8])| {
            let mut c = ok;
            f(&mut c);
            Request::decode(&c[..n]).is_some()
        };
        assert!(!bad(&|c| c[0] = 9), "unknown op");
        assert!(!bad(&|c| c[1] = 2), "unknown cred bit");
        assert!(!bad(&|c| c[2] = 1), "padding");
        assert!(!bad(&|c| c[12..16].copy_from_slice(&0u32.to_le_bytes())));
        assert!(!bad(&|c| c[12..16].copy_from_slice(&u32::MAX.to_le_bytes())));
        assert!(!bad(&|c| c[16..20].copy_from_slice(&MAX_FD.to_le_bytes())));
        let count = (MAX_IO as u32 + 1).to_le_bytes();
        assert!(!bad(&|c| c[28..32].copy_from_slice(&count)));
        assert!(!bad(&|c| c[32] = 2), "at is 0 or 1");
        assert!(!bad(&|c| c[36] = 1), "a position without at");
        assert!(
            !bad(&|c| {
                c[32] = 1;
                c[36..44].copy_from_slice(&(-1i64).to_le_bytes());
            }),
            "negative position"
        );
        assert!(bad(&|_| {}), "the unchanged request decodes");
        // Too much data, unknown whence, negative positions: not encoded.
        let big = std::vec![0u8; MAX_IO + 1];
        let mut out = std::vec![0u8; MAX_REQUEST + 16];
        let w = Request::Write {
            target: t(),
            pos: None,
            data: &big,
        };
        assert_eq!(w.encode(&mut out), None);
        let s = Request::Seek {
            target: t(),
            offset: 0,
            whence: 3,
        };
        assert_eq!(s.encode(&mut out), None);
        let r = Request::Read {
            target: t(),
            count: 1,
            pos: Some(-1),
        };
        assert_eq!(r.encode(&mut out), None);
        // A write of MAX_IO bytes fits MAX_REQUEST.
        let full = std::vec![7u8; MAX_IO];
        let n = Request::Write {
            target: t(),
            pos: None,
            data: &full,
        }
        .encode(&mut out)
        .unwrap();
        assert_eq!(n, MAX_REQUEST);
        let mut over = out[..n].to_vec();
        over.push(0);
        assert_eq!(Request::decode(&over), None);
    }

    #[test]
    fn info_roundtrip_and_refusals() {
        let i = Info {
            cookie: 5,
            flags: 0o2001,
            mode: 0o100644,
            pos: 10,
            size: 20,
            caps: CAP_PREAD | CAP_SEEK,
        };
        assert_eq!(Info::decode(&i.encode()), Some(i));
        for bad in [
            Info { cookie: 0, ..i },
            Info { pos: -1, ..i },
            Info { size: -1, ..i },
            Info { caps: 4, ..i },
        ] {
            assert_eq!(Info::decode(&bad.encode()), None, "{bad:?}");
        }
        assert_eq!(Info::decode(&i.encode()[..39]), None);
        assert_eq!(decode_u32(&[1, 0, 0, 0]), Some(1));
        assert_eq!(decode_u32(&[1, 0, 0]), None);
        assert_eq!(decode_pos(&7i64.to_le_bytes()), Some(7));
        assert_eq!(decode_pos(&(-7i64).to_le_bytes()), None);
    }

    proptest! {
        #[test]
        fn decode_never_panics(b in proptest::collection::vec(any::<u8>(), 0..96)) {
            let _ = Request::decode(&b);
            let _ = Info::decode(&b);
            let _ = decode_pos(&b);
        }

        #[test]
        fn what_decodes_reencodes_the_same(b in proptest::collection::vec(any::<u8>(), 28..64),
                                           op in 1u8..5) {
            let mut b: Vec<u8> = b;
            b[0] = op;
            b[1] &= 1;
            b[2] = 0;
            b[3] = 0;
            if let Some(r) = Request::decode(&b) {
                let mut out = [0u8; 128];
                let n = r.encode(&mut out).unwrap();
                prop_assert_eq!(&out[..n], &b[..]);
            }
        }

        #[test]
        fn writes_roundtrip(data in proptest::collection::vec(any::<u8>(), 0..512),
                            pos in proptest::option::of(0i64..i64::MAX), pid in 1u32..0x7fff_ffff,
                            fd in 0u32..MAX_FD, cookie in any::<u64>()) {
            let r = Request::Write { target: Target { pid, fd, cookie, ..t() }, pos, data: &data };
            let mut out = std::vec![0u8; WRITE_HEAD + data.len()];
            let n = r.encode(&mut out).unwrap();
            prop_assert_eq!(n, WRITE_HEAD + data.len());
            prop_assert_eq!(Request::decode(&out[..n]), Some(r));
        }
    }
}
