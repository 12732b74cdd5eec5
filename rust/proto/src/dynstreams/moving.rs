// SPDX-License-Identifier: GPL-2.0-only
//! A pipe that moves to another node: the answer to `MOVE` ([`Moved`]),
//! the handles `PLACED` names ([`Ats`]) and the answer to `WHERE`
//! ([`Where`]).
//!
//! | message  | layout                                                        |
//! |----------|---------------------------------------------------------------|
//! | `Moved`  | `move: u64`, `size: u32`, `bytes: u32`, `n: u8`, `n` x [`HandleState`] |
//! | `HandleState` | `export: u64`, `handle: u64`, `end: u8`, `next: u64`, `held: u32`, `h: u8`, `h` x (`node: u8`, `count: u32`) |
//! | `Ats`    | `n: u8`, `n` x (`export: u64`, `handle: u64`)                  |
//! | `Where`  | `node: u8`, `export: u64`, `handle: u64`                       |
//!
//! The snapshot a `TAKE` reads is the pipe's `bytes`, then each read
//! handle's held chunk (`held` bytes, in the handles' order): its total
//! length is checked (at most [`MAX_SNAPSHOT`]). `n` and `h` are at most
//! [`MAX_HANDLES`] and [`MAX_HOLDERS`].

use super::super::codec::{self, Reader, Writer};
use super::{read_at, At, End, MAX_IO};

/// Most handles a moving pipe may have.
pub const MAX_HANDLES: usize = 8;
/// Most holder nodes of one handle that move with it.
pub const MAX_HOLDERS: usize = 8;
/// Largest pipe that moves (`/proc/sys/fs/pipe-max-size`'s default).
pub const MAX_PIPE: u32 = 1 << 20;
/// Largest snapshot: the pipe and every held chunk.
pub const MAX_SNAPSHOT: u64 = MAX_PIPE as u64 + (MAX_HANDLES * MAX_IO) as u64;
/// Longest `Moved`.
pub const MOVED_MAX: usize = 17 + MAX_HANDLES * (30 + 5 * MAX_HOLDERS);

/// A handle of a moving pipe as the old anchor has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HandleState {
    pub at: At,
    pub end: End,
    /// The next sequence number of its direction.
    pub next: u64,
    /// Length of the chunk held for a replay (a read end's).
    pub held: u32,
    /// `(node, proxies)` that hold it; `nholders` of them.
    pub holders: [(u8, u32); MAX_HOLDERS],
    pub nholders: u8,
}

impl HandleState {
    pub fn holders(&self) -> &[(u8, u32)] {
        &self.holders[..usize::from(self.nholders).min(MAX_HOLDERS)]
    }

    fn write(&self, w: &mut Writer<'_>) -> Option<()> {
        w.u64(self.at.export)?;
        w.u64(self.at.handle)?;
        w.u8(self.end as u8)?;
        w.u64(self.next)?;
        w.u32(self.held)?;
        w.u8(self.nholders)?;
        for &(n, c) in self.holders() {
            w.u8(n)?;
            w.u32(c)?;
        }
        Some(())
    }

    fn read(r: &mut Reader<'_>) -> Option<Self> {
        let at = read_at(r)?;
        let end = End::from_u8(r.u8()?)?;
        let next = r.u64()?;
        let held = r.u32()?;
        let nholders = r.u8()?;
        if usize::from(nholders) > MAX_HOLDERS
            || held as usize > MAX_IO
            || (end == End::Write && held != 0)
            || end == End::Both
            || u64::from(held) > next
        {
            return None;
        }
        let mut holders = [(0u8, 0u32); MAX_HOLDERS];
        for h in holders.iter_mut().take(usize::from(nholders)) {
            let node = r.u8()?;
            let count = r.u32()?;
            if node == 0 || count == 0 {
                return None;
            }
            *h = (node, count);
        }
        Some(HandleState {
            at,
            end,
            next,
            held,
            holders,
            nholders,
        })
    }
}

/// The answer to `MOVE`: the move's id, the pipe's size and bytes, and
/// its handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Moved {
    pub mv: u64,
    pub size: u32,
    pub bytes: u32,
    pub handles: [Option<HandleState>; MAX_HANDLES],
}

impl Moved {
    pub fn handles(&self) -> impl Iterator<Item = &HandleState> {
        self.handles.iter().flatten()
    }

    /// The snapshot's length: the pipe's bytes and every held chunk.
    pub fn snapshot_len(&self) -> Option<u64> {
        self.handles()
            .try_fold(u64::from(self.bytes), |a, h| {
                a.checked_add(u64::from(h.held))
            })
            .filter(|&n| n <= MAX_SNAPSHOT)
    }

    pub fn encode(&self, out: &mut [u8]) -> Option<usize> {
        let mut w = Writer::new(out);
        w.u64(self.mv)?;
        w.u32(self.size)?;
        w.u32(self.bytes)?;
        let n = self.handles().count();
        w.u8(u8::try_from(n).ok()?)?;
        for h in self.handles() {
            h.write(&mut w)?;
        }
        Some(w.len())
    }

