// SPDX-License-Identifier: GPL-2.0-only
//! Host tests of the ghost stream.

extern crate std;
use super::*;
use proptest::prelude::*;
use std::vec::Vec;

fn vma(start: u64, end: u64, flags: u32) -> Vma<'static> {
    Vma {
        start,
        end,
        prot: PROT_READ | PROT_WRITE,
        flags,
        pgoff: 0,
        path: if flags & VMA_FILE != 0 {
            b"/bin/sum"
        } else {
            b""
        },
    }
}

#[test]
fn header_roundtrip_and_refusals() {
    let h = StreamHeader {
        purpose: Purpose::Checkpoint,
        node: 3,
        pid: 49210,
    };
    let b = h.encode();
    assert_eq!(StreamHeader::decode(&b), Ok(h));
    let mut bad = b;
    bad[0] = b'X';
    assert_eq!(StreamHeader::decode(&bad), Err(Error::BadMagic));
    // Another version, the previous ones included, is refused.
    for v in [1, 2, 3, 5] {
        let mut bad = b;
        bad[8] = v;
        assert_eq!(StreamHeader::decode(&bad), Err(Error::BadVersion));
    }
    assert_eq!(StreamHeader::decode(&b[..15]), Err(Error::Truncated));
}

#[test]
fn section_lengths_are_bounded_by_kind() {
    let s = Section {
        tag: Tag::Regs,
        flags: 0,
        len: (REGS * 8) as u32,
    };
    assert_eq!(Section::decode(&s.encode()), Ok(s));
    let s = Section {
        tag: Tag::Regs,
        flags: 0,
        len: (REGS * 8 + 1) as u32,
    };
    assert_eq!(Section::decode(&s.encode()), Err(Error::BadLength));
    let mut b = Section {
        tag: Tag::End,
        flags: 0,
        len: 0,
    }
    .encode();
    b[0] = 99;
    assert_eq!(Section::decode(&b), Err(Error::UnknownTag));
}

#[test]
fn vma_checks() {
    let mut buf = [0u8; 64];
    let v = vma(0x40_0000, 0x40_2000, VMA_FILE);
    let n = v.encode(&mut buf).unwrap();
    assert_eq!(Vma::decode(&buf[..n]), Ok(v));
    for bad in [
        vma(0x40_0001, 0x40_2000, 0),
        vma(0x2000, 0x1000, 0),
        vma(0x1000, 0x2000, 0),
        vma(0x40_0000, USER_END + 0x1000, 0),
        vma(0x40_0000, 0x40_1000, 16),
    ] {
        let n = bad.encode(&mut buf).unwrap();
        assert_eq!(Vma::decode(&buf[..n]), Err(Error::BadValue), "{bad:?}");
    }
    // A file area needs a path, an anonymous one none.
    let mut v = vma(0x40_0000, 0x40_1000, 0);
    v.path = b"/x";
    let n = v.encode(&mut buf).unwrap();
    assert_eq!(Vma::decode(&buf[..n]), Err(Error::BadValue));
}

#[test]
fn page_runs_are_whole() {
    let r = PageRun {
        addr: 0x60_0000,
        count: 2,
    };
    let mut b = r.encode().to_vec();
    b.extend(std::iter::repeat(7).take(2 * PAGE));
    assert_eq!(PageRun::decode(&b).map(|x| x.0), Ok(r));
    assert_eq!(PageRun::decode(&b[..b.len() - 1]), Err(Error::BadLength));
    let r = PageRun {
        addr: 0x60_0000,
        count: 0,
    };
    assert_eq!(PageRun::decode(&r.encode()), Err(Error::BadValue));
}

#[test]
fn order_of_a_stream() {
    let heap = vma(0x60_0000, 0x60_4000, VMA_PAGES);
    let stack = vma(
        0x7ffe_0000_0000,
        0x7ffe_0000_2000,
        VMA_PAGES | VMA_GROWSDOWN,
    );
    let mut o = Order::new();
    o.next(Tag::Task, None, None).unwrap();
    o.next(Tag::Creds, None, None).unwrap();
    o.next(Tag::Rlimits, None, None).unwrap();
    assert!(
        o.clone().next(Tag::Creds, None, None).is_err(),
        "Creds before Rlimits"
    );
    o.next(Tag::Fs, None, None).unwrap();
    assert!(o.clone().next(Tag::Fs, None, None).is_err(), "Fs once");
    assert!(
        o.clone().next(Tag::Rlimits, None, None).is_err(),
        "Rlimits before Fs"
    );
    o.next(Tag::Signals, None, None).unwrap();
    o.next(Tag::Mm, None, None).unwrap();
    o.next(Tag::Vma, Some(&heap), None).unwrap();
    o.next(
        Tag::Pages,
        None,
        Some(&PageRun {
            addr: 0x60_0000,
            count: 2,
        }),
    )
    .unwrap();
    o.next(
        Tag::Pages,
        None,
        Some(&PageRun {
            addr: 0x60_3000,
            count: 1,
        }),
    )
    .unwrap();
    // Before the previous run, or beyond the area: refused.
    assert!(o
        .clone()
        .next(
            Tag::Pages,
            None,
            Some(&PageRun {
                addr: 0x60_1000,
                count: 1
            })
        )
        .is_err());
    assert!(o
        .clone()
        .next(
            Tag::Pages,
            None,
            Some(&PageRun {
                addr: 0x60_3000,
                count: 2
            })
        )
        .is_err());
    // Overlapping area: refused.
    assert!(o
        .clone()
        .next(Tag::Vma, Some(&vma(0x60_2000, 0x60_5000, 0)), None)
        .is_err());
    o.next(Tag::Vma, Some(&stack), None).unwrap();
    o.next(Tag::File, None, None).unwrap();
    assert!(o.clone().next(Tag::End, None, None).is_err(), "no Regs yet");
    o.next(Tag::Regs, None, None).unwrap();
    o.next(Tag::Fpu, None, None).unwrap();
    assert!(o.clone().next(Tag::Regs, None, None).is_err(), "twice");
    o.next(Tag::End, None, None).unwrap();
    assert!(o.done());
    assert!(o.next(Tag::End, None, None).is_err());
    assert!(
        Order::new().next(Tag::Regs, None, None).is_err(),
        "Task first"
    );
    // Pages of an area that carries none.
    let mut o = Order::new();
    o.next(Tag::Task, None, None).unwrap();
    o.next(Tag::Vma, Some(&vma(0x40_0000, 0x40_1000, VMA_FILE)), None)
        .unwrap();
    assert!(o
        .next(
            Tag::Pages,
            None,
            Some(&PageRun {
                addr: 0x40_0000,
                count: 1
            })
        )
        .is_err());
}

