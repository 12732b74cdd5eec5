// SPDX-License-Identifier: GPL-2.0-only
//! Remote devices: the requests of the `SERVICE_DEV` RPC service, the minor
//! numbers of `/dev/ssi/node<K>/`, and the table of files a node keeps open
//! for its peers.
//!
//! A request is one op byte and its operands, little endian:
//!
//! | op        | request                          | answer             |
//! |-----------|----------------------------------|--------------------|
//! | 1 `OPEN`  | `dev: u8`, `access: u8`          | `handle: u32`      |
//! | 2 `READ`  | `handle: u32`, `count: u32`      | up to `count` bytes |
//! | 3 `WRITE` | `handle: u32`, data              | `written: u32`     |
//! | 4 `CLOSE` | `handle: u32`                    | (one-way, none)    |
//!
//! `count` and the data are at most [`MAX_IO`] bytes. Decoding checks the
//! exact length of every request; anything else is refused.

use super::codec::{Reader, Writer};

/// Largest read or write carried by one request (fits in one message).
pub const MAX_IO: usize = 60_000;
/// Devices per node in the minor space.
pub const DEVS_PER_NODE: u32 = 4;
/// Minors of the whole space: node ids 0..=255 times [`DEVS_PER_NODE`]
/// (node 0's four minors are never used).
pub const MINORS: u32 = 256 * DEVS_PER_NODE;
/// Longest encoded request (a `WRITE` of [`MAX_IO`] bytes).
pub const MAX_REQUEST: usize = 5 + MAX_IO;

/// The devices a node exports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Dev {
    /// The node's `/dev/console`.
    Console = 0,
    /// `/dev/null`.
    Null = 1,
    /// `/dev/zero`.
    Zero = 2,
    /// `/dev/urandom`.
    Urandom = 3,
}

impl Dev {
    /// Every device, in minor order.
    pub const ALL: [Dev; 4] = [Dev::Console, Dev::Null, Dev::Zero, Dev::Urandom];

    /// The device for a wire value.
    pub fn from_u8(v: u8) -> Option<Self> {
        Self::ALL.get(usize::from(v)).copied()
    }

    /// Its name under `/dev/ssi/node<K>/` and under `/dev/` on its node.
    pub fn name(self) -> &'static str {
        match self {
            Dev::Console => "console",
            Dev::Null => "null",
            Dev::Zero => "zero",
            Dev::Urandom => "urandom",
        }
    }

    /// Permissions of its device node: the console is root's only.
    pub fn mode(self) -> u16 {
        match self {
            Dev::Console => 0o600,
            _ => 0o666,
        }
    }
}

/// The minor of `dev` of node `node`.
pub fn minor(node: u8, dev: Dev) -> u32 {
    u32::from(node) * DEVS_PER_NODE + dev as u32
}

/// The node (1..=255) and device of a minor; `None` outside the space.
pub fn split_minor(minor: u32) -> Option<(u8, Dev)> {
    let node = u8::try_from(minor / DEVS_PER_NODE)
        .ok()
        .filter(|&n| n != 0)?;
    let dev = Dev::from_u8((minor % DEVS_PER_NODE) as u8)?;
    Some((node, dev))
}

/// How a remote file is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Access {
    /// `O_RDONLY`.
    Read = 0,
    /// `O_WRONLY`.
    Write = 1,
    /// `O_RDWR`.
    ReadWrite = 2,
}

impl Access {
    /// The access of open flags (`flags & O_ACCMODE`); `None` for 3.
    pub fn from_flags(flags: u32) -> Option<Self> {
        Self::from_u8((flags & 3) as u8)
    }

    /// The access for a wire value.
    pub fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            0 => Access::Read,
            1 => Access::Write,
            2 => Access::ReadWrite,
            _ => return None,
        })
    }

    /// The `O_ACCMODE` bits.
    pub fn flags(self) -> u32 {
        self as u32
    }
}

const OPEN: u8 = 1;
const READ: u8 = 2;
const WRITE: u8 = 3;
const CLOSE: u8 = 4;

/// A decoded request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request<'a> {
    /// Opens `dev` on the serving node.
    Open {
        /// Which device.
        dev: Dev,
        /// Read, write or both.
        access: Access,
        /// The opener's file-system uid (initial user namespace), as its
        /// node's kernel saw it: what the serving node charges the file to.
        uid: u32,
    },
    /// Reads up to `count` bytes.
    Read {
        /// From [`Request::Open`]'s answer.
        handle: u32,
        /// At most [`MAX_IO`].
        count: u32,
    },
    /// Writes `data`.
    Write {
        /// From [`Request::Open`]'s answer.
        handle: u32,
        /// At most [`MAX_IO`] bytes.
        data: &'a [u8],
    },
    /// Closes the handle (sent one-way).
    Close {
        /// From [`Request::Open`]'s answer.
        handle: u32,
    },
}