    pub fn decode(b: &[u8]) -> Option<Self> {
        let mut r = Reader::new(b);
        let mv = r.u64()?;
        let size = r.u32()?;
        let bytes = r.u32()?;
        let n = usize::from(r.u8()?);
        if mv == 0 || n > MAX_HANDLES || size == 0 || size > MAX_PIPE || bytes > size {
            return None;
        }
        let mut handles = [None; MAX_HANDLES];
        for h in handles.iter_mut().take(n) {
            *h = Some(HandleState::read(&mut r)?);
        }
        r.end()?;
        let m = Moved {
            mv,
            size,
            bytes,
            handles,
        };
        m.snapshot_len()?;
        Some(m)
    }
}

/// Handles made anew at the new anchor, in the order of [`Moved`]'s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ats {
    pub ats: [At; MAX_HANDLES],
    pub n: u8,
}

impl Ats {
    pub fn new() -> Self {
        Ats {
            ats: [At {
                export: 0,
                handle: 0,
            }; MAX_HANDLES],
            n: 0,
        }
    }

    /// Adds one; `None` if full.
    pub fn push(&mut self, at: At) -> Option<()> {
        let slot = self.ats.get_mut(usize::from(self.n))?;
        *slot = at;
        self.n += 1;
        Some(())
    }

    pub fn as_slice(&self) -> &[At] {
        &self.ats[..usize::from(self.n).min(MAX_HANDLES)]
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Option<()> {
        w.u8(self.n)?;
        for at in self.as_slice() {
            w.u64(at.export)?;
            w.u64(at.handle)?;
        }
        Some(())
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Option<Self> {
        let n = r.u8()?;
        if usize::from(n) > MAX_HANDLES {
            return None;
        }
        let mut a = Ats::new();
        for _ in 0..n {
            a.push(read_at(r)?)?;
        }
        Some(a)
    }
}

impl Default for Ats {
    fn default() -> Self {
        Self::new()
    }
}

/// The answer to `WHERE`: the node that holds the handle now, and its
/// name there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Where {
    pub node: u8,
    pub at: At,
}

impl Where {
    pub const LEN: usize = 17;

    pub fn encode(&self) -> [u8; Self::LEN] {
        codec::fill(|w| {
            w.u8(self.node)?;
            w.u64(self.at.export)?;
            w.u64(self.at.handle)
        })
    }

    pub fn decode(b: &[u8]) -> Option<Self> {
        let mut r = Reader::new(b);
        let node = r.u8()?;
        let at = read_at(&mut r)?;
        r.end()?;
        (node != 0).then_some(Where { node, at })
    }
}

/// Bytes `offset..offset + count` of a snapshot of `len` bytes: the range
/// to copy (shorter at its end), or `None` if it starts past the end.
pub fn take_range(len: usize, offset: u32, count: u32) -> Option<core::ops::Range<usize>> {
    let start = usize::try_from(offset).ok()?;
    if start > len {
        return None;
    }
    let end = start.checked_add(count as usize)?.min(len);
    Some(start..end)
}

#[cfg(test)]
mod tests {
    use super::super::{Request, Source, Token, TOKEN_MAX};
    use super::*;

    fn moved() -> Moved {
        let mut holders = [(0u8, 0u32); MAX_HOLDERS];
        holders[0] = (3, 1);
        holders[1] = (4, 2);
        let mut handles = [None; MAX_HANDLES];
        handles[0] = Some(HandleState {
            at: At {
                export: 1,
                handle: 2,
            },
            end: End::Read,
            next: 100,
            held: 10,
            holders,
            nholders: 2,
        });
        handles[1] = Some(HandleState {
            at: At {
                export: 3,
                handle: 4,
            },
            end: End::Write,
            next: 7,
            held: 0,
            holders,
            nholders: 2,
        });
        Moved {
            mv: 9,
            size: 65536,
            bytes: 500,
            handles,
        }
    }

    #[test]
    fn moved_round_trip_and_cuts() {
        let m = moved();
        let mut b = [0u8; MOVED_MAX];
        let n = m.encode(&mut b).unwrap();
        assert_eq!(Moved::decode(&b[..n]), Some(m));
        assert_eq!(m.snapshot_len(), Some(510));
        for cut in 0..n {
            assert_eq!(Moved::decode(&b[..cut]), None, "cut at {}", cut);
        }
        let mut long = [0u8; MOVED_MAX + 1];
        long[..n].copy_from_slice(&b[..n]);
        assert_eq!(Moved::decode(&long[..n + 1]), None);
    }