#[test]
fn task_and_mm_roundtrip() {
    let t = TaskInfo {
        pid: 49210,
        ppid: 16400,
        pgid: 49210,
        sid: 16390,
        exit_signal: 17,
        comm: *b"sum\0\0\0\0\0\0\0\0\0\0\0\0\0",
    };
    assert_eq!(TaskInfo::decode(&t.encode()), Ok(t));
    let m = MmLayout {
        start_brk: 0x60_0000,
        brk: 0x62_0000,
        ..Default::default()
    };
    assert_eq!(MmLayout::decode(&m.encode()), Ok(m));
    let bad = MmLayout {
        start_brk: 2,
        brk: 1,
        ..Default::default()
    };
    assert_eq!(MmLayout::decode(&bad.encode()), Err(Error::BadValue));
    let f = FileDesc {
        fd: 1,
        flags: 1,
        pos: 12,
        kind: FileKind::Regular,
        node: 0,
        remote_pid: 0,
        remote_fd: 0,
        path: b"/tmp/out",
    };
    let mut buf = [0u8; 64];
    let n = f.encode(&mut buf).unwrap();
    assert_eq!(FileDesc::decode(&buf[..n]), Ok(f));
    let remote = FileDesc {
        kind: FileKind::Remote,
        node: 2,
        remote_pid: 16400,
        remote_fd: 1,
        path: b"",
        ..f
    };
    let n = remote.encode(&mut buf).unwrap();
    assert_eq!(FileDesc::decode(&buf[..n]), Ok(remote));
    let stream = FileDesc {
        kind: FileKind::Stream,
        node: 3,
        path: &[1, 0, 2],
        ..f
    };
    let n = stream.encode(&mut buf).unwrap();
    assert_eq!(FileDesc::decode(&buf[..n]), Ok(stream));
    let long = [7u8; STREAM_TOKEN_MAX + 1];
    let mut big = [0u8; 128];
    for bad in [
        FileDesc {
            path: b"",
            ..stream
        },
        FileDesc {
            path: &long,
            ..stream
        },
        FileDesc { node: 0, ..stream },
        FileDesc {
            remote_pid: 1,
            ..stream
        },
        FileDesc {
            remote_fd: 1,
            ..stream
        },
    ] {
        let n = bad.encode(&mut big).unwrap();
        assert_eq!(
            FileDesc::decode(&big[..n]),
            Err(Error::BadValue),
            "{:?}",
            bad
        );
    }
    for bad in [
        FileDesc { path: b"", ..f },
        FileDesc {
            path: b"tmp/x",
            ..f
        },
        FileDesc {
            path: b"/a\0b",
            ..f
        },
        FileDesc { fd: MAX_FD, ..f },
        FileDesc { pos: 1 << 63, ..f },
        FileDesc { node: 1, ..f },
        FileDesc { remote_pid: 3, ..f },
        FileDesc { node: 0, ..remote },
        FileDesc {
            remote_pid: 0,
            ..remote
        },
        FileDesc {
            remote_fd: MAX_FD,
            ..remote
        },
        FileDesc {
            kind: FileKind::Char,
            path: b"",
            ..f
        },
    ] {
        let n = bad.encode(&mut buf).unwrap();
        assert_eq!(FileDesc::decode(&buf[..n]), Err(Error::BadValue), "{bad:?}");
    }
    let n = f.encode(&mut buf).unwrap();
    for (at, v) in [(16, 0u8), (16, 5), (18, 1), (30, 1)] {
        let mut b = buf;
        b[at] = v;
        assert_eq!(FileDesc::decode(&b[..n]), Err(Error::BadValue), "byte {at}");
    }
    assert_eq!(FileDesc::decode(&buf[..31]), Err(Error::BadLength));
}

/// A small stream as the kernel writes it: every section kind read.
fn sample_stream() -> Vec<u8> {
    sample_stream_with(false)
}