impl<'a> Request<'a> {
    /// Decodes a request; `None` if it is not exactly a valid one.
    pub fn decode(b: &'a [u8]) -> Option<Self> {
        let mut r = Reader::new(b);
        let req = match r.u8()? {
            OPEN => Request::Open {
                dev: Dev::from_u8(r.u8()?)?,
                access: Access::from_u8(r.u8()?)?,
                uid: r.u32()?,
            },
            READ => {
                let handle = r.u32()?;
                let count = r.u32()?;
                if count as usize > MAX_IO {
                    return None;
                }
                Request::Read { handle, count }
            }
            WRITE => {
                let handle = r.u32()?;
                let data = r.rest();
                if data.len() > MAX_IO {
                    return None;
                }
                Request::Write { handle, data }
            }
            CLOSE => Request::Close { handle: r.u32()? },
            _ => return None,
        };
        r.end()?;
        Some(req)
    }

    /// Encodes into `out`; returns the length, `None` if `out` is too small
    /// or the request is not valid (too much data).
    pub fn encode(&self, out: &mut [u8]) -> Option<usize> {
        let mut w = Writer::new(out);
        match *self {
            Request::Open { dev, access, uid } => {
                w.put(&[OPEN, dev as u8, access as u8])?;
                w.put(&uid.to_le_bytes())?;
            }
            Request::Read { handle, count } => {
                if count as usize > MAX_IO {
                    return None;
                }
                w.put(&[READ])?;
                w.put(&handle.to_le_bytes())?;
                w.put(&count.to_le_bytes())?;
            }
            Request::Write { handle, data } => {
                if data.len() > MAX_IO {
                    return None;
                }
                w.put(&[WRITE])?;
                w.put(&handle.to_le_bytes())?;
                w.put(data)?;
            }
            Request::Close { handle } => {
                w.put(&[CLOSE])?;
                w.put(&handle.to_le_bytes())?;
            }
        }
        Some(w.len())
    }
}

/// The `u32` answer of `OPEN` (a handle) and `WRITE` (a count).
pub fn decode_u32(b: &[u8]) -> Option<u32> {
    super::codec::decode_u32(b)
}

/// How a node's share of the [`Handles`] is split among its users: root
/// (uid 0) is bounded only by the node's share, so that no user can take
/// the last files from the others or from root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    /// Files one user other than root may hold open.
    pub per_user: usize,
    /// Files the users other than root may hold open together.
    pub users: usize,
}

impl Quota {
    /// Whether `uid`, which holds `own` of the node's files while users
    /// other than root hold `users`, may open one more.
    pub fn allows(&self, uid: u32, own: usize, users: usize) -> bool {
        uid == 0 || (own < self.per_user && users < self.users)
    }
}

/// Why a [`Handles`] operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandleError {
    /// The table, or the node's share of it, is full.
    Full,
    /// No such handle for this node (unknown, closed, or another node's).
    Unknown,
}

/// Open files a node serves to its peers, each tagged with the node that
/// opened it: a handle is only usable by that node. `N` slots at most,
/// `per_node` of them per node.
///
/// A handle is `generation << 8 | slot`: a closed handle's slot may be
/// reused, but not its number (until the 24-bit generation wraps).
pub struct Handles<F, const N: usize> {
    slots: [Option<(u32, u8, F)>; N],
    per_node: usize,
    generation: u32,
}

impl<F, const N: usize> Handles<F, N> {
    /// An empty table; `N` must be at most 256.
    pub fn new(per_node: usize) -> Self {
        assert!(N <= 256);
        Handles {
            slots: core::array::from_fn(|_| None),
            per_node,
            generation: 0,
        }
    }

    /// Files open for `node` whose file matches `f`.
    pub fn count_where(&self, node: u8, f: impl Fn(&F) -> bool) -> usize {
        self.slots
            .iter()
            .flatten()
            .filter(|s| s.1 == node && f(&s.2))
            .count()
    }

    /// Files open for `node`.
    pub fn count(&self, node: u8) -> usize {
        self.slots.iter().flatten().filter(|s| s.1 == node).count()
    }