    #[test]
    fn bad_moved_refused() {
        let mut b = [0u8; MOVED_MAX];
        let n = moved().encode(&mut b).unwrap();
        // move 0, size 0, bytes above size, too many handles.
        for (at, v) in [(0, 0u8), (8, 0), (12, 0xff), (16, 9)] {
            let mut c = b;
            if at == 0 {
                c[..8].fill(0);
            } else if at == 8 {
                c[8..12].fill(0);
            } else if at == 12 {
                c[12..16].fill(v);
            } else {
                c[at] = v;
            }
            assert_eq!(Moved::decode(&c[..n]), None, "byte {}", at);
        }
        // A write handle with a held chunk; a held chunk longer than next.
        let mut m = moved();
        m.handles[1].as_mut().unwrap().held = 1;
        let k = m.encode(&mut b).unwrap();
        assert_eq!(Moved::decode(&b[..k]), None);
        let mut m = moved();
        m.handles[0].as_mut().unwrap().held = 101;
        let k = m.encode(&mut b).unwrap();
        assert_eq!(Moved::decode(&b[..k]), None);
        // A holder of node 0.
        let mut m = moved();
        m.handles[0].as_mut().unwrap().holders[0] = (0, 1);
        let k = m.encode(&mut b).unwrap();
        assert_eq!(Moved::decode(&b[..k]), None);
        // A pipe above the largest.
        let mut m = moved();
        m.size = MAX_PIPE + 1;
        let k = m.encode(&mut b).unwrap();
        assert_eq!(Moved::decode(&b[..k]), None);
    }

    #[test]
    fn take_ranges() {
        assert_eq!(take_range(10, 0, 4), Some(0..4));
        assert_eq!(take_range(10, 8, 4), Some(8..10));
        assert_eq!(take_range(10, 10, 4), Some(10..10));
        assert_eq!(take_range(10, 11, 4), None);
        assert_eq!(take_range(10, u32::MAX, u32::MAX), None);
    }

    #[test]
    fn where_round_trip() {
        let w = Where {
            node: 3,
            at: At {
                export: 5,
                handle: 6,
            },
        };
        let b = w.encode();
        assert_eq!(Where::decode(&b), Some(w));
        assert_eq!(Where::decode(&b[..16]), None);
        let mut c = b;
        c[0] = 0;
        assert_eq!(Where::decode(&c), None);
    }

    #[test]
    fn move_requests_round_trip() {
        let mut ats = Ats::new();
        ats.push(At {
            export: 1,
            handle: 2,
        })
        .unwrap();
        let reqs = [
            Request::Move {
                pid: 5,
                fd: 3,
                uid: 1000,
                gid: 1000,
                privileged: false,
            },
            Request::Take {
                mv: 1,
                offset: 16384,
                count: 16384,
            },
            Request::Placed { mv: 1, ats },
            Request::Placed {
                mv: 2,
                ats: Ats::new(),
            },
            Request::Abort { mv: 1 },
            Request::Where {
                at: At {
                    export: 1,
                    handle: 2,
                },
            },
            Request::Release {
                at: At {
                    export: 1,
                    handle: 2,
                },
                node: 4,
            },
        ];
        for r in reqs {
            let mut b = [0u8; 256];
            let n = r.encode(&mut b).unwrap();
            assert_eq!(Request::decode(&b[..n]), Some(r));
            for cut in 0..n {
                assert_eq!(Request::decode(&b[..cut]), None, "{:?} cut at {}", r, cut);
            }
            let mut long = b;
            long[n] = 0;
            assert_eq!(Request::decode(&long[..n + 1]), None);
        }
        // Malformed: move 0, count 0 or too big, node 0, too many handles.
        for r in [
            Request::Take {
                mv: 0,
                offset: 0,
                count: 1,
            },
            Request::Take {
                mv: 1,
                offset: 0,
                count: 0,
            },
            Request::Take {
                mv: 1,
                offset: 0,
                count: MAX_IO as u32 + 1,
            },
            Request::Abort { mv: 0 },
            Request::Release {
                at: At {
                    export: 1,
                    handle: 2,
                },
                node: 0,
            },
            Request::Move {
                pid: 0,
                fd: 3,
                uid: 0,
                gid: 0,
                privileged: false,
            },
        ] {
            let mut b = [0u8; 256];
            let n = r.encode(&mut b).unwrap();
            assert_eq!(Request::decode(&b[..n]), None, "{:?}", r);
        }
        let mut b = [0u8; 256];
        let n = (Request::Placed { mv: 1, ats }).encode(&mut b).unwrap();
        b[9] = MAX_HANDLES as u8 + 1;
        assert_eq!(Request::decode(&b[..n]), None);
    }

    #[test]
    fn move_tokens() {
        let t = Token {
            end: End::Read,
            anchor: 2,
            source: Source::Move {
                pid: 40000,
                fd: 4,
                pipe: 0xffff_8880_1234_5678,
                uses: 2,
            },
        };
        let mut b = [0u8; TOKEN_MAX];
        let n = t.encode(&mut b).unwrap();
        assert_eq!(Token::decode(&b[..n]), Some(t));
        for cut in 0..n {
            assert_eq!(Token::decode(&b[..cut]), None);
        }
        let mut c = b;
        c[n - 1] = 0;
        assert_eq!(Token::decode(&c[..n]), None, "uses 0");
    }
}