/// `lazy_in_file`: a lazy run in the file's area, which must travel.
fn sample_stream_with(lazy_in_file: bool) -> Vec<u8> {
    let lazy = |out: &mut Vec<u8>, addr: u64| {
        out.extend_from_slice(
            &Section {
                tag: Tag::Pages,
                flags: SECTION_LAZY,
                len: PageRun::LEN as u32,
            }
            .encode(),
        );
        out.extend_from_slice(&PageRun { addr, count: 1 }.encode());
    };
    let mut out = Vec::new();
    let sec = |out: &mut Vec<u8>, tag: Tag, p: &[u8]| {
        out.extend_from_slice(
            &Section {
                tag,
                flags: 0,
                len: p.len() as u32,
            }
            .encode(),
        );
        out.extend_from_slice(p);
    };
    out.extend_from_slice(
        &StreamHeader {
            purpose: Purpose::Checkpoint,
            node: 1,
            pid: 16400,
        }
        .encode(),
    );
    let t = TaskInfo {
        pid: 16400,
        ppid: 16390,
        pgid: 16400,
        sid: 16390,
        exit_signal: 17,
        comm: *b"vecsum\0\0\0\0\0\0\0\0\0\0",
    };
    sec(&mut out, Tag::Task, &t.encode());
    let mut cb = [0u8; Creds::FIXED + 8];
    let n = Creds::encode(&sample_creds(), &[100, 2000], &mut cb).unwrap();
    sec(&mut out, Tag::Creds, &cb[..n]);
    let mut lim = Rlimits::default();
    for (i, r) in lim.0.iter_mut().enumerate() {
        *r = Rlimit {
            cur: i as u64 * 10,
            max: u64::MAX,
        };
    }
    sec(&mut out, Tag::Rlimits, &lim.encode());
    let mut fb = [0u8; 64];
    let n = FsPaths {
        cwd: b"/tmp/fsdir",
        root: b"/",
    }
    .encode(&mut fb)
    .unwrap();
    sec(&mut out, Tag::Fs, &fb[..n]);
    let mut acts = [SigAction::default(); SIGNALS];
    acts[9].handler = 0x40_1000;
    let mut sig = std::vec![0u8; Signals::LEN];
    let sets = SigSets {
        blocked: 1 << 11,
        pending: 1 << 11,
        shared_pending: 1 << 9,
    };
    Signals::encode(&acts, &sets, &mut sig).unwrap();
    sec(&mut out, Tag::Signals, &sig);
    sec(&mut out, Tag::Mm, &MmLayout::default().encode());
    let mut vb = [0u8; 64];
    let n = vma(0x40_0000, 0x40_2000, VMA_FILE | VMA_PAGES)
        .encode(&mut vb)
        .unwrap();
    sec(&mut out, Tag::Vma, &vb[..n]);
    if lazy_in_file {
        lazy(&mut out, 0x40_0000);
    }
    let n = vma(0x60_0000, 0x60_2000, VMA_PAGES)
        .encode(&mut vb)
        .unwrap();
    sec(&mut out, Tag::Vma, &vb[..n]);
    lazy(&mut out, 0x60_0000);
    let mut run = PageRun {
        addr: 0x60_1000,
        count: 1,
    }
    .encode()
    .to_vec();
    run.extend(std::iter::repeat(9).take(PAGE));
    sec(&mut out, Tag::Pages, &run);
    let mut fb = [0u8; 64];
    let n = FileDesc {
        fd: 1,
        flags: 0o2001,
        pos: 42,
        kind: FileKind::Regular,
        node: 0,
        remote_pid: 0,
        remote_fd: 0,
        path: b"/tmp/out",
    }
    .encode(&mut fb)
    .unwrap();
    sec(&mut out, Tag::File, &fb[..n]);
    let n = FileDesc {
        fd: 2,
        flags: 1,
        pos: 0,
        kind: FileKind::Remote,
        node: 1,
        remote_pid: 16399,
        remote_fd: 2,
        path: b"",
    }
    .encode(&mut fb)
    .unwrap();
    sec(&mut out, Tag::File, &fb[..n]);
    let mut regs = Regs([0; REGS]);
    regs.0[reg::IP] = 0x40_1000;
    sec(&mut out, Tag::Regs, &regs.encode());
    sec(&mut out, Tag::Fpu, &[0u8; 512]);
    let th = ThreadState {
        rseq: 0x60_0020,
        rseq_len: 32,
        vvar: 0x7fff_0000_0000,
        vdso: 0x7fff_0000_4000,
        vdso_end: 0x7fff_0000_6000,
        ..Default::default()
    };
    sec(&mut out, Tag::Thread, &th.encode());
    sec(&mut out, Tag::End, &SAMPLE_MAC);
    out
}

const SAMPLE_MAC: [u8; MAC_LEN] = [0xa5; MAC_LEN];

/// A source that records which bytes it would authenticate (`fill`,
/// `skip`) and which it reads as the trailer.
struct Recording<'a> {
    rest: &'a [u8],
    macd: Vec<u8>,
    trailer: Vec<u8>,
}

impl Source for Recording<'_> {
    fn fill(&mut self, buf: &mut [u8]) -> Result<()> {
        self.rest.fill(buf)?;
        self.macd.extend_from_slice(buf);
        Ok(())
    }

    fn trailer(&mut self, buf: &mut [u8]) -> Result<()> {
        self.rest.fill(buf)?;
        self.trailer.extend_from_slice(buf);
        Ok(())
    }

    fn at_end(&mut self) -> Result<bool> {
        Ok(self.rest.is_empty())
    }
}

