// SPDX-License-Identifier: GPL-2.0-only
//! Migration: the messages of the ghost module's RPC service.
//!
//! One op byte, then its operands, little endian. Requests (answered with a
//! status) carry a ghost stream from the node the process leaves (origin)
//! to the node it goes to (destination); one-way messages tell how it ends
//! and carry signals to where the process runs.
//!
//! | op         | kind    | operands                                   |
//! |------------|---------|--------------------------------------------|
//! | 1 `BEGIN`  | request | `mig: u64`, `pid: u32`, `home: u8`, `hops: u32` |
//! | 2 `DATA`   | request | `mig: u64`, the next bytes of the stream    |
//! | 3 `GO`     | request | `mig: u64`: start the process               |
//! | 4 `ABORT`  | one-way | `mig: u64`: forget it, end it if started    |
//! | 5 `RESULT` | one-way | `mig: u64`, `errno: u32`, `reason: u32`, `detail: u64` |
//! | 6 `EXIT`   | one-way | `pid: u32`, `status: u32` (a wait status)   |
//! | 7 `MOVED`  | one-way | `pid: u32`, `node: u8`                      |
//! | 8 `SIGNAL` | one-way | `pid: u32`, `sig: u32`                      |
//! | 9 `WHERE`  | request | `pid: u32`: from its home, once the node it ran on left the view |
//!
//! `WHERE` is answered with an error (`ESRCH`) if the node does not know
//! the process, with no bytes if the process still runs there, with its
//! wait status ([`ended`]) if it ended there meanwhile, and with the node
//! it went on to ([`went`]) if it left (the `EXIT` or `MOVED` may have
//! been lost with the link).
//! `home` is the node that keeps the process's stub: its parent link and
//! open files; `hops` how many times the process migrated before this
//! migration (`/proc/<pid>/ssi`). Decoding checks the exact length of every message but
//! `DATA`'s (at most [`MAX_DATA`] bytes of stream).

use super::codec::{fill, Reader, Writer};

/// Most stream bytes in one `DATA` (the message fits one RPC payload).
pub const MAX_DATA: usize = 64_000;
/// Bytes before a `DATA` message's stream bytes.
pub const DATA_HEADER: usize = 9;

/// A message of the service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Msg<'a> {
    Begin {
        mig: u64,
        pid: u32,
        home: u8,
        hops: u32,
    },
    Data {
        mig: u64,
        bytes: &'a [u8],
    },
    Go {
        mig: u64,
    },
    Abort {
        mig: u64,
    },
    Result {
        mig: u64,
        errno: u32,
        reason: u32,
        detail: u64,
    },
    Exit {
        pid: u32,
        status: u32,
    },
    Moved {
        pid: u32,
        node: u8,
    },
    Signal {
        pid: u32,
        sig: u32,
    },
    Where {
        pid: u32,
    },
}

/// Length of a `WHERE` answer that says the process ended.
pub const ENDED_LEN: usize = 4;

/// What a node answers to `WHERE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Whereabouts {
    /// It runs there.
    Here,
    /// It ended there with this wait status.
    Ended(u32),
    /// It went on to this node.
    Went(u8),
}

/// The answer to `WHERE` for a process that ended with wait status `status`.
pub fn ended(status: u32) -> [u8; ENDED_LEN] {
    status.to_le_bytes()
}

/// The answer to `WHERE` for a process that went on to `node`.
pub fn went(node: u8) -> [u8; 1] {
    [node]
}

/// Decodes an answer to `WHERE`; `None` if malformed.
pub fn decode_where(b: &[u8]) -> Option<Whereabouts> {
    let mut r = Reader::new(b);
    let w = match b.len() {
        0 => Whereabouts::Here,
        1 => Whereabouts::Went(r.u8()?),
        ENDED_LEN => Whereabouts::Ended(r.u32()?),
        _ => return None,
    };
    r.end()?;
    Some(w)
}

/// The longest encoding of a message other than `DATA`.
pub const MAX_SMALL: usize = 25;

impl<'a> Msg<'a> {
    /// Decodes a message; `None` for anything malformed.
    pub fn decode(b: &'a [u8]) -> Option<Self> {
        let mut r = Reader::new(b);
        let msg = match r.u8()? {
            1 => Msg::Begin {
                mig: r.u64()?,
                pid: r.u32()?,
                home: r.u8()?,
                hops: r.u32()?,
            },
            2 => {
                let mig = r.u64()?;
                let bytes = r.rest();
                if bytes.is_empty() || bytes.len() > MAX_DATA {
                    return None;
                }
                Msg::Data { mig, bytes }
            }
            3 => Msg::Go { mig: r.u64()? },
            4 => Msg::Abort { mig: r.u64()? },
            5 => Msg::Result {
                mig: r.u64()?,
                errno: r.u32()?,
                reason: r.u32()?,
                detail: r.u64()?,
            },
            6 => Msg::Exit {
                pid: r.u32()?,
                status: r.u32()?,
            },
            7 => Msg::Moved {
                pid: r.u32()?,
                node: r.u8()?,
            },
            8 => {
                let pid = r.u32()?;
                let sig = r.u32()?;
                if sig == 0 || sig > 64 {
                    return None;
                }
                Msg::Signal { pid, sig }
            }
            9 => Msg::Where { pid: r.u32()? },
            _ => return None,
        };
        r.end()?;
        Some(msg)
    }

