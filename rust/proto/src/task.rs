// SPDX-License-Identifier: GPL-2.0-only
//! Requests about the processes a node runs: its global PIDs, the `/proc`
//! files of one process, and `kill(2)` of a process or process group.
//!
//! All integers are little-endian. Decoders take untrusted bytes and
//! return `None` on anything malformed.

/// Files of a process, in the order of `enum ssi_task_file`.
pub const FILES: [&str; 6] = ["cmdline", "comm", "environ", "stat", "statm", "status"];
/// Length of a file the reader may not read.
pub const DENIED: u32 = u32::MAX;
/// Bytes before the files' contents in a task answer.
pub const TASK_HEADER: usize = 8 + 4 * FILES.len();

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// Request for the PIDs at and above `from`, at most `max` of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PidsRequest {
    pub from: u32,
    pub max: u16,
}

impl PidsRequest {
    pub const LEN: usize = 6;

    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut b = [0; Self::LEN];
        b[..4].copy_from_slice(&self.from.to_le_bytes());
        b[4..].copy_from_slice(&self.max.to_le_bytes());
        b
    }

    pub fn decode(b: &[u8]) -> Option<Self> {
        if b.len() != Self::LEN {
            return None;
        }
        Some(PidsRequest {
            from: u32_at(b, 0)?,
            max: u16::from_le_bytes([b[4], b[5]]),
        })
    }
}

/// The PIDs of a pids answer, checked: a whole number of PIDs, at most
/// `req.max` of them, strictly increasing, none below `req.from`.
pub fn decode_pids<'a>(b: &'a [u8], req: &PidsRequest) -> Option<impl Iterator<Item = u32> + 'a> {
    if b.len() % 4 != 0 || b.len() / 4 > usize::from(req.max) {
        return None;
    }
    let mut prev: Option<u32> = None;
    for c in b.chunks_exact(4) {
        let p = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        if p < req.from || prev.is_some_and(|q| p <= q) {
            return None;
        }
        prev = Some(p);
    }
    Some(
        b.chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])),
    )
}

/// The header of a task answer; the files' contents follow it, in order,
/// except the denied ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskHeader {
    /// Owner (effective uid and gid), in the initial user namespace.
    pub uid: u32,
    pub gid: u32,
    pub len: [u32; FILES.len()],
}

impl TaskHeader {
    pub fn encode(&self) -> [u8; TASK_HEADER] {
        let mut b = [0; TASK_HEADER];
        b[..4].copy_from_slice(&self.uid.to_le_bytes());
        b[4..8].copy_from_slice(&self.gid.to_le_bytes());
        for (i, l) in self.len.iter().enumerate() {
            b[8 + 4 * i..12 + 4 * i].copy_from_slice(&l.to_le_bytes());
        }
        b
    }

    /// Splits a task answer into its header and the files' contents,
    /// whose size must be the sum of the lengths.
    pub fn decode(b: &[u8]) -> Option<(Self, &[u8])> {
        let mut h = TaskHeader {
            uid: u32_at(b, 0)?,
            gid: u32_at(b, 4)?,
            len: [0; FILES.len()],
        };
        let mut total: usize = 0;
        for i in 0..FILES.len() {
            let l = u32_at(b, 8 + 4 * i)?;
            h.len[i] = l;
            if l != DENIED {
                total = total.checked_add(usize::try_from(l).ok()?)?;
            }
        }
        let data = &b[TASK_HEADER..];
        (data.len() == total).then_some((h, data))
    }
}

/// A `kill(2)` carried to the node(s) that run its target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kill {
    pub sig: i32,
    /// > 0: a process; < 0: the process group `-pid`.
    pub pid: i32,
    pub sender: i32,
    pub uid: u32,
    pub euid: u32,
    pub cap_kill: bool,
}