/// Version 3: a checkpoint ends with its MAC, read apart from the
/// bytes it covers (all before it, `End`'s section header included);
/// a migration ends with nothing; any other length, a truncated MAC or
/// a byte after it is refused.
#[test]
fn checkpoint_ends_with_its_mac() {
    let s = sample_stream();
    for skip in [false, true] {
        let mut src = Recording {
            rest: &s,
            macd: Vec::new(),
            trailer: Vec::new(),
        };
        let mut r = Reader::new(&mut src).unwrap();
        if skip {
            r.skip_pages();
        }
        let mut buf = std::vec![0u8; MAX_SECTION];
        while r.next(&mut buf).unwrap() != Item::End {}
        assert_eq!(r.mac(), &SAMPLE_MAC);
        if !skip {
            assert_eq!(src.macd, s[..s.len() - MAC_LEN]);
        }
        assert_eq!(src.trailer, SAMPLE_MAC);
    }
    let end = s.len() - MAC_LEN - SECTION_LEN;
    assert_eq!(
        s[end..end + SECTION_LEN],
        end_section(Purpose::Checkpoint).encode()
    );
    // Without its MAC, or with a longer one.
    let mut bare = s[..end].to_vec();
    bare.extend_from_slice(&end_section(Purpose::Migration).encode());
    assert_eq!(read_all(&bare), Err(Error::BadLength));
    let mut long = s[..end].to_vec();
    long.extend_from_slice(
        &Section {
            tag: Tag::End,
            flags: 0,
            len: MAC_LEN as u32 + 1,
        }
        .encode(),
    );
    long.extend_from_slice(&[0; MAC_LEN + 1]);
    assert_eq!(read_all(&long), Err(Error::BadLength));
    // Truncated in its MAC, or followed by anything.
    for cut in 1..=MAC_LEN {
        assert_eq!(read_all(&s[..s.len() - cut]), Err(Error::Truncated));
    }
    let mut more = s.clone();
    more.extend_from_slice(&[0; MAC_LEN]);
    assert_eq!(read_all(&more), Err(Error::OutOfOrder));
    // A migration: no MAC, and one is refused.
    let mut m = s.clone();
    m[10..12].copy_from_slice(&(Purpose::Migration as u16).to_le_bytes());
    assert_eq!(read_all(&m), Err(Error::BadLength));
    let mut m = m[..end].to_vec();
    m.extend_from_slice(&end_section(Purpose::Migration).encode());
    assert_eq!(read_all(&m), Ok(16));
}

fn read_all(mut b: &[u8]) -> Result<usize> {
    let mut r = Reader::new(&mut b)?;
    let mut buf = std::vec![0u8; MAX_SECTION];
    let mut n = 0;
    loop {
        n += 1;
        if r.next(&mut buf)? == Item::End {
            return Ok(n);
        }
    }
}

#[test]
fn reader_reads_a_whole_stream() {
    let s = sample_stream();
    assert_eq!(read_all(&s), Ok(16));
}

/// Lazy runs: the run alone, in an anonymous area only, read alike
/// whether page contents are passed over or not.
#[test]
fn lazy_runs() {
    let s = sample_stream();
    let mut b: &[u8] = &s;
    let mut r = Reader::new(&mut b).unwrap();
    r.skip_pages();
    let mut buf = std::vec![0u8; MAX_SECTION];
    let mut lazies = Vec::new();
    loop {
        match r.next(&mut buf).unwrap() {
            Item::End => break,
            Item::Lazy(run) => lazies.push(run),
            _ => {}
        }
    }
    assert_eq!(
        lazies,
        [PageRun {
            addr: 0x60_0000,
            count: 1
        }]
    );
    assert_eq!(read_all(&sample_stream_with(true)), Err(Error::BadValue));
    let sec = |tag, flags, len| Section { tag, flags, len }.encode();
    let run = PageRun::LEN as u32;
    assert!(Section::decode(&sec(Tag::Pages, SECTION_LAZY, run)).is_ok());
    for bad in [
        sec(Tag::Pages, SECTION_LAZY, run + PAGE as u32),
        sec(Tag::Vma, SECTION_LAZY, run),
        sec(Tag::Pages, 2, run),
    ] {
        assert_eq!(Section::decode(&bad), Err(Error::BadValue));
    }
}

/// Passing over page contents checks the same structure: the same
/// items, the same refusals of truncated streams.
#[test]
fn reader_skipping_pages() {
    let s = sample_stream();
    let read = |mut b: &[u8]| -> Result<usize> {
        let mut r = Reader::new(&mut b)?;
        r.skip_pages();
        let mut buf = std::vec![0u8; MAX_SECTION];
        let mut n = 0;
        loop {
            n += 1;
            match r.next(&mut buf)? {
                Item::End => return Ok(n),
                Item::Pages(_, d) => assert!(d.is_empty()),
                _ => {}
            }
        }
    };
    assert_eq!(read(&s), Ok(16));
    for cut in 0..s.len() {
        assert!(read(&s[..cut]).is_err(), "cut at {cut}");
    }
}

#[test]
fn reader_refuses_every_truncation_and_trailing_bytes() {
    let s = sample_stream();
    for cut in 0..s.len() {
        assert!(read_all(&s[..cut]).is_err(), "cut at {cut}");
    }
    let mut long = s.clone();
    long.push(0);
    assert_eq!(read_all(&long), Err(Error::OutOfOrder));
}

