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
//! | 1 `BEGIN`  | request | `mig: u64`, `pid: u32`, `home: u8`         |
//! | 2 `DATA`   | request | `mig: u64`, the next bytes of the stream    |
//! | 3 `GO`     | request | `mig: u64`: start the process               |
//! | 4 `ABORT`  | one-way | `mig: u64`: forget it, end it if started    |
//! | 5 `RESULT` | one-way | `mig: u64`, `errno: u32`, `reason: u32`, `detail: u64` |
//! | 6 `EXIT`   | one-way | `pid: u32`, `status: u32` (a wait status)   |
//! | 7 `MOVED`  | one-way | `pid: u32`, `node: u8`                      |
//! | 8 `SIGNAL` | one-way | `pid: u32`, `sig: u32`                      |
//!
//! `home` is the node that keeps the process's stub: its parent link and
//! open files. Decoding checks the exact length of every message but
//! `DATA`'s (at most [`MAX_DATA`] bytes of stream).

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
}

fn u32_at(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(i..i.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn u64_at(b: &[u8], i: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(i..i.checked_add(8)?)?.try_into().ok()?,
    ))
}

/// The longest encoding of a message other than `DATA`.
pub const MAX_SMALL: usize = 25;

impl<'a> Msg<'a> {
    /// Decodes a message; `None` for anything malformed.
    pub fn decode(b: &'a [u8]) -> Option<Self> {
        let (&op, _) = b.split_first()?;
        let exact = |n: usize| (b.len() == n).then_some(());
        Some(match op {
            1 => {
                exact(14)?;
                Msg::Begin {
                    mig: u64_at(b, 1)?,
                    pid: u32_at(b, 9)?,
                    home: b[13],
                }
            }
            2 => {
                let bytes = b.get(DATA_HEADER..)?;
                if bytes.is_empty() || bytes.len() > MAX_DATA {
                    return None;
                }
                Msg::Data {
                    mig: u64_at(b, 1)?,
                    bytes,
                }
            }
            3 => {
                exact(9)?;
                Msg::Go { mig: u64_at(b, 1)? }
            }
            4 => {
                exact(9)?;
                Msg::Abort { mig: u64_at(b, 1)? }
            }
            5 => {
                exact(25)?;
                Msg::Result {
                    mig: u64_at(b, 1)?,
                    errno: u32_at(b, 9)?,
                    reason: u32_at(b, 13)?,
                    detail: u64_at(b, 17)?,
                }
            }
            6 => {
                exact(9)?;
                Msg::Exit {
                    pid: u32_at(b, 1)?,
                    status: u32_at(b, 5)?,
                }
            }
            7 => {
                exact(6)?;
                Msg::Moved {
                    pid: u32_at(b, 1)?,
                    node: b[5],
                }
            }
            8 => {
                exact(9)?;
                let sig = u32_at(b, 5)?;
                if sig == 0 || sig > 64 {
                    return None;
                }
                Msg::Signal {
                    pid: u32_at(b, 1)?,
                    sig,
                }
            }
            _ => return None,
        })
    }

    /// Encodes a message other than `DATA` into `out`; returns its length.
    /// `DATA` is written in place with [`data_header`].
    pub fn encode(&self, out: &mut [u8; MAX_SMALL]) -> usize {
        let mut n = 0;
        let mut put = |bytes: &[u8]| {
            out[n..n + bytes.len()].copy_from_slice(bytes);
            n += bytes.len();
        };
        match *self {
            Msg::Begin { mig, pid, home } => {
                put(&[1]);
                put(&mig.to_le_bytes());
                put(&pid.to_le_bytes());
                put(&[home]);
            }
            Msg::Data { mig, .. } => {
                put(&data_header(mig));
            }
            Msg::Go { mig } => {
                put(&[3]);
                put(&mig.to_le_bytes());
            }
            Msg::Abort { mig } => {
                put(&[4]);
                put(&mig.to_le_bytes());
            }
            Msg::Result {
                mig,
                errno,
                reason,
                detail,
            } => {
                put(&[5]);
                put(&mig.to_le_bytes());
                put(&errno.to_le_bytes());
                put(&reason.to_le_bytes());
                put(&detail.to_le_bytes());
            }
            Msg::Exit { pid, status } => {
                put(&[6]);
                put(&pid.to_le_bytes());
                put(&status.to_le_bytes());
            }
            Msg::Moved { pid, node } => {
                put(&[7]);
                put(&pid.to_le_bytes());
                put(&[node]);
            }
            Msg::Signal { pid, sig } => {
                put(&[8]);
                put(&pid.to_le_bytes());
                put(&sig.to_le_bytes());
            }
        }
        n
    }
}

/// The header of a `DATA` message; the stream bytes follow it.
pub fn data_header(mig: u64) -> [u8; DATA_HEADER] {
    let mut h = [0u8; DATA_HEADER];
    h[0] = 2;
    h[1..].copy_from_slice(&mig.to_le_bytes());
    h
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    fn small() -> impl Strategy<Value = Msg<'static>> {
        prop_oneof![
            (any::<u64>(), any::<u32>(), any::<u8>()).prop_map(|(mig, pid, home)| Msg::Begin {
                mig,
                pid,
                home
            }),
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
        assert_eq!(Msg::decode(&[9, 0, 0]), None);
        assert_eq!(Msg::decode(&[]), None);
    }
}