    /// Files open in all.
    pub fn len(&self) -> usize {
        self.slots.iter().flatten().count()
    }

    /// Whether no file is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `node` may open one more file.
    pub fn has_room(&self, node: u8) -> bool {
        self.slots.iter().any(|s| s.is_none()) && self.count(node) < self.per_node
    }

    /// Keeps `file` for `node`; returns its handle, or gives `file` back.
    pub fn insert(&mut self, node: u8, file: F) -> Result<u32, F> {
        if !self.has_room(node) {
            return Err(file);
        }
        let Some(i) = self.slots.iter().position(|s| s.is_none()) else {
            return Err(file);
        };
        self.generation = (self.generation + 1) & 0x00ff_ffff;
        let handle = self.generation << 8 | i as u32;
        self.slots[i] = Some((handle, node, file));
        Ok(handle)
    }

    fn slot(&self, node: u8, handle: u32) -> Result<usize, HandleError> {
        let i = (handle & 0xff) as usize;
        match self.slots.get(i) {
            Some(Some((h, n, _))) if *h == handle && *n == node => Ok(i),
            _ => Err(HandleError::Unknown),
        }
    }

    /// The file of `handle`, if `node` opened it.
    pub fn get_mut(&mut self, node: u8, handle: u32) -> Result<&mut F, HandleError> {
        let i = self.slot(node, handle)?;
        match &mut self.slots[i] {
            Some((_, _, f)) => Ok(f),
            None => Err(HandleError::Unknown),
        }
    }

    /// Forgets `handle` and returns its file, if `node` opened it.
    pub fn remove(&mut self, node: u8, handle: u32) -> Result<F, HandleError> {
        let i = self.slot(node, handle)?;
        self.slots[i]
            .take()
            .map(|(_, _, f)| f)
            .ok_or(HandleError::Unknown)
    }