#[test]
fn reader_refuses_a_task_of_another_pid() {
    let mut s = sample_stream();
    // The Task section's pid follows the 16-byte header and its
    // 8-byte section header.
    s[24] ^= 1;
    assert_eq!(read_all(&s), Err(Error::BadValue));
}

#[test]
fn syscall_restart_fixup() {
    let mut r = Regs([0; REGS]);
    r.0[reg::ORIG_AX] = 0; // read
    r.0[reg::AX] = (-512i64) as u64; // -ERESTARTSYS
    r.0[reg::IP] = 0x40_1002;
    r.fix_syscall_restart(false);
    assert_eq!((r.0[reg::AX], r.0[reg::IP]), (0, 0x40_1000));
    // Interrupted in user mode: nothing to do.
    r.0[reg::ORIG_AX] = u64::MAX;
    r.0[reg::AX] = (-512i64) as u64;
    r.fix_syscall_restart(false);
    assert_eq!(r.0[reg::AX] as i64, -512);
}

/// A syscall frozen with `-ERESTART_RESTARTBLOCK`: `(ax, ip, di, dx)`
/// after the fix-up.
fn restart_block(
    nr: u64,
    di: u64,
    si: u64,
    dx: u64,
    r10: u64,
    signal: bool,
) -> (i64, u64, u64, u64) {
    let mut r = Regs([0; REGS]);
    r.0[reg::ORIG_AX] = nr;
    r.0[reg::AX] = (-516i64) as u64;
    r.0[reg::IP] = 0x40_1002;
    r.0[reg::DI] = di;
    r.0[reg::SI] = si;
    r.0[reg::DX] = dx;
    r.0[reg::R10] = r10;
    r.fix_syscall_restart(signal);
    (
        r.0[reg::AX] as i64,
        r.0[reg::IP],
        r.0[reg::DI],
        r.0[reg::DX],
    )
}

#[test]
fn restart_block_syscalls_are_done_again() {
    const AGAIN: u64 = 0x40_1000;
    const HERE: u64 = 0x40_1002;
    // nanosleep(req, rem): what remained, from rem; no rem: req again.
    assert_eq!(
        restart_block(35, 0x100, 0x200, 0, 0, false),
        (35, AGAIN, 0x200, 0)
    );
    assert_eq!(
        restart_block(35, 0x100, 0, 0, 0, false),
        (35, AGAIN, 0x100, 0)
    );
    // clock_nanosleep(clock, flags, req, rem): relative, from rem.
    assert_eq!(
        restart_block(230, 1, 0, 0x100, 0x200, false),
        (230, AGAIN, 1, 0x200)
    );
    assert_eq!(
        restart_block(230, 1, 0, 0x100, 0, false),
        (230, AGAIN, 1, 0x100)
    );
    // Absolute: CLOCK_REALTIME as asked; CLOCK_MONOTONIC is each node's.
    assert_eq!(
        restart_block(230, 0, 1, 0x100, 0, false),
        (230, AGAIN, 0, 0x100)
    );
    assert_eq!(
        restart_block(230, 1, 1, 0x100, 0, false),
        (-4, HERE, 1, 0x100)
    );
    // poll and futex wait again; restart_syscall's arguments are gone.
    assert_eq!(restart_block(7, 0x100, 1, 500, 0, false).0, 7);
    assert_eq!(restart_block(202, 0x100, 0, 0, 0x200, false).0, 202);
    assert_eq!(restart_block(219, 0, 0, 0, 0, false), (-4, HERE, 0, 0));
    // A signal to handle: EINTR, as here.
    assert_eq!(
        restart_block(35, 0x100, 0x200, 0, 0, true),
        (-4, HERE, 0x100, 0)
    );
}

#[test]
fn thread_state_checks() {
    let ok = ThreadState {
        rseq: 0x60_0020,
        rseq_len: 32,
        ..Default::default()
    };
    assert_eq!(ThreadState::decode(&ok.encode()), Ok(ok));
    for bad in [
        ThreadState {
            rseq: 0x60_0010,
            rseq_len: 32,
            ..ok
        },
        ThreadState { rseq_len: 8, ..ok },
        ThreadState {
            sas_ss_flags: 4,
            ..ok
        },
        ThreadState {
            robust_list: USER_END,
            ..ok
        },
        ThreadState {
            vvar: 0x7000_0000,
            vdso: 0x6000_0000,
            vdso_end: 0x7000_2000,
            ..ok
        },
    ] {
        assert_eq!(
            ThreadState::decode(&bad.encode()),
            Err(Error::BadValue),
            "{bad:?}"
        );
    }
    let mut regs = Regs([0; REGS]);
    regs.0[reg::SP] = USER_END;
    assert_eq!(Regs::decode(&regs.encode()), Err(Error::BadValue));
}

