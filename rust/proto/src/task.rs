// SPDX-License-Identifier: GPL-2.0-only
//! Requests about the processes a node runs: its global PIDs, the `/proc`
//! files of one process, and `kill(2)` of a process or process group.
//!
//! All integers are little-endian. Decoders take untrusted bytes and
//! return `None` on anything malformed.

/// Files of a process, in the order of `enum ssi_task_file`.
pub const FILES: [&str; 7] = [
    "cmdline", "comm", "environ", "stat", "statm", "status", "ssi",
];
/// Length of a file the reader may not read.
pub const DENIED: u32 = u32::MAX;
/// Bytes before the files' contents in a task answer.
pub const TASK_HEADER: usize = 8 + 4 * FILES.len();

use super::codec::{fill, Reader, Writer};

/// Request for the PIDs at and above `from`, at most `max` of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PidsRequest {
    pub from: u32,
    pub max: u16,
}

impl PidsRequest {
    pub const LEN: usize = 6;

    pub fn encode(&self) -> [u8; Self::LEN] {
        fill(|w| {
            w.u32(self.from)?;
            w.u16(self.max)
        })
    }

    pub fn decode(b: &[u8]) -> Option<Self> {
        let mut r = Reader::new(b);
        let req = PidsRequest {
            from: r.u32()?,
            max: r.u16()?,
        };
        r.end()?;
        Some(req)
    }
}

/// The PIDs of a pids answer, checked: a whole number of PIDs, at most
/// `req.max` of them, strictly increasing, none below `req.from`.
pub fn decode_pids<'a>(b: &'a [u8], req: &PidsRequest) -> Option<impl Iterator<Item = u32> + 'a> {
    if b.len() % 4 != 0 || b.len() / 4 > usize::from(req.max) {
        return None;
    }
    let mut r = Reader::new(b);
    let mut prev: Option<u32> = None;
    while let Some(p) = r.u32() {
        if p < req.from || prev.is_some_and(|q| p <= q) {
            return None;
        }
        prev = Some(p);
    }
    let mut r = Reader::new(b);
    Some(core::iter::from_fn(move || r.u32()))
}

/// Request for the description of process `pid` and of up to `count - 1`
/// processes that follow it (read-ahead: `ps` goes through PIDs in order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskRequest {
    pub pid: u32,
    pub count: u8,
}

impl TaskRequest {
    pub const LEN: usize = 5;

    pub fn encode(&self) -> [u8; Self::LEN] {
        fill(|w| {
            w.u32(self.pid)?;
            w.u8(self.count)
        })
    }

    pub fn decode(b: &[u8]) -> Option<Self> {
        let mut r = Reader::new(b);
        let req = TaskRequest {
            pid: r.u32()?,
            count: r.u8()?,
        };
        r.end()?;
        (req.count != 0).then_some(req)
    }
}

/// The header of a process's description in a task answer; the files'
/// contents follow it, in order, except the denied ones. An answer is a
/// sequence of `pid`, header, contents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskHeader {
    /// Owner (effective uid and gid), in the initial user namespace.
    pub uid: u32,
    pub gid: u32,
    pub len: [u32; FILES.len()],
}

impl TaskHeader {
    pub fn encode(&self) -> [u8; TASK_HEADER] {
        fill(|w| self.encode_into(w))
    }

    fn encode_into(&self, w: &mut Writer<'_>) -> Option<()> {
        w.u32(self.uid)?;
        w.u32(self.gid)?;
        self.len.iter().try_for_each(|&l| w.u32(l))
    }

    /// The header read off `r` and the size of the contents after it.
    fn decode(r: &mut Reader<'_>) -> Option<(Self, usize)> {
        let mut h = TaskHeader {
            uid: r.u32()?,
            gid: r.u32()?,
            len: [0; FILES.len()],
        };
        let mut total: usize = 0;
        for i in 0..FILES.len() {
            let l = r.u32()?;
            h.len[i] = l;
            if l != DENIED {
                total = total.checked_add(usize::try_from(l).ok()?)?;
            }
        }
        Some((h, total))
    }
}

/// One process's description in a task answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskEntry<'a> {
    pub pid: u32,
    pub header: TaskHeader,
    pub data: &'a [u8],
}

impl<'a> TaskEntry<'a> {
    /// The contents of file `i` (an index in [`FILES`]); `None` if denied.
    pub fn file(&self, i: usize) -> Option<&'a [u8]> {
        let len = |l: u32| if l == DENIED { 0 } else { l as usize };
        let start: usize = self.header.len.get(..i)?.iter().map(|&l| len(l)).sum();
        let l = *self.header.len.get(i)?;
        if l == DENIED {
            return None;
        }
        self.data.get(start..start.checked_add(len(l))?)
    }
}

/// Index of `ssi` in [`FILES`] (`proc_ssi.rs`).
pub const SSI: usize = 6;

/// Bytes before the contents in an entry: the PID and the header.
pub const ENTRY_HEADER: usize = 4 + TASK_HEADER;