impl Kill {
    pub const LEN: usize = 21;

    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut b = [0; Self::LEN];
        b[..4].copy_from_slice(&self.sig.to_le_bytes());
        b[4..8].copy_from_slice(&self.pid.to_le_bytes());
        b[8..12].copy_from_slice(&self.sender.to_le_bytes());
        b[12..16].copy_from_slice(&self.uid.to_le_bytes());
        b[16..20].copy_from_slice(&self.euid.to_le_bytes());
        b[20] = u8::from(self.cap_kill);
        b
    }

    pub fn decode(b: &[u8]) -> Option<Self> {
        if b.len() != Self::LEN || b[20] > 1 {
            return None;
        }
        Some(Kill {
            sig: u32_at(b, 0)? as i32,
            pid: u32_at(b, 4)? as i32,
            sender: u32_at(b, 8)? as i32,
            uid: u32_at(b, 12)?,
            euid: u32_at(b, 16)?,
            cap_kill: b[20] == 1,
        })
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    #[test]
    fn pids_checked() {
        let req = PidsRequest { from: 100, max: 3 };
        let enc = |v: &[u32]| v.iter().flat_map(|p| p.to_le_bytes()).collect::<Vec<u8>>();
        let ok = enc(&[100, 200, 300]);
        assert_eq!(
            decode_pids(&ok, &req).unwrap().collect::<Vec<_>>(),
            [100, 200, 300]
        );
        assert!(decode_pids(&enc(&[99]), &req).is_none());
        assert!(decode_pids(&enc(&[200, 200]), &req).is_none());
        assert!(decode_pids(&enc(&[300, 200]), &req).is_none());
        assert!(decode_pids(&enc(&[101, 102, 103, 104]), &req).is_none());
        assert!(decode_pids(&ok[..5], &req).is_none());
    }

    #[test]
    fn task_lengths_must_match() {
        let mut h = TaskHeader {
            uid: 1000,
            gid: 100,
            len: [3, 1, DENIED, 2, 0, 0],
        };
        let mut b = h.encode().to_vec();
        b.extend_from_slice(b"abcxyz");
        let (d, data) = TaskHeader::decode(&b).unwrap();
        assert_eq!((d, data), (h, &b"abcxyz"[..]));
        b.push(0);
        assert!(TaskHeader::decode(&b).is_none());
        h.len[0] = u32::MAX - 1;
        let b = h.encode();
        assert!(TaskHeader::decode(&b).is_none());
    }

    #[test]
    fn kill_rejects_bad_flag() {
        let k = Kill {
            sig: 9,
            pid: -49152,
            sender: 16400,
            uid: 0,
            euid: 0,
            cap_kill: true,
        };
        let mut b = k.encode();
        assert_eq!(Kill::decode(&b), Some(k));
        b[20] = 2;
        assert_eq!(Kill::decode(&b), None);
        assert_eq!(Kill::decode(&b[..20]), None);
    }

    proptest! {
        #[test]
        fn decoders_never_panic(b in proptest::collection::vec(any::<u8>(), 0..200),
                                from in any::<u32>(), max in any::<u16>()) {
            let _ = PidsRequest::decode(&b);
            let _ = decode_pids(&b, &PidsRequest { from, max }).map(|i| i.count());
            let _ = TaskHeader::decode(&b);
            let _ = Kill::decode(&b);
        }

        #[test]
        fn kill_roundtrip(sig in any::<i32>(), pid in any::<i32>(), sender in any::<i32>(),
                          uid in any::<u32>(), euid in any::<u32>(), cap_kill in any::<bool>()) {
            let k = Kill { sig, pid, sender, uid, euid, cap_kill };
            prop_assert_eq!(Kill::decode(&k.encode()), Some(k));
        }

        #[test]
        fn pids_request_roundtrip(from in any::<u32>(), max in any::<u16>()) {
            let r = PidsRequest { from, max };
            prop_assert_eq!(PidsRequest::decode(&r.encode()), Some(r));
        }
    }
}