#[test]
fn rlimits_fs_and_pending_signals() {
    let mut l = Rlimits::default();
    l.0[7] = Rlimit { cur: 64, max: 1024 };
    l.0[3] = Rlimit {
        cur: 8 << 20,
        max: u64::MAX,
    };
    assert_eq!(Rlimits::decode(&l.encode()), Ok(l));
    let mut bad = l;
    bad.0[7] = Rlimit {
        cur: 1025,
        max: 1024,
    };
    assert_eq!(Rlimits::decode(&bad.encode()), Err(Error::BadValue));
    assert_eq!(Rlimits::decode(&l.encode()[1..]), Err(Error::BadLength));

    let mut b = [0u8; 2 * (2 + PATH_MAX) + 1];
    let f = FsPaths {
        cwd: b"/tmp/d",
        root: b"/jail",
    };
    let n = f.encode(&mut b).unwrap();
    assert_eq!(n, 2 + 6 + 2 + 5);
    assert_eq!(FsPaths::decode(&b[..n]), Ok(f));
    for cut in 0..n {
        assert!(FsPaths::decode(&b[..cut]).is_err(), "cut at {cut}");
    }
    assert_eq!(FsPaths::decode(&b[..n + 1]), Err(Error::BadLength));
    for bad in [
        FsPaths {
            cwd: b"",
            root: b"/",
        },
        FsPaths {
            cwd: b"tmp",
            root: b"/",
        },
        FsPaths {
            cwd: b"/",
            root: b"/a\0b",
        },
    ] {
        let n = bad.encode(&mut b).unwrap();
        assert_eq!(FsPaths::decode(&b[..n]), Err(Error::BadValue), "{bad:?}");
    }
    let long = std::vec![b'/'; PATH_MAX + 1];
    let f = FsPaths {
        cwd: &long,
        root: b"/",
    };
    assert_eq!(f.encode(&mut b), None);
    // The largest section fits its bound.
    let full = std::vec![b'/'; PATH_MAX];
    let f = FsPaths {
        cwd: &full,
        root: &full,
    };
    let n = f.encode(&mut b).unwrap();
    assert_eq!(n, Tag::Fs.max_len());
    assert_eq!(FsPaths::decode(&b[..n]), Ok(f));

    let acts = [SigAction::default(); SIGNALS];
    let mut sig = std::vec![0u8; Signals::LEN];
    let sets = SigSets {
        blocked: 1 << 11,
        pending: 1 << 11 | 1 << 63,
        shared_pending: 1 << 9,
    };
    Signals::encode(&acts, &sets, &mut sig).unwrap();
    assert_eq!(Signals::decode(&sig).map(|s| s.sets()), Ok(sets));
    for k in [
        SigSets {
            pending: SIGKILL_BIT,
            ..sets
        },
        SigSets {
            shared_pending: SIGKILL_BIT,
            ..sets
        },
    ] {
        Signals::encode(&acts, &k, &mut sig).unwrap();
        assert_eq!(Signals::decode(&sig), Err(Error::BadValue));
    }
}

/// A root process that dropped capabilities: some sets, securebits,
/// `no_new_privs`.
fn sample_creds() -> CredsHead {
    CredsHead {
        uid: [1000, 1001, 1002, 1001],
        gid: [100, 101, 102, 101],
        caps: Caps {
            inheritable: 1 << 10,
            permitted: (1 << 10) | (1 << 5),
            effective: 1 << 5,
            bounding: (1 << 10) | (1 << 5) | (1 << 21),
            ambient: 1 << 10,
        },
        securebits: 0x14,
        no_new_privs: true,
        dumpable: 1,
    }
}

#[test]
fn creds_round_trip() {
    let h = sample_creds();
    let groups = [10, 20, 20, 65534];
    let mut b = [0u8; Creds::FIXED + 16];
    let n = Creds::encode(&h, &groups, &mut b).unwrap();
    assert_eq!(n, b.len());
    let c = Creds::decode(&b).unwrap();
    assert_eq!(c.head, h);
    assert_eq!(c.ngroups(), 4);
    assert!(c.groups().eq(groups.iter().copied()));
    // No groups, and the most a section carries.
    let n = Creds::encode(&h, &[], &mut b).unwrap();
    assert_eq!(Creds::decode(&b[..n]).unwrap().ngroups(), 0);
    let many: std::vec::Vec<u32> = (0..MAX_GROUPS as u32).collect();
    let mut big = std::vec![0u8; Tag::Creds.max_len()];
    let n = Creds::encode(&h, &many, &mut big).unwrap();
    assert_eq!(n, Tag::Creds.max_len());
    assert_eq!(Creds::decode(&big).unwrap().ngroups(), MAX_GROUPS);
    let more: std::vec::Vec<u32> = (0..=MAX_GROUPS as u32).collect();
    assert_eq!(Creds::encode(&h, &more, &mut big), None);
    assert_eq!(
        Creds::encode(&h, &groups, &mut b[..Creds::FIXED + 15]),
        None
    );
}