    /// Forgets one file of `node` and returns it; `None` when it has none
    /// left. (Call until `None` to close all of a node's files.)
    pub fn remove_any(&mut self, node: u8) -> Option<F> {
        let s = self
            .slots
            .iter_mut()
            .find(|s| matches!(s, Some((_, n, _)) if *n == node))?;
        s.take().map(|(_, _, f)| f)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::vec;

    fn roundtrip(r: Request<'_>) {
        let mut buf = vec![0u8; MAX_REQUEST];
        let n = r.encode(&mut buf).expect("encodes");
        assert_eq!(Request::decode(&buf[..n]), Some(r));
    }

    #[test]
    fn requests_roundtrip() {
        roundtrip(Request::Open {
            dev: Dev::Console,
            access: Access::Write,
            uid: 1000,
        });
        roundtrip(Request::Read {
            handle: 0x1234_5601,
            count: MAX_IO as u32,
        });
        roundtrip(Request::Write {
            handle: 7,
            data: b"MARK\n",
        });
        roundtrip(Request::Write {
            handle: 7,
            data: &[],
        });
        roundtrip(Request::Close { handle: u32::MAX });
    }

    #[test]
    fn refuses_bad_requests() {
        for bad in [
            &[][..],
            &[0],
            &[OPEN, 4, 0, 0, 0, 0, 0],
            &[OPEN, 0, 3, 0, 0, 0, 0],
            &[OPEN, 0],
            &[OPEN, 0, 0],
            &[OPEN, 0, 0, 0, 0, 0],
            &[OPEN, 0, 0, 0, 0, 0, 0, 0],
            &[READ, 1, 0, 0, 0, 0x61, 0xea, 0, 0], // count 60001
            &[READ, 1, 0, 0, 0, 0, 0, 0],
            &[WRITE, 1, 0, 0],
            &[CLOSE, 1, 0, 0, 0, 0],
            &[9, 1, 0, 0, 0],
        ] {
            assert_eq!(Request::decode(bad), None, "{bad:?}");
        }
        let big = vec![0u8; 5 + MAX_IO + 1];
        let mut b = big.clone();
        b[0] = WRITE;
        assert_eq!(Request::decode(&b), None);
        let data = vec![0u8; MAX_IO + 1];
        let mut out = vec![0u8; 2 * MAX_IO];
        assert_eq!(
            Request::Write {
                handle: 1,
                data: &data
            }
            .encode(&mut out),
            None
        );
        assert_eq!(Request::Close { handle: 1 }.encode(&mut out[..4]), None);
    }

    #[test]
    fn minors() {
        assert_eq!(minor(2, Dev::Console), 8);
        assert_eq!(split_minor(8), Some((2, Dev::Console)));
        assert_eq!(split_minor(1023), Some((255, Dev::Urandom)));
        assert_eq!(split_minor(3), None);
        assert_eq!(split_minor(1024), None);
        assert_eq!(split_minor(u32::MAX), None);
        for n in 1..=255u8 {
            for d in Dev::ALL {
                assert_eq!(split_minor(minor(n, d)), Some((n, d)));
                assert!(minor(n, d) < MINORS);
            }
        }
    }

    #[test]
    fn handles_are_per_node_and_capped() {
        let mut t: Handles<u32, 4> = Handles::new(3);
        let a = t.insert(1, 10).unwrap();
        let b = t.insert(1, 11).unwrap();
        let c = t.insert(1, 12).unwrap();
        assert_eq!(t.insert(1, 13), Err(13), "per-node cap");
        let d = t.insert(2, 20).unwrap();
        assert_eq!(t.insert(3, 30), Err(30), "table full");
        assert_eq!(t.get_mut(2, a), Err(HandleError::Unknown), "other node's");
        assert_eq!(t.get_mut(1, a ^ 0x100), Err(HandleError::Unknown), "forged");
        assert_eq!(t.get_mut(1, b).copied(), Ok(11));
        assert_eq!(t.remove(1, b), Ok(11));
        assert_eq!(t.remove(1, b), Err(HandleError::Unknown), "closed twice");
        let e = t.insert(3, 30).unwrap();
        assert_eq!(e & 0xff, b & 0xff, "slot reused");
        assert_ne!(e, b, "number not reused");
        assert_eq!(t.get_mut(1, b), Err(HandleError::Unknown));
        let mut gone = vec![];
        while let Some(f) = t.remove_any(1) {
            gone.push(f);
        }
        gone.sort();
        assert_eq!(gone, vec![10, 12]);
        assert_eq!(t.get_mut(1, a), Err(HandleError::Unknown));
        assert_eq!(t.get_mut(1, c), Err(HandleError::Unknown));
        assert_eq!(t.get_mut(2, d).copied(), Ok(20));
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn quota_keeps_room_for_root_and_other_users() {
        let q = Quota {
            per_user: 2,
            users: 3,
        };
        assert!(q.allows(1000, 0, 0));
        assert!(q.allows(1000, 1, 1));
        assert!(!q.allows(1000, 2, 2), "per user");
        assert!(q.allows(1001, 0, 2));
        assert!(!q.allows(1001, 1, 3), "users together");
        assert!(q.allows(0, 9, 3), "root");
    }

    #[test]
    fn count_where_counts_one_node_only() {
        let mut t: Handles<u32, 8> = Handles::new(8);
        for (node, f) in [(1, 7), (1, 7), (1, 8), (2, 7)] {
            t.insert(node, f).unwrap();
        }
        assert_eq!(t.count_where(1, |f| *f == 7), 2);
        assert_eq!(t.count_where(2, |f| *f == 7), 1);
        assert_eq!(t.count_where(3, |_| true), 0);
    }

    proptest! {
        #[test]
        fn decode_never_panics(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Some(r) = Request::decode(&b) {
                let mut out = vec![0u8; MAX_REQUEST];
                let n = r.encode(&mut out).unwrap();
                prop_assert_eq!(&out[..n], &b[..]);
            }
        }

        #[test]
        fn handles_only_answer_their_owner(
            ops in proptest::collection::vec((0u8..4, any::<u32>(), any::<bool>()), 0..200)
        ) {
            let mut t: Handles<(u8, u32), 8> = Handles::new(5);
            let mut open: vec::Vec<(u8, u32)> = vec![];
            for (node, x, close) in ops {
                if close && !open.is_empty() {
                    let (n, h) = open.remove(x as usize % open.len());
                    prop_assert_eq!(t.remove(n, h).map(|f| f.0), Ok(n));
                } else if let Ok(h) = t.insert(node, (node, x)) {
                    open.push((node, h));
                }
                // A guessed handle works only for its owner.
                let guess = x & 0x07ff_ff07;
                for n in 0..4u8 {
                    let owned = open.contains(&(n, guess));
                    prop_assert_eq!(t.get_mut(n, guess).is_ok(), owned);
                }
                prop_assert!(t.len() <= 8);
                for n in 0..4u8 {
                    prop_assert!(t.count(n) <= 5);
                }
            }
        }
    }
}