    /// Encodes a message other than `DATA` into `out`; returns its length.
    /// `DATA` is written in place with [`data_header`].
    pub fn encode(&self, out: &mut [u8; MAX_SMALL]) -> usize {
        let mut w = Writer::new(out);
        // MAX_SMALL holds the longest message: the writes cannot fail.
        let _ = self.encode_into(&mut w);
        w.len()
    }

    fn encode_into(&self, w: &mut Writer<'_>) -> Option<()> {
        match *self {
            Msg::Begin {
                mig,
                pid,
                home,
                hops,
            } => {
                w.u8(1)?;
                w.u64(mig)?;
                w.u32(pid)?;
                w.u8(home)?;
                w.u32(hops)
            }
            Msg::Data { mig, .. } => w.put(&data_header(mig)),
            Msg::Go { mig } => {
                w.u8(3)?;
                w.u64(mig)
            }
            Msg::Abort { mig } => {
                w.u8(4)?;
                w.u64(mig)
            }
            Msg::Result {
                mig,
                errno,
                reason,
                detail,
            } => {
                w.u8(5)?;
                w.u64(mig)?;
                w.u32(errno)?;
                w.u32(reason)?;
                w.u64(detail)
            }
            Msg::Exit { pid, status } => {
                w.u8(6)?;
                w.u32(pid)?;
                w.u32(status)
            }
            Msg::Moved { pid, node } => {
                w.u8(7)?;
                w.u32(pid)?;
                w.u8(node)
            }
            Msg::Signal { pid, sig } => {
                w.u8(8)?;
                w.u32(pid)?;
                w.u32(sig)
            }
            Msg::Where { pid } => {
                w.u8(9)?;
                w.u32(pid)
            }
        }
    }
}

/// The header of a `DATA` message; the stream bytes follow it.
pub fn data_header(mig: u64) -> [u8; DATA_HEADER] {
    fill(|w| {
        w.u8(2)?;
        w.u64(mig)
    })
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    fn small() -> impl Strategy<Value = Msg<'static>> {
        prop_oneof![
            (any::<u64>(), any::<u32>(), any::<u8>(), any::<u32>()).prop_map(
                |(mig, pid, home, hops)| Msg::Begin {
                    mig,
                    pid,
                    home,
                    hops
                }
            ),
            any::<u64>().prop_map(|mig| Msg::Go { mig }),
            any::<u64>().prop_map(|mig| Msg::Abort { mig }),
            (any::<u64>(), any::<u32>(), any::<u32>(), any::<u64>()).prop_map(
                |(mig, errno, reason, detail)| Msg::Result {
                    mig,
                    errno,
                    reason,
                    detail
                }
            ),
            (any::<u32>(), any::<u32>()).prop_map(|(pid, status)| Msg::Exit { pid, status }),
            (any::<u32>(), any::<u8>()).prop_map(|(pid, node)| Msg::Moved { pid, node }),
            (any::<u32>(), 1u32..=64).prop_map(|(pid, sig)| Msg::Signal { pid, sig }),
            any::<u32>().prop_map(|pid| Msg::Where { pid }),
        ]
    }

    proptest! {
        #[test]
        fn small_messages_round_trip(m in small()) {
            let mut b = [0u8; MAX_SMALL];
            let n = m.encode(&mut b);
            prop_assert_eq!(Msg::decode(&b[..n]), Some(m));
            // One byte more or less is refused.
            prop_assert_eq!(Msg::decode(&b[..n - 1]), None);
            let mut longer = b[..n].to_vec();
            longer.push(0);
            prop_assert_eq!(Msg::decode(&longer), None);
        }

        #[test]
        fn data_round_trips(mig in any::<u64>(), bytes in proptest::collection::vec(any::<u8>(), 1..2000)) {
            let mut m: Vec<u8> = data_header(mig).to_vec();
            m.extend_from_slice(&bytes);
            prop_assert_eq!(Msg::decode(&m), Some(Msg::Data { mig, bytes: &bytes }));
        }

        #[test]
        fn any_bytes_decode_without_panic(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = Msg::decode(&b);
        }
    }

    #[test]
    fn refuses_empty_data_bad_signal_and_unknown_ops() {
        assert_eq!(Msg::decode(&data_header(7)), None);
        let mut big = data_header(7).to_vec();
        big.resize(DATA_HEADER + MAX_DATA + 1, 0);
        assert_eq!(Msg::decode(&big), None);
        let mut b = [0u8; MAX_SMALL];
        let n = Msg::Signal { pid: 5, sig: 9 }.encode(&mut b);
        b[5..9].copy_from_slice(&65u32.to_le_bytes());
        assert_eq!(Msg::decode(&b[..n]), None);
        b[5..9].copy_from_slice(&0u32.to_le_bytes());
        assert_eq!(Msg::decode(&b[..n]), None);
        assert_eq!(Msg::decode(&[10, 0, 0, 0, 0]), None);
        assert_eq!(Msg::decode(&[9, 0, 0]), None);
        assert_eq!(Msg::decode(&[]), None);
    }

    #[test]
    fn where_answers() {
        assert_eq!(decode_where(&[]), Some(Whereabouts::Here));
        assert_eq!(decode_where(&ended(9)), Some(Whereabouts::Ended(9)));
        assert_eq!(decode_where(&went(3)), Some(Whereabouts::Went(3)));
        assert_eq!(decode_where(&ended(0)[..3]), None);
        assert_eq!(decode_where(&ended(0)[..2]), None);
        assert_eq!(decode_where(&[0, 0, 0, 0, 0]), None);
    }
}