/// Appends an entry's PID and header to `out` at `at`; the caller writes
/// the contents after them.
pub fn encode_entry_header(pid: u32, h: &TaskHeader, out: &mut [u8]) -> Option<()> {
    let mut w = Writer::new(out);
    w.u32(pid)?;
    h.encode_into(&mut w)
}

/// The entries of a task answer to `req`, checked as a whole first: each
/// entry whole, at most `req.count` of them, PIDs increasing from
/// `req.pid` on.
pub fn decode_tasks<'a>(
    b: &'a [u8],
    req: &TaskRequest,
) -> Option<impl Iterator<Item = TaskEntry<'a>> + 'a> {
    let next = |b: &'a [u8]| -> Option<(TaskEntry<'a>, &'a [u8])> {
        let mut r = Reader::new(b);
        let pid = r.u32()?;
        let (header, len) = TaskHeader::decode(&mut r)?;
        let data = r.bytes(len)?;
        Some((TaskEntry { pid, header, data }, r.rest()))
    };
    let (mut rest, mut n, mut prev) = (b, 0u32, None::<u32>);
    while !rest.is_empty() {
        let (e, r) = next(rest)?;
        if e.pid < req.pid || prev.is_some_and(|p| e.pid <= p) {
            return None;
        }
        n += 1;
        prev = Some(e.pid);
        rest = r;
    }
    if n > u32::from(req.count) {
        return None;
    }
    let mut rest = b;
    Some(core::iter::from_fn(move || {
        let (e, r) = next(rest)?;
        rest = r;
        Some(e)
    }))
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
        fill(|w| {
            w.i32(self.sig)?;
            w.i32(self.pid)?;
            w.i32(self.sender)?;
            w.u32(self.uid)?;
            w.u32(self.euid)?;
            w.u8(u8::from(self.cap_kill))
        })
    }

    pub fn decode(b: &[u8]) -> Option<Self> {
        let mut r = Reader::new(b);
        let k = Kill {
            sig: r.i32()?,
            pid: r.i32()?,
            sender: r.i32()?,
            uid: r.u32()?,
            euid: r.u32()?,
            cap_kill: match r.u8()? {
                0 => false,
                1 => true,
                _ => return None,
            },
        };
        r.end()?;
        Some(k)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::vec;
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

    fn entry(pid: u32, files: [&[u8]; FILES.len()]) -> Vec<u8> {
        let mut h = TaskHeader {
            uid: 1000,
            gid: 100,
            len: [0; FILES.len()],
        };
        for (i, f) in files.iter().enumerate() {
            h.len[i] = f.len() as u32;
        }
        let mut b = vec![0; ENTRY_HEADER];
        encode_entry_header(pid, &h, &mut b).unwrap();
        for f in files {
            b.extend_from_slice(f);
        }
        b
    }

    #[test]
    fn task_entries_checked() {
        let req = TaskRequest {
            pid: 20000,
            count: 2,
        };
        let mut b = entry(20000, [b"a", b"b", b"", b"stat", b"", b"status", b"x"]);
        b.extend(entry(20005, [b"", b"", b"", b"s", b"", b"t", b""]));
        let got: Vec<_> = decode_tasks(&b, &req).unwrap().collect();
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].pid, got[0].data), (20000, &b"abstatstatusx"[..]));
        assert_eq!((got[1].pid, got[1].header.uid), (20005, 1000));
        assert_eq!(got[0].file(3), Some(&b"stat"[..]));
        assert_eq!(got[0].file(SSI), Some(&b"x"[..]));
        assert_eq!(got[1].file(SSI), Some(&b""[..]));
        assert_eq!(got[0].file(FILES.len()), None);
        assert_eq!(FILES[SSI], "ssi");
        assert!(decode_tasks(&b[..b.len() - 1], &req).is_none());
        assert!(decode_tasks(
            &b,
            &TaskRequest {
                pid: 20000,
                count: 1
            }
        )
        .is_none());
        assert!(decode_tasks(
            &b,
            &TaskRequest {
                pid: 20001,
                count: 2
            }
        )
        .is_none());
        let mut twice = entry(20000, [b""; FILES.len()]);
        twice.extend(entry(20000, [b""; FILES.len()]));
        assert!(decode_tasks(&twice, &req).is_none());
        let mut h = entry(20000, [b""; FILES.len()]);
        h[12..16].copy_from_slice(&(u32::MAX - 1).to_le_bytes());
        assert!(decode_tasks(&h, &req).is_none());
        assert_eq!(decode_tasks(&[], &req).unwrap().count(), 0);
        assert_eq!(TaskRequest::decode(&req.encode()), Some(req));
        assert_eq!(TaskRequest::decode(&[1, 0, 0, 0, 0]), None);
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
            let _ = TaskRequest::decode(&b);
            let _ = decode_tasks(&b, &TaskRequest { pid: from, count: max as u8 }).map(|i| i.count());
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