#[test]
fn malformed_creds_are_refused() {
    let ok = sample_creds();
    let enc = |h: &CredsHead, g: &[u32]| {
        let mut b = std::vec![0u8; Creds::FIXED + 4 * g.len()];
        Creds::encode(h, g, &mut b).unwrap();
        b
    };
    let caps = |f: fn(&mut Caps)| {
        let mut h = ok;
        f(&mut h.caps);
        h
    };
    for bad in [
        CredsHead {
            uid: [0, 0, u32::MAX, 0],
            ..ok
        },
        CredsHead {
            gid: [u32::MAX, 0, 0, 0],
            ..ok
        },
        caps(|c| c.bounding |= 1 << 41),
        caps(|c| c.inheritable = u64::MAX),
        caps(|c| c.effective |= 1 << 21),
        caps(|c| c.ambient |= 1 << 5),
        caps(|c| c.ambient |= 1 << 21),
        CredsHead {
            securebits: 0x100,
            ..ok
        },
        CredsHead { dumpable: 3, ..ok },
    ] {
        assert_eq!(
            Creds::decode(&enc(&bad, &[1])),
            Err(Error::BadValue),
            "{bad:?}"
        );
    }
    let good = enc(&ok, &[1, 2]);
    assert!(Creds::decode(&good).is_ok());
    // Flags beyond one bit, reserved bytes, groups out of order or
    // `-1`, a count that does not match the length or is too large.
    for (at, v) in [(76, 2u8), (78, 1), (79, 0x80)] {
        let mut b = good.clone();
        b[at] = v;
        assert_eq!(Creds::decode(&b), Err(Error::BadValue), "byte {at}");
    }
    assert_eq!(Creds::decode(&enc(&ok, &[2, 1])), Err(Error::BadValue));
    assert_eq!(Creds::decode(&enc(&ok, &[u32::MAX])), Err(Error::BadValue));
    let mut b = good.clone();
    b[80] = 3;
    assert_eq!(Creds::decode(&b), Err(Error::BadLength));
    b[80..84].copy_from_slice(&(MAX_GROUPS as u32 + 1).to_le_bytes());
    assert_eq!(Creds::decode(&b), Err(Error::BadValue));
    assert_eq!(
        Creds::decode(&good[..Creds::FIXED - 1]),
        Err(Error::BadLength)
    );
    assert_eq!(
        Creds::decode(&good[..good.len() - 1]),
        Err(Error::BadLength)
    );
    // A section longer than the most groups is refused by its header.
    let h = Section {
        tag: Tag::Creds,
        flags: 0,
        len: (Tag::Creds.max_len() + 4) as u32,
    };
    assert_eq!(Section::decode(&h.encode()), Err(Error::BadLength));
}

proptest! {
    #[test]
    fn decoders_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = StreamHeader::decode(&b);
        let _ = Section::decode(&b);
        let _ = TaskInfo::decode(&b);
        let _ = MmLayout::decode(&b);
        let _ = Vma::decode(&b);
        let _ = PageRun::decode(&b);
        let _ = FileDesc::decode(&b);
        let _ = Regs::decode(&b);
        let _ = Signals::decode(&b);
        let _ = Creds::decode(&b);
        let _ = Rlimits::decode(&b);
        let _ = FsPaths::decode(&b);
        let _ = ThreadState::decode(&b);
    }

    #[test]
    fn reader_never_panics_on_a_damaged_stream(at in 0usize..20000, v in any::<u8>()) {
        let mut s = sample_stream();
        let i = at % s.len();
        s[i] ^= v | 1;
        let _ = read_all(&s);
    }

    #[test]
    fn order_never_panics(tags in proptest::collection::vec((0u16..13, any::<u64>(), 1u32..80), 0..40)) {
        let mut o = Order::new();
        for (t, a, c) in tags {
            let tag = Tag::from_u16(if t == 12 { 0xffff } else { t }).unwrap_or(Tag::File);
            let addr = a % USER_END & !(PAGE as u64 - 1);
            let v = Vma { start: addr, end: addr.saturating_add(PAGE as u64 * 4), prot: 3, flags: VMA_PAGES, pgoff: 0, path: b"" };
            let r = PageRun { addr, count: c };
            let _ = o.next(tag, Some(&v), Some(&r));
        }
    }

    #[test]
    fn file_roundtrip(fd in 0u32..MAX_FD, flags in any::<u32>(), pos in 0u64..=i64::MAX as u64,
                      kind in 1u8..6, node in 1u8.., rpid in 1u32..=i32::MAX as u32, rfd in 0u32..MAX_FD,
                      path in proptest::collection::vec(1u8.., 0..40)) {
        let kind = FileKind::from_u8(kind).unwrap();
        let remote = kind == FileKind::Remote;
        let stream = kind == FileKind::Stream;
        let mut p = std::vec![if stream { 0 } else { b'/' }];
        p.extend_from_slice(&path);
        let f = FileDesc {
            fd,
            flags,
            pos,
            kind,
            node: if remote || stream { node } else { 0 },
            remote_pid: if remote { rpid } else { 0 },
            remote_fd: if remote { rfd } else { 0 },
            path: &p,
        };
        let mut buf = std::vec![0u8; FileDesc::FIXED + p.len()];
        let n = f.encode(&mut buf).unwrap();
        prop_assert_eq!(FileDesc::decode(&buf[..n]), Ok(f));
    }

    #[test]
    fn rlimits_roundtrip(pairs in proptest::collection::vec((any::<u64>(), any::<u64>()), RLIMITS)) {
        let mut l = Rlimits::default();
        for (r, &(a, b)) in l.0.iter_mut().zip(pairs.iter()) {
            *r = Rlimit { cur: a.min(b), max: a.max(b) };
        }
        prop_assert_eq!(Rlimits::decode(&l.encode()), Ok(l));
        let soft_above_hard = pairs.iter().any(|&(a, b)| a > b);
        let mut raw = Rlimits::default();
        for (r, &(a, b)) in raw.0.iter_mut().zip(pairs.iter()) {
            *r = Rlimit { cur: a, max: b };
        }
        prop_assert_eq!(Rlimits::decode(&raw.encode()).is_err(), soft_above_hard);
    }

    #[test]
    fn fs_roundtrip(cwd in proptest::collection::vec(1u8.., 0..200),
                    root in proptest::collection::vec(1u8.., 0..200)) {
        let mut c = std::vec![b'/'];
        c.extend_from_slice(&cwd);
        let mut r = std::vec![b'/'];
        r.extend_from_slice(&root);
        let f = FsPaths { cwd: &c, root: &r };
        let mut buf = std::vec![0u8; Tag::Fs.max_len()];
        let n = f.encode(&mut buf).unwrap();
        prop_assert_eq!(FsPaths::decode(&buf[..n]), Ok(f));
    }

    #[test]
    fn fs_decode_never_panics(b in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(f) = FsPaths::decode(&b) {
            prop_assert!(f.cwd.starts_with(b"/") && f.root.starts_with(b"/"));
            prop_assert_eq!(f.cwd.len() + f.root.len() + 4, b.len());
        }
    }

    #[test]
    fn signal_sets_roundtrip(blocked in any::<u64>(), pending in any::<u64>(), shared in any::<u64>()) {
        let acts = [SigAction::default(); SIGNALS];
        let sets = SigSets {
            blocked,
            pending: pending & !SIGKILL_BIT,
            shared_pending: shared & !SIGKILL_BIT,
        };
        let mut sig = std::vec![0u8; Signals::LEN];
        Signals::encode(&acts, &sets, &mut sig).unwrap();
        prop_assert_eq!(Signals::decode(&sig).map(|s| s.sets()), Ok(sets));
    }

    #[test]
    fn vma_roundtrip(start in (USER_MIN / PAGE as u64)..(USER_END / PAGE as u64 - 16), pages in 1u64..16,
                     prot in 0u32..8, flags in 0u32..16, pgoff in any::<u64>()) {
        let v = Vma {
            start: start * PAGE as u64,
            end: (start + pages) * PAGE as u64,
            prot,
            flags,
            pgoff,
            path: if flags & VMA_FILE != 0 { b"/lib/x.so" } else { b"" },
        };
        let mut buf = Vec::new();
        buf.resize(64, 0);
        let n = v.encode(&mut buf).unwrap();
        prop_assert_eq!(Vma::decode(&buf[..n]), Ok(v));
    }
}

#[test]
fn sysv_area_roundtrip_and_refusals() {
    let id = 0x0001_0085i32.to_le_bytes();
    let v = Vma {
        start: 0x7f00_0000_0000,
        end: 0x7f00_0000_4000,
        prot: PROT_READ | PROT_WRITE,
        flags: VMA_SHARED | VMA_SYSV,
        pgoff: 0,
        path: &id,
    };
    let mut b = [0u8; 64];
    let n = v.encode(&mut b).unwrap();
    let d = Vma::decode(&b[..n]).unwrap();
    assert_eq!(d, v);
    assert_eq!(d.sysv_id(), Some(0x0001_0085));
    assert_eq!(vma(0x40_0000, 0x40_1000, VMA_FILE).sysv_id(), None);
    // A SysV attach is shared, whole, carries no pages, is no file's, and
    // names a segment id (4 bytes, not negative).
    let neg = (-1i32).to_le_bytes();
    let bad = [
        Vma {
            flags: VMA_SYSV,
            ..v
        },
        Vma {
            flags: VMA_SHARED | VMA_SYSV | VMA_PAGES,
            ..v
        },
        Vma {
            flags: VMA_SHARED | VMA_SYSV | VMA_FILE,
            ..v
        },
        Vma { pgoff: 1, ..v },
        Vma { path: b"abc", ..v },
        Vma { path: b"", ..v },
        Vma { path: &neg, ..v },
        Vma {
            flags: VMA_SHARED | 32,
            ..v
        },
    ];
    for x in bad {
        let n = x.encode(&mut b).unwrap();
        assert_eq!(Vma::decode(&b[..n]), Err(Error::BadValue), "{x:?}");
    }
}

#[test]
fn sem_wait_restart() {
    let eintr = (-4i64) as u64;
    let mut r = Regs([0; REGS]);
    r.0[reg::ORIG_AX] = SYS_SEMOP;
    r.0[reg::AX] = eintr;
    r.0[reg::IP] = 0x40_1002;
    // A signal to handle: its EINTR stays.
    r.restart_sem_wait(true);
    assert_eq!((r.0[reg::AX], r.0[reg::IP]), (eintr, 0x40_1002));
    // The freeze's: semop again.
    r.restart_sem_wait(false);
    assert_eq!((r.0[reg::AX], r.0[reg::IP]), (SYS_SEMOP, 0x40_1000));
    r.0[reg::ORIG_AX] = SYS_SEMTIMEDOP;
    r.0[reg::AX] = eintr;
    r.restart_sem_wait(false);
    assert_eq!((r.0[reg::AX], r.0[reg::IP]), (SYS_SEMTIMEDOP, 0x40_0ffe));
    // Other calls and results are left alone.
    for (nr, ax) in [(0, eintr), (SYS_SEMOP, 0), (SYS_SEMOP, (-11i64) as u64)] {
        r.0[reg::ORIG_AX] = nr;
        r.0[reg::AX] = ax;
        r.restart_sem_wait(false);
        assert_eq!((r.0[reg::AX], r.0[reg::IP]), (ax, 0x40_0ffe));
    }
}
